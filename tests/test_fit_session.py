"""FitSession: background fits, events, stop/pause, limits, failures, checkpoints."""

import io
import json
import time

import numpy as np
import pytest
from numba import njit

from workbench.errors import LossError
from workbench.fit.events import FitEvent
from workbench.fit.objective import LeastSquaresObjective
from workbench.fit.progress import TqdmReporter
from workbench.fit.session import FitSession

T = np.linspace(0.0, 4.0, 40)
TRUE = np.array([2.5, 1.3, 0.4])


class Decay(LeastSquaresObjective):
    """y = a exp(-k t) + c; optional delay per evaluation, failure or NaN region."""

    def __init__(self, x0=(1.0, 0.5, 0.0), delay=0.0, fail_at=None, nan_below=None):
        y = TRUE[0] * np.exp(-TRUE[1] * T) + TRUE[2]
        self.evaluated = []

        def res(x):
            self.evaluated.append(np.array(x))
            if fail_at is not None and len(self.evaluated) >= fail_at:
                raise RuntimeError("boom in the residual")
            if delay:
                time.sleep(delay)
            u = x[0] * np.exp(-x[1] * T) + x[2] - y
            if nan_below is not None and x[1] < nan_below:
                u[3] = np.nan
            return u

        def jac(x):
            e = np.exp(-x[1] * T)
            return np.column_stack([e, -x[0] * T * e, np.ones_like(T)])

        super().__init__(res, jac, x0, names=["amp", "rate", "offset"])


def collect(session):
    events = []
    session.subscribe(events.append)
    return events


def test_fit_runs_in_background_and_reports():
    obj = Decay()
    s = FitSession(obj, "L-BFGS-B", {"ftol": 1e-15, "gtol": 1e-10})
    events = collect(s)
    assert s.state == "created"
    s.start()
    assert s.wait(30)
    assert s.state == "finished" and s.result.success
    np.testing.assert_allclose(s.result.x, TRUE, rtol=1e-6)
    np.testing.assert_array_equal(obj.params, s.result.x)  # the model got the result
    assert s.result.fun == s.best_loss < 1e-12
    assert s.n_eval == len(obj.evaluated) and s.n_jac == s.n_eval  # loss_and_grad only
    assert events[0].kind == "started" and events[-1].kind == "finished"
    its = [e for e in events if e.kind == "iteration"]
    assert [i for i, _ in s.history] == list(range(1, s.iteration + 1))
    assert its and its[-1].iteration == s.iteration  # the latest iteration is always delivered
    assert events[-1].best_loss == s.best_loss and events[-1].n_eval == s.n_eval
    np.testing.assert_array_equal(events[-1].params, s.result.x)
    assert s.evals_per_second > 0 and s.elapsed > 0
    with pytest.raises(LossError, match="already started"):
        s.start()


def test_iteration_events_are_throttled_but_history_is_complete():
    obj = Decay(delay=0.002)
    s = FitSession(obj, "Nelder-Mead", {"xatol": 0, "fatol": 0}, max_iter=150, publish_hz=5)
    events = collect(s)
    s.start()
    assert s.wait(60)
    n_it = sum(e.kind == "iteration" for e in events)
    assert len(s.history) == 150 and s.iteration == 150
    assert n_it <= 5 * s.elapsed + 3, (n_it, s.elapsed)
    assert events[-1].kind == "stopped" and events[-1].message.startswith("iteration limit (150)")
    assert [e.iteration for e in events if e.kind == "iteration"][-1] == 150


def test_stop_keeps_the_best_parameters():
    obj = Decay(delay=0.002)
    s = FitSession(obj, "Nelder-Mead", {"xatol": 0, "fatol": 0, "maxiter": 10**6})
    events = collect(s)
    s.start()
    while s.iteration < 20:
        time.sleep(0.01)
    s.stop()
    assert s.wait(30)
    assert s.state == "stopped" and s.result.message == "stopped by user"
    losses = [0.5 * np.sum(obj.residual(x) ** 2) for x in obj.evaluated[:s.n_eval]]
    assert s.result.fun == pytest.approx(min(losses), rel=1e-12)
    np.testing.assert_array_equal(obj.params, s.best_params)
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["stopping", "stopped"] or kinds[-3:-1] == ["stopping", "iteration"]
    assert kinds[-1] == "stopped"


