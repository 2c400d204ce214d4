"""SOAP power spectrum (Bartók, Kondor & Csányi, Phys. Rev. B 87, 184115 (2013)) computed
by featomic, behind the same ``transform`` interface as the other descriptors.

Why featomic and not our own kernels or DScribe: featomic gives analytic gradients with
respect to positions and strain for periodic cells (DScribe 2.1 has none for periodic
systems: its numerical ones took 0.19 s CPU per 64-atom Si configuration, featomic's
analytic ones 0.009 s; values only 0.0014 vs 0.0016 s), and its power spectrum is the
textbook one.

Hyperparameters (KLIFF 1.x's ``soap_default()`` names): ``n_max`` radial functions
(featomic's ``max_radial = n_max - 1``), ``l_max``, ``eta`` the Gaussian width of the
atom density (Å), ``cutoff_width`` (0.5 Å) the width of the shifted-cosine smoothing at the
cutoff.  The radial basis is featomic's GTO basis: ``radial_basis`` "gto"; KLIFF's default
"polynomial" (libdescriptor's) is not in featomic and is computed with GTOs too (values
differ from libdescriptor's, see docs/kliff_compatibility.md).  The cutoff is the one
value of ``cut_dists`` (SOAP has one cutoff for all pairs).

Layout: for every species pair (a ≤ b, in the descriptor's species order) a block of
``n_max² (l_max + 1)`` entries p(a n1, b n2, l); a configuration without species b has
zeros in the blocks with b.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError
from workbench.ml.descriptors._base import DescriptorBase, DescriptorError, conf_arrays

_RADIAL = ("gto", "polynomial")


def _soap_defaults() -> dict:
    from workbench.ml.descriptors.descriptor import soap_default

    return {**soap_default(), "cutoff_width": 0.5}


class SOAP(DescriptorBase):
    """SOAP power-spectrum descriptor.

    Args:
        cut_dists: ``{"Si-Si": 4.0}`` (every pair the same cutoff).
        cut_name: ``"cos"`` (featomic's shifted cosine).
        hyperparams: dict overriding ``soap_default()`` (``n_max``, ``l_max``, ``eta``,
            ``radial_basis``, ``cutoff_width``); its ``cutoff`` is ignored (``cut_dists``).
        normalize, dtype: as for ``SymmetryFunction``.
    """

    supported_cutoffs = ("cos",)

    def __init__(self, cut_dists, cut_name="cos", hyperparams=None, normalize=True,
                 dtype=np.float32):
        hp = _soap_defaults()
        unknown = set(hyperparams or {}) - set(hp)
        if unknown:
            raise ParameterError(f"SOAP hyperparams: unknown key(s) {sorted(unknown)}; "
                                 f"expected {sorted(hp)}")
        hp.update(hyperparams or {})
        for key in ("n_max", "l_max"):
            if int(hp[key]) != hp[key] or int(hp[key]) < (1 if key == "n_max" else 0):
                raise ParameterError(f"SOAP {key}={hp[key]!r}: expected a positive integer")
        if str(hp["radial_basis"]).lower() not in _RADIAL:
            raise ParameterError(f"SOAP radial_basis={hp['radial_basis']!r}: expected one "
                                 f"of {', '.join(_RADIAL)}")
        for key in ("eta", "cutoff_width"):
            if not float(hp[key]) > 0:
                raise ParameterError(f"SOAP {key}={hp[key]!r}: expected a positive width")
        super().__init__(cut_dists, cut_name, hp, normalize, dtype)
        if len(set(self.cutoff.values())) != 1:
            raise ParameterError(f"SOAP takes one cutoff for all species pairs, got "
                                 f"{self.cut_dists}")
        hp["cutoff"] = self.rcut_max
        self.n_max, self.l_max = int(hp["n_max"]), int(hp["l_max"])
        self.pairs = [(a, b) for i, a in enumerate(self.species) for b in self.species[i:]]
        self.block_size = self.n_max ** 2 * (self.l_max + 1)
        self.size = len(self.pairs) * self.block_size
        self._calculator = None

    def _featomic(self):
        if self._calculator is None:
            import featomic

            hp = self.hyperparams
            self._calculator = featomic.SoapPowerSpectrum(
                cutoff={"radius": self.rcut_max,
                        "smoothing": {"type": "ShiftedCosine",
                                      "width": float(hp["cutoff_width"])}},
                density={"type": "Gaussian", "width": float(hp["eta"])},
                basis={"type": "TensorProduct", "max_angular": self.l_max,
                       "radial": {"type": "Gto", "max_radial": self.n_max - 1}})
        return self._calculator

    def _atoms(self, conf, index):
        import ase

        coords, cell, pbc, species = conf_arrays(conf)
        self._species_codes(species, conf, index)  # unknown species: a clear error
        return ase.Atoms(symbols=species, positions=coords, cell=cell, pbc=pbc)

    def _one(self, conf, index, fit_forces, fit_stress):
        from ase.data import atomic_numbers

        atoms = self._atoms(conf, index)
        n = len(atoms)
        gradients = (["positions"] if fit_forces else []) + (["strain"] if fit_stress else [])
        tmap = self._featomic().compute(atoms, gradients=gradients)
        z_of = {atomic_numbers[s]: s for s in self.species}
        zeta = np.zeros((n, self.size))
        dzdr = np.zeros((n, self.size, n, 3)) if fit_forces else None
        dzds = np.zeros((n, self.size, 6)) if fit_stress else None
        for key, block in tmap.items():
            z1, z2 = int(key["neighbor_1_type"]), int(key["neighbor_2_type"])
            pair = tuple(sorted((z_of[z1], z_of[z2]), key=self.species.index))
            if block.values.shape[1] != self.block_size:
                raise DescriptorError(f"featomic returned {block.values.shape[1]} features "
                                      f"per species pair, expected {self.block_size}")
            cols = slice(self.pairs.index(pair) * self.block_size,
                         (self.pairs.index(pair) + 1) * self.block_size)
            atom = np.asarray(block.samples.column("atom"))
            zeta[atom, cols] = block.values
            if fit_forces:
                g = block.gradient("positions")
                s = np.asarray(g.samples.column("sample"))
                k = np.asarray(g.samples.column("atom"))
                # values (grad samples, xyz, features) -> dzdr[i, q, k, xyz]
                dzdr[atom[s][:, None], np.arange(self.size)[cols][None, :], k[:, None]] += \
                    np.transpose(g.values, (0, 2, 1))
            if fit_stress:
                g = block.gradient("strain")
                s = np.asarray(g.samples.column("sample"))
                v = g.values  # (samples, 3, 3, features): d zeta / d eps_ab
                voigt = np.stack([v[:, 0, 0], v[:, 1, 1], v[:, 2, 2],
                                  v[:, 1, 2], v[:, 2, 0], v[:, 0, 1]], axis=-1)
                dzds[atom[s], cols] += voigt
        return (zeta, None if dzdr is None else dzdr.reshape(n, self.size, 3 * n), dzds)

    def transform_many(self, configs, fit_forces=False, fit_stress=False, nprocs=1,
                       batch_size=256):
        for k, conf in enumerate(configs):
            yield self._one(conf, k, fit_forces, fit_stress)

    def transform(self, conf, fit_forces: bool = False, fit_stress: bool = False):
        """Unnormalized ``(zeta (N, D), dzetadr_forces (N, D, 3N), dzetadr_stress
        (N, D, 6))`` of one configuration (KLIFF's shapes; None when not asked)."""
        return self._one(conf, None, fit_forces, fit_stress)

    def identity(self) -> dict:
        return {**super().identity(), "species": list(self.species)}
