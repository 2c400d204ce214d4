"""The fitting tutorials run top to bottom; their cells assert the published numbers."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run_notebook(name, workdir):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def outputs(nb):
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))


def test_lennard_jones_notebook(tmp_path):
    nb = run_notebook("01_lennard_jones.ipynb", tmp_path)
    assert "epsilon = 1.56149 eV" in outputs(nb)
    assert (tmp_path / "lj_model.yaml").read_text().count("epsilon") >= 1


@pytest.mark.slow
def test_stillinger_weber_notebook(tmp_path):
    nb = run_notebook("02_stillinger_weber.ipynb", tmp_path)
    assert "loss 0.69407" in outputs(nb)
    kim = tmp_path / "SW_Tutorial_Si__MO_000000000000_000"
    assert (kim / "CMakeLists.txt").exists()


@pytest.mark.slow
def test_parameter_transform_notebook(tmp_path):
    nb = run_notebook("03_parameter_transform.ipynb", tmp_path)
    assert "'A': 14.938" in outputs(nb)
