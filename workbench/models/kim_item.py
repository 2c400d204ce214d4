"""A KIM item directory on disk: its name and a safe, atomic write.

kim-api uses the directory's name as the item's name, so it must be a C identifier; the
OpenKIM convention (followed by :func:`default_model_name`) is a descriptive prefix, two
underscores, ``MO_``, a 12-digit KIM ID (zeros for unpublished items) and a 3-digit
version.  :func:`write_directory` writes the files into a fresh temporary directory next to
the target and moves it into place, so a reader never sees half an item; it replaces an
existing directory only when that directory carries the marker file this package writes
into every item (and only with ``overwrite=True``), so a mistyped path never wipes a
project.  Used by every KIM export (physics models, EAM, SNAP, networks).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

from ..errors import ModelError

NULL_ID_SUFFIX = "__MO_000000000000_000"
_C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def default_model_name(prefix: str) -> str:
    """``prefix`` cleaned to a C identifier and given the null KIM ID suffix."""
    prefix = prefix.split("__MO_")[0].split("__SM_")[0]
    prefix = re.sub(r"[^A-Za-z0-9_]", "_", prefix).strip("_") or "Model"
    if prefix[0].isdigit():
        prefix = "M_" + prefix
    return prefix + NULL_ID_SUFFIX


def resolve_path(path, default_prefix: str) -> tuple[Path, str]:
    """(directory, KIM name) from the user's ``path`` (or the default in the cwd)."""
    if path is None:
        name = default_model_name(default_prefix)
        return Path.cwd() / name, name
    path = Path(path).expanduser().resolve()
    name = path.name
    if not _C_IDENTIFIER.match(name):
        raise ModelError(
            f"KIM model directory name {name!r} is not a valid C identifier (letters, "
            "digits and underscores, not starting with a digit); kim-api uses it as the "
            f"model name. Example: {default_model_name(name)}")
    return path, name


#: File every KIM item directory written here carries; only such a directory may be replaced.
MARKER = ".workbench-kim-item"
_MARKER_HEADER = "potential-workbench KIM item"


def is_workbench_item(path) -> bool:
    """Whether ``path`` is a directory this package wrote as a KIM item (has the marker)."""
    marker = Path(path) / MARKER
    try:
        return marker.is_file() and marker.read_text().startswith(_MARKER_HEADER)
    except OSError:
        return False


def check_target(path: Path, overwrite: bool) -> None:
    """Refuse to replace anything but a KIM item directory written here (with overwrite)."""
    if not (path.exists() or path.is_symlink()):
        return
    if not path.is_dir():
        raise ModelError(f"{path} exists and is not a directory; refusing to replace it "
                         "with a KIM model (choose another path)")
    if is_workbench_item(path):
        if not overwrite:
            raise ModelError(f"{path} already holds a KIM model written by the workbench; "
                             "pass overwrite=True to replace it, or choose another path")
        return
    if any(path.iterdir()):
        raise ModelError(f"{path} exists and is not a KIM model directory written by the "
                         f"workbench (it has no {MARKER} file); refusing to overwrite it "
                         "(choose another path)")


def _os_error(path: Path, exc: OSError) -> ModelError:
    """An OSError while writing ``path``, told without the temporary names used."""
    reason = exc.strerror or type(exc).__name__
    return ModelError(f"cannot write the KIM model directory {path}: {reason}")


def write_directory(path: Path, files: Mapping[str, str], overwrite: bool = False) -> Path:
    """Write ``files`` into a fresh directory and move it to ``path`` atomically.

    An existing ``path`` is replaced only if it is an empty directory, or (with
    ``overwrite=True``) a KIM item directory this package wrote: each one carries the
    :data:`MARKER` file.  Anything else is refused, so a mistyped path never wipes data.
    """
    path = Path(path)
    check_target(path, overwrite)
    files = {**files, MARKER: f"{_MARKER_HEADER}: {path.name}\n"
                              "(written by Potential Workbench; it may replace this "
                              "directory when asked to overwrite it)\n"}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as exc:
        raise _os_error(path, exc) from None
    try:
        for fname, text in files.items():
            (tmp / fname).write_text(text)
        os.chmod(tmp, 0o755)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        raise _os_error(path, exc) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path
