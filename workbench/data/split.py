"""Train/test splits: random by fraction (seeded, deterministic), n folds, or by identifier
pattern, and writing a split to disk atomically."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from workbench.errors import DatasetError

from .dataset import Dataset, write_config


def _configs(data):
    return list(data.get_configs() if isinstance(data, Dataset) else data)


def random_split(data, fraction=0.8, seed=0):
    """``(train, test)`` Datasets; ``round(fraction * n)`` configurations go to train,
    chosen by a permutation from ``numpy.random.default_rng(seed)``.  Both keep the
    original order."""
    configs = _configs(data)
    if not 0.0 <= fraction <= 1.0:
        raise DatasetError(f"fraction={fraction}; expected a number between 0 and 1")
    n_train = int(round(fraction * len(configs)))
    perm = np.random.default_rng(seed).permutation(len(configs))
    train_idx = np.sort(perm[:n_train])
    test_idx = np.sort(perm[n_train:])
    return (Dataset.from_configs([configs[i] for i in train_idx]),
            Dataset.from_configs([configs[i] for i in test_idx]))


def kfold_split(data, nfold, seed=0):
    """``nfold`` disjoint Datasets covering ``data`` (KLIFF's ``dataset --split``): a
    permutation from ``numpy.random.default_rng(seed)`` dealt round-robin, so fold sizes
    differ by at most one; each fold keeps the original order."""
    configs = _configs(data)
    nfold = int(nfold)
    if not 1 <= nfold <= max(len(configs), 1):
        raise DatasetError(f"nfold={nfold}; expected an integer between 1 and the number "
                           f"of configurations ({len(configs)})")
    perm = np.random.default_rng(seed).permutation(len(configs))
    return [Dataset.from_configs([configs[i] for i in np.sort(perm[k::nfold])])
            for k in range(nfold)]


def split_by_pattern(data, pattern, regex=False):
    """``(matching, rest)`` by identifier: a shell glob (``*with_cracks*``) or, with
    ``regex=True``, a regular expression searched anywhere in the identifier."""
    configs = _configs(data)
    if regex:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise DatasetError(f"bad regular expression {pattern!r}: {exc}") from None
        hit = [rx.search(str(c.identifier)) is not None for c in configs]
    else:
        hit = [fnmatch.fnmatchcase(str(c.identifier), pattern) for c in configs]
    return (Dataset.from_configs([c for c, h in zip(configs, hit) if h]),
            Dataset.from_configs([c for c, h in zip(configs, hit) if not h]))


def _relative_name(config, root, k):
    if config.path is not None and root is not None:
        try:
            return Path(config.path).resolve().relative_to(Path(root).resolve())
        except ValueError:
            pass
    if config.path is not None:
        return Path(Path(config.path).name)
    return Path(f"config_{k:06d}.xyz")


def write_split(parts: dict, out, root=None, force=False) -> Path:
    """Write each ``name -> Dataset`` of ``parts`` to ``out/name/`` (files keep their path
    relative to ``root``; configurations without a file are written as extended XYZ).

    The whole tree is built in a temporary directory beside ``out`` and renamed into
    place, so ``out`` is either untouched or complete.  An existing non-empty ``out`` is
    only replaced with ``force=True``."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise DatasetError("output exists and is not empty; expected a new or empty "
                           "directory (or pass force=True / --force)", out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name, ds in parts.items():
            for k, c in enumerate(_configs(ds)):
                dest = staging / name / _relative_name(c, root, k)
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.exists():
                    raise DatasetError(f"two configurations map to {dest.relative_to(staging)}",
                                       out)
                if c.path is not None and Path(c.path).suffix == ".xyz":
                    shutil.copyfile(c.path, dest)
                else:
                    write_config(dest, c)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            os.replace(out, old / "x")
        os.replace(staging, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
