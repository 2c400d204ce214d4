"""run_optimizer on least-squares problems with known minima."""

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from workbench.errors import LossError
from workbench.fit.objective import LeastSquaresObjective, Objective, normalize_bounds
from workbench.fit.optimizers import (
    BOUNDED_METHODS,
    DERIVATIVE_FREE,
    LEAST_SQUARES_METHODS,
    METHODS,
    MINIMIZE_METHODS,
    StopFit,
    run_optimizer,
)

T = np.linspace(0.0, 4.0, 40)
TRUE = np.array([2.5, 1.3, 0.4])  # amplitude, rate, offset


class Counting(LeastSquaresObjective):
    """Counts calls by kind; ``stop_after`` raises StopFit after that many evaluations."""

    def __init__(self, *a, stop_after=None, **k):
        super().__init__(*a, **k)
        self.calls = {"residual": 0, "jacobian": 0, "nonfinite": 0}
        self.stop_after = stop_after

    def _tick(self, kind):
        self.calls[kind] += 1
        total = self.calls["residual"] + self.calls["jacobian"]
        if self.stop_after is not None and total > self.stop_after:
            raise StopFit("enough")

    def residual(self, x):
        self._tick("residual")
        u = super().residual(x)
        self.calls["nonfinite"] += not np.all(np.isfinite(u))
        return u

    def residual_and_jacobian(self, x):
        self._tick("jacobian")
        u = np.asarray(self._residual_fn(x), dtype=float)
        J = np.asarray(self._jacobian_fn(x), dtype=float)
        self.calls["nonfinite"] += not np.all(np.isfinite(u))
        return u, J


def decay(x0=(1.0, 0.5, 0.0), bounds=None, **kw):
    y = TRUE[0] * np.exp(-TRUE[1] * T) + TRUE[2]

    def res(x):
        return x[0] * np.exp(-x[1] * T) + x[2] - y

    def jac(x):
        e = np.exp(-x[1] * T)
        return np.column_stack([e, -x[0] * T * e, np.ones_like(T)])

    return Counting(res, jac, x0, bounds=bounds, names=["amp", "rate", "offset"], **kw)


def rosenbrock(a=10.0, x0=(-1.2, 1.0), **kw):
    return Counting(
        lambda x: np.array([1 - x[0], a * (x[1] - x[0] ** 2)]),
        lambda x: np.array([[-1.0, 0.0], [-2 * a * x[0], a]]),
        x0, **kw,
    )


def linear(bounds=None):
    rng = np.random.default_rng(7)
    A = rng.normal(size=(30, 4))
    b = rng.normal(size=30)
    obj = Counting(lambda x: A @ x - b, lambda x: A, np.zeros(4), bounds=bounds)
    return obj, A, b


# each method's own stopping rule, tightened where its default stops short of 1e-4
TIGHT = {
    "Nelder-Mead": {"xatol": 1e-10, "fatol": 1e-14},
    "Powell": {"xtol": 1e-10, "ftol": 1e-14},
    "COBYLA": {"tol": 1e-10},
    "SLSQP": {"ftol": 1e-14},
    "L-BFGS-B": {"ftol": 1e-15, "gtol": 1e-10},
    "trust-constr": {"gtol": 1e-10, "xtol": 1e-12},
}


def test_least_squares_objective_is_an_objective_and_consistent():
    obj = decay()
    assert isinstance(obj, Objective)
    x = np.array([2.0, 1.0, 0.1])
    u, J = obj.residual_and_jacobian(x)
    f, g = obj.loss_and_grad(x)
    assert f == pytest.approx(0.5 * u @ u)
    np.testing.assert_allclose(g, J.T @ u)
    # the Jacobian is the derivative of the residual (central differences)
    h = 1e-6
    fd = np.column_stack([(obj.residual(x + h * e) - obj.residual(x - h * e)) / (2 * h)
                          for e in np.eye(3)])
    np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-8)
    obj.set_params(x)
    np.testing.assert_array_equal(obj.params, x)


