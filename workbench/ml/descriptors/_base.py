"""Shared machinery of the descriptors: cutoffs by species pair, neighbor arrays,
normalization state (mean / stdev), state dicts.

A descriptor's ``transform(conf, fit_forces, fit_stress)`` returns, as KLIFF does,

* ``zeta`` (natoms, D),
* ``dzetadr_forces`` (natoms, D, natoms*3): d zeta[i, q] / d r_k, flattened over (k, xyz),
* ``dzetadr_stress`` (natoms, D, 6): derivative under a homogeneous deformation
  r -> (I + e) r, Voigt order xx, yy, zz, yz, zx, xy,

unnormalized; :func:`workbench.ml.fingerprints.generate_fingerprints` applies
``(zeta - mean) / stdev`` (and ``/ stdev`` to the derivatives).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.engine.neighbors import build_pairs
from workbench.errors import ModelError, ParameterError


@dataclass
class NeighborBatch:
    """CSR neighbor arrays of a batch: atoms of configuration c are
    ``config_offsets[c]:config_offsets[c+1]``; neighbors of atom a are
    ``pair_offsets[a]:pair_offsets[a+1]`` with global indices ``pair_j`` and displacement
    vectors ``pair_d`` (every image within the species-pair cutoff)."""

    config_offsets: np.ndarray
    species: np.ndarray
    pair_offsets: np.ndarray
    pair_j: np.ndarray
    pair_d: np.ndarray


class DescriptorError(ModelError):
    """A descriptor was configured or used inconsistently."""


def conf_arrays(conf):
    """(coords (N,3) float64, cell (3,3), pbc (3,) bool, species list) of a configuration.

    Accepts workbench Configurations (``coords``, ``cell``, ``PBC``, ``species``) and
    ``ase.Atoms``.
    """
    if hasattr(conf, "coords"):
        coords, cell, pbc, species = conf.coords, conf.cell, conf.PBC, conf.species
    elif hasattr(conf, "get_positions"):
        coords = conf.get_positions()
        cell = np.asarray(conf.get_cell())
        pbc = conf.get_pbc()
        species = conf.get_chemical_symbols()
    else:
        raise DescriptorError(
            f"cannot read coordinates from {type(conf).__name__!r}: expected a Configuration "
            "(coords, cell, PBC, species) or an ase.Atoms")
    return (np.ascontiguousarray(coords, dtype=np.float64).reshape(-1, 3),
            np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3),
            np.asarray(pbc, dtype=bool).reshape(3), list(species))


def conf_label(conf, index=None) -> str:
    ident = getattr(conf, "identifier", None)
    if ident:
        return str(ident)
    return f"configuration {index}" if index is not None else "configuration"


def full_cutoff(cut_dists: dict) -> dict:
    """Add ``B-A`` for every ``A-B`` key; conflicting values are an error."""
    full: dict[str, float] = {}
    for key, val in cut_dists.items():
        parts = str(key).split("-")
        if len(parts) != 2 or not all(parts):
            raise ParameterError(f"cutoff key {key!r}: expected 'A-B' with two species names")
        a, b = parts
        val = float(val)
        if not val > 0:
            raise ParameterError(f"cutoff {key!r} = {val}: expected a positive distance")
        for k in (f"{a}-{b}", f"{b}-{a}"):
            if k in full and full[k] != val:
                raise ParameterError(
                    f"cutoff {k!r} given twice with different values ({full[k]} and {val})")
            full[k] = val
    return full


def species_from_cutoff(cut_dists: dict) -> list[str]:
    """Species in order of first appearance in the cutoff keys (deterministic codes)."""
    out: list[str] = []
    for key in cut_dists:
        for s in str(key).split("-"):
            if s not in out:
                out.append(s)
    return out


class DescriptorBase:
    """Base of SymmetryFunction and Bispectrum (KLIFF's ``Descriptor``)."""

    supported_cutoffs: tuple[str, ...] = ("cos",)

    def __init__(self, cut_dists: dict, cut_name: str | None, hyperparams: Any,
                 normalize: bool = True, dtype=np.float32):
        if not isinstance(cut_dists, dict) or not cut_dists:
            raise ParameterError("cut_dists: expected a dict like {'Si-Si': 5.0}")
        self.cut_dists = dict(cut_dists)
        if cut_name is None:
            cut_name = self.supported_cutoffs[0]
        if cut_name not in self.supported_cutoffs:
            raise ParameterError(
                f"cut_name {cut_name!r} not supported by {type(self).__name__}; "
                f"expected one of {', '.join(self.supported_cutoffs)}")
        self.cut_name = cut_name
        self.cutoff = full_cutoff(self.cut_dists)
        self.species = species_from_cutoff(self.cut_dists)
        self.species_code = {s: i for i, s in enumerate(self.species)}
        ns = len(self.species)
        self.rcut_table = np.zeros((ns, ns))
        for a, ia in self.species_code.items():
            for b, ib in self.species_code.items():
                key = f"{a}-{b}"
                if key not in self.cutoff:
                    raise ParameterError(f"cut_dists: no cutoff given for species pair {key!r}")
                self.rcut_table[ia, ib] = self.cutoff[key]
        self.rcut_max = float(self.rcut_table.max())
        self.hyperparams = hyperparams
        self.normalize = bool(normalize)
        self.dtype = np.dtype(dtype).type
        self.size: int | None = None
        self.mean: np.ndarray | None = None
        self.stdev: np.ndarray | None = None

    # --- neighbor arrays ---------------------------------------------------------------
    def _species_codes(self, species, conf=None, index=None) -> np.ndarray:
        try:
            return np.fromiter((self.species_code[s] for s in species), dtype=np.int64,
                               count=len(species))
        except KeyError as e:
            raise DescriptorError(
                f"{conf_label(conf, index)}: species {e.args[0]!r} has no cutoff in "
                f"cut_dists (known: {', '.join(self.species)})") from None

    def neighbor_batch(self, configs) -> "NeighborBatch":
        """Flat neighbor arrays of many configurations (one engine call)."""
        arrays = [conf_arrays(c) for c in configs]
        nat = np.array([a[0].shape[0] for a in arrays], dtype=np.int64)
        config_offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum(nat, out=config_offsets[1:])
        species = (np.concatenate([self._species_codes(a[3], c, k)
                                   for k, (a, c) in enumerate(zip(arrays, configs))])
                   if arrays else np.zeros(0, np.int64))
        coords = (np.concatenate([a[0] for a in arrays]) if arrays else np.zeros((0, 3)))
        cells = np.array([a[1] for a in arrays]).reshape(-1, 3, 3)
        pbc = np.array([a[2] for a in arrays], dtype=bool).reshape(-1, 3)
        labels = [conf_label(c, k) for k, c in enumerate(configs)]
        pair_offsets, pair_j, _, pair_d = build_pairs(
            coords, cells, pbc, config_offsets, self.rcut_max, species=species,
            cutoff_table=self.rcut_table, labels=labels)
        return NeighborBatch(config_offsets, species,
                             np.ascontiguousarray(pair_offsets, dtype=np.int64),
                             np.ascontiguousarray(pair_j, dtype=np.int64),
                             np.ascontiguousarray(pair_d, dtype=np.float64))

    @staticmethod
    def _parallel(work, nconf, nprocs):
        """Run ``work(lo, hi)`` over configuration chunks on ``nprocs`` threads (the
        kernels release the GIL)."""
        nprocs = max(1, int(nprocs or 1))
        if nprocs == 1 or nconf < 2:
            work(0, nconf)
            return
        from concurrent.futures import ThreadPoolExecutor

        nchunk = min(nconf, 4 * nprocs)
        edges = np.linspace(0, nconf, nchunk + 1).astype(int)
        with ThreadPoolExecutor(nprocs) as ex:
            list(ex.map(lambda k: work(edges[k], edges[k + 1]), range(nchunk)))

    def _run(self, nb: "NeighborBatch", fit_forces, fit_stress, nprocs=1):
        """Evaluate a neighbor batch: fill :meth:`_outputs` with :meth:`_parallel`
        workers and return :meth:`_per_config` of them."""
        raise NotImplementedError

    def _outputs(self, nb: "NeighborBatch", fit_forces, fit_stress):
        """Zeroed flat outputs ``(zeta, dzdr, dr_offsets, dzds)`` for a batch.

        ``dzdr`` holds every configuration's dense (N, D, 3N) block back to back, at
        ``dr_offsets``; kernels write into these arrays directly.
        """
        n, nd = nb.species.shape[0], self.get_size()
        nat = np.diff(nb.config_offsets)
        dr_offsets = np.zeros(len(nat) + 1, dtype=np.int64)
        if fit_forces:
            np.cumsum(nat * nat * nd * 3, out=dr_offsets[1:])
        zeta = np.zeros((n, nd))
        dzdr = np.zeros(int(dr_offsets[-1]))
        dzds = np.zeros((n if fit_stress else 0, nd, 6))
        return zeta, dzdr, dr_offsets, dzds

    def _per_config(self, nb: "NeighborBatch", outputs, fit_forces, fit_stress):
        """Split flat outputs into ``(zeta, dzetadr_forces, dzetadr_stress)`` per
        configuration (views, no copies)."""
        zeta, dzdr, dr_offsets, dzds = outputs
        nd = self.get_size()
        out = []
        for c in range(len(nb.config_offsets) - 1):
            a, b = nb.config_offsets[c], nb.config_offsets[c + 1]
            m = int(b - a)
            out.append((zeta[a:b],
                        dzdr[dr_offsets[c]:dr_offsets[c + 1]].reshape(m, nd, 3 * m)
                        if fit_forces else None,
                        dzds[a:b] if fit_stress else None))
        return out

    def transform_many(self, configs, fit_forces=False, fit_stress=False, nprocs=1,
                       batch_size=256):
        """``transform`` of many configurations; yields one result per configuration."""
        configs = list(configs)
        for lo in range(0, len(configs), batch_size):
            chunk = configs[lo:lo + batch_size]
            yield from self._run(self.neighbor_batch(chunk), fit_forces, fit_stress, nprocs)

    def transform(self, conf, fit_forces: bool = False, fit_stress: bool = False):
        """Unnormalized ``(zeta, dzetadr_forces, dzetadr_stress)`` of one configuration.

        Shapes (KLIFF's): (N, D), (N, D, 3N) or None, (N, D, 6) or None.
        """
        return self._run(self.neighbor_batch([conf]), fit_forces, fit_stress)[0]

    # --- API -----------------------------------------------------------------------------
    def get_size(self) -> int:
        """Number of descriptor components per atom."""
        if self.mean is not None:
            return len(self.mean)
        return int(self.size)

    def __len__(self) -> int:
        return self.get_size()

    def get_mean(self):
        """Per-component mean used to normalise values (None before fitting the scaler)."""
        return self.mean

    def get_stdev(self):
        """Per-component standard deviation used to normalise values (None before
        fitting the scaler)."""
        return self.stdev

    def get_dtype(self):
        """NumPy dtype of the computed values and derivatives."""
        return self.dtype

    def get_cutoff(self):
        """``(cutoff function name, {species pair: cutoff distance in Å})``."""
        return self.cut_name, self.cut_dists

    def get_hyperparams(self):
        """The descriptor's hyperparameters as given (KLIFF's layout)."""
        return self.hyperparams

    def state_dict(self) -> dict:
        """Normalisation state (mean, stdev, size) for saving with a trained model."""
        return {"mean": None if self.mean is None else np.array(self.mean),
                "stdev": None if self.stdev is None else np.array(self.stdev),
                "size": self.size}

    def load_state_dict(self, data: dict) -> None:
        """Restore what ``state_dict`` returned. Raises ValueError naming the missing or
        inconsistent field."""
        try:
            mean, stdev, size = data["mean"], data["stdev"], data["size"]
        except (KeyError, TypeError) as e:
            raise DescriptorError(f"corrupted descriptor state dict: missing {e}") from None
        if size is not None and size != self.size:
            raise DescriptorError(
                f"descriptor state dict has size {size}, this descriptor has {self.size}")
        for name, arr in (("mean", mean), ("stdev", stdev)):
            if arr is not None and np.shape(arr) != (self.size,):
                raise DescriptorError(
                    f"descriptor state dict: {name} has shape {np.shape(arr)}, "
                    f"expected ({self.size},)")
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.stdev = None if stdev is None else np.asarray(stdev, dtype=np.float64)

    def identity(self) -> dict:
        """Everything that determines the unnormalized values (hashed for caching)."""
        return {"class": type(self).__name__, "cut_name": self.cut_name,
                "cutoff": sorted(self.cutoff.items()), "hyperparams": self.hyperparams}

    def generate_fingerprints(self, configs, fit_forces=False, fit_stress=False,
                              fingerprints_filename="fingerprints.pkl",
                              fingerprints_mean_stdev_filename=None,
                              use_welford_method=False, nprocs=1, reuse=True,
                              backend=None):
        """See :func:`workbench.ml.fingerprints.generate_fingerprints`."""
        from workbench.ml.fingerprints import generate_fingerprints

        return generate_fingerprints(
            self, configs, fit_forces=fit_forces, fit_stress=fit_stress,
            fingerprints_filename=fingerprints_filename,
            fingerprints_mean_stdev_filename=fingerprints_mean_stdev_filename,
            use_welford_method=use_welford_method, nprocs=nprocs, reuse=reuse,
            backend=backend)
