"""The Export tab: the files a user downloads are the real ones (a KIM model directory that
kim-api builds, a model file that loads back, a set-up that `workbench fit` reads, a
report), for a physics model and for a network."""

import base64
import io
import re
import zipfile

import numpy as np
import pytest
import yaml

from workbench.data import Dataset, Weight
from workbench.fit import setup_file as fc
from workbench.models import StillingerWeber
from workbench.models.io import load_model
from workbench.ui.workbench import Workbench


@pytest.fixture
def wb(si4_path):
    ds = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1))
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    return Workbench(dataset=ds, model=model)


def links(panel) -> dict[str, bytes]:
    """download name -> the bytes behind the link, read from the page's HTML."""
    out = {}
    for name, b64 in re.findall(r'download="([^"]+)" href="data:[^;]+;base64,([^"]+)"',
                                panel.links_w.value):
        out[name] = base64.b64decode(b64)
    return out


def test_export_after_a_fit(wb, tmp_path):
    wb.monitor.options_w.value = "{maxiter: 4}"
    wb.monitor.start_w.click()
    assert wb.monitor.wait(300) and wb.analysis.wait(300)
    assert wb.tabs.titles[5] == "Export"
    panel = wb.export
    panel.prepare_w.click()
    assert panel.wait(300), panel.status_w.value
    assert panel.error is None, panel.error
    files = links(panel)
    kim = "StillingerWeber_fitted_Si__MO_000000000000_000"
    assert set(files) == {f"{kim}.zip", "model.yaml", "setup.yaml", "report.html"}
    # the KIM model: a directory with the parameter file holding the fitted A
    with zipfile.ZipFile(io.BytesIO(files[f"{kim}.zip"])) as zf:
        names = zf.namelist()
        assert f"{kim}/CMakeLists.txt" in names
        zf.extractall(tmp_path / "kim")
    params = [p for p in (tmp_path / "kim" / kim).iterdir() if p.suffix == ".params"]
    a = float(wb.model.model_params["A"].value[0])
    assert params and f"{a:.10g}"[:8] in params[0].read_text().replace("e+00", "")
    # the model file loads back with the fitted values
    (tmp_path / "model.yaml").write_bytes(files["model.yaml"])
    again = load_model(tmp_path / "model.yaml")
    np.testing.assert_allclose(again.get_opt_params(), wb.model.get_opt_params())
    # the set-up is the workbench's, and workbench fit's reader builds it
    setup = yaml.safe_load(files["setup.yaml"])
    assert setup == wb.to_config()
    (tmp_path / "setup.yaml").write_bytes(files["setup.yaml"])
    built = fc.build_model(fc.load_config(tmp_path / "setup.yaml"))
    np.testing.assert_allclose(built.get_opt_params(), wb.model.get_opt_params())
    # the report names the model and carries the RMSE table of the analysis
    report = files["report.html"].decode()
    rmse = wb.analysis.result["parts"]["train"]
    assert "Fit of Stillinger-Weber (Si)" in report
    assert f"{rmse['energy_rmse']:.6g}" in report
    # a later edit makes the prepared files stale
    wb.params.row("lambda").value_w.value = "30"
    assert panel.links_w.value == "" and "prepare the files again" in panel.status_w.value


@pytest.mark.slow
def test_network_set_up_round_trip_and_export(si4_path, tmp_path):
    from workbench.ui.model_picker import build_network

    ds = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1))
    net = build_network(["Si"], 4.5, [6, 4], "Sigmoid", "set30")
    wb = Workbench(dataset=ds, model=net)
    cfg = wb.to_config(tmp_path / "nn.yaml")
    assert cfg["model"] == {"name": "NeuralNetwork", "network": {
        "species": ["Si"], "cutoff": 4.5, "descriptor": "set30", "hidden": [6, 4],
        "activation": "Sigmoid", "seed": 35}}
    again = Workbench.from_config(tmp_path / "nn.yaml")
    assert [type(la).__name__ for la in again.model.layers] == \
        [type(la).__name__ for la in net.layers]
    assert again.to_config() == cfg
    # `workbench fit`'s reader builds the same network (tests/test_cli_fit_network.py
    # trains it)
    built = fc.build_setup(tmp_path / "nn.yaml").model
    assert [p.shape for p in built.parameters()] == [p.shape for p in net.parameters()]
    wb.export.prepare_w.click()
    assert wb.export.wait(300)
    files = links(wb.export)
    assert {"model.pkl", "setup.yaml"} <= set(files)
    assert "analyze the network first" in wb.export.status_w.value
