"""``EAM``: the spline embedded-atom model (engine: ``workbench.engine.eam``).

Parameters are the knot values of every spline function, one parameter per function,
named so the parameter table groups them: ``F_<a>`` (embedding energy at density knots),
``rho_<b>`` (density contributed by a b neighbour at distance knots), ``rphi_<a>_<b>``
(r times the pair energy at distance knots, eV*Angstrom, as in setfl files).  Knot
positions are the user's (``knots=``); by default every radial function shares one
uniform grid from r = 0 to the cutoff and every F one grid from rho = 0, which is what
the OpenKIM driver EAM_CubicNaturalSpline tabulates, so ``write_kim_model`` is exact.

Ways to start: ``EAM(species, lattice_constant=...)`` (default shapes scaled to the
nearest-neighbour distance), ``EAM.from_kim(name)`` (the tables of an installed
EAM_CubicNaturalSpline model as knots, or a least-squares fit to them on ``knots``),
``EAM.from_setfl(path)`` (fit knots to a LAMMPS setfl or funcfl table).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from workbench.errors import ModelError
from workbench.models.builtin import BUILTIN_MODELS, BuiltinModel
from workbench.models.model import Model
from workbench.models.parameter import Parameter

#: fcc/bcc/hcp lattice constants used when none is given (Angstrom)
_STRUCTURES = {"fcc": 1 / np.sqrt(2.0), "bcc": np.sqrt(3.0) / 2.0, "hcp": 1.0}


def default_lattice(symbol: str) -> tuple[float, str]:
    """(lattice constant, structure) of an element from ASE's reference data."""
    try:
        from ase.data import atomic_numbers, reference_states
    except ImportError:  # pragma: no cover
        return 3.615, "fcc"
    state = reference_states[atomic_numbers.get(symbol, 29)] or {}
    structure = state.get("symmetry", "fcc")
    if structure not in _STRUCTURES or "a" not in state:
        return 3.615, "fcc"
    return float(state["a"]), structure


def _shell_distances(structure: str, a: float, rc: float) -> np.ndarray:
    """Neighbour distances of one atom of the perfect crystal (ASE's builder)."""
    from ase.build import bulk
    from ase.neighborlist import neighbor_list

    atoms = bulk("Cu", structure, a=a) if structure != "hcp" else \
        bulk("Cu", "hcp", a=a, c=a * np.sqrt(8.0 / 3.0))
    i, d = neighbor_list("id", atoms, rc)
    return d[i == 0]


def default_functions(species, lattice_constant=None, structure=None, n_r=13, n_rho=11):
    """(knots, values, cutoff) of a sensible starting EAM for ``species``.

    From each element's crystal (ASE's reference lattice constant and structure, or the
    given ones) with nearest-neighbour distance r0: cutoff 1.65 r0 (the largest over
    species); rho(r) = ((rc - r)/(rc - r0))^3; F(rho) = -3 sqrt(rho/rho_e) eV with rho_e
    the density of the perfect crystal; a repulsive pair r*phi = r B e^{-3(r/r0 - 1)}
    (1 - r/rc)^2 whose B puts the energy minimum of the crystal at the given lattice
    constant (the splines themselves are used for that balance).  Radial knots: ``n_r``
    uniform from 0 to the cutoff; density knots: ``n_rho`` uniform from 0 to 2 rho_e.
    """
    from workbench.engine.splines import spline_values
    from workbench.engine.spec import species_pairs

    species = tuple(species)
    crystals = [default_lattice(s) if lattice_constant is None else
                (float(lattice_constant), structure or "fcc") for s in species]
    r0s = [a * _STRUCTURES[st] for a, st in crystals]
    rc = 1.65 * max(r0s)
    xr = np.linspace(0.0, rc, n_r)
    knots, values, rho_e, B = {}, {}, [], []
    for s, r0, (a, st) in zip(species, r0s, crystals):
        rho = np.where(xr < rc, ((rc - xr) / (rc - r0)) ** 3, 0.0)
        knots[f"rho_{s}"], values[f"rho_{s}"] = xr, rho
        dist = _shell_distances(st, a, rc)
        rho_e.append(float(spline_values(xr, rho, dist, True).sum()))
        xf = np.linspace(0.0, 2.0 * rho_e[-1], n_rho)
        knots[f"F_{s}"], values[f"F_{s}"] = xf, -3.0 * np.sqrt(xf / rho_e[-1])
        pair = xr * np.exp(-3.0 * (xr / r0 - 1.0)) * (1.0 - xr / rc) ** 2
        # dE/da = 0 at a: embedding slope + B * pair slope (energies linear in B)
        h = 1e-4

        def parts(scale):
            d = dist * scale
            dens = spline_values(xr, rho, d, True).sum()
            emb = spline_values(xf, values[f"F_{s}"], [dens], False)[0]
            return emb, 0.5 * (spline_values(xr, pair, d, True) / d).sum()

        (e1, p1), (e0, p0) = parts(1 + h), parts(1 - h)
        B.append(-(e1 - e0) / (p1 - p0) if p1 != p0 else 1.0)
    for a, b in species_pairs(species):
        r0 = 0.5 * (r0s[a] + r0s[b])
        name = f"rphi_{species[a]}_{species[b]}"
        knots[name] = xr
        values[name] = np.sqrt(B[a] * B[b]) * xr * np.exp(-3.0 * (xr / r0 - 1.0)) * \
            (1.0 - xr / rc) ** 2
    return knots, values, rc


