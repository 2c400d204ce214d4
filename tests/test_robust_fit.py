"""Hardening of fits: refused trial points are failed steps for every method, a fit always
ends at its best finite point, a running fit owns its model, checkpoints are validated
and their path checked before the fit, options are checked before anything runs, and a
neural network whose loss turns NaN stops with its last finite weights."""

import json
import shutil
import time

import numpy as np
import pytest
import torch

from workbench import datasets
from workbench.calculators import Calculator
from workbench.dataset import Dataset, Weight
from workbench.errors import LossError, ModelBusyError, ParameterError
from workbench.fit.objective import LeastSquaresObjective
from workbench.fit.optimizers import run_optimizer
from workbench.fit.session import FitSession
from workbench.loss import Loss
from workbench.models import StillingerWeber


@pytest.fixture(scope="module")
def si4():
    return Dataset(datasets.path("Si_4"), Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()


def sw_loss(configs, A=15.0, sigma=2.0, gamma=1.5, log_sigma=False):
    model = StillingerWeber()
    model.set_opt_params(A=[[A]], sigma=[[sigma]], gamma=[[gamma]])
    if log_sigma:
        model.set_param_transform("sigma", "log")
    calc = Calculator(model)
    calc.create(configs)
    return Loss(calc)


# ------------------------------------------------------------------ refused trial points
def refusing_problem():
    """log(x) - log(target) residuals whose 'model' refuses x <= 0 like a real model does."""
    target = np.array([0.01, 0.02])
    seen = {"refused": 0}

    def res(x):
        if np.any(x <= 0):
            seen["refused"] += 1
            raise ParameterError(f"Parameter 'p': must be positive, got {x.tolist()}")
        return 10.0 * (np.log(x) - np.log(target))

    def jac(x):
        return np.diag(10.0 / x)

    return LeastSquaresObjective(res, jac, [5.0, 3.0], names=["p", "q"]), target, seen


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS", "CG", "Nelder-Mead", "Powell",
                                    "trf", "dogbox", "lm", "geodesiclm", "trust-exact",
                                    "Newton-CG", "TNC", "SLSQP"])
def test_refused_trial_points_are_failed_steps_for_every_method(method):
    obj, target, seen = refusing_problem()
    options = {"maxiter": 5000} if method in ("Nelder-Mead", "Powell") else {}
    res = run_optimizer(obj, method, options)
    assert np.isfinite(res.fun) and res.fun < obj.loss(np.array([5.0, 3.0]))
    assert res.n_refused == seen["refused"]
    if method in ("trf", "lm", "dogbox", "geodesiclm", "trust-exact"):
        # their Gauss-Newton steps from x0 land at negative x
        assert seen["refused"] > 0
        assert "refused by the model" in res.message and "Parameter 'p'" in res.message
        np.testing.assert_allclose(res.x, target, rtol=1e-3)


def test_refused_start_is_raised():
    obj, _, _ = refusing_problem()
    with pytest.raises(ParameterError, match="Parameter 'p'"):
        run_optimizer(obj, "BFGS", x0=[-1.0, 1.0])


def test_lm_step_to_negative_sigma_is_a_failed_step(si4):
    """SW from gamma=3, sigma=1: an lm step lands at sigma <= 0, which the engine refuses;
    the fit goes on to the minimum instead of dying with ParameterError."""
    loss = sw_loss(si4, A=15.0, sigma=1.0, gamma=3.0)
    f0 = loss.loss(loss.x0())
    res = loss.minimize("lm", max_nfev=100)
    assert res.n_refused >= 1 and "sigma" in res.message
    assert np.isfinite(res.fun) and res.fun < 1e-3 * f0
    # the model holds the returned point
    np.testing.assert_array_equal(loss.model.get_opt_params(), res.x)
    assert loss.loss(res.x) == pytest.approx(res.fun, rel=1e-12)


