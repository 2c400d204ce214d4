"""Packed batches: many configurations flattened once into contiguous arrays.

A :class:`PackedBatch` holds the atoms of C configurations back to back (``config_offsets``)
and their neighbor pairs in CSR form over atoms (``pair_offsets``), so one kernel call
evaluates a whole data set or a shard of it.  Configurations are any objects with
``coords``, ``cell``, ``PBC`` and ``species`` attributes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from workbench.engine.neighbors import build_pairs
from workbench.errors import EngineError


@dataclass
class PackedBatch:
    """Flat arrays of C configurations with N atoms and P (directed) neighbor pairs.

    ``pair_j`` are global atom indices, ``pair_d[p] = coords[j] + pair_shift[p] @ cell -
    coords[i]`` for the atom ``i`` owning pair ``p`` (``pair_offsets[i] <= p <
    pair_offsets[i+1]``).  ``volumes`` is ``|det(cell)|`` (meaningful only for
    configurations periodic in all three directions, see ``periodic3``).
    """

    coords: np.ndarray  # (N, 3)
    species: np.ndarray  # (N,) int64 codes into species_names
    atom_config: np.ndarray  # (N,)
    config_offsets: np.ndarray  # (C+1,)
    cells: np.ndarray  # (C, 3, 3)
    pbc: np.ndarray  # (C, 3) bool
    volumes: np.ndarray  # (C,)
    pair_offsets: np.ndarray  # (N+1,)
    pair_j: np.ndarray  # (P,)
    pair_d: np.ndarray  # (P, 3)
    pair_shift: np.ndarray  # (P, 3)
    cutoff: float
    species_names: tuple[str, ...] = ()
    cutoff_table: np.ndarray | None = None
    labels: tuple = field(default_factory=tuple)

    @property
    def nconfigs(self) -> int:
        return int(self.cells.shape[0])

    @property
    def natoms(self) -> int:
        return int(self.coords.shape[0])

    @property
    def npairs(self) -> int:
        return int(self.pair_j.shape[0])

    @property
    def natoms_per_config(self) -> np.ndarray:
        return np.diff(self.config_offsets)

    @property
    def periodic3(self) -> np.ndarray:
        """(C,) True where all three directions are periodic (stress is defined)."""
        return self.pbc.all(axis=1)

    @property
    def pair_i(self) -> np.ndarray:
        """(P,) owning atom of each pair."""
        return np.repeat(np.arange(self.natoms, dtype=np.int64), np.diff(self.pair_offsets))

    def subset(self, config_indices) -> "PackedBatch":
        """A new batch with the given configurations (in that order), for sharding."""
        idx = np.asarray(config_indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.nconfigs):
            raise EngineError(f"subset indices must lie in [0, {self.nconfigs}), got "
                              f"{idx.min()}..{idx.max()}")
        co = self.config_offsets
        nat = co[idx + 1] - co[idx]
        new_co = np.zeros(idx.size + 1, dtype=np.int64)
        np.cumsum(nat, out=new_co[1:])
        atoms = _ranges(co[idx], co[idx + 1])
        new_index = np.full(self.natoms, -1, dtype=np.int64)
        new_index[atoms] = np.arange(atoms.size, dtype=np.int64)
        po = self.pair_offsets
        npair = po[atoms + 1] - po[atoms]
        new_po = np.zeros(atoms.size + 1, dtype=np.int64)
        np.cumsum(npair, out=new_po[1:])
        pairs = _ranges(po[atoms], po[atoms + 1])
        return PackedBatch(
            coords=self.coords[atoms], species=self.species[atoms],
            atom_config=np.repeat(np.arange(idx.size, dtype=np.int64), nat),
            config_offsets=new_co, cells=self.cells[idx], pbc=self.pbc[idx],
            volumes=self.volumes[idx], pair_offsets=new_po,
            pair_j=new_index[self.pair_j[pairs]], pair_d=self.pair_d[pairs],
            pair_shift=self.pair_shift[pairs], cutoff=self.cutoff,
            species_names=self.species_names, cutoff_table=self.cutoff_table,
            labels=tuple(self.labels[i] for i in idx) if self.labels else ())


def _ranges(starts, stops) -> np.ndarray:
    """Concatenation of ``arange(s, e)`` for each pair, vectorized."""
    lens = stops - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    rep = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return np.arange(total, dtype=np.int64) + rep


def pack_arrays(coords_list, cells, pbcs, species_lists, cutoff, species_names=None,
                cutoff_table=None, labels=None) -> PackedBatch:
    """Pack plain arrays: per-configuration coords (n_c,3), cells, PBC flags, symbol lists.

    ``species_names`` fixes the code order (default: sorted unique symbols);
    ``cutoff_table`` (S,S) in that order gives per-species-pair cutoffs, and the search
    cutoff becomes ``max(cutoff, table.max())``.
    """
    nconf = len(coords_list)
    if not (len(cells) == len(pbcs) == len(species_lists) == nconf):
        raise EngineError("coords, cells, PBC and species lists must have one entry per "
                          "configuration")
    labels = tuple(labels) if labels is not None else tuple("" for _ in range(nconf))
    nat = np.fromiter((len(s) for s in species_lists), dtype=np.int64, count=nconf)
    offsets = np.zeros(nconf + 1, dtype=np.int64)
    np.cumsum(nat, out=offsets[1:])
    if nconf:
        coords = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1, 3)
                                 for x in coords_list])
        symbols = np.concatenate([np.asarray(s, dtype=object) for s in species_lists])
    else:
        coords = np.zeros((0, 3))
        symbols = np.zeros(0, dtype=object)
    if coords.shape[0] != offsets[-1]:
        for c in range(nconf):
            if np.asarray(coords_list[c]).reshape(-1, 3).shape[0] != nat[c]:
                raise EngineError(f"configuration {c} {labels[c]}: {nat[c]} species but "
                                  f"{np.asarray(coords_list[c]).reshape(-1, 3).shape[0]} "
                                  f"coordinate rows")
    uniq, inverse = np.unique(symbols.astype(str), return_inverse=True)
    if species_names is None:
        species_names = tuple(str(u) for u in uniq)
    species_names = tuple(species_names)
    code_of = {s: k for k, s in enumerate(species_names)}
    missing = [str(u) for u in uniq if str(u) not in code_of]
    if missing:
        atom = int(np.nonzero(symbols.astype(str) == missing[0])[0][0])
        c = int(np.searchsorted(offsets, atom, side="right") - 1)
        raise EngineError(f"configuration {c} {labels[c]}: species {missing[0]!r} is not "
                          f"among the model's species {list(species_names)}")
    uniq_codes = np.array([code_of[u] for u in uniq], dtype=np.int64)
    species = uniq_codes[inverse.reshape(-1)] if symbols.size else np.zeros(0, np.int64)
    cells = np.asarray(cells, dtype=np.float64).reshape(nconf, 3, 3)
    pbc = np.asarray(pbcs, dtype=bool).reshape(nconf, 3)
    if cutoff_table is not None:
        cutoff_table = np.asarray(cutoff_table, dtype=float)
        if cutoff_table.shape != (len(species_names),) * 2:
            raise EngineError(f"cutoff_table must have shape {(len(species_names),) * 2} "
                              f"(species {list(species_names)}), got {cutoff_table.shape}")
        cutoff = max(float(cutoff or 0.0), float(cutoff_table.max()))
    cutoff = float(cutoff)
    pair_offsets, pair_j, pair_shift, pair_d = build_pairs(
        coords, cells, pbc, offsets, cutoff, species, cutoff_table, labels)
    return PackedBatch(
        coords=coords, species=species,
        atom_config=np.repeat(np.arange(nconf, dtype=np.int64), nat),
        config_offsets=offsets, cells=cells, pbc=pbc,
        volumes=np.abs(np.linalg.det(cells)) if nconf else np.zeros(0),
        pair_offsets=pair_offsets, pair_j=pair_j, pair_d=pair_d, pair_shift=pair_shift,
        cutoff=cutoff, species_names=species_names, cutoff_table=cutoff_table,
        labels=labels)


def pack(configs, cutoff, species_names=None, cutoff_table=None) -> PackedBatch:
    """Pack configurations (objects with coords, cell, PBC, species) into one batch.

    Configurations with a ``validate`` method (``workbench.data.Configuration``) are
    checked first, so data edited in place since it was read cannot reach a kernel; any
    two atoms closer than :data:`COINCIDENT_DISTANCE` are refused (see
    :func:`check_coincident`)."""
    configs = list(configs)
    for k, c in enumerate(configs):
        if hasattr(c, "validate"):
            c.validate(k)
    labels = [str(getattr(c, "identifier", "") or getattr(c, "path", "") or "")
              for c in configs]
    batch = pack_arrays([c.coords for c in configs], [c.cell for c in configs],
                        [c.PBC for c in configs], [c.species for c in configs], cutoff,
                        species_names, cutoff_table, labels)
    check_coincident(batch)
    return batch


#: Atoms closer than this (in the data's length unit, Angstrom for the bundled sets) are
#: taken for a duplicated atom: no potential is meaningful there (LJ would skip the pair,
#: SW return inf).
COINCIDENT_DISTANCE = 1e-2


def check_coincident(batch: PackedBatch, distance: float = COINCIDENT_DISTANCE) -> None:
    """Raise EngineError naming the configuration and both atoms when two atoms (or an
    atom and a periodic image of another) are closer than ``distance``."""
    if not batch.npairs:
        return
    r2 = np.einsum("ij,ij->i", batch.pair_d, batch.pair_d)
    close = np.flatnonzero(r2 < distance * distance)
    if not close.size:
        return
    p = int(close[0])
    i = int(np.searchsorted(batch.pair_offsets, p, side="right") - 1)
    j = int(batch.pair_j[p])
    c = int(batch.atom_config[i])
    first = int(batch.config_offsets[c])
    label = batch.labels[c] if batch.labels and batch.labels[c] else "(unnamed)"
    shift = batch.pair_shift[p].tolist()
    image = "" if not any(shift) else f" (periodic image {shift})"
    raise EngineError(
        f"configuration {c} {label}: atoms {i - first} and {j - first}{image} are "
        f"{float(np.sqrt(r2[p])):.3g} apart; expected atoms at least {distance} apart "
        "(a duplicated atom?)")


_CACHE: "OrderedDict[tuple, tuple[list, PackedBatch]]" = OrderedDict()
_CACHE_SIZE = 8
_LOCK = threading.Lock()


def _checksum(config) -> tuple:
    x = np.asarray(config.coords, dtype=np.float64)
    cell = np.asarray(config.cell, dtype=np.float64)
    return (x.shape[0], float(x.sum()), float(x[::2].sum()), float(cell.sum()),
            tuple(bool(p) for p in config.PBC))


def get_batch(configs, cutoff, species_names=None, cutoff_table=None) -> PackedBatch:
    """Cached :func:`pack`: the same configurations (by identity and a coordinate/cell
    checksum), cutoff and species return the same batch object."""
    configs = list(configs)
    table_key = None if cutoff_table is None else np.asarray(cutoff_table, float).tobytes()
    key = (tuple(id(c) for c in configs), tuple(_checksum(c) for c in configs),
           float(cutoff), None if species_names is None else tuple(species_names), table_key)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit[1]
    batch = pack(configs, cutoff, species_names, cutoff_table)
    with _LOCK:
        _CACHE[key] = (configs, batch)  # keeping configs alive keeps their ids unique
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return batch


def clear_cache() -> None:
    """Forget all cached batches."""
    with _LOCK:
        _CACHE.clear()