def test_pause_blocks_evaluations_and_resume_continues():
    obj = Decay(delay=0.002)
    s = FitSession(obj, "Nelder-Mead", {"xatol": 0, "fatol": 0}, max_iter=120)
    events = collect(s)
    s.start()
    while s.iteration < 5:
        time.sleep(0.005)
    s.pause()
    t0 = time.monotonic()
    while s.state != "paused" and time.monotonic() - t0 < 10:
        time.sleep(0.005)
    n, el = s.n_eval, s.elapsed
    time.sleep(0.3)
    assert s.state == "paused" and s.n_eval == n
    assert s.elapsed - el < 0.05  # paused time is not running time
    s.resume()
    assert s.wait(60) and s.iteration == 120
    kinds = [e.kind for e in events]
    assert kinds.index("paused") < kinds.index("resumed")


def test_stop_while_paused():
    s = FitSession(Decay(delay=0.002), "Nelder-Mead", {"xatol": 0, "fatol": 0})
    s.start()
    s.pause()
    while s.state != "paused":
        time.sleep(0.005)
    s.stop("enough")
    assert s.wait(10) and s.state == "stopped" and s.result.message == "enough"


def test_time_limit():
    s = FitSession(Decay(delay=0.005), "Nelder-Mead", {"xatol": 0, "fatol": 0}, time_limit=0.3)
    s.start()
    assert s.wait(30)
    assert s.state == "stopped" and s.result.message == "time limit (0.3 s) reached"
    assert 0.3 <= s.elapsed < 2.0 and np.isfinite(s.result.fun)


@pytest.mark.parametrize("method, x0, nan_below", [
    ("trf", (1.0, 3.0, 0.0), 0.5),
    ("lm", (1.0, 3.0, 0.0), 0.5),
    ("L-BFGS-B", (5.0, 4.0, 1.0), 0.7),
    ("BFGS", (1.0, 5.0, 0.0), 0.5),
    ("Nelder-Mead", (1.0, 3.0, 0.0), 0.5),
])
def test_nan_region_is_a_bad_step_not_a_crash(method, x0, nan_below):
    # these starts send a step of the method into rate < nan_below, where the loss is NaN
    obj = Decay(x0=x0, nan_below=nan_below)
    s = FitSession(obj, method)
    events = collect(s)
    s.start()
    assert s.wait(30)
    assert s.state == "finished", s.result.message
    bad = [e for e in events if e.kind == "bad_step"]
    assert s.n_bad > 0 and bad
    assert "non-finite loss (nan) at amp=" in bad[0].message and "rate=" in bad[0].message
    assert bad[0].params[1] < nan_below
    assert np.isfinite(s.result.fun)
    np.testing.assert_allclose(s.result.x, TRUE, rtol=1e-4)


def test_objective_exception_fails_the_session_keeping_the_best():
    obj = Decay(fail_at=12)
    s = FitSession(obj, "L-BFGS-B")
    events = collect(s)
    s.start()
    assert s.wait(30)
    assert s.state == "failed" and events[-1].kind == "failed"
    assert "RuntimeError: boom in the residual" in events[-1].message
    assert "Traceback" in events[-1].message
    assert s.best_loss is not None and np.isfinite(s.best_loss)
    np.testing.assert_array_equal(obj.params, s.best_params)
    start_loss = 0.5 * np.sum(Decay().residual(np.array([1.0, 0.5, 0.0])) ** 2)
    assert s.best_loss < start_loss


def test_failing_subscriber_does_not_affect_the_fit(caplog):
    def bad(event):
        raise ValueError("subscriber bug")

    s = FitSession(Decay(), "trf")
    s.subscribe(bad)
    events = collect(s)
    unsubscribe = s.subscribe(lambda e: pytest.fail("unsubscribed"))
    unsubscribe()
    assert s.run().success
    assert events[-1].kind == "finished"
    assert "subscriber bug" in caplog.text


def test_bad_arguments():
    with pytest.raises(LossError, match="unknown optimizer method"):
        FitSession(Decay(), "simplex")
    with pytest.raises(LossError, match="max_iter"):
        FitSession(Decay(), max_iter=0)
    with pytest.raises(ValueError, match="unknown FitEvent kind"):
        FitEvent(kind="done")


