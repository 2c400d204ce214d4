"""Sphinx configuration for the Potential Workbench documentation (``make docs``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

from workbench._version import __version__  # noqa: E402

project = "Potential Workbench"
author = "Potential Workbench developers"
copyright = "Potential Workbench developers"
version = release = __version__

extensions = [
    "myst_nb",  # Markdown pages and the tutorial notebooks (rendered, not executed)
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "images/*.md"]
html_theme = "furo"
html_title = f"Potential Workbench {__version__}"

myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
# The notebooks' stored outputs are shown as they are; the test suite executes them.
nb_execution_mode = "off"

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
# Optional heavy dependencies are imported by the API pages; a missing one would be a warning
# (an error with -W), so the docs build needs the package's runtime dependencies installed.
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = True


def _copy_tutorials(app) -> None:
    """Sphinx reads sources only below docs/: mirror the top-level notebooks there."""
    target = DOCS / "tutorials"
    target.mkdir(exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("*.ipynb"))
    wanted = {p.name for p in sources}
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for src in sources:
        dst = target / src.name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)


def setup(app):
    app.connect("builder-inited", _copy_tutorials)
