"""KLIFF 0.4's "Train a Stillinger-Weber potential" (shared/reference/kliff-0.4-docs.txt,
section 2.3) as written, with ``kliff`` changed to ``workbench`` in the imports and the
model's ``_006`` changed to ``_005``: Debian's openkim-models installs only
SW_StillingerWeber_1985_Si__MO_405512056662_005, whose parameters are the same
(docs/kliff_compatibility.md).  The model runs on the SW driver's numba twin."""

import re

import numpy as np
import pytest

pytest.importorskip("kimpy")
pytestmark = pytest.mark.kim

# the tutorial's code cells in order (set_opt_params as in KLIFF's example script
# example_kim_SW_Si.py, whose output the documentation prints)
SCRIPT = '''
from kliff.calculators import Calculator
from kliff.dataset import Dataset
from kliff.dataset.weight import Weight
from kliff.loss import Loss
from kliff.models import KIMModel
from kliff.utils import download_dataset

model = KIMModel(model_name="SW_StillingerWeber_1985_Si__MO_405512056662_006")
model.echo_model_params()

model.set_opt_params(
    A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]], gamma=[[1.5]]
)
model.echo_opt_params()

dataset_path = download_dataset(dataset_name="Si_training_set")
weight = Weight(energy_weight=1.0, forces_weight=0.1)
tset = Dataset(dataset_path, weight)
configs = tset.get_configs()

calc = Calculator(model)
_ = calc.create(configs)

steps = 100
loss = Loss(calc, nprocs=2)
loss.minimize(method="L-BFGS-B", options={"disp": True, "maxiter": steps})

model.echo_opt_params()
model.save("kliff_model.yaml")
model.write_kim_model()
# model.load("kliff_model.yaml")
'''

#: what the documentation prints after the fit
DOCUMENTED_LOSS = 0.6940780132834561
DOCUMENTED_X = [14.93863664, 0.58740288, 2.20146242]


def _port(script):
    """The imports to workbench; the installed version of the KIM model."""
    script = re.sub(r"\bkliff\b(?=[ .])", "workbench", script)
    return script.replace("MO_405512056662_006", "MO_405512056662_005")


def test_sw_kim_tutorial_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    script = _port(SCRIPT)
    changed = [(a, b) for a, b in zip(SCRIPT.splitlines(), script.splitlines()) if a != b]
    assert len(changed) == 7  # six imports and the model name
    namespace = {}
    exec(compile(script, "example_kim_SW_Si.py", "exec"), namespace)
    model, loss = namespace["model"], namespace["loss"]
    assert model.engine == "twin"
    out = capsys.readouterr().out
    # echo_model_params: the KIM model's parameters and values as documented
    for name, value in (("A", "[15.28484792]"), ("B", "[0.60222456]"), ("p", "[4.]"),
                        ("q", "[0.]"), ("sigma", "[2.0951]"), ("gamma", "[2.51412]"),
                        ("cutoff", "[3.77118]"), ("lambda", "[45.5322]"),
                        ("costheta0", "[-0.33333333]")):
        assert f"name: {name}\nvalue: {value}\nsize: 1" in out, name
    assert "A 1\n  5.0000000000000000e+00   1.0000000000000000e+00   2.0000000000000000e+01" in out
    assert "sigma 1\n  2.0951000000000000e+00 fix" in out
    # the documented minimum: loss to 1e-9, parameters to 1e-5 (L-BFGS-B stops on a flat
    # valley a little away from KLIFF's stopping point)
    x = model.get_opt_params()
    assert loss.loss(x) == pytest.approx(DOCUMENTED_LOSS, rel=1e-9)
    np.testing.assert_allclose(x, DOCUMENTED_X, rtol=1e-5)
    assert "A 1\n  1.49386" in out.split("Model parameters that are optimized")[-1]
    # the saved YAML and the written KIM model hold the fitted values
    assert "SW_StillingerWeber_1985_Si__MO_405512056662_005" in \
        (tmp_path / "kliff_model.yaml").read_text()
    written = tmp_path / "SW_StillingerWeber_1985_Si_workbench__MO_000000000000_000"
    params = (written / f"{written.name}.params").read_text().splitlines()
    fields = params[1].split()
    assert fields[:2] == ["Si", "Si"]
    assert float(fields[2]) == model.get_params_dict()["A"][0]
    assert float(fields[8]) == model.get_params_dict()["gamma"][0]
