"""The one observable state of the Workbench: panels render from WorkbenchState, a model
switch reaches every panel in one step, jobs keep their history so a re-displayed
Workbench redraws a fit, tab panels are built as Panel(state)."""

import ipywidgets as w
import numpy as np
import pytest

from workbench.data import Dataset, Weight
from workbench.models import LennardJones, StillingerWeber
from workbench.ui.state import Job, WorkbenchState
from workbench.ui.workbench import Workbench


@pytest.fixture
def wb(si4_path):
    ds = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1))
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    return Workbench(dataset=ds, model=model)


def fit(wb, maxiter=4):
    wb.monitor.options_w.value = f"{{maxiter: {maxiter}}}"
    wb.monitor.start_w.click()
    assert wb.monitor.wait(300)
    assert wb.analysis.wait(300)


def test_data_membership_and_selection_live_in_the_state(wb):
    state = wb.state
    wb.browser.select([2, 3])
    assert state.selection == (2, 3)
    state.select([1])
    assert wb.browser.table_w.value == (1,)
    wb.browser.set_included([0], False)
    assert state.included == (False, True, True, True)
    assert wb.browser.table.included.tolist() == [False, True, True, True]
    assert "4 configurations (3 fitted)" in wb.title_w.value
    state.set_included([0], True)  # from outside the browser: the browser follows
    assert wb.browser.table.included.tolist() == [True] * 4
    assert "<b>4</b> fitted" in wb.browser.count_w.value


def test_model_switch_updates_every_panel_and_clears_the_old_results(wb):
    sw = wb.model
    fit(wb)
    sw_job = wb.state.job
    assert sw_job.kind == "fit" and sw_job.state == "finished"
    assert sw_job.model_label == "Stillinger-Weber (Si)"
    assert len(wb.monitor.loss_fig.data[0].y) >= 2
    assert wb.analysis.result is not None
    assert "· fitted" in wb.title_w.value

    lj = LennardJones(species=("Si",))
    wb.set_model(lj)
    # one step: every panel shows the new model, nothing of the old fit is current
    assert wb.state.model is lj and wb.params.model is lj and wb.monitor.model is lj
    assert wb.state.job is None and wb.session is None
    assert list(wb.monitor.loss_fig.data[0].y) == [] and wb.monitor.param_fig.data == ()
    assert wb.monitor.status_w.value == "not fitted yet"
    assert wb.analysis.result is None and wb.analysis.energy_fig is None
    assert all(b.children == () for b in wb.analysis.boxes.values())
    assert "no analysis of this model yet" in wb.analysis.status_w.value
    assert "Lennard-Jones (Si) · 4 configurations · not fitted yet" in wb.title_w.value
    # the old fit is kept, labelled with its model, and comes back with that model
    assert sw_job in wb.state.jobs and sw_job.model_label == "Stillinger-Weber (Si)"
    wb.set_model(sw)
    assert wb.state.job is sw_job
    assert list(wb.monitor.loss_fig.data[0].y) == [f for _, f in sw_job.loss_history()]
    assert "Stillinger-Weber (Si) · 4 configurations · fitted" in wb.title_w.value


def test_redisplay_draws_the_history_into_fresh_figures(wb):
    fit(wb, maxiter=5)
    old_loss, old_params = wb.monitor.loss_fig, wb.monitor.param_fig
    ys = list(old_loss.data[0].y)
    wb._repr_mimebundle_()  # first display
    assert wb.monitor.loss_fig is old_loss
    wb._repr_mimebundle_()  # displayed again: new front-end models, same history
    assert wb.monitor.loss_fig is not old_loss and wb.monitor.param_fig is not old_params
    assert list(wb.monitor.loss_fig.data[0].y) == ys
    assert [t.name for t in wb.monitor.param_fig.data] == ["A", "B", "gamma"]
    assert list(wb.monitor.param_fig.data[0].y) == list(old_params.data[0].y)
    assert "finished" in wb.monitor.status_w.value
    assert wb.analysis.energy_fig is not None and len(wb.analysis.energy_fig.data) >= 2


def test_log_parameter_traces_are_value_over_start_in_the_original_space(wb):
    wb.params.row("A").log_w.value = True
    fit(wb, maxiter=6)
    job = wb.state.job
    its, _, rows = job.iterations()
    a = np.exp(rows[:, 0])  # the optimizer saw log(A)
    expected = a / 5.0
    np.testing.assert_allclose(wb.monitor.param_fig.data[0].y, expected, rtol=1e-12)
    assert expected[-1] != pytest.approx(rows[-1, 0] / np.log(5.0))


