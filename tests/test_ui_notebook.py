"""notebooks/workbench.ipynb executed by nbclient, then driven from an extra cell: Fit is
pressed through the button's click handler and the SW fit of the 1000-configuration Si set
is checked in the kernel."""

import json
from pathlib import Path

import pytest

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "workbench.ipynb"

CHECK = """
import json
wb.monitor.options_w.value = "{maxiter: 8}"
wb.monitor.start_w.click()
assert wb.monitor.wait(900)
s = wb.session
ys = list(wb.monitor.loss_fig.data[0].y)
print(json.dumps({"state": s.state, "iterations": s.iteration, "first": ys[0], "last": ys[-1],
                  "n_points": len(ys), "best": s.best_loss,
                  "A_table": float(wb.params.row("A").value_w.value),
                  "A_model": float(model.model_params["A"].value[0]),
                  "sigma": float(model.model_params["sigma"].value[0]),
                  "n_fit": len(wb.browser.fit_configs())}))
"""


@pytest.mark.slow
def test_workbench_notebook_runs_and_fits(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK))
    client = nbclient.NotebookClient(nb, timeout=1200, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = {i: c.outputs for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    assert not any(o.output_type == "error" for outs in outputs.values() for o in outs)
    texts = ["".join(o.get("text", "")) for o in nb.cells[-1].outputs if o.output_type == "stream"]
    result = json.loads(texts[-1])
    assert result["state"] == "finished"
    assert result["iterations"] == 8 and result["n_points"] == 8
    assert result["last"] < result["first"]
    assert result["best"] == pytest.approx(result["last"])
    assert result["A_table"] == pytest.approx(result["A_model"], rel=1e-7)
    assert result["A_model"] != 5.0 and result["sigma"] == 2.0951
    assert result["n_fit"] == 1000
    # the set-up cell printed a config that names the bundled data set and the fitted params
    config_text = "".join(o.get("text", "") for o in nb.cells[-2].outputs)
    assert "path: Si" in config_text and "sigma:\n    - [2.0951, fix]" in config_text
