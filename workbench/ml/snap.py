"""SNAP: energies linear (optionally quadratic) in the bispectrum components.

Per atom i of species s (LAMMPS's pair style snap and the OpenKIM driver
SNAP__MD_536750310735_000)::

    E_i = beta_s,0 + sum_k beta_s,k B_k^i  [+ sum_{k<=l} beta_s,kl B_k^i B_l^i (1/2 if k == l)]

with B the bispectrum of our :class:`~workbench.ml.descriptors.Bispectrum` (LAMMPS's
components and order): pair cutoff rcutfac (R_a + R_b), neighbor weight W of the
neighbor's species, twojmax = 2 jmax, rfac0, rmin0, switchflag, bzeroflag.  The
coefficients of species s are one parameter ``coeffs_<s>`` (LAMMPS snapcoeff order), so
SNAP is a physics :class:`~workbench.models.model.Model`: energies, forces and stress come
with exact Jacobians (the features themselves), any ``Loss`` fits it, and because it is
linear :func:`fit_linear` solves the weighted least-squares problem in one step.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from workbench.engine.spec import EngineResult
from workbench.errors import ModelError, ParameterError
from workbench.models.model import Model, ModelState
from workbench.models.parameter import Parameter


class SNAP(Model):
    """SNAP: atomic energies linear (or quadratic) in bispectrum components.

    Args:
        species: chemical symbols.
        rcutfac, radii, weights: LAMMPS's cutoff factor, per-species radius R and
            neighbor weight W (cutoff of pair a-b is rcutfac (R_a + R_b)).
        twojmax, rfac0, rmin0, switchflag, bzeroflag: bispectrum settings (LAMMPS names).
        quadratic: add the quadratic terms (LAMMPS quadraticflag).
        coeffs: species -> coefficients (default zeros).
    """

    def __init__(self, species=("Si",), rcutfac=4.0, twojmax=6, radii=None, weights=None,
                 rfac0=0.99363, rmin0=0.0, switchflag=1, bzeroflag=0, quadratic=False,
                 coeffs=None, model_name=None, params_transform=None):
        if isinstance(species, str):
            species = (species,)
        self.species = tuple(species)
        if not self.species or len(set(self.species)) != len(self.species):
            raise ModelError(f"SNAP: species must be chemical symbols without duplicates, got {species!r}")
        self.rcutfac = float(rcutfac)
        self.twojmax = int(twojmax)
        self.radii = {s: float((radii or {}).get(s, 0.5)) for s in self.species}
        self.weights = {s: float((weights or {}).get(s, 1.0)) for s in self.species}
        self.rfac0, self.rmin0 = float(rfac0), float(rmin0)
        self.switchflag, self.bzeroflag = int(switchflag), int(bzeroflag)
        self.quadratic = bool(quadratic)
        self.descriptor = self._make_descriptor()
        D = self.descriptor.get_size()
        self.ncoeff = 1 + D + (D * (D + 1) // 2 if self.quadratic else 0)
        self._coeffs0 = coeffs or {}
        super().__init__(model_name or "SNAP", params_transform)

    def _make_descriptor(self):
        from workbench.ml.descriptors import Bispectrum

        cut = {f"{a}-{b}": self.rcutfac * (self.radii[a] + self.radii[b])
               for a in self.species for b in self.species}
        hp = {"jmax": self.twojmax / 2, "rfac0": self.rfac0, "rmin0": self.rmin0,
              "switch_flag": self.switchflag, "bzero_flag": self.bzeroflag,
              "diagonalstyle": 3, "weight": dict(self.weights)}
        return Bispectrum(cut, "cos", hp, normalize=False, dtype=np.float64)

    def init_model_params(self):
        out = OrderedDict()
        for s in self.species:
            v = np.asarray(self._coeffs0.get(s, np.zeros(self.ncoeff)), dtype=float)
            if v.size != self.ncoeff:
                raise ParameterError(f"SNAP coefficients of {s}: {v.size} given, "
                                     f"{self.ncoeff} expected (1 + {self.ncoeff - 1})")
            out[f"coeffs_{s}"] = Parameter(v, name=f"coeffs_{s}",
                                           description=f"SNAP coefficients of {s} (eV)",
                                           unit="eV")
        return out

    def init_kwargs(self) -> dict:
        return {"species": list(self.species), "rcutfac": self.rcutfac,
                "twojmax": self.twojmax, "radii": dict(self.radii),
                "weights": dict(self.weights), "rfac0": self.rfac0, "rmin0": self.rmin0,
                "switchflag": self.switchflag, "bzeroflag": self.bzeroflag,
                "quadratic": self.quadratic, "model_name": self.model_name}

    def get_influence_distance(self) -> float:
        return self.descriptor.rcut_max

    def get_supported_species(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.species)}

    # features ------------------------------------------------------------------------
    def prepare(self, configs) -> ModelState:
        """Bispectrum features (and their coordinate/strain derivatives) once per set."""
        configs = list(configs)
        state = ModelState(configs=configs, cutoff=self.get_influence_distance())
        state.extra["features"] = [self._features(c) for c in configs]
        return state

    def _features(self, conf, transformed=None, atom_rows=None):
        """Energy, force and stress design blocks of ``conf``; ``transformed`` is the
        descriptor's ``(zeta, dzdr, dzds)`` when already computed (the ASE calculator
        computes it on a reused neighbor list); ``atom_rows`` (a list) receives the
        per-atom design rows and species codes (energies per atom: row · coeffs)."""
        zeta, dzdr, dzds = transformed if transformed is not None else \
            self.descriptor.transform(conf, fit_forces=True, fit_stress=True)
        n = zeta.shape[0]
        if self.quadratic:
            iu, ju = np.triu_indices(zeta.shape[1])
            half = np.where(iu == ju, 0.5, 1.0)
            q = half * zeta[:, iu] * zeta[:, ju]
            dq = half[None, :, None] * (dzdr[:, iu] * zeta[:, ju, None]
                                        + zeta[:, iu, None] * dzdr[:, ju])
            ds = half[None, :, None] * (dzds[:, iu] * zeta[:, ju, None]
                                        + zeta[:, iu, None] * dzds[:, ju])
            zeta = np.concatenate([zeta, q], axis=1)
            dzdr = np.concatenate([dzdr, dq], axis=1)
            dzds = np.concatenate([dzds, ds], axis=1)
        phi = np.concatenate([np.ones((n, 1)), zeta], axis=1)
        codes = np.array([self.species.index(s) for s in conf.species])
        if atom_rows is not None:
            atom_rows.append((phi, codes))
        S = len(self.species)
        P = self.ncoeff
        # per-species sums: the Jacobian blocks of energy, forces (-d/dr) and stress
        dE = np.zeros(S * P)
        dF = np.zeros((n, 3, S * P))
        dS = np.zeros((6, S * P))
        vol = abs(np.linalg.det(np.asarray(conf.cell, float)))
        periodic = bool(np.all(conf.PBC))
        for s in range(S):
            mine = codes == s
            blk = slice(s * P, (s + 1) * P)
            dE[blk] = phi[mine].sum(axis=0)
            g = dzdr[mine].sum(axis=0)  # (D', 3n)
            dF[:, :, blk.start + 1:blk.stop] = -g.T.reshape(n, 3, -1)
            dS[:, blk.start + 1:blk.stop] = dzds[mine].sum(axis=0).T / vol if periodic \
                else np.nan
        return dE, dF, dS

    def compute(self, state: ModelState, forces=True, stress=False, jacobian=False,
                columns=None):
        feats = state.extra.get("features")
        if feats is None or len(feats) != len(state.configs):
            feats = state.extra["features"] = [self._features(c) for c in state.configs]
        theta = np.concatenate([self.model_params[f"coeffs_{s}"].value for s in self.species])
        dE = np.array([f[0] for f in feats])
        dF = np.concatenate([f[1] for f in feats])
        dS = np.array([f[2] for f in feats])
        res = EngineResult(energy=dE @ theta, forces=(dF @ theta) if forces else None,
                           stress=(dS @ theta) if stress else None)
        if jacobian:
            cols = slice(None) if columns is None else np.asarray(columns, dtype=np.int64)
            res.d_energy = dE[:, cols]
            res.d_forces = dF[..., cols] if forces else None
            res.d_stress = dS[..., cols] if stress else None
        return res

    # files -----------------------------------------------------------------------------
    @classmethod
    def from_kim(cls, name: str):
        """The coefficients and settings of an installed model of the SNAP KIM driver."""
        from workbench.models.kim import KIMModel

        kim = KIMModel(name)
        p = kim.get_params_dict()
        codes = kim.get_supported_species()
        species = sorted(codes, key=codes.get)
        coeffs = p["coeffs"].reshape(len(species), -1)
        return cls(species, rcutfac=float(p["rcutfac"][0]), twojmax=int(p["twojmax"][0]),
                   radii={s: float(p["R"][k]) for k, s in enumerate(species)},
                   weights={s: float(p["W"][k]) for k, s in enumerate(species)},
                   rfac0=float(p["rfac0"][0]), rmin0=float(p["rmin0"][0]),
                   switchflag=int(p["switchflag"][0]), bzeroflag=int(p["bzeroflag"][0]),
                   quadratic=bool(p["quadraticflag"][0]),
                   coeffs={s: coeffs[k] for k, s in enumerate(species)}, model_name=name)

    def write_kim_model(self, path=None, overwrite: bool = False):
        """A model of the SNAP KIM driver (LAMMPS snapcoeff/snapparam files)."""
        from workbench.ml.kim_snap import write_snap_kim_model

        return write_snap_kim_model(self, path, overwrite=overwrite)


def fit_linear(loss) -> np.ndarray:
    """Solve the weighted linear least-squares problem of ``loss`` (a workbench Loss over a
    model linear in its free parameters, such as SNAP) exactly: the residual is affine in the free coefficients, so one
    residual-and-Jacobian evaluation at any point gives the minimizer.  Returns x."""
    x0 = np.asarray(loss.x0(), dtype=float)
    r, J = loss.residual_and_jacobian(x0)
    step = np.linalg.lstsq(J, -r, rcond=None)[0]
    loss.set_params(x0 + step)
    return x0 + step


def _register():
    from workbench.models.builtin import BUILTIN_MODELS

    BUILTIN_MODELS.setdefault("SNAP", SNAP)


_register()
