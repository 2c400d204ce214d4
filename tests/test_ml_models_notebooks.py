"""The ML tutorials run top to bottom; their cells assert that the loss falls and that the
analytic linear fit equals numpy's lstsq."""

from pathlib import Path

import nbformat

from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run_notebook(name, workdir):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))


def test_neural_network_si_notebook(tmp_path):
    out = run_notebook("05_neural_network_Si.ipynb", tmp_path)
    assert "Epoch = 29" in out and "loss fell from" in out
    assert (tmp_path / "saved_model" / "model_epoch20.pkl").is_file()
    kim = tmp_path / "NN_Tutorial_Si__MO_000000000000_000"
    assert (kim / "NN.params").read_text().count("tanh") == 1


def test_neural_network_sic_notebook(tmp_path):
    out = run_notebook("06_neural_network_SiC.ipynb", tmp_path)
    assert "loss fell from" in out
    assert (tmp_path / "final_model_c.pkl").is_file()
    assert (tmp_path / "saved_model_si" / "model_epoch5.pkl").is_file()


def test_linear_regression_notebook(tmp_path):
    out = run_notebook("07_linear_regression.ipynb", tmp_path)
    assert "energy RMSE" in out
    assert (tmp_path / "linear_model.pkl").is_file()
