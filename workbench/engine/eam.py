"""Embedded-atom method with cubic-spline functions whose knot values are the parameters.

For species a, b (any number of species)::

    E = sum_i F_a(rho_i) + 1/2 sum_i sum_j phi_ab(r_ij),   rho_i = sum_j rho_b(r_ij)

with a = species of i, b = species of j, pairs closer than the cutoff.  Each of F_a,
rho_b and z_ab(r) = r phi_ab(r) is a cubic spline through user-chosen knots.  The pair
function is splined as r phi(r), the form of setfl files and of the OpenKIM driver
EAM_CubicNaturalSpline__MD_853402641673_002, so a model of that driver is reproduced
exactly when its tables are loaded as knots.

Spline ends: natural (zero second derivative) at both ends.  A *clamped* radial function
also has zero slope at its last knot: its second-to-last knot value is then not free but
follows from the others (the slope at the last knot is linear in the knot values), so the
function stays a natural spline -- exportable exactly -- and, with the last knot value 0,
joins zero at the cutoff with value, slope and curvature continuous.

The flat parameter vector is the knot values of every function in the order F_a (species
order), rho_b, z_ab (unordered pairs in ``spec.species_pairs`` order).  Jacobians are
exact: the kernels (``_eam_kernels``) return them with respect to each knot's value and
second derivative, and ``raw_to_params`` maps those to the knot values through the
linear natural-spline system m = S y.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import EngineError, ParameterError
from ._eam_kernels import eam_kernel
from .spec import EngineResult, ParamSpec, PotentialSpec, pair_index_table, species_pairs
from .splines import end_slope_weights, natural_second_derivatives, natural_spline_matrix


@dataclass
class EAMLayout:
    """Species, knots, cutoff and clamping of every spline function of one EAM model.

    ``knots`` maps function names (``F_<a>``, ``rho_<b>``, ``rphi_<a>_<b>``) to increasing
    knot positions (Angstrom for radial functions, density units for F); ``clamped``
    names the radial functions whose slope at the last knot is held at zero.
    """

    species: tuple
    knots: dict
    cutoff: float
    clamped: frozenset = frozenset()
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self.species = tuple(self.species)
        names = function_names(self.species)
        missing = [n for n in names if n not in self.knots]
        extra = [n for n in self.knots if n not in names]
        if missing or extra:
            raise ParameterError(f"EAM knots: expected functions {names}; missing "
                                 f"{missing}, unknown {extra}")
        knots = {}
        for n in names:
            x = np.asarray(self.knots[n], dtype=float).ravel()
            if x.size < 3 or not np.all(np.diff(x) > 0) or not np.all(np.isfinite(x)):
                raise ParameterError(f"EAM function {n}: knot positions must be at least 3 "
                                     f"finite, strictly increasing values, got {x.tolist()}")
            knots[n] = x
        self.knots = knots
        self.cutoff = float(self.cutoff)
        if not self.cutoff > 0:
            raise ParameterError(f"EAM cutoff must be positive, got {self.cutoff}")
        bad = [n for n in self.clamped if not n.startswith(("rho_", "rphi_")) or n not in knots]
        if bad:
            raise ParameterError(f"only radial functions (rho_*, rphi_*) can be clamped, "
                                 f"got {bad}")
        self.clamped = frozenset(self.clamped)

    @property
    def names(self) -> list[str]:
        return function_names(self.species)

    @property
    def sizes(self) -> list[int]:
        return [self.knots[n].size for n in self.names]

    def offsets(self) -> dict[str, int]:
        out, k = {}, 0
        for n in self.names:
            out[n] = k
            k += self.knots[n].size
        return out

    def spline_matrix(self, name: str) -> np.ndarray:
        """The (n, n) natural-spline matrix S (m = S y) of one function, cached."""
        key = ("S", name)
        if key not in self._cache:
            self._cache[key] = natural_spline_matrix(self.knots[name])
        return self._cache[key]

    def dependencies(self) -> list[tuple[int, int, np.ndarray]]:
        """(flat index of the dependent knot, flat offset of its function, weights over
        the function's knots) of every clamped function: y_d = weights . y."""
        got = self._cache.get("deps")
        if got is None:
            got = []
            for n, o in self.offsets().items():
                if n not in self.clamped:
                    continue
                w = end_slope_weights(self.knots[n], self.spline_matrix(n))
                d = w.size - 2
                if abs(w[d]) < 1e-300:
                    raise ParameterError(f"EAM function {n}: cannot clamp its end slope")
                row = -w / w[d]
                row[d] = 0.0
                got.append((o + d, o, row))
            self._cache["deps"] = got
        return got

    def complete(self, flat) -> np.ndarray:
        """The flat knot values with every dependent knot set from the others."""
        y = np.array(flat, dtype=float)
        for d, o, row in self.dependencies():
            y[d] = row @ y[o:o + row.size]
        return y

    def second_derivatives(self, flat) -> np.ndarray:
        """Knot second derivatives of every function (banded solves, no dense S)."""
        return np.concatenate([natural_second_derivatives(self.knots[n],
                                                          flat[o:o + self.knots[n].size])
                               for n, o in self.offsets().items()])

    def raw_to_params(self, raw, cols) -> np.ndarray:
        """Map a Jacobian (or gradient) over the raw unknowns (..., 2G) -- knot values,
        then knot second derivatives -- to the flat knot values ``cols``."""
        G = raw.shape[-1] // 2
        out = np.array(raw[..., :G])
        for n, o in self.offsets().items():
            k = self.knots[n].size
            blk = raw[..., G + o:G + o + k]
            if np.any(blk):
                out[..., o:o + k] += blk @ self.spline_matrix(n)
        for d, o, row in self.dependencies():
            k = row.size
            out[..., o:o + k] += out[..., d:d + 1] * row
            out[..., d] = 0.0
        return np.ascontiguousarray(out[..., cols])


def function_names(species) -> list[str]:
    species = tuple(species)
    return ([f"F_{s}" for s in species] + [f"rho_{s}" for s in species]
            + [f"rphi_{species[a]}_{species[b]}" for a, b in species_pairs(species)])


# ------------------------------------------------------------------------ python side

def _batch_constants(batch):
    got = getattr(batch, "_eam_constants", None)
    if got is None:
        got = np.all(np.asarray(batch.pbc, dtype=bool), axis=1)
        with contextlib.suppress(AttributeError, TypeError):
            object.__setattr__(batch, "_eam_constants", got)
    return got


def _tables(layout: EAMLayout, flat):
    """Kernel arrays: knot positions, values, second derivatives, function tables."""
    S_n = len(layout.species)
    names = layout.names
    ky = np.ascontiguousarray(layout.complete(flat))
    G = ky.size
    km = np.ascontiguousarray(layout.second_derivatives(ky))
    kx = np.concatenate([layout.knots[n] for n in names])
    sizes = np.array(layout.sizes, dtype=np.int64)
    flo = np.zeros(len(names), dtype=np.int64)
    flo[1:] = np.cumsum(sizes)[:-1]
    fF = np.arange(S_n, dtype=np.int64)
    frho = np.arange(S_n, 2 * S_n, dtype=np.int64)
    fphi = pair_index_table(S_n) + 2 * S_n
    rlo = int(flo[S_n])
    nr = int(sizes[S_n:2 * S_n].sum())
    return kx, ky, km, flo, sizes, fF, frho, fphi, G, rlo, nr


def _check_batch(batch, layout):
    if tuple(batch.species_names) and tuple(batch.species_names) != layout.species:
        raise EngineError(f"packed batch species {list(batch.species_names)} differ from "
                          f"the EAM species {list(layout.species)}")
    if batch.cutoff < layout.cutoff - 1e-12:
        raise EngineError(f"packed batch cutoff {batch.cutoff} is smaller than the EAM "
                          f"cutoff {layout.cutoff}; repack with a larger cutoff")


def _run(batch, layout, flat, forces, stress, jac, weights=None):
    _check_batch(batch, layout)
    kx, ky, km, flo, fn, fF, frho, fphi, G, rlo, nr = _tables(layout, flat)
    C = len(batch.config_offsets) - 1
    N = len(batch.species)
    R = 2 * G
    energy = np.zeros(C)
    f = np.zeros((N, 3))  # forces are needed by the gradient pass too
    s = np.zeros((C if stress else 0, 6))
    dE = np.zeros((C if jac else 0, R))
    dF = np.zeros((N if (jac and forces) else 0, 3, R))
    dS = np.zeros((C if (jac and stress) else 0, 6, R))
    if weights is None:
        ew = eref = np.zeros(0)
        fw = fref = np.zeros((0, 3))
        g = np.zeros((0, R))
    else:
        ew, eref, fw, fref = weights
        g = np.zeros((C, R))
    eam_kernel(batch.config_offsets, batch.species, batch.pair_offsets, batch.pair_j,
               batch.pair_d, _batch_constants(batch), batch.volumes, layout.cutoff, kx, ky,
               km, flo, fn, fF, frho, fphi, G, rlo, nr, bool(forces or weights is not None),
               bool(stress), bool(jac), energy, f, s, dE, dF, dS, ew, eref, fw, fref, g)
    return energy, f, (s if stress else None), dE, dF, dS, g


def _columns(layout, columns):
    G = sum(layout.sizes)
    if columns is None:
        return np.arange(G, dtype=np.int64)
    cols = np.asarray(columns, dtype=np.int64).reshape(-1)
    if cols.size and (cols.min() < 0 or cols.max() >= G):
        raise ParameterError(f"Jacobian columns {cols.tolist()} are outside the {G} flat "
                             f"EAM knot values")
    return cols


def compute(batch, layout: EAMLayout, flat, forces=True, stress=False, jacobian=False,
            columns=None, compact=False) -> EngineResult:
    """Energies, forces, stress and (optionally) exact Jacobians with respect to the flat
    knot values (``columns``/``compact`` as in ``workbench.engine.spec``)."""
    energy, f, s, dE, dF, dS, _ = _run(batch, layout, flat, forces, stress, jacobian)
    res = EngineResult(energy=energy, forces=f if forces else None, stress=s)
    if not jacobian:
        return res
    G = sum(layout.sizes)
    cols = _columns(layout, columns)
    res.d_energy = layout.raw_to_params(dE, cols)
    if forces:
        res.d_forces = layout.raw_to_params(dF, cols)
    if stress:
        res.d_stress = layout.raw_to_params(dS, cols)
    if columns is not None and not compact:
        for attr in ("d_energy", "d_forces", "d_stress"):
            arr = getattr(res, attr)
            if arr is not None:
                full = np.zeros(arr.shape[:-1] + (G,))
                full[..., cols] = arr
                setattr(res, attr, full)
    return res


def gradient(batch, layout: EAMLayout, flat, columns, energy_weight, energy_ref,
             forces_weight=None, forces_ref=None):
    """Energies, forces and the gradient of
    ``1/2 sum ew (E - E_ref)^2 + 1/2 sum fw (F - F_ref)^2`` with respect to the flat knot
    values ``columns`` (in that order), in one pass without the force Jacobian."""
    C = len(batch.config_offsets) - 1
    N = len(batch.species)
    ew = np.ascontiguousarray(np.broadcast_to(np.asarray(energy_weight, float), (C,)))
    eref = np.ascontiguousarray(np.broadcast_to(np.asarray(energy_ref, float), (C,)))
    if forces_weight is not None:
        fw = np.ascontiguousarray(np.broadcast_to(np.asarray(forces_weight, float), (N, 3)))
        fref = np.ascontiguousarray(np.asarray(forces_ref, float).reshape(N, 3))
    else:
        fw = fref = np.zeros((0, 3))
    energy, f, _, _, _, _, g = _run(batch, layout, flat, True, False, False,
                                    (ew, eref, fw, fref))
    cols = _columns(layout, columns)
    grad = layout.raw_to_params(g.sum(axis=0), cols)
    return EngineResult(energy=energy, forces=f if forces_weight is not None else None), grad


def make_spec(layout: EAMLayout, defaults: dict | None = None) -> PotentialSpec:
    """A PotentialSpec over one layout: one parameter per spline function (its knot
    values); ``defaults`` maps function names to default knot values."""
    defaults = defaults or {}
    names = layout.names

    def default_for(n):
        return lambda species: np.asarray(defaults.get(n, np.zeros(layout.knots[n].size)),
                                          dtype=float)

    def flat_of(params):
        try:
            parts = [np.atleast_1d(np.asarray(params[n], dtype=float)) for n in names]
        except KeyError as exc:
            raise ParameterError(f"EAM parameter {exc.args[0]!r} is missing") from None
        for n, p in zip(names, parts):
            if p.shape != layout.knots[n].shape:
                raise ParameterError(f"EAM parameter {n!r} has {p.size} value(s); its "
                                     f"function has {layout.knots[n].size} knots")
        return np.concatenate(parts)

    def spec_compute(batch, params, forces=True, stress=False, jacobian=False, columns=None,
                     compact=False):
        return compute(batch, layout, flat_of(params), forces, stress, jacobian, columns,
                       compact)

    def spec_gradient(batch, params, columns, energy_weight, energy_ref, forces_weight=None,
                      forces_ref=None):
        return gradient(batch, layout, flat_of(params), columns, energy_weight, energy_ref,
                        forces_weight, forces_ref)

    def describe(n):
        if n.startswith("F_"):
            return f"embedding energy F(rho) of {n[2:]} at its knots (eV)"
        if n.startswith("rho_"):
            return f"electron density contributed by a {n[4:]} neighbour at its knots"
        a, b = n[5:].split("_")
        return f"r*phi(r) of the {a}-{b} pair at its knots (eV*Angstrom)"

    params = tuple(ParamSpec(name=n, description=describe(n), default=default_for(n),
                             unit=("eV" if n.startswith("F_") else
                                   "" if n.startswith("rho_") else "eV*Angstrom"))
                   for n in names)
    return PotentialSpec(
        name="EAM", params=params, compute=spec_compute,
        influence_distance=lambda params: layout.cutoff,
        supported_species=layout.species,
        kim_driver="EAM_CubicNaturalSpline__MD_853402641673_002",
        description="spline embedded-atom method (knot values are the parameters)",
        extra={"gradient": spec_gradient, "layout": layout})
