"""Numba twins of OpenKIM model drivers: a KIM model evaluated by the built-in engine.

Several KIM model drivers compute exactly what one of the engine's potentials computes
(the engine specs were written in those drivers' parameterization).  For a model of such
a driver :class:`~workbench.models.kim.KIMModel` keeps the model's own kim-api parameters
(names, extents, values: what the user sees does not change) and evaluates them on the
engine, which has exact parameter Jacobians, instead of finite differences over kim-api.

A twin is one :class:`DriverTwin` in :data:`TWINS`, keyed by the driver's name without its
version suffix.  It says which engine spec to run (it may depend on the values, e.g. the
LJ612 ``shift`` flag), which KIM parameter feeds each engine parameter, and how that KIM
array is laid out over species codes (:data:`LAYOUTS`).  The engine runs on the species
present in the data (in the model's code order), so the engine arrays are gathers of the
KIM arrays; the gather is injective, which makes the Jacobian a column selection.

Adding a twin: give the engine spec the driver's functional form, then
``register_twin(DriverTwin(driver=..., spec=..., params={engine: (kim, layout)}))``;
``KIMModel`` checks every twin against kim-api when it is created (see
:func:`check_twin`), so a mapping error shows up as a fallback warning, not as wrong
numbers.  Drivers whose form the engine does not reproduce to 1e-10 stay out of the
registry (see docs/architecture.md).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

#: relative tolerance of the creation check (energy and forces)
TWIN_RTOL = 1e-10


def _pair_sym(codes: np.ndarray, nk: int) -> np.ndarray:
    """Unordered pairs (a <= b), upper triangle row by row: LJ612, SW, Morse drivers."""
    out = []
    for i, a in enumerate(codes):
        for b in codes[i:]:
            lo, hi = min(a, b), max(a, b)
            out.append(lo * nk + hi - lo * (lo + 1) // 2)
    return np.array(out, dtype=np.int64)


def _pair(codes: np.ndarray, nk: int) -> np.ndarray:
    """Ordered pairs, row-major ``a * nk + b`` (Tersoff_LAMMPS pair arrays)."""
    return np.array([a * nk + b for a in codes for b in codes], dtype=np.int64)


def _triplet(codes: np.ndarray, nk: int) -> np.ndarray:
    """Ordered triplets, row-major (Tersoff_LAMMPS three-body arrays)."""
    return np.array([(a * nk + b) * nk + c for a in codes for b in codes for c in codes],
                    dtype=np.int64)


#: layout name -> (species codes used, number of model species) -> indices into the
#: KIM array, in the engine's order for those species
LAYOUTS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "pair_sym": _pair_sym, "pair": _pair, "triplet": _triplet}


@dataclass(frozen=True)
class DriverTwin:
    """How the models of one KIM driver map onto one engine potential.

    ``spec`` is the engine spec's name, or a function of the KIM values (name -> array)
    returning it.  ``params`` maps every engine parameter, in spec order, to ``(KIM
    parameter name, layout)``.  KIM parameters not named there (e.g. LJ612's integer
    ``shift``) only select the spec; their Jacobian columns are zero.
    """

    driver: str
    spec: str | Callable[[dict], str]
    params: dict
    #: engine parameters (dict) -> None when the engine reproduces the driver for these
    #: values, else why not (a driver convention the engine does not copy)
    exact_for: Callable[[dict], str | None] | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def spec_name(self, kim_values: dict) -> str:
        return self.spec(kim_values) if callable(self.spec) else self.spec

    def outside(self, engine_params: dict) -> str | None:
        """Why these values are outside what the twin reproduces (None: inside)."""
        return None if self.exact_for is None else self.exact_for(engine_params)


#: driver name without version -> its twin
TWINS: dict[str, DriverTwin] = {}


def driver_key(driver: str) -> str:
    """``SW__MD_335816936951_004`` -> ``SW__MD_335816936951`` (twins hold for every
    version of the driver with the same KIM ID; the creation check guards the rest)."""
    head, sep, tail = driver.rpartition("_")
    return head if sep and tail.isdigit() and "__MD_" in head else driver


def register_twin(twin: DriverTwin) -> DriverTwin:
    TWINS[driver_key(twin.driver)] = twin
    return twin


def twin_for(driver: str | None) -> DriverTwin | None:
    """The registered twin of ``driver`` (None without one)."""
    return TWINS.get(driver_key(driver)) if driver else None


def _sw_exact(params: dict) -> str | None:
    # the driver takes costheta0 of the pair (i, j) with j the first neighbour listed;
    # the engine averages (i, j) and (i, k): equal only when all pairs share one value
    c = np.asarray(params["costheta0"])
    if np.ptp(c) != 0.0:
        return ("costheta0 differs between species pairs (the SW driver then depends on "
                "the neighbour-list order; the twin averages)")
    return None


def _tersoff_exact(params: dict) -> str | None:
    # the driver takes a pair's repulsive term (A, lambda1 and the (i, j, j) cutoff) from
    # its lower-indexed atom; the engine averages both orders
    S = int(round(np.asarray(params["A"]).size ** 0.5))
    for name in ("A", "lambda1"):
        v = np.asarray(params[name]).reshape(S, S)
        if not np.array_equal(v, v.T):
            return f"{name} is not symmetric in the species pair (i, j)"
    for name in ("Rc", "Dc"):
        v = np.asarray(params[name]).reshape(S, S, S)
        ijj = v[np.arange(S)[:, None], np.arange(S)[None, :], np.arange(S)[None, :]]
        if not np.array_equal(ijj, ijj.T):
            return f"{name}(i, j, j) differs from {name}(j, i, i)"
    return None


_SW_NAMES = ("A", "B", "p", "q", "sigma", "gamma", "cutoff", "lambda", "costheta0")
register_twin(DriverTwin(
    driver="SW__MD_335816936951_004", spec="SW",
    params={n: (n, "pair_sym") for n in _SW_NAMES}, exact_for=_sw_exact))

_TERSOFF_PAIR = ("A", "B", "lambda1", "lambda2", "beta", "n")
_TERSOFF_TRIPLET = ("lambda3", "m", "gamma", "c", "d", "h", "Rc", "Dc")
register_twin(DriverTwin(
    driver="Tersoff_LAMMPS__MD_077075034781_004", spec="Tersoff",
    params={**{n: (n, "pair") for n in _TERSOFF_PAIR},
            **{n: (n, "triplet") for n in _TERSOFF_TRIPLET}},
    exact_for=_tersoff_exact))

_LJ612 = {"epsilon": ("epsilons", "pair_sym"), "sigma": ("sigmas", "pair_sym"),
          "cutoff": ("cutoffs", "pair_sym")}
for _driver in ("LennardJones612__MD_414112407348_003",
                "LJ__MD_414112407348_003"):  # the same driver under its newer name
    register_twin(DriverTwin(
        driver=_driver, params=_LJ612,
        spec=lambda v: "LJ_shifted" if int(round(float(v["shift"][0]))) else "LJ"))

# one-species Lennard-Jones drivers: shifted to zero at the cutoff, and truncated
_LJ1 = {n: (n, "pair_sym") for n in ("epsilon", "sigma", "cutoff")}
register_twin(DriverTwin(driver="LJ_Shifted__MD_498634107543_004", spec="LJ_shifted",
                         params=_LJ1))
register_twin(DriverTwin(driver="LJ_Truncated__MD_132729421025_001", spec="LJ",
                         params=_LJ1))

register_twin(DriverTwin(
    driver="Morse_Shifted__MD_552566534109_004", spec="Morse_Shifted",
    params={n: (n, "pair_sym") for n in ("epsilon", "C", "Rzero", "cutoff")}))


@functools.cache
def _takes(compute, arg: str) -> bool:
    return arg in inspect.signature(compute).parameters


class TwinEvaluator:
    """A twin bound to one KIM model: KIM values in, engine results in KIM columns out.

    ``meta`` is the model's ``[(name, is_int, extent, description), ...]`` in kim-api
    order (the flat parameter vector), ``species`` its species name -> code mapping.
    """

    def __init__(self, twin: DriverTwin, meta, species: dict[str, int]):
        self.twin = twin
        self.meta = list(meta)
        self.species = dict(species)
        self.nk = len(self.species)
        self.offsets = {}
        k = 0
        for name, _, extent, _ in self.meta:
            self.offsets[name] = k
            k += extent
        self.nflat = k
        missing = [kim for kim, _ in twin.params.values() if kim not in self.offsets]
        if missing:
            raise KeyError(f"the model publishes no parameter(s) {missing}")

    def species_subset(self, symbols) -> tuple[str, ...]:
        """The given species in the model's code order."""
        present = set(symbols)
        return tuple(s for s, _ in sorted(self.species.items(), key=lambda kv: kv[1])
                     if s in present)

    def _gathers(self, subset) -> dict[str, np.ndarray]:
        # arrays are indexed by the rank of the species code (codes need not start at 0:
        # the Morse_Shifted models give their one species code 1)
        rank = {s: r for r, s in enumerate(self.species_subset(self.species))}
        codes = np.array([rank[s] for s in subset], dtype=np.int64)
        return {eng: LAYOUTS[layout](codes, self.nk)
                for eng, (_, layout) in self.twin.params.items()}

    def spec(self, kim_values: dict):
        from workbench.engine.registry import get_spec

        return get_spec(self.twin.spec_name(kim_values))

    def spec_params(self, kim_values: dict, subset) -> dict[str, np.ndarray]:
        gathers = self._gathers(subset)
        return {eng: np.asarray(kim_values[kim], dtype=float)[gathers[eng]]
                for eng, (kim, _) in self.twin.params.items()}

    def outside(self, kim_values: dict, subset) -> str | None:
        """Why the twin does not reproduce the driver for these values (None: it does)."""
        return self.twin.outside(self.spec_params(kim_values, subset))

    def column_map(self, subset, spec) -> np.ndarray:
        """(nflat,) engine flat column of every KIM flat column, -1 where the KIM
        component does not enter the engine (other species, selector flags)."""
        gathers = self._gathers(subset)
        out = np.full(self.nflat, -1, dtype=np.int64)
        k = 0
        for ps in spec.params:
            kim, _ = self.twin.params[ps.name]
            idx = gathers[ps.name]
            out[self.offsets[kim] + idx] = k + np.arange(idx.size)
            k += idx.size
        return out

    def compute(self, batch, kim_values, subset, forces, stress, jacobian, columns=None):
        """EngineResult with Jacobian columns in the KIM flat order (``columns`` of it)."""
        from workbench.engine.spec import EngineResult

        spec = self.spec(kim_values)
        params = self.spec_params(kim_values, subset)
        if not jacobian:
            return spec.compute(batch, params, forces=forces, stress=stress)
        cols = (np.arange(self.nflat) if columns is None
                else np.atleast_1d(np.asarray(columns, dtype=np.int64)) % self.nflat)
        eng = self.column_map(subset, spec)[cols]
        used = np.flatnonzero(eng >= 0)
        extra = {}
        if _takes(spec.compute, "columns"):
            extra["columns"] = eng[used]
            if _takes(spec.compute, "compact"):
                extra["compact"] = True
        res = spec.compute(batch, params, forces=forces, stress=stress, jacobian=True,
                           **extra)
        out = EngineResult(energy=res.energy, forces=res.forces, stress=res.stress)
        for attr in ("d_energy", "d_forces", "d_stress"):
            arr = getattr(res, attr)
            if arr is None:
                continue
            full = np.zeros(arr.shape[:-1] + (cols.size,))
            full[..., used] = arr if extra.get("compact") else arr[..., eng[used]]
            setattr(out, attr, full)
        return out

    def gradient(self, batch, kim_values, subset, columns, energy_weight, energy_ref,
                 forces_weight=None, forces_ref=None):
        """``(EngineResult, gradient over columns)`` from the engine's one-pass gradient,
        or None when the engine potential has none."""
        spec = self.spec(kim_values)
        fn = spec.extra.get("gradient")
        if fn is None:
            return None
        cols = np.atleast_1d(np.asarray(columns, dtype=np.int64)) % self.nflat
        eng = self.column_map(subset, spec)[cols]
        used = np.flatnonzero(eng >= 0)
        res, g_used = fn(batch, self.spec_params(kim_values, subset), eng[used],
                         energy_weight, energy_ref, forces_weight, forces_ref)
        g = np.zeros(cols.size)
        g[used] = g_used
        return res, g


