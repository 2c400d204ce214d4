"""Background jobs for long analyses (bootstrap, MCMC), observable like a FitSession.

A job runs ``work(job)`` in a worker thread.  The work reports progress with
``job.progress(done, total, ...)`` and checks ``job.should_stop()`` between steps.
Subscribers receive :class:`JobEvent` objects (``FitEvent`` plus ``done``, ``total`` and
``fraction``) through the same throttled :class:`workbench.fit.events.Publisher` the fits
use: "started", throttled "iteration" progress events, and one terminal event
("finished", "stopped" or "failed" with the traceback in ``message``).
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass

from workbench.errors import LossError
from workbench.fit.events import TERMINAL, FitEvent, Publisher


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


class AnalysisJob:
    """Run ``work(job) -> result`` in a thread with progress events.

    ``start()``, ``stop()``, ``wait(timeout)``, ``run()`` (blocking), ``subscribe(cb)``;
    status in ``state`` (created, running, stopping, finished, stopped, failed),
    ``done``/``total``/``fraction``, ``elapsed``; ``result`` when finished (also when
    stopped, if the work returns a partial result), ``error`` when failed.
    """

    def __init__(self, work, name="analysis", total=0, publish_hz=10.0):
        self._work_fn = work
        self.name = name
        self.total = int(total)
        self.done = 0
        self.result = None
        self.error: BaseException | None = None
        self.last_event: JobEvent | None = None
        self._publisher = Publisher(publish_hz)
        self._stop = threading.Event()
        self._state = "created"
        self._thread: threading.Thread | None = None
        self._t0 = None
        self._t1 = None
        self._loss = None

    # -- status --------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._state in ("running", "stopping")

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0

    @property
    def elapsed(self) -> float:
        if self._t0 is None:
            return 0.0
        return (self._t1 if self._t1 is not None else time.monotonic()) - self._t0

    # -- control -------------------------------------------------------------------
    def subscribe(self, callback):
        """Call ``callback(event)`` for every ``JobEvent``; returns an unsubscribe."""
        return self._publisher.subscribe(callback)

    def start(self) -> "AnalysisJob":
        if self._state != "created":
            raise LossError(f"this {self.name} job was already started (state "
                            f"{self._state!r})")
        self._state = "running"
        self._t0 = time.monotonic()
        self._publisher.start()
        self._emit("started")
        self._thread = threading.Thread(target=self._main, name=f"{self.name}-job",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, reason: str = "stopped by user"):
        """Ask the work to stop at its next check; the partial result is kept."""
        if self._state in TERMINAL or self._stop.is_set():
            return
        self._stop.set()
        if self._state == "running":
            self._state = "stopping"
            self._emit("stopping", message=reason)

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout=None) -> bool:
        """Block until the job ended and its last event was delivered."""
        if self._thread is None:
            return self._state in TERMINAL
        t_end = None if timeout is None else time.monotonic() + timeout
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        left = None if t_end is None else max(t_end - time.monotonic(), 0.0)
        return self._publisher.join(left)

    def run(self):
        """Start, wait and return the result; re-raises the error of a failed job."""
        if self._state == "created":
            self.start()
        try:
            self.wait()
        except KeyboardInterrupt:
            self.stop("interrupted")
            self.wait()
        if self.error is not None:
            raise self.error
        return self.result

    # -- reporting from the work -------------------------------------------------------
    def progress(self, done, total=None, loss=None, params=None, message=""):
        self.done = int(done)
        if total is not None:
            self.total = int(total)
        if loss is not None:
            self._loss = float(loss)
        self._emit("iteration", params=params, message=message)

    def _emit(self, kind, params=None, message=""):
        ev = JobEvent(kind=kind, iteration=self.done, loss=self._loss, params=params,
                      elapsed=self.elapsed, message=message, done=self.done,
                      total=self.total, job=self.name)
        self.last_event = ev
        self._publisher.publish(ev)

    def _main(self):
        try:
            self.result = self._work_fn(self)
        except BaseException as exc:  # reported as a "failed" event, re-raised by run()
            self.error = exc
            self._t1 = time.monotonic()
            self._state = "failed"
            self._emit("failed", message="".join(traceback.format_exception(exc)))
            return
        self._t1 = time.monotonic()
        if self._stop.is_set():
            self._state = "stopped"
            self._emit("stopped", message=f"{self.name} stopped after {self.done} of "
                                          f"{self.total}")
        else:
            self._state = "finished"
            self._emit("finished", message=f"{self.name} finished: {self.done} of "
                                           f"{self.total}")
