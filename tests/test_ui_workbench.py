"""Workbench composition and the fit set-up file: to_config / from_config round trips,
errors that name file, line and key, the documented example, Fit through the button."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from workbench.data import Dataset, Weight
from workbench.errors import ConfigFileError
from workbench.models import StillingerWeber
from workbench.fit import setup_file as fc
from workbench.ui.workbench import Workbench

ROOT = Path(__file__).resolve().parents[1]


def model_state(m):
    return {n: (p.get_value("original").tolist(), p.get_bounds("original"), p.fixed.tolist(),
                type(p.transform).__name__) for n, p in m.model_params.items()}, \
        m.get_opt_param_names(), m.get_opt_params().tolist()


@pytest.fixture
def wb(si4_path):
    ds = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1))
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    return Workbench(dataset=ds, model=model)


def test_panels_are_composed(wb):
    assert wb.tabs.titles[:5] == ("Fit", "Data", "Weights", "Model", "Analysis")
    assert wb.tabs.titles[5:8] == ("Export", "Runs", "Validate")
    assert wb.params.model is wb.model and wb.monitor.model is wb.model
    assert wb.monitor.parameter_table is wb.params
    assert wb.weights.browser is wb.browser
    assert wb.browser.state is wb.state and wb.monitor.state is wb.state
    assert len(wb.browser.fit_configs()) == 4
    assert "Stillinger-Weber (Si) · 4 configurations · not fitted yet" in wb.title_w.value
    # only the Fit tab's figures exist until another tab is opened
    assert wb.browser.hist_fig is None and wb.weights.preview is None
    wb.tabs.selected_index = 1
    assert sum([t for t in wb.browser.hist_fig.data if t.name == "fitted"][0].y) == 4
    wb.tabs.selected_index = 2
    assert sum(wb.weights.preview.data[0].y) == 4


def test_config_round_trip(wb, tmp_path):
    wb.params.row("B").log_w.value = True
    wb.params.row("gamma").upper_w.value = "4"
    wb.params.row("lambda").value_w.value = "40"
    wb.browser.select([1])
    wb.browser.exclude_w.click()
    wb.weights.pattern_w.value = "scale0.005"
    wb.weights.rule_weight_w.value = 3.0
    wb.weights.by_pattern_w.click()
    wb.monitor.method_w.value = "trf"
    wb.monitor.options_w.value = "{max_nfev: 50}"
    wb.use_energy_w.value = False
    wb.normalize_w.value = False
    wb.output = {"model_yaml": "fitted.yaml"}
    path = tmp_path / "setup.yaml"
    cfg = wb.to_config(path)
    text = path.read_text()
    assert yaml.safe_load(text) == cfg
    assert cfg["dataset"]["path"] == "Si_4"
    assert cfg["dataset"]["exclude"] == [fc.relative_identifier(wb.browser.configs[1],
                                                                wb.weights.root)]
    assert cfg["model"]["transforms"] == {"B": "log"}
    assert cfg["model"]["values"] == {"lambda": [40.0]}
    assert cfg["model"]["params"]["B"] == [[pytest.approx(np.log(0.6022245584))]]
    assert cfg["model"]["params"]["gamma"] == [[1.5, None, 4.0]]
    assert cfg["model"]["params"]["sigma"] == [[2.0951, "fix"]]
    assert cfg["fit"]["method"] == "trf" and cfg["fit"]["options"] == {"max_nfev": 50}

    again = Workbench.from_config(path)
    assert again.to_config() == cfg
    assert model_state(again.model) == model_state(wb.model)
    assert [c.config_weight for c in again.browser.configs] == \
        [c.config_weight for c in wb.browser.configs]
    assert again.browser.table.included.tolist() == [True, False, True, True]
    assert again.monitor.method_w.value == "trf" and not again.use_energy_w.value


def test_test_split_round_trip(wb):
    wb.browser.random_split(0.25, seed=1)
    cfg = wb.to_config()
    assert (cfg["dataset"]["test_fraction"], cfg["dataset"]["seed"]) == (0.25, 1)
    again = Workbench.from_config(cfg)
    assert again.browser.table.split.tolist() == wb.browser.table.split.tolist()
    assert len(again.browser.fit_configs()) == 3


def test_fit_button_fits_the_included_training_configurations(wb):
    wb.browser.set_included([0], False)
    wb.monitor.options_w.value = "{maxiter: 5}"
    wb.monitor.start_w.click()
    assert wb.monitor.wait(300)
    assert wb.session.state == "finished"
    assert wb.calculator.configs == wb.browser.configs[1:]
    assert wb.session.best_loss < wb.session.history[0][1]
    np.testing.assert_allclose(wb.model.get_opt_params(), wb.session.best_params)


def test_model_picker_switches_the_model(wb):
    wb.picker.source_w.value = "built-in"
    assert "LennardJones" in wb.picker.name_w.options
    wb.picker.name_w.value = "LennardJones"
    wb.picker.species_w.value = "Si"
    wb.picker.create_w.click()
    assert type(wb.model).__name__ == "LennardJones"
    assert [r.label for r in wb.params.rows] == list(wb.model.model_params)
    assert wb.monitor.model is wb.model
    assert fc.model_section(wb.model)["name"] == "LennardJones"


@pytest.mark.kim
def test_model_picker_lists_installed_kim_models(wb):
    wb.picker.source_w.value = "OpenKIM"
    assert "SW_StillingerWeber_1985_Si__MO_405512056662_005" in wb.picker.name_w.options


# ------------------------------------------------------------------ config file errors
BASE = """\
dataset:
  path: Si_4