class Stretched:
    """A Loss seen through x_model = c + k (x - c): unit steps of a gradient method become
    steps of k in the model's log space, where exp(log sigma) underflows to 0."""

    def __init__(self, loss, k):
        self.inner, self.k, self.c = loss, k, loss.x0()

    def _m(self, x):
        return self.c + self.k * (np.asarray(x) - self.c)

    def x0(self):
        return self.c.copy()

    def bounds(self):
        return None

    def names(self):
        return self.inner.names()

    def set_params(self, x):
        self.inner.set_params(self._m(x))

    def residual(self, x):
        return self.inner.residual(self._m(x))

    def residual_and_jacobian(self, x):
        u, J = self.inner.residual_and_jacobian(self._m(x))
        return u, J * self.k

    def loss(self, x):
        return self.inner.loss(self._m(x))

    def loss_and_grad(self, x):
        f, g = self.inner.loss_and_grad(self._m(x))
        return f, g * self.k


@pytest.mark.parametrize("method", ["BFGS", "CG"])
def test_log_underflow_under_bfgs_and_cg_is_a_failed_step(si4, method):
    loss = sw_loss(si4, log_sigma=True)
    f0 = loss.loss(loss.x0())
    res = run_optimizer(Stretched(loss, 1000.0), method, {"maxiter": 30})
    assert res.n_refused >= 1 and "transformed value" in res.message
    assert np.isfinite(res.fun) and res.fun < 1e-3 * f0


# ------------------------------------------------------------------ best point kept
def test_minimize_leaves_the_model_at_the_best_point_when_the_engine_raises(si4):
    loss = sw_loss(si4)
    calc = loss.calculator
    real, seen = calc.compute, []

    def compute(*args, **kwargs):
        if len(seen) == 12:
            raise RuntimeError("engine failure")
        seen.append(calc.get_opt_params().copy())
        return real(*args, **kwargs)

    calc.compute = compute
    loss.model.compute_gradient = lambda *a, **k: None  # every evaluation via compute
    with pytest.raises(RuntimeError, match="engine failure"):
        loss.minimize("L-BFGS-B")
    calc.compute = real
    losses = [Loss(calc).loss(x) for x in seen]
    best = seen[int(np.argmin(losses))]
    np.testing.assert_array_equal(loss.model.get_opt_params(), best)


# ------------------------------------------------------------------ ownership
def test_a_running_fit_owns_its_model(si4):
    loss = sw_loss(si4)
    model = loss.model
    session = FitSession(loss, "L-BFGS-B", {"maxiter": 200})
    session.pause()
    session.start()
    try:
        with pytest.raises(ModelBusyError, match=r"cannot set_opt_params of model SW: it is "
                                                 r"being fitted by a FitSession \(L-BFGS-B\)"):
            model.set_opt_params(A=[[1.0]])
        with pytest.raises(ModelBusyError, match="cannot update the optimized parameters"):
            loss.set_params(loss.x0())
        with pytest.raises(ModelBusyError, match="cannot set parameter 'B'"):
            model.set_param_value("B", [0.1])
        with pytest.raises(ModelBusyError, match="already being fitted by a FitSession"):
            FitSession(loss, "BFGS").start()
        with pytest.raises(ModelBusyError, match="already being fitted"):
            loss.minimize("L-BFGS-B")
    finally:
        session.resume()
    assert session.wait(120) and session.state == "finished"
    np.testing.assert_array_equal(model.get_opt_params(), session.result.x)
    model.set_opt_params(A=[[1.0]])  # free again once the fit ended
    assert model.get_params_dict()["A"][0] == 1.0


# ------------------------------------------------------------------ session life cycle
def decay():
    t = np.linspace(0.0, 4.0, 40)
    y = 2.5 * np.exp(-1.3 * t) + 0.4

    def res(x):
        time.sleep(0.002)
        return x[0] * np.exp(-x[1] * t) + x[2] - y

    def jac(x):
        e = np.exp(-x[1] * t)
        return np.column_stack([e, -x[0] * t * e, np.ones_like(t)])

    return LeastSquaresObjective(res, jac, [1.0, 0.5, 0.0], names=["amp", "rate", "offset"])


