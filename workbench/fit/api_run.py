"""Recording ``Loss.minimize`` in the run store.

``Loss.minimize`` runs the optimizer in the calling thread, without a ``FitSession``'s
event stream; ``MinimizeRun`` gives the run recorder the same run as a session would
(start fields, a history row per iteration at most ``publish_hz`` times a second, the
final fields and artifacts: set-up, model file, parameters), from the optimizer's
callback.  A failing store never fails the fit (``RunRecorder`` logs and stops).
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np


class MinimizeRun:
    """The attributes ``run_record.start_fields``/``final_fields`` read from a session,
    for one ``Loss.minimize`` call."""

    setup = None
    test_configs = None
    checkpoint_path = None
    time_limit = None
    max_iter = None
    record_test_rmse = False

    def __init__(self, loss, method, options, store, name=None, tags=None, publish_hz=10.0):
        from ..runs import RunRecorder
        from .optimizers import canonical_method
        from .run_record import final_fields, start_fields

        self.objective = loss
        self.method = canonical_method(method)
        self.options = dict(options)
        self.names = list(loss.names())
        self._x_start = np.asarray(loss.x0(), float)
        self.history: list[tuple[int, float]] = []
        self.best_params = None
        self.best_loss = None
        self.iteration = 0
        self._result_at_best = None
        self._t0 = time.monotonic()
        self._n_eval0 = int(getattr(loss, "n_eval", 0))
        self._min_dt = 1.0 / float(publish_hz)
        self._last_write = -np.inf
        self.store = store
        self.run_id = store.new_run_id()
        self.recorder = RunRecorder(store, self.run_id, final=lambda: final_fields(self))
        fields = start_fields(self)
        fields.setdefault("name", " · ".join(
            str(v) for v in (fields.get("model_kind"), self.method) if v))
        if name:
            fields["name"] = name
        if tags:
            fields["tags"] = list(tags)
        self.recorder.begin(kind="fit", **fields)

    def _event(self, kind, x=None, loss=None, message=""):
        return SimpleNamespace(
            kind=kind, iteration=self.iteration, loss=loss, best_loss=self.best_loss,
            params=x, n_eval=int(getattr(self.objective, "n_eval", 0)) - self._n_eval0,
            elapsed=time.monotonic() - self._t0, message=message)

    def callback(self, user_cb=None):
        """The optimizer's callback: records the iteration, then calls ``user_cb``."""

        def cb(info):
            x, f = np.array(info.x, float), float(info.fun)
            self.iteration = int(info.nit)
            self.history.append((self.iteration, f))
            if np.isfinite(f) and (self.best_loss is None or f < self.best_loss):
                self.best_loss, self.best_params = f, x.copy()
            now = time.monotonic()
            if now - self._last_write >= self._min_dt:
                self._last_write = now
                self.recorder(self._event("iteration", x, f))
            return None if user_cb is None else user_cb(info)

        return cb

    def end(self, result=None, error=None) -> None:
        """Close the run: "finished" (or "stopped") with ``result``, "failed" with
        ``error``.  The model holds the final parameters by now.  Never raises: the fit
        has its result whatever happens to its record."""
        try:
            self._end(result, error)
        except Exception as exc:  # noqa: BLE001
            import logging

            logging.getLogger("workbench.runs").warning(
                "closing run %s in %s failed: %s", self.run_id, self.store.path, exc)

    def _end(self, result, error) -> None:
        if result is not None:
            x = np.asarray(result.x, float)
            fun = None if result.fun is None else float(result.fun)
            if fun is not None and np.isfinite(fun) and (self.best_loss is None
                                                         or fun <= self.best_loss):
                self.best_loss, self.best_params = fun, x.copy()
            from .run_record import cached_result

            self._result_at_best = cached_result(self.objective, self.best_params)
            kind = "stopped" if result.get("stopped") else "finished"
            ev = self._event(kind, x, fun, str(result.get("message", "")))
        else:
            ev = self._event("failed", message=f"{type(error).__name__}: {error}")
        self.recorder(ev)


def start_minimize_run(loss, method, options, store, name=None, tags=None):
    """A ``MinimizeRun`` in ``store`` ("default", a ``RunStore``, a directory), or None
    when recording is off or the store cannot take the run."""
    import logging

    from ..runs import resolve_store

    store = resolve_store(store)
    if store is None:
        return None
    try:
        return MinimizeRun(loss, method, options, store, name, tags)
    except Exception as exc:  # noqa: BLE001 - a broken store never stops the fit
        logging.getLogger("workbench.runs").warning(
            "not recording this Loss.minimize in %s: %s", store.path, exc)
        return None
