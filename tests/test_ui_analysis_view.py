"""AnalysisView: what it draws is what workbench.analysis computes for the train and test
configurations; a click on an error bar opens that configuration in the DatasetBrowser."""

import numpy as np
import pytest
from plotly.callbacks import Points

from workbench.analysis import EnergyForcesRMSE, Fisher
from workbench.data import Dataset, Weight
from workbench.fit.calculator import Calculator
from workbench.models import StillingerWeber
from workbench.ui.workbench import Workbench


@pytest.fixture
def wb(si_path):
    ds = Dataset(si_path / "varying_alat", Weight(energy_weight=1.0, forces_weight=0.1))
    ds = Dataset.from_configs(ds.get_configs()[::10])  # 40 configurations
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    wb = Workbench(dataset=ds, model=model)
    wb.browser.random_split(0.25, seed=2)
    wb.tabs.selected_index = 4  # the Analysis tab is open, as when a user presses Refresh
    return wb


def test_analysis_draws_the_analysis_layer_numbers(wb):
    view = wb.analysis
    assert view.available and not view.refresh_w.disabled
    assert view.energy_fig is None and all(b.children == () for b in view.boxes.values())
    view.refresh_w.click()
    assert view.wait(300)
    assert view.error is None, view.error
    assert view.boxes["energy"].children == (view.energy_fig,)
    train, test = wb.browser.fit_configs(), wb.browser.test_configs()
    assert (len(train), len(test)) == (30, 10)

    calc = Calculator(wb.model)
    calc.create(test)
    ref = EnergyForcesRMSE(calc).compute(normalize=True)
    assert f"{ref.energy_rmse:.5g}" in view.summary_w.value
    assert f"{ref.forces_rmse:.5g}" in view.summary_w.value

    # parity plots: one trace per set plus the diagonal, train and test coloured apart
    names = [t.name for t in view.energy_fig.data]
    assert names == ["train", "test", "y = x"]
    t = view.energy_fig.data[1]
    np.testing.assert_allclose(t.x, [c.energy / c.get_num_atoms() for c in test])
    np.testing.assert_allclose(np.array(t.y) - np.array(t.x), ref.energy_diff / ref.natoms)
    assert view.energy_fig.data[0].marker.color != t.marker.color
    assert len(view.force_fig.data[0].x) <= 4000 + 1

    # error bars: worst first, covering train and test
    bars = view.error_fig.data[0]
    assert list(bars.y) == sorted(bars.y, reverse=True)
    assert len(bars.y) == 40
    assert set(bars.customdata) == set(range(40))

    # Fisher: the heatmap is F of the training configurations
    calc_train = Calculator(wb.model)
    calc_train.create(train)
    fisher = Fisher(calc_train)
    fisher.compute()
    z = np.array(view.fisher_fig.data[0].z)
    np.testing.assert_allclose(z, np.log10(np.abs(fisher.F)), rtol=1e-10)
    assert list(view.fisher_fig.data[0].x) == ["A", "B", "gamma"]
    for name, std in zip(fisher.names, fisher.param_std):
        assert f"<td>{name}</td><td>{std:.4g}</td>" in view.std_w.value
    np.testing.assert_allclose(view.eigen_fig.data[0].y, np.abs(fisher.eigenvalues))


def test_click_on_an_error_bar_selects_the_configuration(wb):
    view = wb.analysis
    view.refresh()
    assert view.wait(300)
    bars = view.error_fig.data[0]
    worst = bars.customdata[0]
    third = bars.customdata[2]
    view._on_bar_click(bars, Points(point_inds=[2], xs=[2], ys=[bars.y[2]],
                                    trace_name=bars.name, trace_index=0))
    assert wb.browser.selected == [third]
    assert wb.browser.current == third
    assert wb.tabs.selected_index == 1  # the Data tab
    assert worst != third


def test_analysis_waits_for_a_running_fit(wb):
    wb.monitor.options_w.value = "{maxiter: 3}"
    wb.monitor.start_w.click()
    wb.analysis.refresh()
    if wb.monitor.running:
        assert "fit is running" in wb.analysis.status_w.value
    assert wb.monitor.wait(300)
    # the monitor asks for the analysis when the fit ends
    assert wb.analysis.wait(300)
    assert wb.analysis.result is not None
    assert wb.analysis.status_w.value == "analysis of Stillinger-Weber (Si) (current parameters)"