def test_stop_before_start_does_not_end_the_next_start():
    s = FitSession(decay(), "L-BFGS-B", {"ftol": 1e-15, "gtol": 1e-10})
    s.stop()
    s.start()
    assert s.wait(60) and s.state == "finished" and s.result.success
    np.testing.assert_allclose(s.result.x, [2.5, 1.3, 0.4], rtol=1e-6)


def test_bad_options_are_refused_before_the_fit():
    with pytest.raises(LossError, match="option 'maxiter' of method 'L-BFGS-B' must be a "
                                        "number, got 'abc'"):
        FitSession(decay(), "L-BFGS-B", {"maxiter": "abc"})
    with pytest.raises(LossError, match=r"got '1e3' \(YAML reads 1e3 as text"):
        run_optimizer(decay(), "BFGS", {"options": {"maxiter": "1e3"}})
    with pytest.raises(LossError, match="option 'ftol' of method 'trf' must be a finite"):
        run_optimizer(decay(), "trf", {"ftol": float("nan")})
    with pytest.raises(LossError, match="method 'geodesiclm' has no option 'maxiters'"):
        FitSession(decay(), "geodesiclm", {"maxiters": 3})


def test_unwritable_checkpoint_path_is_refused_before_the_fit(tmp_path, si4):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    loss = sw_loss(si4)
    s = FitSession(loss, "L-BFGS-B", checkpoint_path=blocker / "ck.json")
    with pytest.raises(LossError, match=f"cannot write the checkpoint {blocker / 'ck.json'}"):
        s.start()
    assert s.state == "created" and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    loss.model.set_opt_params(A=[[14.0]])  # the refused session does not hold the model


def test_checkpoint_failing_mid_fit_reports_and_continues(tmp_path):
    folder = tmp_path / "ck"
    obj = decay()
    inner, calls = obj.residual, {"n": 0}

    def residual(x):  # the folder turns into a file during the 6th evaluation
        calls["n"] += 1
        if calls["n"] == 6:
            shutil.rmtree(folder)
            folder.write_text("now a file")
        return inner(x)

    obj.residual = residual
    obj.loss_and_grad = lambda x: (0.5 * float(residual(x) @ residual(x)),
                                   obj.residual_and_jacobian(x)[1].T @ inner(x))
    s = FitSession(obj, "L-BFGS-B", {"ftol": 1e-15, "gtol": 1e-10},
                   checkpoint_path=folder / "ck.json", checkpoint_every=1)
    s.start()
    assert s.wait(60) and s.state == "finished"
    np.testing.assert_allclose(s.result.x, [2.5, 1.3, 0.4], rtol=1e-6)
    assert f"writing the checkpoint {folder / 'ck.json'} failed" in s.result.message
    assert "continuing without checkpoints" in s.result.message
    assert folder.read_text() == "now a file"


# ------------------------------------------------------------------ checkpoint contents
@pytest.fixture()
def checkpoint(tmp_path):
    s = FitSession(decay(), "L-BFGS-B", {"maxiter": 5}, checkpoint_path=tmp_path / "ck.json")
    s.run()
    return tmp_path / "ck.json"


@pytest.mark.parametrize("field, value, message", [
    ("best_x", [1.0, "nan", 2.0], "field 'best_x[1]': expected a finite number, got nan"),
    ("x", [1.0, "a", 2.0], "field 'x[1]': expected a number, got 'a'"),
    ("iteration", -3, "field 'iteration': expected a whole number >= 0, got -3"),
    ("iteration", "7", "field 'iteration': expected a whole number, got '7'"),
    ("max_iter", "abc", "field 'max_iter': expected a whole number, got 'abc'"),
    ("history", [[1, "x"]], "field 'history[0][1]': expected a number, got 'x'"),
    ("options", {"maxiter": "abc"}, "option 'maxiter' of method 'L-BFGS-B' must be a number"),
    ("method", "newton", "unknown optimizer method 'newton'"),
    ("best_x", [1.0], "field 'best_x': has 1 values, 'x' has 3"),
])
def test_invalid_checkpoints_name_file_and_field(checkpoint, field, value, message):
    doc = json.loads(checkpoint.read_text())
    doc[field] = value
    checkpoint.write_text(json.dumps(doc))
    with pytest.raises(LossError) as err:
        FitSession.resume(checkpoint, decay())
    assert str(err.value).startswith(f"{checkpoint}: ")
    assert message in str(err.value)


