"""Background jobs for long analyses (bootstrap, MCMC), observable like a FitSession.

A job runs ``work(job)`` in a worker thread.  The work reports progress with
``job.progress(done, total, ...)`` and checks ``job.should_stop()`` between steps.
Subscribers receive :class:`JobEvent` objects (``FitEvent`` plus ``done``, ``total`` and
``fraction``) through the same throttled :class:`workbench.fit.events.Publisher` the fits
use: "started", throttled "iteration" progress events, and one terminal event
("finished", "stopped" or "failed" with the traceback in ``message``).  The thread,
stop and timing machinery is :class:`workbench.fit.background.BackgroundJob`.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from workbench.fit.background import BackgroundJob
from workbench.fit.events import FitEvent


@dataclass(frozen=True)
class JobEvent(FitEvent):
    """A ``FitEvent`` with the progress of an analysis job."""

    done: int = 0
    total: int = 0
    job: str = ""

    @property
    def fraction(self) -> float:
        """Fraction of the work done, in [0, 1]."""
        return min(self.done / self.total, 1.0) if self.total else 0.0


class AnalysisJob(BackgroundJob):
    """Run ``work(job) -> result`` in a thread with progress events.

    ``start()``, ``stop()``, ``wait(timeout)``, ``run()`` (blocking), ``subscribe(cb)``;
    status in ``state`` (created, running, stopping, finished, stopped, failed),
    ``done``/``total``/``fraction``, ``elapsed``; ``result`` when finished (also when
    stopped, if the work returns a partial result), ``error`` when failed.
    """

    def __init__(self, work, name="analysis", total=0, publish_hz=10.0, store=None,
                 run_info=None, summarize=None, tags=None):
        self.run_kind = name
        self._run_info, self._summarize = run_info, summarize
        super().__init__(f"{name} job", f"{name}-job", publish_hz, store=store, tags=tags)
        self._work_fn = work
        self.name = name
        self.total = int(total)
        self.done = 0
        self.error: BaseException | None = None
        self.last_event: JobEvent | None = None
        self._loss = None

    # -- status --------------------------------------------------------------------
    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0

    # -- run store -----------------------------------------------------------------
    def _run_start_fields(self) -> dict:
        return dict(self._run_info() if self._run_info else {})

    def _run_final_fields(self) -> dict:
        if self.result is None or self._summarize is None:
            return {}
        return {"results": {self.name: self._summarize(self.result)}}

    # -- control -------------------------------------------------------------------
    def should_stop(self) -> bool:
        return self._stop.is_set()

    def run(self):
        """Start, wait and return the result; re-raises the error of a failed job."""
        result = super().run()
        if self.error is not None:
            raise self.error
        return result

    # -- reporting from the work -------------------------------------------------------
    def progress(self, done, total=None, loss=None, params=None, message=""):
        self.done = int(done)
        if total is not None:
            self.total = int(total)
        if loss is not None:
            self._loss = float(loss)
        self._emit("iteration", params=params, message=message)

    def _event(self, kind, params=None, message="") -> JobEvent:
        return JobEvent(kind=kind, iteration=self.done, loss=self._loss, params=params,
                        elapsed=self.elapsed, message=message, done=self.done,
                        total=self.total, job=self.name)

    def _on_start(self):
        self._emit("started")

    def _run(self):
        try:
            self.result = self._work_fn(self)
        except BaseException as exc:  # reported as a "failed" event, re-raised by run()
            self.error = exc
            return "failed", "".join(traceback.format_exception(exc))
        if self._stop.is_set():
            return "stopped", f"{self.name} stopped after {self.done} of {self.total}"
        return "finished", f"{self.name} finished: {self.done} of {self.total}"
