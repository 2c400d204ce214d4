"""Geodesic Levenberg-Marquardt against plain LM and known minima."""

import numpy as np
import pytest
from scipy.optimize import least_squares

from workbench.errors import LossError
from workbench.fit.geodesic_lm import geodesic_lm, second_directional_derivative
from workbench.fit.objective import LeastSquaresObjective
from workbench.fit.optimizers import run_optimizer


def rosenbrock(a):
    return (
        lambda x: np.array([1 - x[0], a * (x[1] - x[0] ** 2)]),
        lambda x: np.array([[-1.0, 0.0], [-2 * a * x[0], a]]),
    )


def test_second_directional_derivative_exact_for_quadratic_residuals():
    def r(x):
        return np.array([x[0] ** 2, x[0] * x[1], 3 * x[1] ** 2 + x[0]])

    def J(x):
        return np.array([[2 * x[0], 0], [x[1], x[0]], [1, 6 * x[1]]])

    x, v = np.array([0.3, -1.1]), np.array([0.7, 0.2])
    exact = np.array([2 * v[0] ** 2, 2 * v[0] * v[1], 6 * v[1] ** 2])
    for h in (0.1, 1e-3):
        got = second_directional_derivative(r(x), r(x + h * v), J(x), v, h)
        np.testing.assert_allclose(got, exact, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("a", [100.0, 1000.0])
def test_geodesic_acceleration_beats_plain_lm_in_a_narrow_valley(a):
    fun, jac = rosenbrock(a)
    x0 = [-1.2, 1.0]
    geo = geodesic_lm(fun, jac, x0)
    plain = geodesic_lm(fun, jac, x0, accel=False)
    minpack = least_squares(fun, x0, jac=jac, method="lm")
    for res in (geo, plain):
        assert res.success
        np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-7)
    # measured here: a=100: 19 vs 53 (plain) vs 45 (MINPACK); a=1000: 30 vs 252 vs 190
    assert geo.njev < plain.njev / 2
    assert geo.njev < minpack.njev
    assert geo.n_accel_rejected > 0  # the alpha criterion was exercised


def test_exponential_decay_recovers_parameters_and_reports():
    t = np.linspace(0, 5, 60)
    true = np.array([3.0, 0.8, -0.2])
    y = true[0] * np.exp(-true[1] * t) + true[2]
    res = geodesic_lm(
        lambda x: x[0] * np.exp(-x[1] * t) + x[2] - y,
        lambda x: np.column_stack(
            [np.exp(-x[1] * t), -x[0] * t * np.exp(-x[1] * t), np.ones_like(t)]
        ),
        [1.0, 0.1, 0.0],
    )
    np.testing.assert_allclose(res.x, true, rtol=1e-8)
    assert res.cost < 1e-20 and res.success
    assert res.njev == res.nit + 1 or res.status in (2, 3)
    assert res.jac.shape == (60, 3) and res.lam > 0
    np.testing.assert_allclose(res.grad, res.jac.T @ res.fun)


def test_linear_problem_needs_few_jacobians():
    rng = np.random.default_rng(3)
    A, b = rng.normal(size=(50, 5)), rng.normal(size=50)
    res = geodesic_lm(lambda x: A @ x - b, lambda x: A, np.zeros(5))
    np.testing.assert_allclose(res.x, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-8)
    assert res.njev <= 12


def test_bounds_are_refused_but_open_bounds_are_fine():
    fun, jac = rosenbrock(10.0)
    with pytest.raises(LossError, match="geodesiclm' does not support bounds"):
        geodesic_lm(fun, jac, [0.0, 0.0], bounds=[(0, 1), (None, None)])
    res = geodesic_lm(fun, jac, [0.0, 0.0], bounds=[(None, None), (-np.inf, np.inf)])
    np.testing.assert_allclose(res.x, [1, 1], atol=1e-8)
    obj = LeastSquaresObjective(fun, jac, [0.0, 0.0], bounds=[(None, 2.0), (None, None)])
    with pytest.raises(LossError, match="'geodesiclm' cannot take bounds"):
        run_optimizer(obj, "geodesiclm")


def test_nonfinite_trial_points_are_rejected():
    target = np.array([0.01, 0.02])
    seen_nan = []

    def fun(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            r = 10 * (np.log(x) - np.log(target))
        seen_nan.append(not np.all(np.isfinite(r)))
        return r

    res = geodesic_lm(fun, lambda x: np.diag(10 / x), [5.0, 3.0], lambda0=1e-6)
    assert any(seen_nan)
    assert res.success and np.isfinite(res.cost)
    np.testing.assert_allclose(res.x, target, rtol=1e-8)


def test_nonfinite_start_callback_stop_and_options():
    res = geodesic_lm(lambda x: np.array([np.nan]), lambda x: np.ones((1, 1)), [1.0])
    assert res.status == -3 and not res.success
    fun, jac = rosenbrock(100.0)
    lams = []

    def cb(info):
        lams.append(info.lam)
        return info.nit == 4

    res = geodesic_lm(fun, jac, [-1.2, 1.0], callback=cb)
    assert res.status == -2 and res.nit == 4 and len(lams) == 4
    assert res.lam == lams[-1]
    res = geodesic_lm(fun, jac, [-1.2, 1.0], maxiter=3)
    assert res.status == 0 and res.nit == 3
    with pytest.raises(LossError, match="damping"):
        geodesic_lm(fun, jac, [0, 0], damping="levenberg")
    with pytest.raises(LossError, match="method 'geodesiclm' has no option 'bogus'"):
        run_optimizer(LeastSquaresObjective(fun, jac, [0.0, 0.0]), "geodesiclm", {"bogus": 1})


def test_restart_with_saved_lambda_continues_the_run():
    """Stopping after k steps and restarting from (x, lam, scale) retraces the same path."""
    fun, jac = rosenbrock(1000.0)
    full = geodesic_lm(fun, jac, [-1.2, 1.0])
    first = geodesic_lm(fun, jac, [-1.2, 1.0], maxiter=10)
    rest = geodesic_lm(fun, jac, first.x, lambda0=first.lam, scale0=first.scale)
    np.testing.assert_allclose(rest.x, full.x, atol=1e-12)
    assert first.nit + rest.nit == full.nit
    assert first.njev + rest.njev == full.njev  # a stopped run skips J at its last point
