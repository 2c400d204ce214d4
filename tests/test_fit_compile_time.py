"""Compile time is reported apart from fit time, and a fit compiles only the path its
method evaluates."""

import time

import numpy as np
import pytest

from workbench.errors import LossError
from workbench.fit.objective import LeastSquaresObjective
from workbench.fit.optimizers import evaluation_kind
from workbench.fit.session import FitSession

T = np.linspace(0.0, 2.0, 20)


class SlowWarmup(LeastSquaresObjective):
    """A line fit whose warm-up takes ``delay`` seconds (a stand-in for compiling)."""

    def __init__(self, delay):
        y = 2.0 * T + 1.0
        self.delay = delay
        self.kinds = []
        super().__init__(lambda x: x[0] * T + x[1] - y,
                         lambda x: np.column_stack([T, np.ones_like(T)]), [0.0, 0.0])

    def warmup(self, kind="jacobian"):
        self.kinds.append(kind)
        time.sleep(self.delay)


@pytest.mark.parametrize("method, kind", [("L-BFGS-B", "gradient"), ("trf", "jacobian"),
                                          ("geodesiclm", "jacobian"),
                                          ("Nelder-Mead", "residual")])
def test_session_warms_up_only_the_path_of_its_method(method, kind):
    obj = SlowWarmup(0.0)
    FitSession(obj, method=method, options={"maxiter": 50} if method != "trf" else {}).run()
    assert obj.kinds == [kind]
    assert evaluation_kind(method) == kind


def test_compile_time_is_not_part_of_elapsed_or_the_rate():
    obj = SlowWarmup(0.6)
    session = FitSession(obj, method="L-BFGS-B")
    events = []
    session.subscribe(events.append)
    session.run()
    assert session.state == "finished"
    assert session.compile_time >= 0.6
    assert session.elapsed < 0.6  # a two-parameter line fit takes milliseconds
    assert session.evals_per_second > session.n_eval / 0.6
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["started", "compiling"]
    assert events[1].elapsed < 0.1 and events[1].compile_time == 0.0
    first_iter = next(e for e in events if e.kind == "iteration")
    assert first_iter.compile_time == pytest.approx(session.compile_time)
    assert first_iter.elapsed < 0.6
    assert events[-1].compile_time == pytest.approx(session.compile_time)
    np.testing.assert_allclose(session.best_params, [2.0, 1.0], rtol=1e-6)


def test_loss_warmup_evaluates_the_requested_path_once(si4_path):
    from workbench.calculators import Calculator
    from workbench.dataset import Dataset, Weight
    from workbench.loss import Loss
    from workbench.models import StillingerWeber

    configs = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(configs)
    loss = Loss(calc)
    loss.warmup(kind="gradient")
    assert (loss.n_eval, loss.n_jac) == (1, 1)
    f, g = loss.loss_and_grad(loss.x0())  # served by the warm-up's evaluation
    assert (loss.n_eval, loss.n_jac) == (1, 1)
    assert f > 0 and g.shape == (2,)
    loss.warmup(kind="residual")
    assert loss.n_eval == 1  # the residual at x0 is already known
    with pytest.raises(LossError, match="warmup kind must be one of"):
        loss.warmup(kind="hessian")
