"""Training a neural network from the Fit tab.

For a torch model (``model.is_torch``, e.g. a ``NeuralNetwork`` from the ModelPicker's
builder) the LossMonitor starts a :class:`workbench.ml.training_session.TrainingSession`
instead of a FitSession.  :class:`TrainingSetup` builds the ``CalculatorTorch``, its loss
and the test loss over the held-out configurations in the monitor's background thread
(through :mod:`workbench.ml.network_setup`, which ``workbench fit`` uses too, so an
exported set-up trains the same way; the fingerprints are written to a temporary
directory, removed once they are loaded) and keeps them while the model, the
configurations and the fit flags stay the same, so pressing Fit again continues training
without recomputing fingerprints.  The optimizer options typed in the monitor are
``{epochs, batch_size, lr}`` plus any keyword of the torch optimizer.
"""

from __future__ import annotations

from workbench.errors import LossError
from workbench.ml.network_setup import (  # noqa: F401 - the Fit tab's names for them
    DEFAULT_METHOD, DEFAULT_OPTIONS, TORCH_METHODS, layer_sizes, network_section,
    split_options, training_losses, training_session)
from workbench.ui.names import escape_html


def is_torch_model(model) -> bool:
    return bool(getattr(model, "is_torch", False))


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


def n_weights(model) -> int:
    return sum(p.numel() for p in model.parameters())


def model_label(model) -> str:
    """A one-line name of a network, e.g. ``NeuralNetwork(30→5→1, 161 weights)``."""
    sizes = "→".join(str(s) for s in layer_sizes(model))
    return f"{type(model).__name__}({sizes}, {n_weights(model)} weights)"


def summary_html(model) -> str:
    """A compact table of a network: descriptor, layers, sizes and parameter counts."""
    desc = getattr(model, "descriptor", None)
    head = f"<b>{escape_html(model_label(model))}</b>"
    if desc is not None:
        size = desc.get_size() if hasattr(desc, "get_size") else "?"
        head += (f"<br><small>descriptor {escape_html(type(desc).__name__)} "
                 f"({size} components); weights are trained, not edited here</small>")
    cells = "".join(f"<tr><td>{escape_html(a)}</td><td>{escape_html(b)}</td>"
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
        configs, test_configs = list(configs), list(test_configs)
        if not configs:
            raise LossError("no configurations to fit: include some in the Data tab")
        key = (id(model), tuple(id(c) for c in configs), tuple(id(c) for c in test_configs),
               bool(fit["use_energy"]), bool(fit["use_forces"]), bool(fit["use_stress"]),
               fit.get("residual") or None, bool(fit.get("normalize_by_natoms", True)))
        if key == self._key and self.loss is not None:
            return self.loss
        if status is not None:
            status(f"compiling… computing fingerprints of "
                   f"{len(configs) + len(test_configs)} configurations")
        # the test set's fingerprints use the training set's normalization
        loss, self.test_loss = training_losses(model, configs, test_configs, fit)
        self._key, self.calculator, self.loss = key, loss.calculator, loss
        return loss

    def session(self, model, configs, fit: dict, method: str, options: dict, status=None,
                test_configs=()):
        """A started-ready TrainingSession over the (possibly cached) loss, evaluating
        the loss over ``test_configs`` after every epoch."""
        split_options(options)  # bad options are reported before any fingerprint
        loss = self.loss_for(model, configs, fit, status, test_configs)
        return training_session(loss, self.test_loss, method, options)

    def close(self) -> None:
        """Forget the cached calculator and loss (e.g. after the model changed)."""
        self._key, self.calculator, self.loss, self.test_loss = None, None, None, None