class EAM(BuiltinModel):
    """Spline embedded-atom method; the knot values of F(rho), rho(r), r*phi(r) are fitted.

    Args:
        species: chemical symbols.
        knots: function name -> knot positions (default: :func:`default_functions`).
        values: function name -> knot values (default shapes when missing).
        cutoff: pair cutoff (default: the largest last radial knot).
        clamped: radial functions whose end slope is held at zero ("all" = every radial
            function, the default for new models; None = none).
        lattice_constant, structure: scale of the default functions.
    """

    default_name = "EAM"
    spec_module = "workbench.engine.eam"

    def __init__(self, species=("Cu",), knots=None, values=None, cutoff=None,
                 clamped="all", lattice_constant=None, structure=None,
                 model_name=None, params_transform=None):
        from workbench.engine.eam import EAMLayout, function_names, make_spec

        if isinstance(species, str):
            species = (species,)
        species = tuple(species)
        if not species or len(set(species)) != len(species):
            raise ModelError(f"EAM: species must be chemical symbols without duplicates, got "
                             f"{species!r}")
        dk, dv, drc = default_functions(species, lattice_constant, structure)
        knots = {**dk, **{k: np.asarray(v, float) for k, v in (knots or {}).items()}}
        names = function_names(species)
        radial = [n for n in names if not n.startswith("F_")]
        if cutoff is None:
            cutoff = max(float(np.asarray(knots[n])[-1]) for n in radial)
        if clamped == "all":
            clamped = radial
        self.species = species
        self.layout = EAMLayout(species, knots, cutoff, frozenset(clamped or ()))
        start = {}
        for n in names:
            v = (values or {}).get(n)
            if v is None:
                v = dv[n] if len(dv[n]) == len(self.layout.knots[n]) and \
                    np.array_equal(dk[n], self.layout.knots[n]) else \
                    np.interp(self.layout.knots[n], dk[n], dv[n])
            start[n] = np.asarray(v, dtype=float)
        self.spec = make_spec(self.layout, start)
        Model.__init__(self, model_name or self.default_name, params_transform)
        self._sync_dependents()

    # parameters ------------------------------------------------------------------
    def init_model_params(self):
        """Knot values of the pair function (eV), density function and embedding
        function (eV) for each species (pair), on the knot grid of the layout."""
        defaults = self.spec.default_params(self.species)
        out = OrderedDict()
        for ps in self.spec.params:
            out[ps.name] = Parameter(defaults[ps.name], name=ps.name,
                                     description=ps.description, unit=ps.unit)
        return out

    def _flat_values(self) -> np.ndarray:
        return np.concatenate([self.model_params[n].value for n in self.layout.names])

    def _sync_dependents(self):
        """Write the dependent knot of every clamped function (zero end slope)."""
        if not self.layout.dependencies():
            return
        flat = self._flat_values()
        full = self.layout.complete(flat)
        off = self.layout.offsets()
        for n in self.layout.clamped:
            d = off[n] + len(self.layout.knots[n]) - 2
            if full[d] != flat[d]:
                self.model_params[n].set_component(d - off[n], full[d], "original")

    def _params_changed(self, names) -> None:
        if getattr(self, "layout", None) is not None and names:
            self._sync_dependents()
        super()._params_changed(names)

    def dependent_knots(self) -> dict[str, int]:
        """Clamped function -> component index of its dependent knot."""
        return {n: len(self.layout.knots[n]) - 2 for n in self.layout.clamped}

    def set_fit_knots(self, r_min: float = 0.0, fix_f0: bool = True) -> None:
        """Choose every knot value to fit except: radial knots below ``r_min`` (never
        sampled by the data), the last knot of clamped functions (zero at the cutoff),
        their dependent knot, and (``fix_f0``) F at the first density knot."""
        settings = {}
        deps = self.dependent_knots()
        for n in self.layout.names:
            x = self.layout.knots[n]
            v = self.model_params[n].value
            fixed = np.zeros(len(x), bool)
            if n.startswith("F_"):
                fixed[0] = fix_f0
            else:
                fixed |= x < r_min
                if n in self.layout.clamped:
                    fixed[-1] = True
                    fixed[deps[n]] = True
            settings[n] = [[float(val), "fix"] if f else [float(val)]
                           for val, f in zip(v, fixed)]
        self.set_opt_params(**settings)

    def init_kwargs(self) -> dict:
        return {"species": list(self.species), "model_name": self.model_name,
                "knots": {n: [float(v) for v in x] for n, x in self.layout.knots.items()},
                "cutoff": float(self.layout.cutoff),
                "clamped": sorted(self.layout.clamped)}

    def get_influence_distance(self) -> float:
        """The spline tables' cutoff (Å)."""
        return float(self.layout.cutoff)

    def cutoff_param_names(self):
        return ()

    # curves ------------------------------------------------------------------------
    def function_curves(self, npoints: int = 200) -> list[dict]:
        """phi(r), rho(r) and F(rho) of every species (pair) sampled on ``npoints``."""
        from workbench.engine.splines import spline_values

        flat = self.layout.complete(self._flat_values())
        off = self.layout.offsets()
        out = []
        for n in self.layout.names:
            x = self.layout.knots[n]
            y = flat[off[n]:off[n] + len(x)]
            if n.startswith("F_"):
                t = np.linspace(x[0], x[-1], npoints)
                out.append({"name": n, "group": "F", "x": t,
                            "y": spline_values(x, y, t, radial=False),
                            "x_label": "density rho", "y_label": "F(rho) (eV)"})
                continue
            lo = max(x[0], 0.3 * self.layout.cutoff)
            t = np.linspace(lo, self.layout.cutoff, npoints)
            vals = spline_values(x, y, t, radial=True)
            if n.startswith("rho_"):
                out.append({"name": n, "group": "rho", "x": t, "y": vals,
                            "x_label": "r (Angstrom)", "y_label": "rho(r)"})
            else:
                out.append({"name": "phi_" + n[5:], "group": "phi", "x": t, "y": vals / t,
                            "x_label": "r (Angstrom)", "y_label": "phi(r) (eV)"})
        return out

    # other starts --------------------------------------------------------------------
    @classmethod
    def from_tables(cls, species, tables: dict, grids: dict, cutoff, knots=None,
                    clamped=None, **kwargs):
        """A model whose functions fit tabulated samples: ``tables[name]`` sampled at
        ``grids[name]``.  Without ``knots`` the sample points are the knots (exact); else
        the knot values are the least-squares fit of the splines to the samples."""
        from workbench.engine.eam import function_names
        from workbench.engine.splines import spline_basis

        species = tuple(species)
        knots = dict(knots or {})
        values = {}
        for n in function_names(species):
            x = np.asarray(knots.get(n, grids[n]), float)
            knots[n] = x
            t = np.asarray(grids[n], float)
            y = np.asarray(tables[n], float)
            if x.shape == t.shape and np.array_equal(x, t):
                values[n] = y.copy()
                continue
            radial = not n.startswith("F_")
            keep = t <= x[-1] if radial else np.ones(t.size, bool)
            B = spline_basis(x, t[keep], radial=radial)
            values[n] = np.linalg.lstsq(B, y[keep], rcond=None)[0]
        return cls(species, knots=knots, values=values, cutoff=cutoff, clamped=clamped,
                   **kwargs)

    @classmethod
    def from_kim(cls, name: str, knots=None, **kwargs):
        """The tables of an installed EAM_CubicNaturalSpline (or EAM_Dynamo) model read
        through kim-api; the tabulation points become the knots (``knots=None``, exact for
        the spline driver) or the splines are fitted to them on ``knots``."""
        from workbench.models.eam_tables import tables_from_kim

        species, tables, grids, cutoff = tables_from_kim(name)
        kwargs.setdefault("model_name", name)
        return cls.from_tables(species, tables, grids, cutoff, knots=knots, **kwargs)

    @classmethod
    def from_setfl(cls, path, knots=None, n_r: int = 25, n_rho: int = 25, **kwargs):
        """Fit knots to a setfl (``*.eam.alloy``) or funcfl (``*.eam``) file: by default
        ``n_r`` uniform radial knots from 0 to the cutoff and ``n_rho`` density knots over
        the table's range, least-squares fitted to every tabulated point."""
        from workbench.engine.eam import function_names
        from workbench.models.eam_tables import read_eam_table

        species, tables, grids, cutoff = read_eam_table(path)
        if knots is None:
            knots = {}
            for n in function_names(species):
                if n.startswith("F_"):
                    knots[n] = np.linspace(0.0, grids[n][-1], n_rho)
                else:
                    knots[n] = np.linspace(0.0, cutoff, n_r)
        return cls.from_tables(species, tables, grids, cutoff, knots=knots, **kwargs)

    def write_kim_model(self, path=None, overwrite: bool = False, driver: str = "spline",
                        **kwargs):
        """Write a KIM model: ``driver="spline"`` for EAM_CubicNaturalSpline (exact when
        the knots are uniform grids from 0) or ``"dynamo"`` for an EAM_Dynamo setfl
        table; see ``workbench.models.kim_export_eam``."""
        from workbench.models.kim_export_eam import write_eam_kim_model

        return write_eam_kim_model(self, path, driver=driver, overwrite=overwrite, **kwargs)

    def __repr__(self):
        return (f"EAM(species={self.species!r}, knots={self.layout.sizes}, "
                f"cutoff={self.layout.cutoff})")


BUILTIN_MODELS["EAM"] = EAM
