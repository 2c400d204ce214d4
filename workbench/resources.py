"""Files that ship with the package: the tutorial notebooks and the workbench notebook.

In a wheel the notebooks live in ``workbench/tutorials/`` (the build copies the source
tree's top-level ``notebooks/`` there); in a source checkout or an editable install they are
read from ``notebooks/`` beside the package. Everything else asks this module, so the
commands work the same from a checkout, an editable install and an installed wheel.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from workbench.errors import WorkbenchError

#: The interactive workbench notebook opened by ``workbench lab``.
WORKBENCH_NOTEBOOK = "workbench.ipynb"


def tutorials_dir() -> Path:
    """The folder that holds the bundled notebooks (read-only in an installed package)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "tutorials", here.parent / "notebooks"):
        if (candidate / WORKBENCH_NOTEBOOK).is_file():
            return candidate
    raise WorkbenchError(
        f"the bundled notebooks are missing: neither {here / 'tutorials'} nor "
        f"{here.parent / 'notebooks'} holds {WORKBENCH_NOTEBOOK}; reinstall potential-workbench"
    )


def notebooks() -> list[Path]:
    """Every bundled notebook, tutorials first (sorted by name), the workbench last."""
    found = sorted(tutorials_dir().glob("*.ipynb"))
    return sorted(found, key=lambda p: (p.name == WORKBENCH_NOTEBOOK, p.name))


def notebook(name: str) -> Path:
    """The bundled notebook called ``name`` (with or without ``.ipynb``)."""
    name = name if name.endswith(".ipynb") else f"{name}.ipynb"
    path = tutorials_dir() / name
    if not path.is_file():
        available = ", ".join(p.name for p in notebooks())
        raise WorkbenchError(f"no bundled notebook {name!r}; available: {available}")
    return path


def copy_notebooks(dest: str | Path, names: list[str] | None = None) -> tuple[list[Path], list[Path]]:
    """Copy bundled notebooks into ``dest`` (created if needed).

    A notebook already present in ``dest`` is never replaced: it may hold the user's edits.
    Returns ``(copied, kept)``: the paths written and the existing paths left alone.
    """
    dest = Path(dest).expanduser()
    sources = [notebook(n) for n in names] if names else notebooks()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"cannot create the folder {dest}: {exc.strerror}") from exc
    copied, kept = [], []
    for src in sources:
        target = dest / src.name
        if target.exists():
            kept.append(target)
            continue
        try:
            shutil.copyfile(src, target)
        except OSError as exc:
            raise WorkbenchError(f"cannot write {target}: {exc.strerror}") from exc
        copied.append(target)
    return copied, kept
