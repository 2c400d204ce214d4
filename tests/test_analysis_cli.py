"""``workbench analyze rmse|fisher MODEL.yaml --data PATH``."""

import numpy as np
import pytest

from workbench.analysis import EnergyForcesRMSE, Fisher
from workbench.cli import main
from workbench.data import Dataset
from workbench.fit.calculator import Calculator
from workbench.models import StillingerWeber


@pytest.fixture()
def saved(tmp_path):
    model = StillingerWeber(["Si"])
    model.set_opt_params(A=[[14.9386]], B=[[0.5874]], gamma=[[2.20146]])
    path = tmp_path / "model.yaml"
    model.save(path)
    return model, path


def test_analyze_rmse(saved, si4_path, tmp_path, capsys):
    model, path = saved
    out = tmp_path / "rmse.txt"
    assert main(["analyze", "rmse", str(path), "--data", str(si4_path), "--sort", "energy",
                 "--output", str(out)]) == 0
    calc = Calculator(model)
    calc.create(Dataset(si4_path).get_configs())
    e, f = EnergyForcesRMSE(calc).run(verbose=0)
    capsys.readouterr()
    text = out.read_text()
    assert f"{e:.10e}    # energy RMSE" in text
    assert f"{f:.10e}    # forces RMSE" in text
    assert text.count("Si_training_set_4_configs") >= 4 or text.count(".xyz") == 4


def test_analyze_fisher(saved, si4_path, tmp_path, capsys, monkeypatch):
    model, path = saved
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", "fisher", str(path), "--data", str(si4_path)]) == 0
    out = capsys.readouterr().out
    calc = Calculator(model)
    calc.create(Dataset(si4_path).get_configs(), use_energy=False)
    fisher = Fisher(calc)
    F, _ = fisher.run(verbose=0)
    assert fisher.summary() in out
    text = (tmp_path / "analysis_Fisher_info_matrix.txt").read_text()
    body = text.split("# Fisher information matrix, shape(3, 3)\n")[1].split("\n\n")[0]
    np.testing.assert_allclose(np.loadtxt(body.strip().splitlines()), F, rtol=1e-14)


def test_analyze_missing_model(tmp_path, si4_path, capsys):
    assert main(["analyze", "rmse", str(tmp_path / "nope.yaml"), "--data",
                 str(si4_path)]) == 2
    assert "nope.yaml" in capsys.readouterr().err
