"""Events a ``FitSession`` publishes to its subscribers."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

KINDS = (
    "started", "compiling", "iteration", "bad_step", "paused", "resumed", "stopping",
    "finished", "stopped", "failed",
)
TERMINAL = frozenset(("finished", "stopped", "failed"))
_log = logging.getLogger("workbench.fit")


@dataclass(frozen=True)
class FitEvent:
    """One step of a fit, as seen by a subscriber.

    ``params`` and ``best_params`` are private copies (the optimizer never changes them
    afterwards). ``loss``/``best_loss`` are ``None`` before the first finite evaluation.
    ``elapsed`` is the running time in seconds (paused time and compile time excluded);
    ``compile_time`` the seconds spent compiling kernels before the first evaluation;
    ``test_loss`` a training's loss on its held-out configurations after the epoch.
    ``message`` carries the stop reason, the non-finite-evaluation report or the
    traceback of a failure.
    """

    kind: str
    iteration: int = 0
    loss: float | None = None
    best_loss: float | None = None
    params: np.ndarray | None = field(default=None, repr=False)
    best_params: np.ndarray | None = field(default=None, repr=False)
    n_eval: int = 0
    n_jac: int = 0
    elapsed: float = 0.0
    message: str = ""
    compile_time: float = 0.0
    test_loss: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown FitEvent kind {self.kind!r}; expected one of {KINDS}")

    @property
    def terminal(self) -> bool:
        """True for "finished", "stopped" and "failed": the last event of a session."""
        return self.kind in TERMINAL


class Publisher:
    """Delivers events to subscribers from its own thread, at most ``hz`` iterations/s.

    Iteration events are coalesced: a new one replaces an undelivered one, and the latest
    is always delivered (at the latest ``1/hz`` s later). Every other event is delivered
    in order, immediately (a pending iteration event goes out first), so terminal events
    are never dropped. The thread ends after delivering a terminal event. Subscribers run
    in this thread, so a slow subscriber never slows the optimization; an exception in a
    subscriber is logged and does not affect the fit or the other subscribers.
    """

    def __init__(self, hz: float = 10.0):
        self._interval = 1.0 / hz if hz and hz > 0 else 0.0
        self._cond = threading.Condition()
        self._queue: list[FitEvent] = []
        self._latest: FitEvent | None = None
        self._subscribers: list = []
        self._last_sent = float("-inf")
        self._done = False
        self._thread = threading.Thread(target=self._run, name="FitSession-events", daemon=True)
        self.delivered = 0

    def subscribe(self, callback, first=False):
        """Deliver events to ``callback`` (before the others when ``first``: the run
        recorder, so a run is complete in the store when the UI hears the fit ended)."""
        with self._cond:
            self._subscribers = ([callback] + self._subscribers if first
                                 else self._subscribers + [callback])

        def unsubscribe():
            with self._cond:
                self._subscribers = [c for c in self._subscribers if c is not callback]

        return unsubscribe

    def start(self):
        self._thread.start()

    def publish(self, event: FitEvent):
        with self._cond:
            if event.kind == "iteration":
                self._latest = event
            else:
                if self._latest is not None:
                    self._queue.append(self._latest)
                    self._latest = None
                self._queue.append(event)
            self._cond.notify()

    def join(self, timeout=None) -> bool:
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _next(self):
        with self._cond:
            while True:
                if self._queue:
                    return self._queue.pop(0), self._subscribers
                if self._latest is not None:
                    due = self._last_sent + self._interval - time.monotonic()
                    if due <= 0:
                        event, self._latest = self._latest, None
                        return event, self._subscribers
                    self._cond.wait(due)
                else:
                    self._cond.wait()

    def _run(self):
        while True:
            event, subscribers = self._next()
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:
                    _log.exception(
                        "FitSession subscriber %r raised on a %s event", callback, event.kind
                    )
            self.delivered += 1
            if event.kind == "iteration":
                self._last_sent = time.monotonic()
            if event.kind in TERMINAL:
                return
