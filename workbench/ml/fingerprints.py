"""Fingerprints of a data set: descriptor values (and derivatives) of every configuration,
normalized by the data set's mean and standard deviation, cached on disk.

The cache file holds a SHA-256 hash of everything the fingerprints depend on (descriptor
class, cutoffs, hyperparameters, normalization, dtype, the fit flags, and each
configuration's species, coordinates, cell, PBC and reference data).  A file is reused only
when its hash equals the hash of the current inputs, so a cache can never be reused for a
different data set or descriptor; otherwise it is recomputed and replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from pathlib import Path

import numpy as np

from workbench.atomic import atomic_open
from workbench.ml.descriptors._base import DescriptorError, conf_arrays

logger = logging.getLogger(__name__)

FORMAT = "workbench-fingerprints-1"


def _atomic_pickle(obj, path: Path) -> None:
    with atomic_open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _update_array(h, arr) -> None:
    if arr is None:
        h.update(b"<none>")
        return
    a = np.ascontiguousarray(np.asarray(arr, dtype=np.float64))
    h.update(str(a.shape).encode())
    h.update(a.tobytes())


def inputs_hash(descriptor, configs, fit_forces: bool, fit_stress: bool) -> str:
    """SHA-256 of everything the fingerprints of ``configs`` depend on."""
    h = hashlib.sha256()
    ident = descriptor.identity()
    ident.update(normalize=descriptor.normalize, dtype=np.dtype(descriptor.dtype).name,
                 fit_forces=bool(fit_forces), fit_stress=bool(fit_stress), format=FORMAT)
    h.update(json.dumps(ident, sort_keys=True, default=str).encode())
    if descriptor.normalize and descriptor.mean is not None:
        _update_array(h, descriptor.mean)
        _update_array(h, descriptor.stdev)
    h.update(str(len(configs)).encode())
    for conf in configs:
        coords, cell, pbc, species = conf_arrays(conf)
        h.update(("|".join(species)).encode())
        _update_array(h, coords)
        _update_array(h, cell)
        h.update(pbc.tobytes())
        for name in ("energy", "forces", "stress"):
            _update_array(h, getattr(conf, name, None))
    return h.hexdigest()


def welford_mean_stdev(descriptor, configs, nprocs=1):
    """Mean and (population) standard deviation of the atoms' descriptor vectors,
    accumulated configuration by configuration (Welford / Chan update) without holding
    all fingerprints in memory."""
    n = 0
    mean = None
    m2 = None
    for zeta, _, _ in descriptor.transform_many(configs, nprocs=nprocs):
        nb = zeta.shape[0]
        if nb == 0:
            continue
        bmean = zeta.mean(axis=0)
        bm2 = ((zeta - bmean) ** 2).sum(axis=0)
        if mean is None:
            n, mean, m2 = nb, bmean, bm2
            continue
        tot = n + nb
        delta = bmean - mean
        mean = mean + delta * nb / tot
        m2 = m2 + bm2 + delta ** 2 * n * nb / tot
        n = tot
    if mean is None:
        raise DescriptorError("cannot compute fingerprint mean and stdev: no atoms")
    return mean, np.sqrt(m2 / n)


def _safe_stdev(stdev):
    stdev = np.asarray(stdev, dtype=np.float64).copy()
    zero = ~(stdev > 0)
    if zero.any():
        logger.warning("descriptor components %s are constant over the data set; "
                       "they are centered but not scaled", np.flatnonzero(zero).tolist())
        stdev[zero] = 1.0
    return stdev


def _transform_all(descriptor, configs, fit_forces, fit_stress, nprocs, backend):
    """Unnormalized transforms of ``configs``, here or on the workers of a Dask client."""
    if backend is None:
        return list(descriptor.transform_many(configs, fit_forces, fit_stress, nprocs))
    from workbench.fit.distributed import map_chunks

    return map_chunks(backend, _transform_chunk, configs, descriptor, fit_forces, fit_stress)


def _transform_chunk(chunk, descriptor, fit_forces, fit_stress):
    return list(descriptor.transform_many(chunk, fit_forces, fit_stress))


def generate_fingerprints(descriptor, configs, fit_forces=False, fit_stress=False,
                          fingerprints_filename="fingerprints.pkl",
                          fingerprints_mean_stdev_filename=None, use_welford_method=False,
                          nprocs=1, reuse=True, backend=None):
    """Compute (or reuse) the fingerprints of ``configs`` and write them to
    ``fingerprints_filename``; returns that path.

    With ``descriptor.normalize`` and no mean/stdev set yet (a training set), the mean and
    standard deviation over all atoms are computed (``use_welford_method`` streams them),
    stored on the descriptor and written to ``fingerprints_mean_stdev_filename`` (default
    ``fingerprints_mean_and_stdev.pkl`` beside the fingerprints file) as the descriptor's
    state dict.  A descriptor that
    already has them (a test set) uses them as they are.

    Each entry (see :func:`load_fingerprints`) has ``configuration``, ``zeta`` (N, D),
    ``energy``, and with ``fit_forces`` ``dzetadr_forces`` (N, D, 3N) and ``forces``, with
    ``fit_stress`` ``dzetadr_stress`` (N, D, 6), ``stress`` and ``volume``; values in the
    descriptor's dtype.

    ``backend``: a ``dask.distributed.Client``; the configurations are then split into one
    contiguous chunk per worker and transformed there (``workbench.fit.distributed``).
    """
    configs = list(configs)
    for k, c in enumerate(configs):  # in-place edits since construction are checked here
        if hasattr(c, "validate"):
            c.validate(k)
    path = Path(fingerprints_filename)
    digest = inputs_hash(descriptor, configs, fit_forces, fit_stress)
    if reuse and path.is_file():
        try:
            with open(path, "rb") as f:
                cached = pickle.load(f)
        except Exception:  # unreadable or foreign file: recompute
            cached = None
        if isinstance(cached, dict) and cached.get("format") == FORMAT \
                and cached.get("hash") == digest:
            if descriptor.normalize and descriptor.mean is None:
                descriptor.mean = cached["mean"]
                descriptor.stdev = cached["stdev"]
            logger.info("reusing fingerprints %s (inputs unchanged)", path)
            return path
        logger.info("fingerprints %s are for other inputs; recomputing", path)

    need_stats = descriptor.normalize and (descriptor.mean is None or descriptor.stdev is None)
    results = None
    if need_stats:
        if use_welford_method:
            mean, stdev = welford_mean_stdev(descriptor, configs, nprocs)
        else:
            results = _transform_all(descriptor, configs, fit_forces, fit_stress, nprocs,
                                     backend)
            if not results:
                raise DescriptorError("cannot compute fingerprint mean and stdev: no "
                                      "configurations")
            stacked = np.concatenate([r[0] for r in results])
            mean, stdev = stacked.mean(axis=0), stacked.std(axis=0)
        descriptor.mean = mean
        descriptor.stdev = _safe_stdev(stdev)
        ms_path = Path(fingerprints_mean_stdev_filename
                       or Path(fingerprints_filename).with_name("fingerprints_mean_and_stdev.pkl"))
        _atomic_pickle(descriptor.state_dict(), ms_path)
    if results is None:
        results = _transform_all(descriptor, configs, fit_forces, fit_stress, nprocs, backend)

    dtype = descriptor.dtype
    entries = []
    for conf, (zeta, dzdr, dzds) in zip(configs, results):
        if descriptor.normalize:
            # the transforms' outputs are ours: scale the large derivative arrays in place
            zeta = (zeta - descriptor.mean) / descriptor.stdev
            inv = (1.0 / descriptor.stdev)[None, :, None]
            dzdr = None if dzdr is None else np.multiply(dzdr, inv, out=dzdr)
            dzds = None if dzds is None else np.multiply(dzds, inv, out=dzds)
        energy = getattr(conf, "energy", None)
        e = {"configuration": conf, "zeta": np.asarray(zeta, dtype),
             "energy": np.asarray(np.nan if energy is None else energy, dtype)}
        if fit_forces:
            e["dzetadr_forces"] = np.asarray(dzdr, dtype)
            forces = getattr(conf, "forces", None)
            e["forces"] = None if forces is None else np.asarray(forces, dtype)
        if fit_stress:
            e["dzetadr_stress"] = np.asarray(dzds, dtype)
            stress = getattr(conf, "stress", None)
            e["stress"] = None if stress is None else np.asarray(stress, dtype)
            cell = conf_arrays(conf)[1]
            e["volume"] = np.asarray(abs(np.linalg.det(cell)), dtype)
        entries.append(e)
    _atomic_pickle({"format": FORMAT, "hash": digest, "mean": descriptor.mean,
                    "stdev": descriptor.stdev, "fit_forces": bool(fit_forces),
                    "fit_stress": bool(fit_stress), "fingerprints": entries}, path)
    return path


def load_fingerprints(path) -> list[dict]:
    """The list of per-configuration entries written by :func:`generate_fingerprints`."""
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError) as e:
        raise DescriptorError(f"{path}: cannot load fingerprints ({e})") from None
    if not (isinstance(data, dict) and data.get("format") == FORMAT):
        raise DescriptorError(f"{path}: not a fingerprints file of format {FORMAT}")
    return data["fingerprints"]


def read_fingerprints_header(path) -> dict:
    """Everything of a fingerprints file except the entries (hash, mean, stdev, flags)."""
    with open(path, "rb") as f:
        data = pickle.load(f)
    return {k: v for k, v in data.items() if k != "fingerprints"}