def test_tab_slots_and_custom_panels(si4_path):
    class Counter:
        title = "Count"

        def __init__(self, state):
            self.state = state
            self.widget = w.HTML()
            state.observe(self._draw, ["included", "model"])
            self._draw()

        def _draw(self, _change=None):
            self.widget.value = f"{len(self.state.fit_configs())} fitted"

    ds = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1))
    wb = Workbench(dataset=ds, model=StillingerWeber(), tabs=[Counter])
    titles = wb.tabs.titles
    assert titles[5:] == ("Export", "Runs", "Validate", "Count")
    panel = wb.panels["Count"]
    assert panel.state is wb.state and panel.widget.value == "4 fitted"
    wb.browser.set_included([1, 2], False)
    assert panel.widget.value == "2 fitted"
    for k, title in enumerate(titles):
        if title in ("Runs", "Validate") and title not in wb.panels:
            assert "not available" in wb.tabs.children[k].value


def test_job_records_events_and_state():
    from workbench.fit.events import FitEvent

    state = WorkbenchState([], model=None)
    job = state.start_job("fit", label="x")
    seen = []
    job.observe(lambda c: seen.append(c["new"]), "n_events")
    job.record(FitEvent("started"))
    job.record(FitEvent("iteration", iteration=1, loss=2.0, params=np.array([1.0])))
    job.record(FitEvent("finished", iteration=1, loss=2.0, message="done"))
    assert seen == [1, 2, 3] and job.state == "finished" and job.message == "done"
    assert job.iterations()[0] == [1] and job.loss_history() == [(1, 2.0)]
    assert state.job is job and state.fitted
    with pytest.raises(ValueError, match="unknown job kind"):
        Job("dance")


def test_structure_view_after_a_fit_shows_predicted_forces_and_errors(wb):
    from workbench.ui.structure_view import error_colours, forces_of

    fit(wb, maxiter=3)
    ref, pred = forces_of(wb.state, 2)
    calc = wb.make_calculator([wb.browser.configs[2]])
    from workbench.analysis import EnergyForcesRMSE

    rmse = EnergyForcesRMSE(calc).compute(normalize=True)
    np.testing.assert_allclose(pred - ref, np.asarray(rmse.forces_diff).reshape(-1, 3),
                               rtol=1e-9, atol=1e-12)
    wb.browser.select([2])
    sv = wb.browser.structure
    sv.colour_w.value = "force error"
    sv.arrows_w.value = "force error"
    view = wb.browser.view
    assert len(view._ngl_component_ids) == 3  # structure, error spheres, error arrows
    err = np.linalg.norm(pred - ref, axis=1)
    assert f"red {err.max():.3g} eV/Å" in sv.note_w.value
    colours = error_colours(err)
    assert colours[int(np.argmax(err))][0] > colours[int(np.argmin(err))][0]
    # another model: its predictions are not this model's
    wb.set_model(LennardJones(species=("Si",)))
    assert forces_of(wb.state, 2)[1] is None
    assert len(view._ngl_component_ids) == 1
    assert "force errors appear once the current model was analyzed" in sv.note_w.value


def test_figures_are_drawn_when_their_tab_is_shown(wb):
    from workbench.ui.figures import figures_in

    fit(wb, maxiter=2)
    # the analysis ran in the background while its tab was hidden: no figure yet (a
    # hidden plotly figure would keep a default width that does not fit its box)
    assert wb.analysis.result is not None and wb.analysis.energy_fig is None
    wb.tabs.selected_index = 4
    figs = figures_in(wb.analysis)
    assert len(figs) == 5 and wb.analysis.energy_fig in figs
    assert len(wb.analysis.energy_fig.data) >= 2
    loss = wb.monitor.loss_fig
    ys = list(loss.data[0].y)
    wb.tabs.selected_index = 0  # back to Fit: its figures, drawn on screen, stay
    assert wb.monitor.loss_fig is loss and list(wb.monitor.loss_fig.data[0].y) == ys


def test_a_model_set_through_the_state_reaches_every_panel(wb):
    lj = LennardJones(species=("Si",))
    wb.state.set_model(lj)  # as the Runs tab does when it restores a run
    assert wb.params.model is lj and [r.label for r in wb.params.rows] == list(lj.model_params)
    assert wb.monitor.model is lj and "Lennard-Jones (Si)" in wb.title_w.value
