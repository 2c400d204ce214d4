"""``TrainingSession``: epoch-based training of a torch model in a background thread.

The counterpart of :class:`workbench.fit.session.FitSession` for mini-batch optimizers: the
same control API (``start/stop/pause/resume/wait/run/subscribe``), the same status
attributes and the same ``FitEvent`` stream, so the UI's loss monitor can show the loss
per epoch and stop the training.  One "iteration" is one epoch; its loss is the sum of
the batch losses of that epoch.  The parameters after the epoch with the lowest loss are
kept (``keep_best``) and put back into the model when the session ends, whatever the
reason (finished, stopped, failed).  A batch whose loss, gradient or updated weights are
NaN/inf ends the training ("failed", with a message naming the epoch and the batch's
configurations) with the weights from before that step: never a run of NaN epochs.

With a ``test_loss`` (the same loss over held-out configurations, sharing the model) the
session also evaluates the test loss after every epoch, with that epoch's final weights
in evaluation mode, and records it (``test_history``, the events' ``test_loss``):
:meth:`TrainingSession.curves` gives both curves per configuration, so a train curve and a
test curve over sets of different sizes can be compared.

The thread, control and timing machinery is :class:`workbench.fit.background.BackgroundJob`.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import OptimizeResult

from workbench.errors import LossError
from workbench.fit.background import BackgroundJob
from workbench.fit.events import FitEvent


class _NotFinite(Exception):
    """A batch's loss, gradient or updated weights are not finite (internal)."""


