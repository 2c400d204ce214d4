"""Training a neural network from the Fit tab.

For a torch model (``model.is_torch``, e.g. a ``NeuralNetwork`` from the ModelPicker's
builder) the LossMonitor starts a :class:`workbench.ml.training_session.TrainingSession`
instead of a FitSession.  :class:`TrainingSetup` builds the ``CalculatorTorch`` and its
loss in the monitor's background thread (the fingerprints are computed there and written
to a temporary directory, never the current one, which is removed once they are loaded) and keeps them while the model, the
configurations and the fit flags stay the same, so pressing Fit again continues training
without recomputing fingerprints.  The optimizer options typed in the monitor are
``{epochs, batch_size, lr}`` plus any keyword of the torch optimizer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from workbench.errors import LossError

TORCH_METHODS = ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam",
                 "LBFGS")
DEFAULT_METHOD = "Adam"
DEFAULT_OPTIONS = {"epochs": 50, "batch_size": 10, "lr": 0.01}
_SESSION_KEYS = ("keep_best", "shuffle", "time_limit")


def is_torch_model(model) -> bool:
    return bool(getattr(model, "is_torch", False))


def split_options(options: dict) -> tuple[dict, dict]:
    """``(session keywords, optimizer keywords)`` from the monitor's options mapping."""
    opts = dict(options or {})
    if "epochs" in opts and "num_epochs" in opts:
        raise LossError("options: give either epochs or num_epochs, not both")
    epochs = opts.pop("epochs", opts.pop("num_epochs", DEFAULT_OPTIONS["epochs"]))
    session = {"num_epochs": epochs,
               "batch_size": opts.pop("batch_size", DEFAULT_OPTIONS["batch_size"]),
               "lr": opts.pop("lr", DEFAULT_OPTIONS["lr"])}
    for key, kind in (("num_epochs", int), ("batch_size", int), ("lr", float)):
        value = session[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (kind is int and int(value) != value) or value <= 0:
            name = "epochs" if key == "num_epochs" else key
            raise LossError(f"options: {name}={value!r}; expected a positive "
                            f"{'integer' if kind is int else 'number'}")
        session[key] = kind(value)
    for key in _SESSION_KEYS:
        if key in opts:
            session[key] = opts.pop(key)
    return session, opts


def layer_rows(model) -> list[tuple[str, str, int]]:
    """``(layer, shape, parameter count)`` for each layer of a network."""
    rows = []
    layers = getattr(model, "layers", None)
    for k, layer in enumerate(layers if layers is not None else model.children()):
        name = type(layer).__name__
        if hasattr(layer, "in_features"):
            shape = f"{layer.in_features} → {layer.out_features}"
        elif hasattr(layer, "p"):
            shape = f"p = {layer.p:g}"
        else:
            shape = ""
        rows.append((f"{k}: {name}", shape, sum(p.numel() for p in layer.parameters())))
    return rows


def layer_sizes(model) -> list[int]:
    """Input size, hidden sizes and output size of the Linear layers."""
    linear = [la for _, la in _named_linear(model)]
    return [linear[0].in_features] + [la.out_features for la in linear] if linear else []


def _named_linear(model):
    return [(n, m) for n, m in model.named_modules() if hasattr(m, "in_features")]


def n_weights(model) -> int:
    return sum(p.numel() for p in model.parameters())


def model_label(model) -> str:
    """A one-line name of a network, e.g. ``NeuralNetwork(30→5→1, 161 weights)``."""
    sizes = "→".join(str(s) for s in layer_sizes(model))
    return f"{type(model).__name__}({sizes}, {n_weights(model)} weights)"


def summary_html(model) -> str:
    """A compact table of a network: descriptor, layers, sizes and parameter counts."""
    desc = getattr(model, "descriptor", None)
    head = f"<b>{_escape(model_label(model))}</b>"
    if desc is not None:
        size = desc.get_size() if hasattr(desc, "get_size") else "?"
        head += (f"<br><small>descriptor {_escape(type(desc).__name__)} "
                 f"({size} components); weights are trained, not edited here</small>")
    cells = "".join(f"<tr><td>{_escape(a)}</td><td>{_escape(b)}</td>"
                    f"<td style='text-align:right'>{n}</td></tr>"
                    for a, b, n in layer_rows(model))
    return (f"{head}<table class='wb-nn-summary'><tr><th>layer</th><th>shape</th>"
            f"<th>parameters</th></tr>{cells}</table>")


class TrainingSetup:
    """The calculator and loss of a network over the fitted configurations, built once
    per (model, configurations, fit flags) and reused by later sessions."""

    def __init__(self):
        self._key = None
        self.calculator = None
        self.loss = None
        self.test_loss = None

    def loss_for(self, model, configs, fit: dict, status=None, test_configs=()):
        """The training loss over ``configs`` (built, or the cached one); the loss over
        ``test_configs`` (None when there are none) is then ``self.test_loss``."""
        from workbench.fit import residuals as R
        from workbench.ml.calculator_torch import CalculatorTorch
        from workbench.ml.loss_torch import LossNeuralNetworkModel

        configs, test_configs = list(configs), list(test_configs)
        if not configs:
            raise LossError("no configurations to fit: include some in the Data tab")
        flags = (bool(fit["use_energy"]), bool(fit["use_forces"]), bool(fit["use_stress"]))
        residual = fit.get("residual") or None
        normalize = bool(fit.get("normalize_by_natoms", True))
        key = (id(model), tuple(id(c) for c in configs), tuple(id(c) for c in test_configs),
               flags, residual, normalize)
        if key == self._key and self.loss is not None:
            return self.loss
        if status is not None:
            status(f"compiling… computing fingerprints of "
                   f"{len(configs) + len(test_configs)} configurations")
        calc = CalculatorTorch(model)
        # the fingerprints are loaded into memory by create; their files are not kept
        with tempfile.TemporaryDirectory(prefix="workbench-fingerprints-") as tmp:
            calc.create(configs, use_energy=flags[0], use_forces=flags[1], use_stress=flags[2],
                        fingerprints_filename=Path(tmp) / "fingerprints.pkl", reuse=False)
        fn = R.RESIDUALS_BY_NAME.get(residual, residual) if residual else None
        # the workbench's own convention: ½‖u‖² as in the physics fits, best epoch kept
        loss = LossNeuralNetworkModel(calc, residual_fn=fn,
                                      residual_data={"normalize_by_natoms": normalize},
                                      convention="workbench")
        # the test set's fingerprints use the training set's normalization
        self.test_loss = loss.held_out(test_configs) if test_configs else None
        self._key, self.calculator, self.loss = key, calc, loss
        return loss

    def session(self, model, configs, fit: dict, method: str, options: dict, status=None,
                test_configs=()):
        """A started-ready TrainingSession over the (possibly cached) loss, evaluating
        the loss over ``test_configs`` after every epoch."""
        session_kw, optim_kw = split_options(options)
        loss = self.loss_for(model, configs, fit, status, test_configs)
        num_epochs = session_kw.pop("num_epochs")
        batch_size = session_kw.pop("batch_size")
        lr = session_kw.pop("lr")
        return loss.training_session(method, batch_size=batch_size, num_epochs=num_epochs,
                                     lr=lr, test_loss=self.test_loss, **session_kw,
                                     **optim_kw)

    def close(self) -> None:
        """Forget the cached calculator and loss (e.g. after the model changed)."""
        self._key, self.calculator, self.loss, self.test_loss = None, None, None, None


def _escape(s: str) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def network_section(model) -> dict:
    """The ``model`` section of a set-up file for a symmetry-function network: what
    :func:`workbench.ui.model_picker.build_network` needs to build the same architecture
    (the trained weights go to the model file, not here)."""
    from workbench.errors import ModelError

    desc = getattr(model, "descriptor", None)
    cut = getattr(desc, "cut_dists", None)
    if desc is None or not cut:
        raise ModelError(f"{type(model).__name__}: only networks on symmetry functions can "
                         "be written to a set-up file")
    hyper = getattr(model, "workbench_hyperparams", None) or "set51"
    layers = list(getattr(model, "layers", None) or model.children())
    acts = [type(la).__name__ for la in layers if not hasattr(la, "in_features")]
    return {"name": type(model).__name__,
            "network": {"species": [str(s) for s in desc.species],
                        "cutoff": float(max(cut.values())),
                        "descriptor": hyper,
                        "hidden": [int(s) for s in layer_sizes(model)[1:-1]],
                        "activation": acts[0] if acts else "Tanh"}}
