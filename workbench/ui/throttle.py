"""Rate limiting of redraws.

Fit events arrive from a worker thread, possibly faster than a browser can draw.  A
:class:`Throttle` keeps only the newest payload and calls its draw function at most
``rate`` times per second; a payload submitted with ``final=True`` (a fit that finished,
stopped or failed) is drawn at once so the last state is never lost.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable


class Throttle:
    """Call ``draw(payload)`` with the latest submitted payload, at most ``rate``/s.

    ``submit`` may be called from any thread.  A draw that is due later is scheduled on a
    timer thread; draws never overlap (a lock serializes them).
    """

    def __init__(self, draw: Callable[[Any], None], rate: float = 10.0):
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._draw = draw
        self.interval = 1.0 / rate
        self._lock = threading.Lock()
        self._draw_lock = threading.Lock()
        self._pending: Any = None
        self._has_pending = False
        self._timer: threading.Timer | None = None
        self._last = -float("inf")
        self.draws = 0

    def submit(self, payload: Any, final: bool = False) -> None:
        with self._lock:
            self._pending, self._has_pending = payload, True
            wait = self._last + self.interval - time.monotonic()
            if not final and wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self.flush()

    def flush(self) -> None:
        """Draw the pending payload now (if any)."""
        with self._draw_lock:
            with self._lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                if not self._has_pending:
                    return
                payload, self._pending, self._has_pending = self._pending, None, False
                self._last = time.monotonic()
            self.draws += 1
            self._draw(payload)

    def cancel(self) -> None:
        """Drop the pending payload and any scheduled draw."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._pending, self._has_pending = None, False