class TrainingSession(BackgroundJob):
    """Train ``loss`` (a ``LossNeuralNetworkModel``) for ``num_epochs`` epochs.

    Args:
        loss: the loss over a created torch calculator.
        method: a ``torch.optim`` optimizer name; ``options`` its keyword arguments.
        batch_size, num_epochs, start_epoch, lr: as in KLIFF's ``minimize``.
        keep_best: restore the parameters of the best epoch at the end.
        shuffle: draw the batches in a new random order every epoch (seeded by the
            model's seed).
        final_eval: after the last epoch evaluate the loss once more with the final
            parameters (``final_loss``, as epoch ``start_epoch + num_epochs``) and save
            every model that has save metadata (KLIFF's ending).
        on_epoch: ``f(epoch, loss)`` called in the training thread after every epoch
            (and after the final evaluation), unthrottled — e.g. to print each line.
        time_limit: stop after this many running seconds.
        publish_hz: at most this many epoch events per second reach subscribers.
        store, name, tags: the run store the training is recorded in (see ``FitSession``;
            "default" is the default store, None records nothing) and the run's labels.
        test_loss: a loss of the same kind over held-out configurations of the same
            model; its value is computed after every epoch (never trained on).
    """

    pause = BackgroundJob._pause
    resume = BackgroundJob._unpause
    run_kind = "training"
    run_params = False  # thousands of weights: the store keeps the loss curve only

    def __init__(self, loss, method="Adam", batch_size=100, num_epochs=100, start_epoch=0,
                 lr=0.001, options=None, keep_best=True, shuffle=True, time_limit=None,
                 publish_hz=10.0, store="default", name=None, tags=None, final_eval=False,
                 on_epoch=None, test_loss=None):
        if int(num_epochs) < 0:
            raise LossError(f"num_epochs={num_epochs!r}: expected an integer >= 0")
        if int(batch_size) < 1:
            raise LossError(f"batch_size={batch_size!r}: expected a positive integer")
        super().__init__("TrainingSession", "TrainingSession", publish_hz, store=store,
                         name=name, tags=tags)
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
        self.final_eval = final_eval
        self.on_epoch = on_epoch
        self.final_loss: tuple[int, float] | None = None
        self.time_limit = None if time_limit is None else float(time_limit)
        self.history: list[tuple[int, float]] = []
        self.test_loss = test_loss
        self.test_history: list[tuple[int, float]] = []
        self.param_norms: list[float] = []  # the weights' 2-norm after each epoch
        self.result: OptimizeResult | None = None
        self.last_event: FitEvent | None = None
        self.saved_models: list = []
        self._iteration = 0
        self._n_batches = 0
        self._best_loss = None
        self._best_state = None
        self._best_epoch = None
        self._last_finite = None  # weights at which the last finite batch loss was seen
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

    # -- run store ------------------------------------------------------------------------
    def _run_start_fields(self) -> dict:
        from workbench.fit.checkpoint import split_options
        from workbench.fit.run_record import loss_fields

        options, _ = split_options(self.options)
        return {**loss_fields(self.loss), "method": str(self.method),
                "settings": {"method": str(self.method), "lr": self.lr, "options": options,
                             "batch_size": self.batch_size, "num_epochs": self.num_epochs,
                             "start_epoch": self.start_epoch, "shuffle": bool(self.shuffle),
                             "keep_best": bool(self.keep_best)}}

    def _run_final_fields(self) -> dict:
        # recorded iterations count completed epochs, as the session's events do
        from workbench.runs.weights import weights_artifact

        from .run_fields import training_rmse

        calc = self.loss.calculator
        fields = {"history": [(e - self.start_epoch + 1, f) for e, f in self.history],
                  "results": {"training": {
                      "best_epoch": self._best_epoch,
                      "saved_models": [str(p) for p in self.saved_models],
                      "trajectory": {"epoch": [e for e, _ in self.history],
                                     "loss": [f for _, f in self.history],
                                     "param_norm": list(self.param_norms)},
                      "curves": self.curves()}},
                  # the weights the model holds now (the best epoch's with keep_best)
                  "artifacts": weights_artifact(calc)}
        for label, loss in (("train", self.loss), ("test", self.test_loss)):
            rmse = None if loss is None else training_rmse(loss.calculator)
            if rmse is not None:
                fields[f"{label}_e_rmse"], fields[f"{label}_f_rmse"] = rmse
        return fields

    # -- curves -----------------------------------------------------------------------------
    def _per_configuration(self, loss, total: float) -> float:
        """An epoch loss of ``loss`` as the mean per configuration of ½‖u‖² ("workbench"
        convention: the sum over configurations; "kliff": the sum over batches of the
        batch means of ‖u‖², so divided by the number of batches and by 2)."""
        n = len(loss.calculator.configs)
        if getattr(loss, "convention", "workbench") == "kliff":
            return total / (2.0 * -(-n // self.batch_size))
        return total / n

    def curves(self) -> dict:
        """The loss curves per configuration: ``epoch`` (the epochs trained so far),
        ``train`` (each epoch's training loss, summed over its batches while the weights
        changed) and ``test`` (the test loss after that epoch; None without a test
        set), with ``n_train`` and ``n_test`` configurations, and ``weight_norm`` (the
        weights' 2-norm after each epoch)."""
        train = list(self.history)
        test = dict(self.test_history)
        out = {"epoch": [e for e, _ in train],
               "train": [self._per_configuration(self.loss, f) for _, f in train],
               "test": None, "n_train": len(self.loss.calculator.configs), "n_test": 0,
               "weight_norm": list(self.param_norms)[: len(train)]}
        if self.test_loss is not None:
            out["n_test"] = len(self.test_loss.calculator.configs)
            out["test"] = [self._per_configuration(self.test_loss, test[e])
                           if e in test else None for e, _ in train]
        return out

    # -- worker -------------------------------------------------------------------------------
    def _event(self, kind, message="", loss=None, test_loss=None) -> FitEvent:
        return FitEvent(kind=kind, iteration=self._iteration, loss=loss,
                        best_loss=self._best_loss, n_eval=self._n_batches,
                        n_jac=self._n_batches, elapsed=self.elapsed, message=message,
                        test_loss=test_loss)

    def _params(self):
        return self.loss.calculator.parameters()

    def _epoch(self, opt, order, is_lbfgs, epoch):
        loss = self.loss
        params = list(self._params())
        total = 0.0
        for lo in range(0, len(order), self.batch_size):
            self._gate()
            batch = order[lo:lo + self.batch_size]

            def closure(batch=batch):
                opt.zero_grad()
                value = loss.batch_loss(batch)
                if not torch.isfinite(value.detach()):
                    raise _NotFinite(f"the loss is {float(value.detach())}")
                value.backward()
                if not all(p.grad is None or bool(torch.isfinite(p.grad).all())
                           for p in params):
                    raise _NotFinite("the loss gradient is not finite")
                return value

            before = [p.detach().clone() for p in params]
            try:
                if is_lbfgs:
                    value = opt.step(closure)
                else:
                    value = closure()
                    opt.step()
                if not all(bool(torch.isfinite(p.detach()).all()) for p in params):
                    raise _NotFinite("the step made some weights non-finite")
            except _NotFinite as exc:
                # back to the weights of the last finite batch loss (these weights may
                # be finite yet give an infinite loss after a diverging step)
                keep = self._last_finite if self._last_finite is not None else before
                with torch.no_grad():
                    for p, w in zip(params, keep):
                        p.copy_(w)
                self.loss.calculator.results = None
                raise LossError(self._nan_message(exc, epoch, batch)) from None
            self._last_finite = before
            self._n_batches += 1
            total += float(value.detach())
        return total

    def _nan_message(self, exc, epoch, batch) -> str:
        configs = self.loss.calculator.configs
        ids = [str(configs[k].identifier) for k in batch[:3]]
        more = f" and {len(batch) - 3} more" if len(batch) > 3 else ""
        return (f"training stopped in epoch {epoch}: {exc} on the batch of configurations "
                f"{', '.join(ids)}{more} (NaN/inf in their data or weights, or a diverging "
                "optimizer: try a smaller learning rate); the model keeps its last finite "
                "weights")

    def _models_to_own(self) -> list:
        """Every network of the loss: a running training owns them, so weights set from
        another thread (``set_flat_params``, ``load``) are refused."""
        return list(self.loss.calculator.models.values())

    def _run(self):
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
                total = self._epoch(self.optimizer, order, is_lbfgs, epoch)
                self._iteration += 1
                self.history.append((epoch, total))
                with torch.no_grad():
                    self.param_norms.append(float(torch.sqrt(sum(
                        (p.detach().double() ** 2).sum() for p in self._params()))))
                if np.isfinite(total) and (self._best_loss is None or total < self._best_loss):
                    self._best_loss = total
                    self._best_epoch = epoch
                    self._best_state = [p.detach().clone() for p in self._params()]
                for m in calc.models.values():
                    path = m.maybe_save_epoch(epoch)
                    if path is not None:
                        self.saved_models.append(path)
                test = self._evaluate_test(epoch)
                self._emit("iteration", loss=total, test_loss=test)
                if self.on_epoch is not None:
                    self.on_epoch(epoch, total)
            if self.final_eval:
                self._evaluate_final()
            return "finished", f"{self.num_epochs} epochs done"
        finally:
            torch.set_num_threads(nthreads)

    def _evaluate_test(self, epoch) -> float | None:
        """The test loss with this epoch's final weights (evaluation mode, no gradient
        kept), recorded in ``test_history``."""
        if self.test_loss is None:
            return None
        value = self.test_loss.get_loss(self.batch_size)
        self.test_history.append((epoch, value))
        return value

    def _evaluate_final(self):
        epoch = self.start_epoch + self.num_epochs
        self.final_loss = (epoch, self.loss.get_loss(self.batch_size))
        if self.on_epoch is not None:
            self.on_epoch(*self.final_loss)
        for m in self.loss.calculator.models.values():
            path = m.maybe_save_epoch(epoch, force=True)
            if path is not None:
                self.saved_models.append(path)

    def _finish(self, kind, message):
        if self.keep_best and self._best_state is not None:
            with torch.no_grad():
                for p, best in zip(self._params(), self._best_state):
                    p.copy_(best)
            self.loss.calculator.results = None
        self._end_clock(kind)
        last = self.history[-1][1] if self.history else None
        self.result = OptimizeResult(
            x=self.best_params, fun=self._best_loss, best_epoch=self._best_epoch,
            last_loss=last, final_loss=None if self.final_loss is None else self.final_loss[1],
            success=kind == "finished", state=kind, message=message,
            nit=self._iteration, nfev=self._n_batches, method=self.method,
            history=list(self.history), saved_models=list(self.saved_models))
        return kind, message, {"loss": self._best_loss}