def test_bounds_normalisation_and_errors():
    assert normalize_bounds([(None, np.inf), (-np.inf, None)], 2) is None
    assert normalize_bounds([(0, None), (None, 3)], 2) == [(0.0, None), (None, 3.0)]
    with pytest.raises(LossError, match="b: lower 2.0 is greater than upper 1.0"):
        normalize_bounds([(0, 1), (2, 1)], 2, names=["a", "b"])
    with pytest.raises(LossError, match="3 entries but there are 2"):
        normalize_bounds([(0, 1)] * 3, 2)


@pytest.mark.parametrize("method", MINIMIZE_METHODS)
def test_every_minimize_method_fits_the_decay_curve(method):
    obj = decay()
    options = {"maxiter": 20000} if method.lower() in DERIVATIVE_FREE else {}
    options.update(TIGHT.get(method, {}))
    res = run_optimizer(obj, method, options)
    # derivative-free methods stop on their own (looser) tolerances
    tol = 2e-3 if method.lower() in DERIVATIVE_FREE else 1e-4
    np.testing.assert_allclose(res.x, TRUE, rtol=tol, atol=tol)
    assert res.fun < 1e-6 and not res.stopped
    if method.lower() in DERIVATIVE_FREE:
        assert obj.calls["jacobian"] == 0
    else:
        # exact gradients only: no residual-only calls that finite differences would need
        assert obj.calls["residual"] == 0
        assert obj.calls["jacobian"] < 400


def test_lbfgsb_uses_exact_gradient_few_evaluations():
    obj = decay()
    res = run_optimizer(obj, "L-BFGS-B", {"ftol": 1e-15, "gtol": 1e-10})
    np.testing.assert_allclose(res.x, TRUE, rtol=1e-6)
    # scipy's finite differences would cost 4 residual calls per gradient
    assert obj.calls["residual"] == 0
    assert obj.calls["jacobian"] <= 60


@pytest.mark.parametrize("method", ["BFGS", "Newton-CG", "trust-exact", "dogleg", "trust-krylov"])
def test_gradient_and_hessian_methods_solve_rosenbrock(method):
    obj = rosenbrock()
    res = run_optimizer(obj, method)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-4)
    assert obj.calls["residual"] == 0


def test_linear_least_squares_matches_lstsq():
    expected = np.linalg.lstsq(*linear()[1:], rcond=None)[0]
    for method in ("L-BFGS-B", "trf", "dogbox", "lm", "geodesiclm", "trust-exact"):
        obj = linear()[0]
        res = run_optimizer(obj, method, TIGHT.get(method, {}))
        np.testing.assert_allclose(res.x, expected, rtol=1e-6, atol=1e-8, err_msg=method)
        assert res.fun == pytest.approx(0.5 * np.sum((linear()[1] @ expected - linear()[2]) ** 2))


@pytest.mark.parametrize("method", LEAST_SQUARES_METHODS + ("geodesiclm",))
def test_least_squares_methods_few_evaluations(method):
    obj = decay()
    res = run_optimizer(obj, method)
    np.testing.assert_allclose(res.x, TRUE, rtol=1e-7)
    assert obj.calls["jacobian"] <= 20 and obj.calls["residual"] <= 60
    assert res.nit >= 3 and res.success


@pytest.mark.parametrize("method", sorted(BOUNDED_METHODS))
def test_bounded_methods_respect_bounds(method):
    bounds = [(None, None), (0.2, None), (-0.5, 0.5), (None, 0.1)]
    obj, A, b = linear(bounds=bounds)
    ref = lsq_linear(A, b, bounds=([-np.inf, 0.2, -0.5, -np.inf], [np.inf, np.inf, 0.5, 0.1]))
    assert not np.allclose(ref.x, np.linalg.lstsq(A, b, rcond=None)[0])  # bounds are active
    obj._x0 = np.array([0.0, 0.3, 0.0, 0.0])
    name = method if method in METHODS else next(m for m in METHODS if m.lower() == method)
    options = {"maxiter": 20000} if method in DERIVATIVE_FREE else {}
    options.update(TIGHT.get(name, {}))
    res = run_optimizer(obj, name, options)
    lo = np.array([-np.inf, 0.2, -0.5, -np.inf])
    hi = np.array([np.inf, np.inf, 0.5, 0.1])
    # COBYLA treats bounds as constraints it may violate by up to its final trust radius
    slack = 1e-6 if method == "cobyla" else 1e-9
    assert np.all(res.x >= lo - slack) and np.all(res.x <= hi + slack)
    tol = 5e-3 if method in DERIVATIVE_FREE else 1e-5
    np.testing.assert_allclose(res.x, ref.x, atol=tol)


