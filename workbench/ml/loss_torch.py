"""Loss for torch models (``Loss(calc)`` dispatches here when ``calc.is_torch``).

Residuals have the physics loss's layout and weighting (``workbench.fit.residuals``):
per configuration ``u = factor · (prediction − reference)``.  Two conventions for the
number reported and minimized:

* ``"kliff"`` (the default): a configuration contributes ``‖u‖²``, a batch the mean of
  its configurations, an epoch the sum of its batch losses; batches in data-set order;
  the last epoch's parameters are kept, and after the last epoch the loss is evaluated
  once more (printed as epoch ``start_epoch + num_epochs``) and the model saved —
  KLIFF's ``LossNeuralNetworkModel``, so its tutorials print the same numbers;
* ``"workbench"``: a batch contributes ``½‖u‖²`` (the physics loss's value, so a
  batch's loss does not depend on the batch size), batches drawn in a new random order
  every epoch, and the parameters of the best epoch kept.

Training runs as a :class:`TrainingSession`.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import torch

from workbench.atomic import atomic_open
from workbench.errors import LossError
from workbench.fit import residuals as R
from workbench.ml.training_session import TrainingSession

CONVENTIONS = ("kliff", "workbench")

TORCH_MINIMIZE_METHODS = ["Adadelta", "Adagrad", "Adam", "AdamW", "SparseAdam", "Adamax",
                          "ASGD", "LBFGS", "NAdam", "RAdam", "RMSprop", "Rprop", "SGD"]


class LossNeuralNetworkModel:
    """Loss of a created ``CalculatorTorch`` (KLIFF's ``LossNeuralNetworkModel``).

    Args:
        calculator: a created ``CalculatorTorch`` / ``CalculatorTorchSeparateSpecies``.
        nprocs: torch intra-op threads during training (None: leave torch's setting).
        residual_fn: None (the built-in residual matching the calculator's flags), one of
            ``workbench.fit.residuals``' functions, or a user function with KLIFF's
            signature ``fn(identifier, natoms, weight, prediction, reference, data)``
            working on torch tensors (called per configuration).
        residual_data: dict for the residual function (``normalize_by_natoms``).
        convention: ``"kliff"`` (default) or ``"workbench"`` (see the module docstring).
    """

    torch_minimize_methods = TORCH_MINIMIZE_METHODS

    def __init__(self, calculator, nprocs=1, residual_fn=None, residual_data=None,
                 convention="kliff"):
        if not getattr(calculator, "_created", False):
            raise LossError("the calculator has no data: call calc.create(configs) first")
        if convention not in CONVENTIONS:
            raise LossError(f"convention={convention!r}: expected one of "
                            f"{', '.join(CONVENTIONS)}")
        calculator.check_references()
        self.convention = convention
        self.calculator = calculator
        self.model = calculator.model
        self.nprocs = nprocs
        data = {"normalize_by_natoms": True}
        data.update(residual_data or {})
        self.residual_data = data
        if residual_fn is None:
            residual_fn = R.default_residual(calculator.use_energy, calculator.use_forces,
                                             calculator.use_stress)
        self.residual_fn = residual_fn
        self.builtin = residual_fn in R.BUILTIN_RESIDUALS
        self.use = (calculator.use_energy, calculator.use_forces, calculator.use_stress)
        if residual_fn is R.energy_forces_stress_residual and not calculator.use_stress:
            raise LossError(f"{residual_fn.__name__} needs stress: create the calculator "
                            "with use_stress=True")
        self._build_scales()
        self.optimizer = None
        self.optimizer_method = None
        self._pending_state = None
        self.session: TrainingSession | None = None

    def _build_scales(self):
        calc = self.calculator
        dt, dev = calc.dtype, calc.device
        e, f, st = (R.block_scales(calc.configs, calc.natoms, self.use, self.residual_fn,
                                   bool(self.residual_data.get("normalize_by_natoms", True)))
                    if self.builtin else (np.zeros(0), np.zeros((0, 3)), np.zeros((0, 6))))
        self.e_scale = torch.as_tensor(e, dtype=dt, device=dev)
        self.f_scale = torch.as_tensor(f, dtype=dt, device=dev)
        self.s_scale = torch.as_tensor(st, dtype=dt, device=dev)
        self._f_scale_np = np.ascontiguousarray(self.f_scale.cpu().numpy())
        self._f_ref_np = np.ascontiguousarray(calc.ref_forces.cpu().numpy())

    # -- objective -----------------------------------------------------------------------
    def batch_residual(self, batch, create_graph=True):
        """The residual vector of the configurations ``batch`` (a torch tensor)."""
        calc = self.calculator
        use_e, use_f, use_s = self.use
        r = calc.forward(batch, forces=calc.use_forces and use_f,
                         stress=calc.use_stress and use_s, create_graph=create_graph)
        idx = torch.as_tensor(np.asarray(batch, dtype=np.int64), device=calc.device)
        if not self.builtin:
            return self._user_residual(batch, r)
        parts = []
        if use_e:
            parts.append(self.e_scale[idx] * (r["energy"] - calc.ref_energy[idx]))
        if use_f:
            a = r["atom_index"]
            parts.append((self.f_scale[a] * (r["forces"] - calc.ref_forces[a])).reshape(-1))
        if use_s:
            parts.append((self.s_scale[idx] * (r["stress"] - calc.ref_stress[idx])).reshape(-1))
        return torch.cat(parts)

    def _user_residual(self, batch, r):
        calc = self.calculator
        off = r["batch_offsets"]
        out = []
        for j, k in enumerate(batch):
            conf = calc.configs[k]
            a, b = int(off[j]), int(off[j + 1])
            pred, ref = [], []
            if calc.use_energy:
                pred.append(r["energy"][j:j + 1])
                ref.append(calc.ref_energy[k:k + 1])
            if calc.use_forces:
                pred.append(r["forces"][a:b].reshape(-1))
                s, e = calc.atom_offsets[k], calc.atom_offsets[k + 1]
                ref.append(calc.ref_forces[s:e].reshape(-1))
            if calc.use_stress:
                pred.append(r["stress"][j])
                ref.append(calc.ref_stress[k])
            u = self.residual_fn(conf.identifier, b - a, conf.weight, torch.cat(pred),
                                 torch.cat(ref), self.residual_data)
            out.append(torch.as_tensor(u).reshape(-1))
        return torch.cat(out)

    def batch_loss(self, batch, create_graph=True):
        """The loss of the configurations ``batch`` in this loss's convention: ``½‖u‖²``
        ("workbench") or the mean over the batch of each configuration's ``‖u‖²``
        ("kliff")."""
        half = self._half_square(batch, create_graph)
        if self.convention == "kliff":
            return half * (2.0 / len(batch))
        return half

    def _half_square(self, batch, create_graph):
        """½‖u‖²; for the built-in residuals the force term is evaluated with the fused
        kernel (same value, one sweep)."""
        if not (self.builtin and self.use[1] and self.calculator.device.type == "cpu"):
            u = self.batch_residual(batch, create_graph)
            return 0.5 * torch.sum(u * u)
        calc = self.calculator
        use_e, _, use_s = self.use
        r = calc.forward(batch, forces=False, stress=calc.use_stress and use_s,
                         create_graph=create_graph, grad=True)
        idx = torch.as_tensor(np.asarray(batch, dtype=np.int64), device=calc.device)
        total = calc.force_loss(r, batch, self._f_scale_np, self._f_ref_np)
        if use_e:
            u = self.e_scale[idx] * (r["energy"] - calc.ref_energy[idx])
            total = total + 0.5 * torch.sum(u * u)
        if use_s:
            u = self.s_scale[idx] * (r["stress"] - calc.ref_stress[idx])
            total = total + 0.5 * torch.sum(u * u)
        return total

    def get_loss(self, chunk=100):
        """Loss of the whole data set with the current parameters (eval mode): the sum of
        the batch losses over batches of ``chunk`` configurations in data-set order (in
        the "kliff" convention that depends on ``chunk``, as KLIFF's epoch loss does on
        the batch size)."""
        calc = self.calculator
        calc.train(False)
        try:
            total = 0.0
            for batch in calc.get_compute_arguments(chunk):
                total += float(self.batch_loss(batch, create_graph=False).detach())
        finally:
            calc.train(True)
        return total

    # Objective-like pieces used by the UI (LossMonitor reads x0() and names()).
    def x0(self):
        """All network weights as one flat float vector (the starting point)."""
        return np.concatenate([p.detach().cpu().numpy().ravel().astype(float)
                               for p in self.calculator.parameters()])

    def names(self):
        """Names of the entries of ``x0()``, ``"<layer>.<tensor>[k]"``."""
        out = []
        for key, m in self.calculator.models.items():
            prefix = "" if key is None else f"{key}."
            for name, p in m.named_parameters():
                out += [f"{prefix}{name}[{i}]" for i in range(p.numel())]
        return out

    def bounds(self):
        """Network weights are unbounded: None."""
        return None

    def set_params(self, x):
        """Write the flat vector ``x`` (layout of ``x0()``) into the network's weights."""
        x = np.asarray(x, dtype=float)
        k = 0
        with torch.no_grad():
            for p in self.calculator.parameters():
                n = p.numel()
                p.copy_(torch.as_tensor(x[k:k + n], dtype=p.dtype).view_as(p))
                k += n

    def held_out(self, configs) -> "LossNeuralNetworkModel":
        """The same loss (model, residual, flags, convention) over ``configs``, e.g. a
        test set: its fingerprints are normalized with this loss's training statistics
        (the descriptor keeps them)."""
        calc = self.calculator
        gpu = False if calc.device.type == "cpu" else (calc.device.index or 0)
        other = (type(calc)(calc.model, gpu) if None in calc.models
                 else type(calc)(dict(calc.models), gpu))
        with tempfile.TemporaryDirectory(prefix="workbench-fingerprints-") as tmp:
            other.create(list(configs), use_energy=calc.use_energy, use_forces=calc.use_forces,
                         use_stress=calc.use_stress,
                         fingerprints_filename=Path(tmp) / "fingerprints.pkl", reuse=False)
        return LossNeuralNetworkModel(other, nprocs=self.nprocs, residual_fn=self.residual_fn,
                                      residual_data=dict(self.residual_data),
                                      convention=self.convention)

    # -- optimizer ---------------------------------------------------------------------
    def make_optimizer(self, method="Adam", lr=None, **kwargs):
        """A ``torch.optim`` optimizer over the network's weights (case-insensitive
        name, learning rate ``lr``). Raises LossError listing the valid names."""
        name = {m.lower(): m for m in TORCH_MINIMIZE_METHODS}.get(str(method).lower())
        cls = getattr(torch.optim, name or str(method), None)
        if cls is None or not isinstance(cls, type) or \
                not issubclass(cls, torch.optim.Optimizer):
            raise LossError(f"unknown torch optimizer {method!r}; expected one of "
                            f"{', '.join(TORCH_MINIMIZE_METHODS)}")
        if lr is not None:
            kwargs["lr"] = lr
        reuse = self.optimizer is not None and self.optimizer_method == cls.__name__
        if not reuse:
            try:
                self.optimizer = cls(self.calculator.parameters(), **kwargs)
            except TypeError as e:
                raise LossError(f"torch.optim.{cls.__name__}: {e}") from None
            self.optimizer_method = cls.__name__
        else:
            for group in self.optimizer.param_groups:
                group.update(kwargs)
        if self._pending_state is not None:
            method_saved, state = self._pending_state
            if method_saved != cls.__name__:
                raise LossError(f"the loaded optimizer state is for {method_saved}, not "
                                f"{cls.__name__}")
            self.optimizer.load_state_dict(state)
            if lr is not None:
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
            self._pending_state = None
        return self.optimizer

    def save_optimizer_state(self, path="optimizer_state.pkl"):
        """Write the optimizer's state dict (atomically)."""
        if self.optimizer is None:
            raise LossError("no optimizer yet: call minimize(...) first")
        path = Path(path)
        with atomic_open(path, "wb") as fh:
            torch.save({"method": self.optimizer_method,
                        "state": self.optimizer.state_dict()}, fh)
        return path

    def load_optimizer_state(self, path="optimizer_state.pkl"):
        """Load an optimizer state; applied now, or by the next ``minimize`` with the same
        method."""
        try:
            saved = torch.load(path, map_location=self.calculator.device, weights_only=False)
            method, state = saved["method"], saved["state"]
        except (OSError, RuntimeError, KeyError, TypeError) as e:
            raise LossError(f"{path}: not an optimizer state file ({e})") from None
        if self.optimizer is not None and self.optimizer_method == method:
            self.optimizer.load_state_dict(copy.deepcopy(state))
        else:
            self._pending_state = (method, state)

    # -- training ------------------------------------------------------------------------
    def training_session(self, method="Adam", batch_size=100, num_epochs=100, start_epoch=0,
                         lr=0.001, **kwargs) -> TrainingSession:
        """A (not started) :class:`TrainingSession`; extra keywords go to the torch
        optimizer, except the session's own (``keep_best``, ``shuffle``, ``final_eval``,
        ``time_limit``, ``publish_hz``, ``test_loss``, and the run store's ``store``,
        ``name``, ``tags``);
        ``keep_best``, ``shuffle`` and ``final_eval`` default by the convention."""
        kliff = self.convention == "kliff"
        own = {"keep_best": not kliff, "shuffle": not kliff, "final_eval": kliff}
        own.update({k: kwargs.pop(k) for k in
                    ("keep_best", "shuffle", "final_eval", "time_limit", "publish_hz",
                     "store", "name", "tags", "on_epoch", "test_loss")
                    if k in kwargs})
        return TrainingSession(self, method=method, batch_size=batch_size,
                               num_epochs=num_epochs, start_epoch=start_epoch, lr=lr,
                               options=kwargs, **own)

    fit_session = training_session

    def minimize(self, method="Adam", batch_size=100, num_epochs=1000, start_epoch=0,
                 lr=0.001, verbose=True, **kwargs):
        """Train in the calling thread (Ctrl-C stops cleanly), printing KLIFF's epoch line
        after every epoch when ``verbose``; returns the session's result (``history``,
        ``final_loss``, ``fun`` the best epoch loss).  See the module docstring for what
        the conventions keep."""
        if verbose and "on_epoch" not in kwargs:
            kwargs["on_epoch"] = _print_epoch
        session = self.training_session(method, batch_size, num_epochs, start_epoch, lr,
                                        **kwargs)
        self.session = session
        result = session.run()
        if result.state == "failed":
            raise LossError(f"training failed: {result.message}")
        return result


def _print_epoch(epoch, loss):
    print(f"Epoch = {epoch:<6d}  loss = {loss:.10e}", flush=True)
