"""The documentation site builds with Sphinx, warnings treated as errors (``make docs``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.strip() == ""
    # the API reference is generated from the docstrings
    data = (out / "api" / "data.html").read_text()
    for name in ("Dataset", "Configuration", "MagnitudeInverseWeight"):
        assert re.search(rf'id="workbench\.data\.\w+\.{name}"', data), name
    fit = (out / "api" / "fit.html").read_text()
    assert 'id="workbench.fit.loss.Loss.minimize"' in fit
    # every tutorial notebook is rendered with its stored outputs
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    rendered = sorted(p.stem for p in (out / "tutorials").glob("*.html"))
    assert rendered == notebooks
    sw = (out / "tutorials" / "02_stillinger_weber.html").read_text()
    assert "0.694" in sw  # the published minimum, from the notebook's output
