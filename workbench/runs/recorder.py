"""``RunRecorder``: writes one background job's run into a store from its event stream.

The recorder is a subscriber of the job (``FitSession``, ``TrainingSession``,
``AnalysisJob``), so it sees exactly the events the UI sees: at most ~10 iteration events
per second (the publisher coalesces the rest), each written as one history row in one
short transaction together with the run's heartbeat.  It runs in the job's event thread,
never in the optimizer's, so a slow disk never slows a fit.  At the terminal event it
asks the job for its final fields (best and final parameters, RMSEs, the complete loss
history) and closes the run, so the final state is always complete even though the live
history was throttled.

A failing store never fails the job: the error is logged once and recording stops.
"""

from __future__ import annotations

import logging

from .describe import jsonable

_log = logging.getLogger("workbench.runs")
TERMINAL = ("finished", "stopped", "failed")


class RunRecorder:
    """Record one run of ``store``.

    ``final()`` (called at the terminal event, in the event thread) returns extra fields
    for the run (``history=[(iteration, loss), ...]`` is used to complete the history;
    ``results={kind: data}`` are added with ``add_result``; ``artifacts={name: spec}``
    are written with the run, as ``begin(artifacts=...)`` does at the start).  ``with_params`` keeps the
    parameter vector of every recorded iteration (the trajectory)."""

    def __init__(self, store, run_id, final=None, with_params=True):
        self.store = store
        self.run_id = run_id
        self._final = final
        self._with_params = with_params
        self.failed = None
        self.rows_written = 0
        self._last_params = None

    def begin(self, resume=False, artifacts=None, **fields) -> None:
        """Create the run (or take over ``run_id`` again when ``resume``) and keep
        ``artifacts`` with it (see :meth:`write_artifacts`)."""
        if resume:
            self.store.reopen_run(self.run_id)
            if fields:
                self.store.update_run(self.run_id, **jsonable(fields))
        else:
            self.store.begin_run(self.run_id, **jsonable(fields))
        self.write_artifacts(artifacts)

    def write_artifacts(self, artifacts) -> None:
        """``{name: {"text": str} or {"data": bytes}, "kind": ...}``: each written to the
        run's artifacts folder atomically; one that fails is logged and skipped."""
        for name, spec in (artifacts or {}).items():
            try:
                self.store.add_artifact(self.run_id, name, text=spec.get("text"),
                                        data=spec.get("data"), kind=spec.get("kind", "file"))
            except Exception as exc:  # noqa: BLE001 - one artifact lost, not the run
                _log.warning("run %s: keeping artifact %s failed: %s", self.run_id, name, exc)

    def _fail(self, exc) -> None:
        if self.failed is None:
            self.failed = exc
            _log.warning("recording run %s in %s failed; the run goes on unrecorded: %s",
                         self.run_id, self.store.path, exc)

    def __call__(self, event) -> None:
        if self.failed is not None:
            return
        try:
            if event.kind == "iteration":
                self._iteration(event)
            elif event.kind in TERMINAL:
                self._terminal(event)
        except Exception as exc:  # noqa: BLE001 - recording never breaks the job
            self._fail(exc)

    def _iteration(self, ev) -> None:
        params = None
        if self._with_params and ev.params is not None:
            params = self._last_params = [float(v) for v in ev.params]
        loss = None if ev.loss is None else float(ev.loss)
        best = None if ev.best_loss is None else float(ev.best_loss)
        self.store.record_history(
            self.run_id, [(ev.iteration, loss, best, int(ev.n_eval), float(ev.elapsed), params)],
            iterations=int(ev.iteration), n_eval=int(ev.n_eval), elapsed=float(ev.elapsed),
            best_loss=best, final_loss=loss)
        self.rows_written += 1

    def _terminal(self, ev) -> None:
        fields = {"iterations": int(ev.iteration), "n_eval": int(ev.n_eval),
                  "elapsed": float(ev.elapsed)}
        if ev.best_loss is not None:
            fields["best_loss"] = float(ev.best_loss)
        extra = {}
        if self._final is not None:
            try:
                extra = dict(self._final() or {})
            except Exception as exc:  # noqa: BLE001
                _log.warning("run %s: collecting the final state failed: %s", self.run_id, exc)
        history = extra.pop("history", None)
        results = extra.pop("results", None) or {}
        self.write_artifacts(extra.pop("artifacts", None))
        if self._last_params is not None:
            fields["final_params"] = {"x": self._last_params}
        fields.update(extra)
        if history:
            self.store.fill_history(self.run_id, history)
            last = history[-1][1]
            if last is not None and "final_loss" not in fields:
                fields["final_loss"] = float(last)
        for kind, data in results.items():
            self.store.add_result(self.run_id, kind, jsonable(data))
        message = ev.message or ""
        self.store.finish_run(self.run_id, ev.kind, message[:20000], **jsonable(fields))
