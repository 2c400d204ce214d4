"""``FitSession``: one optimization in a background thread, observable and controllable.

The thread, event publishing, stop/pause and timing machinery is ``background.BackgroundJob``
(shared with training sessions and analysis jobs); running sessions are asked to stop at
interpreter exit so that their final checkpoint is written.

Every evaluation goes through the session: it is counted, the best point is kept, the
stop / pause / time-limit requests are honoured between evaluations, and a non-finite
loss is reported as a "bad_step" event (the optimizer sees a failed step, see
``optimizers``). An exception in the objective ends the session in state "failed" with
the traceback in the final event; the best parameters found are kept in every case and
written into the objective with ``set_params``.
"""

from __future__ import annotations

import inspect
import threading
import time

import numpy as np
from scipy.optimize import OptimizeResult

from ..errors import LossError, ParameterError
from .background import EXIT_GRACE, BackgroundJob  # noqa: F401  (EXIT_GRACE: public name)
from .checkpoint import read_checkpoint, split_options, write_checkpoint
from .events import FitEvent
from .objective import bounds_arrays, format_params, normalize_bounds
from .optimizers import StopFit, canonical_method, evaluation_kind, run_optimizer
from .options import check_options



class _Monitored:
    """The objective as the optimizer sees it: every call passes the session's gate."""

    def __init__(self, session: "FitSession"):
        self._s = session
        self._obj = session.objective

    def x0(self):
        return self._obj.x0()

    def bounds(self):
        return self._obj.bounds()

    def names(self):
        return self._s.names

    def set_params(self, x):
        self._obj.set_params(x)

    def _refused(self, x, exc):
        """The model refused the trial point: count it as a failed step (the optimizer
        then treats it as one, see ``optimizers``)."""
        self._s._count(x, float("nan"), jac=False, why=str(exc))

    def residual(self, x):
        self._s._gate()
        try:
            u = np.asarray(self._obj.residual(x), dtype=float)
        except ParameterError as exc:
            self._refused(x, exc)
            raise
        self._s._count(x, 0.5 * float(u @ u), jac=False)
        return u

    def residual_and_jacobian(self, x):
        self._s._gate()
        try:
            u, J = self._obj.residual_and_jacobian(x)
        except ParameterError as exc:
            self._refused(x, exc)
            raise
        u = np.asarray(u, dtype=float)
        self._s._count(x, 0.5 * float(u @ u), jac=True, derivative_ok=np.all(np.isfinite(J)))
        return u, J

    def loss(self, x):
        self._s._gate()
        try:
            f = float(self._obj.loss(x))
        except ParameterError as exc:
            self._refused(x, exc)
            raise
        self._s._count(x, f, jac=False)
        return f

    def loss_and_grad(self, x):
        self._s._gate()
        try:
            f, g = self._obj.loss_and_grad(x)
        except ParameterError as exc:
            self._refused(x, exc)
            raise
        self._s._count(x, float(f), jac=True, derivative_ok=np.all(np.isfinite(g)))
        return f, g


class _ResumeAccessor:
    """``FitSession.resume(path, objective)`` on the class, ``session.resume()`` on an instance."""

    def __get__(self, obj, objtype=None):
        if obj is None:
            return objtype.from_checkpoint
        return obj._unpause


