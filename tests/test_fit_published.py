"""The fits of KLIFF's tutorials reach the published numbers (shared/data/README.md)."""

import numpy as np
import pytest

from workbench.calculators import Calculator
from workbench.dataset import Dataset, Weight
from workbench.loss import Loss
from workbench.models import LennardJones, LogParameterTransform, StillingerWeber

SW_PUBLISHED = {"loss": 0.6940780, "A": 14.9386, "B": 0.58740, "gamma": 2.20146}


@pytest.fixture(scope="module")
def si_configs(si_path):
    return Dataset(si_path, Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()


def _sw_loss(configs, transform=None):
    model = StillingerWeber(params_transform=transform)
    return model


def _assert_sw_minimum(model, loss_value):
    params = model.get_params_dict("original")
    assert loss_value == pytest.approx(SW_PUBLISHED["loss"], rel=1e-4)
    for name in ("A", "B", "gamma"):
        assert params[name][0] == pytest.approx(SW_PUBLISHED[name], rel=1e-4), name
    assert params["sigma"][0] == 2.0951  # fixed


def test_sw_tutorial_lbfgsb_reaches_published_minimum(si_configs):
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(si_configs)
    loss = Loss(calc)
    result = loss.minimize(method="L-BFGS-B", options={"maxiter": 400, "ftol": 1e-12,
                                                       "gtol": 1e-8})
    _assert_sw_minimum(model, result.fun)
    # the exact gradient vanishes at the minimum (inside the bounds)
    _, grad = loss.loss_and_grad(result.x)
    assert np.abs(grad).max() < 1e-5


def test_sw_tutorial_least_squares_with_exact_jacobian(si_configs):
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(si_configs)
    loss = Loss(calc)
    result = loss.minimize(method="trf", xtol=1e-12, ftol=1e-12, gtol=1e-12)
    _assert_sw_minimum(model, loss.loss(result.x))
    assert loss.n_jac < 60  # exact Jacobians: no finite-difference sweeps


def test_sw_tutorial_log_transform_reaches_same_minimum(si_configs):
    model = StillingerWeber(params_transform=LogParameterTransform(["A", "B"]))
    model.set_opt_params(A=[[np.log(5.0), np.log(1.0), np.log(20.0)]], B=[["default"]],
                         sigma=[[2.0951, "fix"]], gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(si_configs)
    loss = Loss(calc)
    x0 = loss.x0()
    assert x0[0] == pytest.approx(np.log(5.0))
    result = loss.minimize(method="L-BFGS-B", options={"maxiter": 400, "ftol": 1e-12,
                                                       "gtol": 1e-8})
    _assert_sw_minimum(model, result.fun)
    assert result.x[0] == pytest.approx(np.log(SW_PUBLISHED["A"]), rel=1e-4)


def test_lj_tutorial_ten_lbfgsb_iterations(si4_path):
    configs = Dataset(si4_path).get_configs()
    model = LennardJones()
    model.set_opt_params(sigma=[["default"]], epsilon=[["default"]])
    calc = Calculator(model)
    calc.create(configs)
    Loss(calc).minimize(method="L-BFGS-B", options={"maxiter": 10})
    params = model.get_params_dict("original")
    assert params["epsilon"][0] == pytest.approx(1.56149, rel=1e-4)
    assert params["sigma"][0] == pytest.approx(2.06290, rel=1e-4)
