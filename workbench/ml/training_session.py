"""``TrainingSession``: epoch-based training of a torch model in a background thread.

The counterpart of :class:`workbench.fit.session.FitSession` for mini-batch optimizers: the
same control API (``start/stop/pause/resume/wait/run/subscribe``), the same status
attributes and the same ``FitEvent`` stream, so the UI's loss monitor can show the loss
per epoch and stop the training.  One "iteration" is one epoch; its loss is the sum of
the batch losses of that epoch.  The parameters after the epoch with the lowest loss are
kept (``keep_best``) and put back into the model when the session ends, whatever the
reason (finished, stopped, failed).
"""

from __future__ import annotations

import threading
import time
import traceback

import numpy as np
import torch
from scipy.optimize import OptimizeResult

from workbench.errors import LossError
from workbench.fit.events import TERMINAL, FitEvent, Publisher


class _Stop(Exception):
    pass


class TrainingSession:
    """Train ``loss`` (a ``LossNeuralNetworkModel``) for ``num_epochs`` epochs.

    Args:
        loss: the loss over a created torch calculator.
        method: a ``torch.optim`` optimizer name; ``options`` its keyword arguments.
        batch_size, num_epochs, start_epoch, lr: as in KLIFF's ``minimize``.
        keep_best: restore the parameters of the best epoch at the end.
        shuffle: draw the batches in a new random order every epoch (seeded by the
            model's seed).
        time_limit: stop after this many running seconds.
        publish_hz: at most this many epoch events per second reach subscribers.
    """

    def __init__(self, loss, method="Adam", batch_size=100, num_epochs=100, start_epoch=0,
                 lr=0.001, options=None, keep_best=True, shuffle=True, time_limit=None,
                 publish_hz=10.0):
        if int(num_epochs) < 0:
            raise LossError(f"num_epochs={num_epochs!r}: expected an integer >= 0")
        if int(batch_size) < 1:
            raise LossError(f"batch_size={batch_size!r}: expected a positive integer")
        self.loss = loss
        self.objective = loss
        self.method = method
        self.options = dict(options or {})
        self.lr = lr
        self.batch_size = int(batch_size)
        self.num_epochs = int(num_epochs)
        self.start_epoch = int(start_epoch)
        self.keep_best = keep_best
        self.shuffle = shuffle
        self.time_limit = None if time_limit is None else float(time_limit)
        self.history: list[tuple[int, float]] = []
        self.result: OptimizeResult | None = None
        self.last_event: FitEvent | None = None
        self.stop_reason: str | None = None
        self.saved_models: list = []
        self._publisher = Publisher(publish_hz)
        self._stop = threading.Event()
        self._run_ok = threading.Event()
        self._run_ok.set()
        self._state = "created"
        self._worker = None
        self._iteration = 0
        self._n_batches = 0
        self._best_loss = None
        self._best_state = None
        self._best_epoch = None
        self._t_start = self._t_end = None
        self._paused_total = 0.0
        self._pause_began = None
        # the optimizer is made here so that load_optimizer_state errors surface early
        self.optimizer = loss.make_optimizer(method, lr, **self.options)

    # -- status (FitSession's names) -------------------------------------------------------
    @property
    def state(self):
        return self._state

    @property
    def iteration(self):
        """Epochs completed in this session."""
        return self._iteration

    @property
    def epoch(self):
        """The epoch number of the last completed epoch (``start_epoch`` based)."""
        return self.start_epoch + self._iteration - 1

    @property
    def best_loss(self):
        return self._best_loss

    @property
    def best_epoch(self):
        return self._best_epoch

    @property
    def best_params(self):
        if self._best_state is None:
            return None
        return np.concatenate([t.detach().cpu().numpy().ravel().astype(float)
                               for t in self._best_state])

    @property
    def n_eval(self):
        return self._n_batches

    n_jac = n_eval

    @property
    def running(self):
        return self._state in ("running", "paused", "stopping")

    @property
    def elapsed(self):
        if self._t_start is None:
            return 0.0
        end = self._t_end if self._state in TERMINAL else time.monotonic()
        paused = self._paused_total
        if self._pause_began is not None:
            paused += end - self._pause_began
        return max(end - self._t_start - paused, 0.0)

    # -- control ------------------------------------------------------------------------------
    def subscribe(self, callback):
        return self._publisher.subscribe(callback)

    def start(self):
        if self._state != "created":
            raise LossError(f"this TrainingSession was already started (state {self._state!r})")
        self._state = "running"
        self._t_start = time.monotonic()
        self._publisher.start()
        self._worker = threading.Thread(target=self._work, name="TrainingSession",
                                        daemon=True)
        self._worker.start()
        return self

    def stop(self, reason="stopped by user"):
        if self._state in TERMINAL or self._stop.is_set():
            return
        self.stop_reason = reason
        self._stop.set()
        self._run_ok.set()
        if self._state != "created":
            self._state = "stopping"
            self._emit("stopping", message=reason)

    def pause(self):
        if self._state == "running":
            self._run_ok.clear()

    def resume(self):
        self._run_ok.set()

    def wait(self, timeout=None):
        if self._worker is None:
            return self._state in TERMINAL
        t_end = None if timeout is None else time.monotonic() + timeout
        self._worker.join(timeout)
        if self._worker.is_alive():
            return False
        left = None if t_end is None else max(t_end - time.monotonic(), 0.0)
        return self._publisher.join(left)

    def run(self):
        if self._state == "created":
            self.start()
        try:
            self.wait()
        except KeyboardInterrupt:
            self.stop("interrupted")
            self.wait()
        return self.result

    # -- worker -------------------------------------------------------------------------------
    def _emit(self, kind, message="", loss=None):
        ev = FitEvent(kind=kind, iteration=self._iteration, loss=loss,
                      best_loss=self._best_loss, n_eval=self._n_batches,
                      n_jac=self._n_batches, elapsed=self.elapsed, message=message)
        self.last_event = ev
        self._publisher.publish(ev)

    def _gate(self):
        if self._stop.is_set():
            raise _Stop(self.stop_reason)
        if self.time_limit is not None and self.elapsed > self.time_limit:
            self.stop_reason = f"time limit ({self.time_limit:g} s) reached"
            raise _Stop(self.stop_reason)
        if not self._run_ok.is_set():
            self._pause_began = time.monotonic()
            self._state = "paused"
            self._emit("paused")
            self._run_ok.wait()
            self._paused_total += time.monotonic() - self._pause_began
            self._pause_began = None
            if self._stop.is_set():
                raise _Stop(self.stop_reason)
            self._state = "running"
            self._emit("resumed")

    def _params(self):
        return self.loss.calculator.parameters()

    def _epoch(self, opt, order, is_lbfgs):
        loss = self.loss
        total = 0.0
        for lo in range(0, len(order), self.batch_size):
            self._gate()
            batch = order[lo:lo + self.batch_size]

            def closure(batch=batch):
                opt.zero_grad()
                value = loss.batch_loss(batch)
                value.backward()
                return value

            if is_lbfgs:
                value = opt.step(closure)
            else:
                value = closure()
                opt.step()
            self._n_batches += 1
            total += float(value.detach())
        return total

    def _work(self):
        kind, message = "failed", ""
        calc = self.loss.calculator
        nthreads = torch.get_num_threads()
        try:
            if self.loss.nprocs:
                torch.set_num_threads(max(1, int(self.loss.nprocs)))
            self._emit("started", message=f"method {self.method}")
            n = len(calc.configs)
            gen = torch.Generator().manual_seed(int(getattr(calc.model, "seed", 0) or 0)
                                                + self.start_epoch)
            is_lbfgs = isinstance(self.optimizer, torch.optim.LBFGS)
            calc.train(True)
            for k in range(self.num_epochs):
                epoch = self.start_epoch + k
                order = (torch.randperm(n, generator=gen).tolist() if self.shuffle
                         else list(range(n)))
                total = self._epoch(self.optimizer, order, is_lbfgs)
                self._iteration += 1
                self.history.append((epoch, total))
                if np.isfinite(total) and (self._best_loss is None or total < self._best_loss):
                    self._best_loss = total
                    self._best_epoch = epoch
                    self._best_state = [p.detach().clone() for p in self._params()]
                for m in calc.models.values():
                    path = m.maybe_save_epoch(epoch)
                    if path is not None:
                        self.saved_models.append(path)
                self._emit("iteration", loss=total)
            kind, message = "finished", f"{self.num_epochs} epochs done"
        except _Stop as exc:
            kind, message = "stopped", str(exc)
        except Exception as exc:
            kind = "failed"
            message = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        finally:
            torch.set_num_threads(nthreads)
        self._finish(kind, message)

    def _finish(self, kind, message):
        if self.keep_best and self._best_state is not None:
            with torch.no_grad():
                for p, best in zip(self._params(), self._best_state):
                    p.copy_(best)
            self.loss.calculator.results = None
        self._t_end = time.monotonic()
        self._state = kind
        last = self.history[-1][1] if self.history else None
        self.result = OptimizeResult(
            x=self.best_params, fun=self._best_loss, best_epoch=self._best_epoch,
            last_loss=last, success=kind == "finished", state=kind, message=message,
            nit=self._iteration, nfev=self._n_batches, method=self.method,
            history=list(self.history), saved_models=list(self.saved_models))
        self._emit(kind, message=message, loss=self._best_loss)
