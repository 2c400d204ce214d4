"""``workbench fit CONFIG.yaml`` end to end on a small set, and its error messages."""

import re

import pytest

from workbench.cli import main
from workbench.errors import ConfigFileError
from workbench.models import load_model

CONFIG = """\
dataset:
  path: Si_4
  weight: {energy_weight: 1.0, forces_weight: 0.1}
model:
  name: StillingerWeber
  species: [Si]
  params:
    A: [[12.0, 1.0, 20.0]]
    gamma: [[2.0]]
fit:
  method: L-BFGS-B
  options: {maxiter: 200}
output:
  kim_model: SW_CliFit_Si__MO_000000000000_000
"""


def test_fit_writes_model_kim_directory_and_report(tmp_path, capsys):
    cfg = tmp_path / "fit.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "out"
    assert main(["fit", str(cfg), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "fitting 2 parameters (A, gamma) of StillingerWeber to 4 configurations" in printed
    final = float(re.search(r"final loss = (\S+)", printed).group(1))

    model = load_model(out / "model.yaml")
    params = model.get_params_dict("original")
    assert 1.0 <= params["A"][0] <= 20.0
    assert params["A"][0] != 12.0 and params["gamma"][0] != 2.0
    # the saved model reproduces the printed final loss
    from workbench.calculators import Calculator
    from workbench.dataset import Dataset, Weight
    from workbench import datasets
    from workbench.loss import Loss

    configs = Dataset(datasets.path("Si_4"), Weight(energy_weight=1.0, forces_weight=0.1))
    calc = Calculator(model)
    calc.create(configs.get_configs())
    loss = Loss(calc)
    assert loss.loss(loss.x0()) == pytest.approx(final, rel=1e-8)

    kim = out / "SW_CliFit_Si__MO_000000000000_000"
    assert (kim / "CMakeLists.txt").read_text().count("SW__MD_335816936951_004") == 1
    report = (out / "report.html").read_text()
    assert "energy RMSE" in report and "Loss" in report and "plotly" in report
    assert "train RMSE: energy" in printed and f"report: {out / 'report.html'}" in printed


def test_fit_config_errors_name_key_and_line(tmp_path, capsys):
    bad = CONFIG.replace("    gamma: [[2.0]]", "    gamma: [[2.0]]\n    nonsense: [[1.0]]")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(bad)
    assert main(["fit", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err and "line 10" in err and "nonsense" in err


def test_fit_config_unknown_section_key(tmp_path):
    from workbench.fit.setup_file import load_config

    cfg = tmp_path / "bad.yaml"
    cfg.write_text(CONFIG.replace("  method: L-BFGS-B", "  methd: L-BFGS-B"))
    with pytest.raises(ConfigFileError, match=r"line 11: .*methd"):
        load_config(cfg)


def test_report_predictions_reuse_the_fits_calculator(si4_path):
    """The fit's calculator (made for exactly these configurations) gives the report's
    predictions, the same as a fresh calculator; another set gets a calculator of its own."""
    from workbench.data import Dataset, Weight
    from workbench.fit.calculator import Calculator
    from workbench.fit.report import predictions
    from workbench.models import StillingerWeber

    configs = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()
    model = StillingerWeber()
    fit_calc = Calculator(model)
    fit_calc.create(configs)
    prepared = []
    original = model.prepare
    model.prepare = lambda cs: prepared.append(len(cs)) or original(cs)
    reused = predictions("train", model, configs, fit_calc)
    assert prepared == []  # no neighbor lists built again
    fresh = predictions("train", model, configs)
    assert prepared == [len(configs)]
    for name in ("energy_pred", "energy_ref", "forces_pred", "forces_ref", "natoms"):
        assert (getattr(reused, name) == getattr(fresh, name)).all(), name
    predictions("test", model, configs[:2], fit_calc)  # other configurations
    assert prepared == [len(configs), 2]
