"""WeightEditor: constant and magnitude-inverse weights, per-configuration rules by pattern
and by selection, preview, invalid settings leave the weights unchanged."""

import numpy as np
import pytest

from workbench.data import Dataset, Weight
from workbench.ui.dataset_browser import DatasetBrowser
from workbench.ui.weight_editor import WeightEditor, spec_from_configs


@pytest.fixture
def configs(si_path):
    return Dataset(si_path / "NVT_runs", Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()[::20]


def test_starts_from_the_weights_the_data_carries(configs):
    assert spec_from_configs(configs) == {"type": "Weight", "config_weight": 1.0,
                                          "energy_weight": 1.0, "forces_weight": 0.1,
                                          "stress_weight": 1.0}
    ed = WeightEditor(configs, spec_from_configs(configs))
    assert (ed.energy_w.value, ed.forces_w.value) == (1.0, 0.1)


def test_constant_weights_and_pattern_rule(configs):
    changed = []
    ed = WeightEditor(configs, spec_from_configs(configs), on_change=lambda: changed.append(1))
    ed.energy_w.value = 2.0
    ed.forces_w.value = 0.5
    ed.apply_w.click()
    assert all(c.energy_weight == 2.0 and c.forces_weight == 0.5 for c in configs)
    ed.pattern_w.value = "T300"
    ed.rule_weight_w.value = 4.0
    ed.by_pattern_w.click()
    hot = [c for c in configs if "T300" in str(c.identifier)]
    assert 0 < len(hot) < len(configs)
    assert all(c.config_weight == 4.0 for c in hot)
    assert all(c.config_weight == 1.0 for c in configs if c not in hot)
    assert all(c.energy_weight == 2.0 for c in hot)
    assert ed.rules == [{"pattern": "T300", "config_weight": 4.0}]
    assert "T300" in ed.rules_w.value
    assert len(changed) == 2
    # preview: histogram over every configuration of config x energy weight
    ew = ed.preview.data[0]
    assert sum(ew.y) == len(configs)
    assert max(ew.x) == pytest.approx(8.0, rel=0.1)
    ed.clear_rules_w.click()
    assert all(c.config_weight == 1.0 for c in configs)


def test_rule_from_browser_selection(configs):
    browser = DatasetBrowser(configs)
    ed = WeightEditor(configs, spec_from_configs(configs), browser=browser)
    ed.by_selection_w.click()
    assert "select configurations" in ed.message_w.value and ed.rules == []
    browser.select([2, 3])
    ed.rule_weight_w.value = 0.25
    ed.by_selection_w.click()
    assert [c.config_weight for c in configs[:5]] == [1.0, 1.0, 0.25, 0.25, 1.0]
    browser.refresh_weights()
    assert browser.table.weight[2] == 0.25


def test_magnitude_inverse_weights(configs):
    ed = WeightEditor(configs, spec_from_configs(configs))
    ed.kind_w.value = "MagnitudeInverseWeight"
    assert ed.params_box.children == (ed.inverse_box,)
    ed.c_w["energy"][0].value = 1.0
    ed.c_w["energy"][1].value = 0.1
    ed.c_w["forces"][0].value = 0.0
    ed.c_w["forces"][1].value = 1.0
    assert ed.apply()
    c = configs[0]
    assert c.energy_weight == pytest.approx(1.0 / np.sqrt(1.0 + 0.01 * c.energy ** 2))
    norms = np.linalg.norm(c.forces, axis=1)
    np.testing.assert_allclose(c.forces_weight[:, 0], 1.0 / norms)
    assert ed.spec()["weight_params"]["forces_weight_params"] == [0.0, 1.0]


def test_invalid_weights_change_nothing(configs):
    ed = WeightEditor(configs, spec_from_configs(configs))
    ed.forces_w.value = -1.0
    assert not ed.apply()
    assert "forces_weight" in ed.message_w.value
    assert all(c.forces_weight == 0.1 for c in configs)
    ed.forces_w.value = 0.1
    ed.pattern_w.value = "no-such-config"
    ed.by_pattern_w.click()
    assert "matches no configuration" in ed.message_w.value and ed.rules == []
