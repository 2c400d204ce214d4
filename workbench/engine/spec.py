"""Contracts between the numba engine and the model layer.

A built-in potential is one module under ``workbench/engine`` that exposes one
:class:`PotentialSpec`.  The model layer (``workbench.models``) wraps any spec into a
KLIFF-style model with Parameters, transforms and save/load; the fitting layer only ever
sees :class:`EngineResult`.

Conventions (all float64):

* ``params`` is a ``dict[str, np.ndarray]`` of 1-D arrays in ``PotentialSpec.param_names``
  order.  The *flat parameter vector* concatenates them in that order; Jacobian columns
  follow the flat vector.
* ``stress`` is the strain derivative of the energy divided by the cell volume (the KIM
  virial / volume), Voigt order xx, yy, zz, yz, xz, xy.  It is computed only for
  configurations whose three directions are periodic (others get NaN).
* Forces are -dE/dr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


@dataclass(frozen=True)
class ParamSpec:
    """One named parameter of a potential.

    ``size`` is a function of the ordered species tuple (e.g. one value per unordered
    species pair); ``default`` returns the default values for that species tuple.
    ``lower``/``upper`` are hard physical limits (not fitting bounds); ``is_cutoff`` marks
    parameters that change the neighbor list.
    """

    name: str
    description: str
    default: Callable[[tuple[str, ...]], np.ndarray]
    unit: str = ""
    lower: float | None = None
    upper: float | None = None
    is_cutoff: bool = False


@dataclass
class EngineResult:
    """What a potential evaluation returns for a packed batch of C configs and N atoms.

    Jacobians are with respect to the flat parameter vector (P components).  Fields that
    were not requested are ``None``.
    """

    energy: np.ndarray  # (C,)
    forces: np.ndarray | None = None  # (N, 3)
    stress: np.ndarray | None = None  # (C, 6)
    d_energy: np.ndarray | None = None  # (C, P)
    d_forces: np.ndarray | None = None  # (N, 3, P)
    d_stress: np.ndarray | None = None  # (C, 6, P)


@dataclass(frozen=True)
class PotentialSpec:
    """Everything the model layer needs to know about one built-in potential.

    ``compute(batch, params, forces, stress, jacobian) -> EngineResult`` evaluates the whole
    packed batch (see ``workbench.engine.batch.PackedBatch``) in one call.
    ``influence_distance(params) -> float`` is the neighbor-list cutoff the parameters need.
    ``kim_driver`` is the OpenKIM model driver whose parameterization this spec mirrors
    (empty when there is none).
    """

    name: str
    params: tuple[ParamSpec, ...]
    compute: Callable[..., EngineResult]
    influence_distance: Callable[[dict], float]
    supported_species: tuple[str, ...] = ()
    kim_driver: str = ""
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def default_params(self, species: Sequence[str]) -> dict[str, np.ndarray]:
        species = tuple(species)
        return {p.name: np.atleast_1d(np.asarray(p.default(species), dtype=float)).copy()
                for p in self.params}


def species_pairs(species: Sequence[str]) -> list[tuple[int, int]]:
    """Unordered species pairs in KIM drivers' order: (0,0), (0,1), ..., (1,1), ...

    Per-pair parameters are stored in this order; ``pair_index`` maps codes to it.
    """
    n = len(species)
    return [(a, b) for a in range(n) for b in range(a, n)]


def pair_index_table(nspecies: int) -> np.ndarray:
    """(S, S) int table: index of the unordered pair (a, b) in ``species_pairs`` order."""
    table = np.empty((nspecies, nspecies), dtype=np.int64)
    k = 0
    for a in range(nspecies):
        for b in range(a, nspecies):
            table[a, b] = table[b, a] = k
            k += 1
    return table


def per_pair_params(params: dict, names, nspecies: int, potential: str) -> np.ndarray:
    """``(len(names), npairs)`` contiguous array of per-unordered-species-pair parameters.

    Raises ParameterError naming ``potential`` and the parameter when one is missing or
    has the wrong number of values.
    """
    from workbench.errors import ParameterError

    npairs = nspecies * (nspecies + 1) // 2
    rows = []
    for name in names:
        if name not in params:
            raise ParameterError(f"{potential} parameter {name!r} is missing")
        v = np.atleast_1d(np.asarray(params[name], dtype=float))
        if v.shape != (npairs,):
            raise ParameterError(
                f"{potential} parameter {name!r} has {v.size} value(s); expected {npairs} "
                f"(one per unordered species pair for {nspecies} species)")
        rows.append(v)
    return np.ascontiguousarray(np.vstack(rows))