class FitSession(BackgroundJob):
    """Run ``method`` on ``objective`` in a background thread.

    Parameters
    ----------
    objective : an ``Objective`` (e.g. a ``Loss``).
    method, options : as for ``optimizers.run_optimizer``.
    max_iter : stop (state "stopped", with the reason) after this many iterations,
        counted across resumed sessions.
    time_limit : stop after this many seconds of running time of this session.
    store : the run store the fit is recorded in (``workbench.runs``): "default" (the
        default store), a ``RunStore``, a directory, or None (not recorded).  ``name`` and
        ``tags`` label the run; ``setup`` is the set-up mapping that reruns it (built from
        the model and data when not given); ``test_configs`` are recorded as the test
        split; ``resume_run`` continues an existing run; ``session.run_id`` is its id.
    checkpoint_path, checkpoint_every : write a checkpoint every N iterations and at the end.
    publish_hz : at most this many iteration events per second reach subscribers.

    Notes
    -----
    ``start()``, ``stop()``, ``pause()``, ``resume()``, ``wait()``, ``run()``; status in
    ``state``, ``iteration``, ``best_loss``, ``best_params``, ``n_eval``, ``n_jac``,
    ``elapsed``, ``evals_per_second``; ``history`` holds ``(iteration, loss)`` of every
    iteration; ``result`` is set when the session ends. ``FitSession.resume(path,
    objective)`` (the same as ``from_checkpoint``) continues from a checkpoint file.
    """

    resume = _ResumeAccessor()
    pause = BackgroundJob._pause
    stop_at_exit = True
    run_kind = "fit"

    def __init__(self, objective, method="L-BFGS-B", options=None, max_iter=None,
                 time_limit=None, checkpoint_path=None, checkpoint_every=10, publish_hz=10.0,
                 store="default", name=None, tags=None, setup=None, test_configs=None,
                 resume_run=None):
        self.objective = objective
        self.method = canonical_method(method)
        self.options = dict(options or {})
        check_options(self.method, self.options)
        if max_iter is not None and int(max_iter) < 1:
            raise LossError(f"max_iter must be a positive integer, got {max_iter!r}")
        if time_limit is not None and not float(time_limit) > 0:
            raise LossError(f"time_limit must be positive seconds, got {time_limit!r}")
        if int(checkpoint_every) < 1:
            raise LossError(f"checkpoint_every must be >= 1, got {checkpoint_every!r}")
        if not float(publish_hz) > 0:
            raise LossError(f"publish_hz must be positive, got {publish_hz!r}")
        super().__init__("FitSession", "FitSession", publish_hz, store=store, name=name,
                         tags=tags, resume_run=resume_run)
        self.setup = setup
        self.test_configs = test_configs
        self.max_iter = None if max_iter is None else int(max_iter)
        self.time_limit = None if time_limit is None else float(time_limit)
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = int(checkpoint_every)
        self.names = list(objective.names())
        self._lo, self._hi = bounds_arrays(
            normalize_bounds(objective.bounds(), len(self.names), self.names), len(self.names)
        )
        self.history: list[tuple[int, float]] = []
        self.result: OptimizeResult | None = None
        self.last_event: FitEvent | None = None
        self._lock = threading.Lock()
        self._x_start = None
        self._opt_result = None
        self._iter0 = 0
        self._n0 = (0, 0, 0.0)  # n_eval, n_jac, elapsed carried over from a checkpoint
        self._n_eval = self._n_jac = self._n_bad = self._n_bad_unreported = 0
        self._iteration = 0
        self._params = None
        self._best_loss = None
        self._best_params = None
        self._opt_state: dict = {}
        self._last_bad_report = float("-inf")
        self._min_report_gap = 1.0 / float(publish_hz)
        self._checkpoint_error = None

    # ---------------------------------------------------------------- status
    @property
    def iteration(self) -> int:
        return self._iteration

    @property
    def best_loss(self):
        return self._best_loss

    @property
    def best_params(self):
        return None if self._best_params is None else self._best_params.copy()

    @property
    def params(self):
        """Parameters of the latest iteration (the start point before the first)."""
        return None if self._params is None else self._params.copy()

    @property
    def n_eval(self) -> int:
        return self._n0[0] + self._n_eval

    @property
    def n_jac(self) -> int:
        return self._n0[1] + self._n_jac

    @property
    def n_bad(self) -> int:
        """Number of evaluations with a non-finite loss or derivative in this session."""
        return self._n_bad

    @property
    def elapsed(self) -> float:
        """Running seconds (paused time excluded), including resumed sessions."""
        return self._n0[2] + self._run_elapsed()

    @property
    def evals_per_second(self) -> float:
        t = self._run_elapsed()
        return self._n_eval / t if t > 0 else 0.0

    # ---------------------------------------------------------------- checkpoints
    @classmethod
    def from_checkpoint(cls, path, objective, **overrides) -> "FitSession":
        """A new (not yet started) session continuing the fit saved in ``path``.

        Method, options, max_iter and checkpoint path come from the file unless given in
        ``overrides``; the fit restarts from the best parameters with the iteration
        counter, history and counters continued, and the optimizer state restored where
        the method has one (geodesiclm: damping ``lam`` and scaling).
        """
        ck = read_checkpoint(path)
        names = list(objective.names())
        if ck.get("names") and list(ck["names"]) != names:
            raise LossError(
                f"{path}: checkpoint parameters {ck['names']} do not match the objective's {names}"
            )
        options = dict(ck.get("options") or {})
        st = ck.get("optimizer_state") or {}
        if canonical_method(ck["method"]) == "geodesiclm" and st.get("lam") is not None:
            options["lambda0"] = float(st["lam"])
            if st.get("scale") is not None:
                options["scale0"] = list(st["scale"])
        kw = dict(method=ck["method"], options=options, max_iter=ck.get("max_iter"),
                  checkpoint_path=path, checkpoint_every=ck.get("checkpoint_every", 10))
        kw.update(overrides)
        s = cls(objective, **kw)
        start = ck["best_x"] if ck["best_x"] is not None else ck["x"]
        if start.size != len(names):
            raise LossError(f"{path}: checkpoint has {start.size} parameters, objective {len(names)}")
        s._x_start = start.copy()
        s._iter0 = s._iteration = ck["iteration"]
        s.history = list(ck["history"])
        s._n0 = (int(ck.get("n_eval", 0)), int(ck.get("n_jac", 0)), float(ck.get("elapsed", 0.0)))
        s._best_loss = ck["best_loss"]
        s._best_params = None if ck["best_x"] is None else ck["best_x"].copy()
        s._params = start.copy()
        return s

    def write_checkpoint(self, path=None):
        """Write the session's state (best parameters, iteration, optimizer
        settings) to its checkpoint file atomically; returns the path."""
        path = path or self.checkpoint_path
        if path is None:
            raise LossError("no checkpoint path: pass checkpoint_path to FitSession or here")
        options, dropped = split_options(self.options)
        return write_checkpoint(path, {
            "method": self.method, "options": options, "unsaved_options": dropped,
            "names": self.names, "x": self._params, "best_x": self._best_params,
            "best_loss": self._best_loss, "iteration": self._iteration,
            "history": self.history, "optimizer_state": self._opt_state,
            "n_eval": self.n_eval, "n_jac": self.n_jac, "elapsed": self.elapsed,
            "max_iter": self.max_iter, "checkpoint_every": self.checkpoint_every,
            "state": self._state, "time": time.time(),
        })

    # ---------------------------------------------------------------- run store
    def _run_start_fields(self) -> dict:
        from .run_record import start_fields

        return start_fields(self)

    def _run_final_fields(self) -> dict:
        from .run_record import final_fields

        return final_fields(self)

    # ---------------------------------------------------------------- worker side
    def _event(self, kind, message="", params=None, loss=None) -> FitEvent:
        return FitEvent(
            kind=kind, iteration=self._iteration, loss=loss, best_loss=self._best_loss,
            params=None if params is None else np.array(params, dtype=float),
            best_params=self.best_params, n_eval=self.n_eval, n_jac=self.n_jac,
            elapsed=self.elapsed, compile_time=self.compile_time, message=message,
        )

    def _pause_fields(self) -> dict:
        return {"params": self._params}

    def _count(self, x, f, jac, derivative_ok=True, why=None):
        with self._lock:
            self._n_eval += 1
            if jac:
                self._n_jac += 1
            good = np.isfinite(f)
            x = np.asarray(x, dtype=float)
            inside = np.all(x >= self._lo) and np.all(x <= self._hi)
            if good and inside and (self._best_loss is None or f < self._best_loss):
                self._best_loss = float(f)
                self._best_params = np.array(x, dtype=float)
        if good and derivative_ok:
            return
        self._n_bad += 1
        what = f"non-finite loss ({f})" if not good else "non-finite derivatives"
        if why:
            what = f"parameters refused by the model ({why})"
        now = time.monotonic()
        if now - self._last_bad_report < self._min_report_gap:
            self._n_bad_unreported += 1
            return
        more = ""
        if self._n_bad_unreported:
            more = f" ({self._n_bad_unreported} more since the last report)"
            self._n_bad_unreported = 0
        self._last_bad_report = now
        self._emit("bad_step", params=x, message=(
            f"{what} at {format_params(self.names, x)}: treated as a failed step{more}"
        ))

    def _on_iteration(self, info):
        self._iteration = self._iter0 + int(info.nit)
        loss = None if info.get("fun") is None else float(info.fun)
        self._params = np.array(info.x, dtype=float)
        if "lam" in info:
            self._opt_state["lam"] = float(info.lam)
            self._opt_state["scale"] = np.asarray(info.scale, dtype=float).tolist()
        self.history.append((self._iteration, loss))
        self._emit("iteration", params=self._params, loss=loss)
        if self.checkpoint_path is not None and self._iteration % self.checkpoint_every == 0:
            self._try_checkpoint()
        if self.max_iter is not None and self._iteration >= self.max_iter:
            self.stop_reason = f"iteration limit ({self.max_iter}) reached"
            raise StopFit(self.stop_reason)
        if self._stop.is_set():
            raise StopFit(self.stop_reason)
        return False

    def _try_checkpoint(self):
        """Write the checkpoint; a failure (disk full, ...) is reported once and the fit
        continues without checkpoints instead of dying."""
        if self._checkpoint_error is not None:
            return
        try:
            self.write_checkpoint()
        except (OSError, LossError) as exc:
            self._checkpoint_error = f"writing the checkpoint {self.checkpoint_path} " \
                                     f"failed ({_reason(exc)}); continuing without checkpoints"
            self._emit("bad_step", message=self._checkpoint_error)

    # ---------------------------------------------------------------- control
    def start(self):
        """Start the fit.  Refused (LossError / ModelBusyError) before anything runs when
        the checkpoint cannot be written or another fit owns the model."""
        if self._state == "created" and self.checkpoint_path is not None:
            self._first_checkpoint()
        return super().start()

    def _models_to_own(self) -> list:
        model = getattr(self.objective, "model", None)
        return [model] if callable(getattr(model, "_check_mutable", None)) else []

    def _first_checkpoint(self):
        """Write the starting state, so an unwritable checkpoint path is refused now (not
        at the first checkpoint, minutes into the fit)."""
        if self._params is None:
            x = self._x_start if self._x_start is not None else self.objective.x0()
            self._params = np.array(x, dtype=float)
        try:
            self.write_checkpoint()
        except (OSError, LossError) as exc:
            raise LossError(f"cannot write the checkpoint {self.checkpoint_path}: "
                            f"{_reason(exc)}; choose another checkpoint_path (or None for "
                            "no checkpoints)") from None

    def _run(self):
        if self._params is None:
            try:
                self._params = np.array(self.objective.x0(), dtype=float)
            except Exception:
                pass
        self._emit("started", params=self._params, message=f"method {self.method}")
        if callable(getattr(self.objective, "warmup", None)):
            self._compiling(self._warmup, "compiling kernels")
        res = self._opt_result = run_optimizer(_Monitored(self), self.method, self.options,
                                               callback=self._on_iteration, x0=self._x_start)
        self._opt_state.update(res.state or {})
        if res.stopped:
            return "stopped", self.stop_reason or res.message
        return "finished", res.message

    def _warmup(self):
        """Compile what the method evaluates: a gradient fit never compiles the
        Jacobian path, a derivative-free one neither."""
        warmup = self.objective.warmup
        if "kind" in inspect.signature(warmup).parameters:
            return warmup(kind=evaluation_kind(self.method))
        return warmup()

    def _finish(self, kind, message):
        res = self._opt_result
        final = self._best_params
        if final is None and res is not None:
            final = np.array(res.x, dtype=float)
        if final is not None:
            self._params = final.copy()
            if self.recorder is not None:  # the run's RMSE without another evaluation
                from .run_record import cached_result

                self._result_at_best = cached_result(self.objective, final)
            try:
                self.objective.set_params(final.copy())
            except Exception as exc:
                kind = "failed"
                message += f"\nset_params failed: {type(exc).__name__}: {exc}"
        if self._n_bad:
            message += f" ({self._n_bad} evaluation(s) had non-finite values)"
        if self._checkpoint_error:
            message += f"\n{self._checkpoint_error}"
        self._end_clock(kind)
        self.result = OptimizeResult(
            x=None if final is None else final.copy(), fun=self._best_loss,
            success=kind == "finished" and bool(res is not None and res.success),
            state=kind, message=message, nit=self._iteration, nfev=self.n_eval,
            njev=self.n_jac, n_bad=self._n_bad, method=self.method,
            history=list(self.history), optimizer_result=None if res is None else res.raw,
        )
        if self.checkpoint_path is not None and self._checkpoint_error is None:
            try:
                self.write_checkpoint()
            except Exception as exc:
                message += f"\nwriting the checkpoint failed: {_reason(exc)}"
        return kind, message, {"params": final, "loss": self._best_loss}


def _reason(exc) -> str:
    """An error's reason without the temporary file names an atomic write used."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