model:
  name: StillingerWeber
  params:
    A: [[5.0, 1.0, 20.0]]
"""


@pytest.mark.parametrize("text,message", [
    (BASE + "fit:\n  methd: trf\n", r"line 8: key 'fit.methd': unknown key"),
    (BASE.replace("A: [[5.0, 1.0, 20.0]]", "A: [[30.0, 1.0, 20.0]]"),
     r"line 6: key 'model.params.A': .*outside its bounds"),
    (BASE.replace("A: [[5.0", "Q: [[5.0"), r"line 6: key 'model.params.Q': .*not a parameter"),
    (BASE.replace("Si_4", "/no/such/data"), r"line 2: key 'dataset.path': .*does not exist"),
    (BASE + "  transforms: {B: sqrt}\n", r"key 'model.transforms.B'"),
    (BASE.replace("path: Si_4", "path: Si_4\n  exclude: [nothing-like-this]"),
     r"line 3: key 'dataset.exclude': 'nothing-like-this' matches no configuration"),
    (BASE.replace("name: StillingerWeber", "name: NoSuchModel_xyz"), r"key 'model.name'"),
    ("dataset: {path: Si_4}\n", r"missing section 'model'"),
    ("dataset: [1\n", r"line \d+: not valid YAML"),
])
def test_config_errors_name_line_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigFileError, match=message) as err:
        Workbench.from_config(path)
    assert str(path) in str(err.value)


def test_documented_example_builds(tmp_path):
    doc = (ROOT / "docs" / "fit_config.md").read_text()
    text = re.search(r"```yaml\n(.*?)```", doc, re.S).group(1)
    cfg = fc.parse_config(text, "fit_config.md", tmp_path)
    ds, root, excluded, test = fc.build_dataset(cfg)
    configs = ds.get_configs()
    assert len(configs) == 1000
    names = [fc.relative_identifier(configs[k], root) for k in excluded]
    assert "varying_alat/Si_alat4.888_scale0.0005_perturb0.xyz" in names
    assert all(n == "varying_alat/Si_alat4.888_scale0.0005_perturb0.xyz"
               or re.fullmatch(r"NVT_runs/T600_step1\d00.xyz", n) for n in names)
    assert len(names) == 1 + 10
    assert len(test) == 100
    by_name = {fc.relative_identifier(c, root): c for c in configs}
    assert by_name["NVT_runs/T900_step100.xyz"].config_weight == 0.5
    assert by_name["NVT_runs/T300_step100.xyz"].config_weight == 2.0
    assert by_name["NVT_runs/T600_step100.xyz"].config_weight == 1.0
    assert by_name["NVT_runs/T300_step100.xyz"].forces_weight == 0.1
    model = fc.build_model(cfg)
    assert model.get_opt_param_names() == ["A", "B", "gamma"]
    assert model.model_params["lambda"].value[0] == 45.0
    assert type(model.model_params["B"].transform).__name__ == "LogParameterTransform"
    # B: [[default]] under a log transform keeps the original value
    assert model.model_params["B"].value[0] == pytest.approx(0.6022245584)


def test_build_setup_for_the_command_line(tmp_path):
    path = tmp_path / "fit.yaml"
    path.write_text(BASE.replace("path: Si_4", "path: Si_4\n  test_fraction: 0.25")
                    + "fit:\n  use_stress: false\n")
    setup = fc.build_setup(path)
    assert len(setup.train) == 3 and len(setup.test) == 1
    assert setup.test[0] not in setup.train
    np.testing.assert_allclose(setup.loss.x0(), [5.0])
    assert setup.fit["method"] == "L-BFGS-B" and setup.fit["normalize_by_natoms"] is True
    assert setup.calculator.configs == setup.train


def test_every_control_of_the_fit_tab_explains_itself(wb):
    import ipywidgets as w

    from workbench.ui.figures import widgets_in

    controls = [x for x in widgets_in(wb.fit_tab)
                if isinstance(x, (w.Button, w.Text, w.Dropdown, w.Checkbox))]
    assert len(controls) > 40
    missing = [getattr(x, "description", "") or type(x).__name__ for x in controls
               if not x.tooltip]
    assert missing == []
    assert "maxiter" in wb.monitor.options_w.tooltip
    assert "orders of magnitude" in wb.params.row("A").log_w.tooltip