# ------------------------------------------------------------------ neural networks
@pytest.fixture(scope="module")
def nn_calc(si_path, tmp_path_factory):
    from workbench.ml import nn
    from workbench.ml.calculator_torch import CalculatorTorch
    from workbench.ml.descriptors import SymmetryFunction
    from workbench.ml.neural_network import NeuralNetwork

    confs = [c for c in Dataset(si_path / "varying_alat", Weight(forces_weight=0.3))
             .get_configs() if c.get_num_atoms() == 8][::40][:6]
    desc = SymmetryFunction({"Si-Si": 4.0}, "cos", "set30", normalize=True, dtype=np.float64)
    model = NeuralNetwork(desc, seed=3)
    model.add_layers(nn.Linear(desc.get_size(), 5), nn.Tanh(), nn.Linear(5, 1))
    calc = CalculatorTorch(model)
    calc.create(confs, fingerprints_filename=tmp_path_factory.mktemp("fp") / "fp.pkl")
    return calc


def weights(calc):
    return np.concatenate([p.detach().numpy().ravel() for p in calc.parameters()])


def test_nan_in_training_data_stops_training_keeping_finite_weights(nn_calc):
    calc = nn_calc
    ident = calc.configs[2].identifier
    saved = calc.ref_energy.clone()
    calc.ref_energy[2] = float("nan")  # an in-place edit after create
    try:
        loss = Loss(calc)
        before = weights(calc)
        with pytest.raises(LossError) as err:
            loss.minimize("Adam", batch_size=1, num_epochs=3, lr=0.01, verbose=False,
                          shuffle=False)
    finally:
        calc.ref_energy.copy_(saved)
    msg = str(err.value)
    assert "training stopped in epoch 0: the loss is nan" in msg and ident in msg
    assert "Traceback" not in msg
    after = weights(calc)
    assert np.all(np.isfinite(after)) and not np.array_equal(after, before)
    assert loss.session.history == []  # no NaN epoch was ever recorded


def test_diverging_training_stops_with_the_last_finite_weights(nn_calc):
    calc = nn_calc
    loss = Loss(calc)
    session = loss.training_session("SGD", batch_size=2, num_epochs=5, lr=1e200,
                                    keep_best=False)
    session.run()
    assert session.state == "failed"
    assert "training stopped in epoch 0" in session.result.message
    assert np.all(np.isfinite(weights(calc)))
    assert np.isfinite(loss.get_loss())


def test_a_running_training_owns_its_network(nn_calc):
    calc = nn_calc
    model = calc.model
    loss = Loss(calc)
    session = loss.training_session("Adam", batch_size=2, num_epochs=3, lr=0.01)
    session.pause()
    session.start()
    try:
        with pytest.raises(ModelBusyError, match=r"cannot set the weights of model .*: it "
                                                 r"is being fitted by a TrainingSession"):
            model.set_flat_params(model.get_flat_params())
        with pytest.raises(ModelBusyError, match="cannot load weights into"):
            model.load("does-not-matter.pkl")
        with pytest.raises(ModelBusyError, match="already being fitted by a TrainingSession"):
            loss.training_session("Adam", batch_size=2, num_epochs=1).start()
    finally:
        session.resume()
    assert session.wait(120) and session.state == "finished"
    x = model.get_flat_params()
    model.set_flat_params(x * 0.5)  # free again once training ended
    np.testing.assert_allclose(model.get_flat_params(), x * 0.5)
    model.set_flat_params(x)