@pytest.mark.parametrize("method", ["L-BFGS-B", "geodesiclm", "trf"])
def test_checkpoint_resume_reaches_the_same_minimum(tmp_path, method):
    path = tmp_path / "fit.json"
    options = {"ftol": 1e-15, "gtol": 1e-10} if method == "L-BFGS-B" else {}
    full = FitSession(Decay(), method, options, max_iter=500)
    full.run()
    s = FitSession(Decay(), method, options, max_iter=4, checkpoint_path=path,
                   checkpoint_every=2)
    s.run()
    assert s.state == "stopped"
    doc = json.loads(path.read_text())
    assert doc["iteration"] == 4 and len(doc["history"]) == 4 and doc["method"] == method
    assert doc["best_loss"] == s.best_loss
    np.testing.assert_array_equal(doc["best_x"], s.best_params)
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left behind
    if method == "geodesiclm":
        assert doc["optimizer_state"]["lam"] > 0 and len(doc["optimizer_state"]["scale"]) == 3

    obj = Decay()  # a new process would build a new objective
    r = FitSession.resume(path, obj, max_iter=500)
    assert r.iteration == 4 and r.history == [tuple(h) for h in doc["history"]]
    if method == "geodesiclm":
        assert r.options["lambda0"] == doc["optimizer_state"]["lam"]
    r.run()
    assert r.state == "finished", r.result.message
    np.testing.assert_allclose(r.result.x, full.result.x, rtol=1e-6)
    np.testing.assert_allclose(r.result.x, TRUE, rtol=1e-6)
    assert [i for i, _ in r.history] == list(range(1, r.iteration + 1))
    assert r.n_eval == doc["n_eval"] + len(obj.evaluated)
    assert json.loads(path.read_text())["state"] == "finished"


def test_checkpoint_errors(tmp_path):
    with pytest.raises(LossError, match="checkpoint file not found"):
        FitSession.resume(tmp_path / "missing.json", Decay())
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(LossError, match="not a workbench fit checkpoint"):
        FitSession.resume(tmp_path / "other.json", Decay())
    path = tmp_path / "ck.json"
    FitSession(Decay(), "trf", max_iter=2, checkpoint_path=path).run()
    other = LeastSquaresObjective(lambda x: x, lambda x: np.eye(3), np.zeros(3))
    with pytest.raises(LossError, match="do not match the objective"):
        FitSession.resume(path, other)


def test_tqdm_reporter():
    out = io.StringIO()
    s = FitSession(Decay(), "trf", publish_hz=1000)
    rep = TqdmReporter(total=None, file=out)
    s.subscribe(rep)
    s.run()
    assert rep.closed and rep.final_event.kind == "finished"
    assert rep.bar.n == s.iteration
    text = out.getvalue()
    assert "fit finished" in text and "best=" in text


@njit(nogil=True, cache=True)
def _wave_residual(x, t, y, out):
    for i in range(t.size):
        out[i] = x[0] * np.sin(x[1] * t[i]) * np.exp(-x[2] * t[i]) + x[3] - y[i]


@njit(nogil=True, cache=True)
def _wave_jacobian(x, t, out):
    for i in range(t.size):
        s, c, e = np.sin(x[1] * t[i]), np.cos(x[1] * t[i]), np.exp(-x[2] * t[i])
        out[i, 0] = s * e
        out[i, 1] = x[0] * t[i] * c * e
        out[i, 2] = -x[0] * t[i] * s * e
        out[i, 3] = 1.0


def _pure_python_work():
    t = time.perf_counter()
    acc = 0
    for i in range(400_000):
        acc += i * i % 7
    return time.perf_counter() - t


def test_main_thread_stays_responsive_during_a_fit():
    t = np.linspace(0, 20, 100_000)
    y = 1.5 * np.sin(2.0 * t) * np.exp(-0.1 * t) + 0.3

    def res(x):
        out = np.empty_like(t)
        _wave_residual(x, t, y, out)
        return out

    def jac(x):
        out = np.empty((t.size, 4))
        _wave_jacobian(x, t, out)
        return out

    obj = LeastSquaresObjective(res, jac, [1.0, 1.7, 0.3, 0.0])
    obj.loss_and_grad(obj.x0())  # compile before timing
    s = FitSession(obj, "Nelder-Mead", {"xatol": 0, "fatol": 0, "maxiter": 10**6})
    s.start()
    alone, during, progressed = [], [], []
    # interleave: the same workload with the fit paused (worker blocked) and running,
    # so the load of the machine affects both alike
    for _ in range(4):
        s.pause()
        while s.state != "paused":
            time.sleep(0.002)
        alone.append(_pure_python_work())
        s.resume()
        while s.state != "running":
            time.sleep(0.002)
        n0 = s.n_eval
        during.append(_pure_python_work())
        progressed.append(s.n_eval > n0)
    s.stop()
    assert s.wait(30) and s.state == "stopped"
    alone, during = min(alone), min(during)
    assert sum(progressed) >= 2  # the fit really ran meanwhile
    assert during < 3.0 * alone, (during, alone)
    print(f"pure-Python work: {alone * 1e3:.1f} ms alone, {during * 1e3:.1f} ms during a fit")