@pytest.mark.parametrize(
    "method", [m for m in METHODS if m.lower() not in BOUNDED_METHODS]
)
def test_methods_without_bounds_refuse_them(method):
    obj = decay(bounds=[(0, 10), (None, None), (None, None)])
    with pytest.raises(LossError, match=f"method '{method}' cannot take bounds.*amp"):
        run_optimizer(obj, method)
    assert obj.calls["residual"] + obj.calls["jacobian"] == 0


def test_start_outside_bounds_and_bad_options():
    with pytest.raises(LossError, match="amp=1 is outside its bounds"):
        run_optimizer(decay(bounds=[(2, 3), (None, None), (None, None)]), "L-BFGS-B")
    with pytest.raises(LossError, match="unknown optimizer method 'newton'"):
        run_optimizer(decay(), "newton")
    with pytest.raises(LossError, match="may not set \\['jac'\\]"):
        run_optimizer(decay(), "BFGS", {"jac": "2-point"})


def log_problem():
    """Residuals log(x) - log(target): undefined (NaN) for x < 0, where full steps go."""
    target = np.array([0.01, 0.02])
    with np.errstate(all="ignore"):
        pass
    def res(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            return 10.0 * (np.log(x) - np.log(target))

    def jac(x):
        return np.diag(10.0 / x)

    return Counting(res, jac, [5.0, 3.0], names=["p", "q"]), target


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS", "Nelder-Mead", "trf", "dogbox", "lm",
                                    "geodesiclm", "trust-exact"])
def test_nonfinite_steps_are_failed_steps(method):
    obj, target = log_problem()
    options = {"maxiter": 5000} if method == "Nelder-Mead" else {}
    res = run_optimizer(obj, method, options)
    assert np.isfinite(res.fun)
    np.testing.assert_allclose(res.x, target, rtol=1e-3)
    if method in ("trf", "lm", "dogbox", "geodesiclm", "trust-exact"):
        # Gauss-Newton steps from x0 land at negative x: the optimizer met NaNs and went on
        assert obj.calls["nonfinite"] > 0


def test_nonfinite_start_is_a_clear_error():
    obj, _ = log_problem()
    obj._x0 = np.array([-1.0, 3.0])
    with pytest.raises(LossError, match="not finite .* at the starting parameters p=-1, q=3"):
        run_optimizer(obj, "L-BFGS-B")


def test_callback_sees_iterations_and_can_stop():
    seen = []

    def cb(info):
        seen.append((info.nit, info.fun))
        return info.nit >= 3

    for method in ("L-BFGS-B", "TNC", "trf", "lm", "geodesiclm", "Nelder-Mead"):
        seen.clear()
        res = run_optimizer(decay(), method, callback=cb)
        assert res.stopped and res.nit == 3, method
        assert [s[0] for s in seen] == [1, 2, 3]
        assert all(np.isfinite(f) for _, f in seen), method
        # the result is the best point evaluated, never worse than the last iterate
        assert res.fun <= seen[-1][1] + 1e-12


@pytest.mark.parametrize("method", METHODS)
def test_stopfit_inside_objective_returns_best_point(method):
    obj = decay(stop_after=3)
    res = run_optimizer(obj, method)
    assert res.stopped and res.message == "enough"
    assert np.isfinite(res.fun)
    assert res.fun == pytest.approx(decay().loss(res.x))
    assert res.fun <= decay().loss(np.array([1.0, 0.5, 0.0]))