# ---------------------------------------------------------------- creation check


def pick_species(species, seed: int = 0, max_species: int = 3) -> list[str]:
    """Up to ``max_species`` of the model's chemical species, chosen by ``seed`` (kim-api's
    placeholder names such as ``user01`` are not elements a configuration can hold)."""
    from workbench.data.checks import KNOWN_SPECIES

    rng = np.random.default_rng(seed)
    names = [s for s in species if s in KNOWN_SPECIES]
    return [str(s) for s in rng.choice(names, size=min(max_species, len(names)),
                                       replace=False)]


def check_configurations(species, cutoff: float, seed: int = 0, count: int = 3):
    """A few rattled configurations of ``species``: periodic, sheared diamond-like cells
    and one free cluster, nearest neighbours at 0.45-0.7 of ``cutoff`` so that atoms
    have two- and three-body neighbours.  ``seed`` picks the geometries (the creation
    check and the tests use different seeds)."""
    from workbench.data.configuration import Configuration

    rng = np.random.default_rng(seed)
    species = list(species)
    basis = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0],
                      [.25, .25, .25], [.25, .75, .75], [.75, .25, .75], [.75, .75, .25]])
    out = []
    for k in range(count):
        nn = cutoff * rng.uniform(0.45, 0.7)
        a = nn * 4.0 / np.sqrt(3.0)  # diamond: nearest neighbour a*sqrt(3)/4
        periodic = k < count - 1
        reps = 1 if periodic else 2
        shifts = [np.array([i, j, m]) for i in range(reps) for j in range(reps)
                  for m in range(reps)]
        frac = np.concatenate([(basis + c) / reps for c in shifts])
        cell = (a * reps) * (np.eye(3) + rng.uniform(-0.05, 0.05, (3, 3)))
        coords = frac @ cell + rng.normal(0.0, 0.06 * nn, frac.shape)
        sp = [species[i] for i in rng.integers(0, len(species), len(frac))]
        if not periodic:
            cell = np.eye(3) * (4 * a + 4 * cutoff)
        out.append(Configuration(cell, sp, coords, [periodic] * 3,
                                 identifier=f"twin-check-{seed}-{k}"))
    return out


def deviation(configs, twin_result, kim_result) -> tuple[float, float]:
    """Largest relative deviation of energies and of forces (relative to the largest
    force component of each configuration) between two results over ``configs``."""
    e_t, e_k = np.asarray(twin_result.energy), np.asarray(kim_result.energy)
    de = float(np.max(np.abs(e_t - e_k) / np.maximum(np.abs(e_k), 1e-300)))
    df = 0.0
    lo = 0
    for c in configs:
        hi = lo + len(c.species)
        fk = kim_result.forces[lo:hi]
        scale = max(float(np.abs(fk).max()), 1e-300)
        df = max(df, float(np.abs(twin_result.forces[lo:hi] - fk).max()) / scale)
        lo = hi
    return de, df
