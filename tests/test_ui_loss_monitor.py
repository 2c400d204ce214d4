"""LossMonitor and Throttle: Start/Pause/Stop through the buttons' click handlers on a real
SW fit of the 4-configuration Si set; the monitor only draws what the FitSession reports."""

import time

import numpy as np
import pytest

from workbench.data import Dataset, Weight
from workbench.fit.calculator import Calculator
from workbench.fit.loss import Loss
from workbench.models import StillingerWeber
from workbench.ui.loss_monitor import LossMonitor
from workbench.ui.parameter_table import ParameterTable
from workbench.ui.throttle import Throttle


@pytest.fixture
def setup(si4_path):
    configs = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    table = ParameterTable(model)
    built = []

    def make_objective():
        calc = Calculator(model)
        calc.create(configs)
        loss = Loss(calc)
        built.append(loss)
        return loss

    monitor = LossMonitor(make_objective, model=model, parameter_table=table,
                          options={"maxiter": 25})
    return model, table, monitor, built


def test_start_button_runs_a_fit_and_the_panels_follow(setup):
    model, table, monitor, built = setup
    assert monitor.status_w.value == "not fitted yet"
    monitor.start_w.click()
    assert monitor.start_w.disabled and not monitor.stop_w.disabled
    assert table.locked
    assert monitor.wait(300)
    s = monitor.session
    assert s.state == "finished", s.result.message
    assert s.method == "L-BFGS-B" and s.options == {"maxiter": 25}
    assert 1 <= s.iteration <= 25
    # the kernels were compiled (warm-up) in the background before the first iteration
    kinds = monitor.event_kinds
    assert kinds[:2] == ["started", "compiling"] and kinds[-1] == "finished"
    assert "iteration" in kinds
    from workbench.fit.events import FitEvent
    assert "compiling…" in monitor.status_text(FitEvent("compiling"))
    # the loss curve is the session's history: every iteration, decreasing overall
    hist = [(i, f) for i, f in s.history if f is not None]
    ys = list(monitor.loss_fig.data[0].y)
    assert list(monitor.loss_fig.data[0].x) == [i for i, _ in hist]
    assert ys == [f for _, f in hist]
    assert len(ys) >= 5 and ys[-1] < ys[0]
    assert monitor.loss_fig.layout.yaxis.type == "log"
    # the model holds the best parameters and the table shows them
    x = model.get_opt_params()
    np.testing.assert_allclose(x, s.best_params)
    assert float(table.row("A").value_w.value) == pytest.approx(x[0], rel=1e-7)
    assert float(table.row("gamma").value_w.value) == pytest.approx(x[2], rel=1e-7)
    assert not table.locked and not monitor.start_w.disabled and monitor.stop_w.disabled
    # parameter traces: one per fitted component, value / start value
    assert [t.name for t in monitor.param_fig.data] == ["A", "B", "gamma"]
    assert monitor.param_fig.data[0].y[-1] == pytest.approx(monitor.param_history[-1][0] / 5.0)
    assert "finished" in monitor.status_w.value and "best loss" in monitor.status_w.value
    assert f"{s.best_loss:.6g}" in monitor.status_w.value
    # the curve starts at the loss of the start point (recomputed by the objective)
    assert built[0].loss(np.array([5.0, 0.6022245584, 1.5])) > ys[0] > s.best_loss


def test_stop_and_pause_buttons(setup):
    model, table, monitor, _ = setup
    monitor.options_w.value = "{maxiter: 100000, ftol: 0, gtol: 0}"
    def first_iteration(session):
        return session is not None and session.iteration >= 2

    monitor.start_w.click()
    deadline = time.monotonic() + 120
    while not first_iteration(monitor.session) and time.monotonic() < deadline:
        time.sleep(0.05)
    s = monitor.session
    monitor.pause_w.click()
    deadline = time.monotonic() + 30
    while s.state != "paused" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert s.state == "paused"
    n = s.n_eval
    time.sleep(0.5)
    assert s.n_eval == n  # nothing is evaluated while paused
    monitor.throttle.flush()
    assert monitor.pause_w.description == "Resume"
    monitor.pause_w.click()  # resume
    monitor.stop_w.click()
    assert monitor.wait(60)
    assert s.state == "stopped"
    assert "stopped" in monitor.status_w.value
    np.testing.assert_allclose(model.get_opt_params(), s.best_params)
    assert not table.locked


def test_invalid_options_are_reported_and_nothing_starts(setup):
    _, table, monitor, built = setup
    monitor.options_w.value = "[1, 2"
    monitor.start_w.click()
    assert monitor.session is None and built == []
    assert "cannot fit" in monitor.status_w.value and "YAML" in monitor.error
    assert not table.locked


def test_objective_errors_are_reported(setup):
    model, table, monitor, _ = setup
    from workbench.errors import LossError

    def broken():
        raise LossError("no configurations to fit")

    monitor.make_objective = broken
    monitor.start_w.click()
    monitor.wait(10)
    assert "no configurations to fit" in monitor.status_w.value
    assert not monitor.start_w.disabled and not table.locked


def test_throttle_limits_redraws_and_keeps_the_last():
    drawn = []
    th = Throttle(drawn.append, rate=10)
    t0 = time.monotonic()
    for k in range(2000):
        th.submit(k)
        time.sleep(0.0005)
    elapsed = time.monotonic() - t0
    th.submit("final", final=True)
    assert drawn[-1] == "final"
    assert len(drawn) <= 10 * elapsed + 3
    assert len(drawn) >= 3
    assert drawn == sorted(drawn[:-1]) + ["final"]


def test_throttle_draws_a_pending_payload_later():
    drawn = []
    th = Throttle(drawn.append, rate=5)
    th.submit(1)
    th.submit(2)  # too soon: scheduled
    assert drawn == [1]
    time.sleep(0.35)
    assert drawn == [1, 2]
    th.submit(3)
    th.cancel()
    time.sleep(0.3)
    assert drawn[-1] in (2, 3) and len(drawn) <= 3


def test_function_curves_of_the_model_are_drawn():
    from workbench.models.eam import EAM

    model = EAM(species=("Cu",))
    curves = model.function_curves()
    assert curves
    monitor = LossMonitor(model=model)
    fig = monitor.curves_fig
    assert [t.name for t in fig.data] == [c["name"] for c in curves]
    np.testing.assert_allclose(fig.data[0].y, curves[0]["y"])
    assert monitor.curves_box.layout.display is None
    # a model without curves shows no empty figure
    sw = LossMonitor(model=StillingerWeber())
    assert sw.curves_fig is None and sw.curves_box.layout.display == "none"
