"""KLIFF's ``kliff.utils`` helpers.

``download_dataset`` returns the bundled copy of KLIFF's example data sets (nothing is
downloaded: the archives ship inside the package, see :mod:`workbench.datasets`).
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import yaml

from workbench import datasets

#: KLIFF's data-set names -> the bundled sets
_KLIFF_NAMES = {"Si_training_set": "Si", "Si_training_set_4_configs": "Si_4",
                "SiC_training_set": "SiC"}


def download_dataset(dataset_name: str) -> Path:
    """Path of KLIFF's example data set ``dataset_name`` (the bundled copy, unpacked once
    into the cache directory; no network).  Also takes the bundled names (``"Si"``...)."""
    name = _KLIFF_NAMES.get(dataset_name, dataset_name)
    if name not in datasets.AVAILABLE:
        known = ", ".join([*_KLIFF_NAMES, *datasets.AVAILABLE])
        raise KeyError(f"no bundled data set {dataset_name!r}; available: {known}")
    return datasets.path(name)


def to_path(path) -> Path:
    """``path`` as an absolute Path with ``~`` expanded."""
    return Path(path).expanduser().resolve()


def length_equal(a, b) -> bool:
    """Whether ``a`` and ``b`` have equal length (True when either has no length)."""
    return len(a) == len(b) if hasattr(a, "__len__") and hasattr(b, "__len__") else True


def torch_available() -> bool:
    """Whether torch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def split_string(string: str, length: int = 80, starter: str | None = None) -> str:
    """Break ``string`` into lines of at most ``length`` characters, each starting with
    ``starter`` when given."""
    lines = [string[i:i + length] for i in range(0, len(string), length)] or [""]
    if starter is not None:
        lines = [starter + line for line in lines]
    return "\n".join(lines) + "\n"


def seed_all(seed: int = 35, cudnn_benchmark: bool = False,
             cudnn_deterministic: bool = False) -> None:
    """Seed Python's, NumPy's and (when installed) torch's generators."""
    random.seed(seed)
    np.random.seed(seed)
    if torch_available():
        import torch

        torch.manual_seed(seed)
        torch.backends.cudnn.benchmark = cudnn_benchmark
        torch.backends.cudnn.deterministic = cudnn_deterministic


def create_directory(path, is_directory: bool = False) -> None:
    """Create ``path`` (a directory when ``is_directory``, else the parent of a file)."""
    p = Path(path)
    (p if is_directory else p.parent).mkdir(parents=True, exist_ok=True)


def yaml_dump(data, filename) -> None:
    """Write ``data`` as YAML to ``filename`` atomically (a complete file or none)."""
    from workbench.atomic import atomic_open

    create_directory(filename)
    with atomic_open(filename, "w") as fh:
        yaml.safe_dump(data, fh, default_flow_style=False)


def yaml_load(filename):
    """Read a YAML file (safe loader)."""
    with open(filename) as fh:
        return yaml.safe_load(fh)


def pickle_dump(data, filename) -> None:
    """Pickle ``data`` to ``filename`` atomically."""
    from workbench.atomic import atomic_open

    create_directory(filename)
    with atomic_open(filename, "wb") as fh:
        pickle.dump(data, fh)


def pickle_load(filename):
    """Unpickle ``filename`` (only files you trust: pickle can run code)."""
    with open(filename, "rb") as fh:
        return pickle.load(fh)
