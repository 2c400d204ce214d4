"""``BackgroundJob``: the life cycle shared by fits, trainings and analysis jobs.

``FitSession``, ``TrainingSession`` and ``AnalysisJob`` are observed and controlled by the
same code (the UI's monitors, the CLI, notebooks), so they must agree exactly on the
states, on what stop and pause mean, on the clock (``elapsed`` excludes paused time and
stops when the state becomes terminal) and on the promise of ``wait()`` (the worker has
ended *and* its last event was delivered).  Keeping that in one class is what makes the
agreement hold; a subclass supplies only its work (``_run``) and what it records at the end.

Threads: the work runs in one daemon worker thread; events reach subscribers through a
small dispatcher thread (``events.Publisher``) so a slow subscriber (a plot, a progress
bar) never slows the work.  Daemon threads let an interpreter always exit; for classes
with ``stop_at_exit`` an ``atexit`` hook first asks every running job to stop and waits
up to ``EXIT_GRACE`` seconds for it, so e.g. a fit's final checkpoint is written.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import traceback
import weakref

from ..errors import LossError, WorkbenchError
from ..models import ownership
from .events import TERMINAL, FitEvent, Publisher
from .optimizers import StopFit

EXIT_GRACE = 10.0
_log = logging.getLogger("workbench.runs")
_LIVE: "weakref.WeakSet[BackgroundJob]" = weakref.WeakSet()
_CURRENT = threading.local()  # the job whose worker thread this is


def stop_requested() -> str | None:
    """In a job's worker thread: the stop reason once ``stop()`` was called, else None.

    For work that blocks between gates (a Dask evaluation waiting for workers) and must
    notice a stop request while it waits."""
    job = getattr(_CURRENT, "job", None)
    if job is not None and job._stop.is_set():
        return job.stop_reason or "stopped"
    return None


class BackgroundJob:
    """Worker thread, event publishing, stop/pause requests and timing of one job.

    A subclass implements ``_run()``: the work, run in the worker thread.  It calls
    ``_gate()`` between steps (stop, time limit and pause are honoured there; a stop
    raises ``StopFit``) and returns ``(kind, message)`` with kind "finished" or "stopped".
    ``StopFit`` out of ``_run`` ends the job "stopped", any other exception "failed" with
    the traceback in the message.  ``_finish`` then records the result and stops the
    clock, and one terminal event is published.

    ``label`` names the job in errors, ``thread_name`` names its worker thread.
    """

    #: ask running jobs of this class to stop when the interpreter exits
    stop_at_exit = False
    #: running seconds after which the gate stops the work (None: no limit)
    time_limit = None
    #: the kind of run recorded in the run store ("fit", "training", "bootstrap", ...)
    run_kind = "job"
    #: record the parameter vector of every recorded iteration (the trajectory)
    run_params = True

    def __init__(self, label: str, thread_name: str, publish_hz: float = 10.0,
                 store=None, name=None, tags=None, resume_run=None):
        self.result = None
        self.last_event = None
        self.stop_reason: str | None = None
        self._label = label
        self._thread_name = thread_name
        self._leases: list = []  # (model, lease) of the models this job owns while it runs
        self._publisher = Publisher(publish_hz)
        self._stop = threading.Event()
        self._run_ok = threading.Event()
        self._run_ok.set()
        self._state = "created"
        self._worker: threading.Thread | None = None
        self._t_start = None
        self._t_end = None
        self._paused_total = 0.0
        self._pause_began = None
        self._compile_total = 0.0
        self._compile_began = None
        self._init_recording(store, name, tags, resume_run)

    # ---------------------------------------------------------------- run store
    def _init_recording(self, store, name, tags, resume_run):
        """``store``: a ``RunStore``, a directory, "default" or None (no recording);
        ``resume_run``: the id of an existing run this job continues."""
        from ..runs import resolve_store

        self.store = resolve_store(store)
        self.run_id = None if self.store is None else (resume_run or self.store.new_run_id())
        self.run_name = name
        self.run_tags = list(tags or [])
        self.recorder = None
        self._resume_run = resume_run is not None

    def _run_start_fields(self) -> dict:
        """What the run records when it starts (a subclass describes its model/data)."""
        return {}

    def _run_final_fields(self) -> dict:
        """What the run records at its end (called in the event thread)."""
        return {}

    def _begin_recording(self):
        if self.store is None or self.recorder is not None:
            return
        from ..runs import RunRecorder

        try:
            fields = self._run_start_fields()
            if self.run_name:
                fields["name"] = self.run_name
            elif not self._resume_run and "name" not in fields:
                fields["name"] = " · ".join(
                    str(v) for v in (fields.get("model_kind"), fields.get("method")) if v
                ) or self.run_kind
            if self.run_tags:
                fields["tags"] = self.run_tags
            rec = RunRecorder(self.store, self.run_id, final=self._run_final_fields,
                              with_params=self.run_params)
            rec.begin(resume=self._resume_run, kind=self.run_kind, **fields)
        except Exception as exc:  # noqa: BLE001 - a broken store never stops the work
            _log.warning("not recording this %s in %s: %s", self._label, self.store.path, exc)
            return
        self.recorder = rec
        self._publisher.subscribe(rec, first=True)

    # ---------------------------------------------------------------- status
    @property
    def state(self) -> str:
        """created, running, paused, stopping, finished, stopped or failed."""
        return self._state

    @property
    def running(self) -> bool:
        return self._state in ("running", "paused", "stopping")

    @property
    def elapsed(self) -> float:
        """Running seconds of this job (paused time and compile time excluded)."""
        return self._run_elapsed()

    @property
    def compile_time(self) -> float:
        """Seconds spent compiling kernels before the work (see :meth:`_compiling`);
        not part of ``elapsed``."""
        total = self._compile_total
        if self._compile_began is not None:
            total += time.monotonic() - self._compile_began
        return total

    def _run_elapsed(self) -> float:
        if self._t_start is None:
            return 0.0
        end = self._t_end if self._state in TERMINAL else time.monotonic()
        paused = self._paused_total
        if self._pause_began is not None:
            paused += end - self._pause_began
        paused += self._compile_total
        if self._compile_began is not None:
            paused += end - self._compile_began
        return max(end - self._t_start - paused, 0.0)

    def _compiling(self, fn, message="compiling kernels"):
        """Run ``fn()`` (a warm-up that compiles the kernels the work needs) with the
        clock stopped: a "compiling" event first, its seconds go to ``compile_time``,
        not to ``elapsed`` or rates.  A cached warm-up takes milliseconds."""
        self._emit("compiling", message=message)
        self._compile_began = time.monotonic()
        try:
            return fn()
        finally:
            self._compile_total += time.monotonic() - self._compile_began
            self._compile_began = None

    # ---------------------------------------------------------------- control
    def subscribe(self, callback):
        """Call ``callback(event)`` for every published event; returns an unsubscribe."""
        return self._publisher.subscribe(callback)

    def start(self):
        """Start the job on its background thread; returns at once. Raises LossError
        when the job was already started."""
        if self._state != "created":
            raise LossError(f"this {self._label} was already started (state {self._state!r})")
        # a running job owns its models: refused (ModelBusyError) before anything runs
        # when another job holds one; weights or parameters set from another thread
        # meanwhile are refused (workbench.models.ownership)
        self._leases = ownership.claim_all(
            self._models_to_own(), f"a {type(self).__name__} ({getattr(self, 'method', '')})")
        try:
            self._state = "running"
            self._t_start = time.monotonic()
            self._t_end = None
            if self.stop_at_exit:
                _LIVE.add(self)
            self._publisher.start()
            self._begin_recording()
            self._on_start()
            self._worker = threading.Thread(target=self._main, name=self._thread_name,
                                            daemon=True)
            self._worker.start()
        except BaseException:
            self._release_models()
            raise
        return self

    def _models_to_own(self) -> list:
        """The models this job changes while it runs (owned from start to its end)."""
        return []

    def _release_models(self) -> None:
        leases, self._leases = self._leases, []
        ownership.release_all(leases)

    def stop(self, reason: str = "stopped by user"):
        """Ask the work to stop at its next gate; what it reached so far is kept.

        Before ``start()`` there is nothing to stop: the call does nothing (it must not
        end the next start silently)."""
        if self._state in TERMINAL or self._state == "created" or self._stop.is_set():
            return
        self.stop_reason = reason
        self._stop.set()
        self._run_ok.set()
        if self._state != "created":
            self._state = "stopping"
            self._emit("stopping", message=reason)

    def _pause(self):
        """The worker blocks at its next gate (a "paused" event then)."""
        if self._state == "running":
            self._run_ok.clear()

    def _unpause(self):
        self._run_ok.set()

    def wait(self, timeout=None) -> bool:
        """Block until the job ended and its last event was delivered."""
        if self._worker is None:
            return self._state in TERMINAL
        t_end = None if timeout is None else time.monotonic() + timeout
        self._worker.join(timeout)
        if self._worker.is_alive():
            return False
        left = None if t_end is None else max(t_end - time.monotonic(), 0.0)
        return self._publisher.join(left)

    def run(self):
        """Start and wait; Ctrl-C stops the work cleanly and keeps what it reached."""
        if self._state == "created":
            self.start()
        try:
            self.wait()
        except KeyboardInterrupt:
            self.stop("interrupted")
            self.wait()
        return self.result

    # ---------------------------------------------------------------- worker side
    def _run(self):
        """The work; returns ``(kind, message)``.  Runs in the worker thread."""
        raise NotImplementedError

    def _on_start(self):
        """Called in ``start()`` before the worker thread exists (caller's thread)."""

    def _event(self, kind, message="", **fields) -> FitEvent:
        return FitEvent(kind=kind, elapsed=self.elapsed, compile_time=self.compile_time,
                        message=message, **fields)

    def _pause_fields(self) -> dict:
        """Extra fields of the "paused" and "resumed" events."""
        return {}

    def _emit(self, kind, **fields):
        ev = self._event(kind, **fields)
        self.last_event = ev
        self._publisher.publish(ev)

    def _gate(self):
        """Between steps: honour stop, time limit and pause."""
        if self._stop.is_set():
            raise StopFit(self.stop_reason)
        if self.time_limit is not None and self._run_elapsed() > self.time_limit:
            self.stop_reason = f"time limit ({self.time_limit:g} s) reached"
            raise StopFit(self.stop_reason)
        if not self._run_ok.is_set():
            self._pause_began = time.monotonic()
            self._state = "paused"
            self._emit("paused", **self._pause_fields())
            self._run_ok.wait()
            self._paused_total += time.monotonic() - self._pause_began
            self._pause_began = None
            if self._stop.is_set():
                raise StopFit(self.stop_reason)
            self._state = "running"
            self._emit("resumed", **self._pause_fields())

    def _end_clock(self, kind):
        """Stop the clock and enter the terminal state ``kind``."""
        self._t_end = time.monotonic()
        self._state = kind

    def _finish(self, kind, message):
        """Record the outcome; returns ``(kind, message, fields of the terminal event)``.

        Overrides call ``_end_clock(kind)`` once the outcome is settled (so a result or
        checkpoint written afterwards sees the final state and elapsed time).
        """
        self._end_clock(kind)
        return kind, message, {}

    def _main(self):
        _CURRENT.job = self
        for _model, lease in self._leases:
            lease.allow_current_thread()
        try:
            kind, message = self._run()
        except StopFit as exc:
            kind, message = "stopped", str(exc)
        except WorkbenchError as exc:  # a user's mistake: its message says it all
            kind, message = "failed", f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            kind = "failed"
            message = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        _CURRENT.job = None
        try:
            kind, message, fields = self._finish(kind, message)
        finally:  # the models are free again before anyone hears that the job ended
            self._release_models()
        self._emit(kind, message=message, **fields)
        _LIVE.discard(self)


@atexit.register
def _stop_live_jobs():
    jobs = list(_LIVE)
    for job in jobs:
        job.stop("interpreter exit")
    deadline = time.monotonic() + EXIT_GRACE
    for job in jobs:
        job.wait(max(deadline - time.monotonic(), 0.0))
