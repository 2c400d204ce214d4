"""Bundled DFT training sets (no network needed).

``path(name)`` returns a local directory with the extended-XYZ files of one set.  The
compressed archives ship inside the package (see ``data/PROVENANCE.md``); they are
unpacked once into a cache directory, atomically, so concurrent first calls are safe.

Names: ``"Si"`` (1000 configs), ``"Si_4"`` (4 configs), ``"SiC"`` (10 configs), and the
model-generated ``"Al_EAM"`` (43 configs computed with an OpenKIM EAM model, not DFT).
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

_DATA = Path(__file__).resolve().parent / "data"

#: name -> (archive file, top-level folder inside the archive)
AVAILABLE = {
    "Si": ("Si_training_set.tar.gz", "Si_training_set"),
    "Si_4": ("Si_training_set_4_configs.tar.gz", "Si_training_set_4_configs"),
    "SiC": ("SiC_training_set.tar.gz", "SiC_training_set"),
    # model-generated (OpenKIM EAM_CubicNaturalSpline_ErcolessiAdams_1994_Al), not DFT
    "Al_EAM": ("Al_EAM_model_generated.tar.gz", "Al_EAM_model_generated"),
}


def cache_dir() -> Path:
    """Where archives are unpacked: $WORKBENCH_CACHE, else $XDG_CACHE_HOME or ~/.cache."""
    root = os.environ.get("WORKBENCH_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "potential-workbench"


def names() -> list[str]:
    return list(AVAILABLE)


def path(name: str) -> Path:
    """Local directory holding the bundled data set ``name`` (unpacked on first use)."""
    try:
        archive, folder = AVAILABLE[name]
    except KeyError:
        raise KeyError(
            f"no bundled data set {name!r}; available: {', '.join(AVAILABLE)}"
        ) from None
    target = cache_dir() / folder
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder}-", dir=target.parent))
    try:
        with tarfile.open(_DATA / archive) as tar:
            members = [m for m in tar.getmembers()
                       if (m.isfile() or m.isdir()) and ".DS_Store" not in m.name]
            tar.extractall(staging, members=members, filter="data")
        try:
            os.replace(staging / folder, target)
        except OSError:
            if not target.is_dir():  # lost no race: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
