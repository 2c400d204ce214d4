"""WeightForCracks: registered as a plugin, multiplies the configuration weight of crack
configurations only, and changes the loss exactly as the equivalent residual would."""

import pytest

from workbench import datasets
from workbench.calculators import Calculator
from workbench.data.dataset import read_config
from workbench.dataset import Dataset, Weight
from workbench.errors import DatasetError
from workbench.loss import Loss
from workbench.models import StillingerWeber
from workbench_crack_weight import WeightForCracks


def _configs(weight, n=6):
    files = sorted(datasets.path("Si").glob("**/*.xyz"))[:n]
    configs = [read_config(f, weight) for f in files]
    return configs


def test_registered_under_weights():
    from workbench import plugins

    assert plugins.available_weights()["WeightForCracks"] is WeightForCracks


def test_only_crack_configurations_get_the_factor():
    import copy

    base = _configs(None, 4)
    marked = []
    for k, c in enumerate(base):
        c = copy.deepcopy(c)
        c.identifier = f"frac/with_cracks_{k}.xyz" if k % 2 else f"bulk/{k}.xyz"
        marked.append(c)
    w = WeightForCracks(config_weight=2.0, energy_weight=1.0, forces_weight=0.1, crack_factor=7.5)
    got = []
    for c in marked:
        wc = w.copy()
        wc.compute_weight(c)
        got.append(wc.config_weight)
        assert wc.forces_weight == 0.1
    assert got == [2.0, 15.0, 2.0, 15.0]
    assert w.config_weight == 2.0  # the template is untouched


def test_loss_scales_by_factor_squared():
    """Energy+forces residual of a crack configuration is crack_factor times larger."""
    import copy

    plain = _configs(Weight(energy_weight=1.0, forces_weight=0.1), 3)
    cracked = []
    for c in plain:
        c2 = copy.deepcopy(c)
        c2.identifier = "with_cracks/" + str(c.identifier)
        # assigning a Weight runs compute_weight on the configuration's own copy
        c2.weight = WeightForCracks(energy_weight=1.0, forces_weight=0.1, crack_factor=3.0)
        assert c2.config_weight == 3.0
        cracked.append(c2)

    def loss_of(configs):
        model = StillingerWeber()
        model.set_opt_params(A=[[5.0]])
        calc = Calculator(model)
        calc.create(configs)
        return Loss(calc).loss(calc.get_opt_params())

    assert loss_of(cracked) == pytest.approx(9.0 * loss_of(plain), rel=1e-12)


def test_dataset_applies_it(tmp_path):
    src = sorted(datasets.path("Si").glob("**/*.xyz"))[:2]
    (tmp_path / "with_cracks").mkdir()
    (tmp_path / "bulk").mkdir()
    (tmp_path / "with_cracks" / "a.xyz").write_text(src[0].read_text())
    (tmp_path / "bulk" / "b.xyz").write_text(src[1].read_text())
    ds = Dataset(tmp_path, WeightForCracks(crack_factor=4.0))
    weights = {str(c.identifier).replace("\\", "/"): c.config_weight for c in ds.get_configs()}
    assert sorted(weights.values()) == [1.0, 4.0]
    assert [v for k, v in weights.items() if "with_cracks" in k] == [4.0]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "ten"])
def test_bad_factor(bad):
    with pytest.raises(DatasetError, match="crack_factor"):
        WeightForCracks(crack_factor=bad)
