"""ModelPicker: choose a built-in potential, an installed OpenKIM model or a plugin model,
or build a neural network.

Built-ins come from ``workbench.models.builtin.BUILTIN_MODELS``, plugins from the
``workbench.models`` entry-point group and KIM models from the installed collections
(listed on first use, since that asks kim-api).  ``on_model(model)`` receives the new
model.  The neural-network builder (shown when ``workbench.ml`` is installed) assembles a
symmetry-function descriptor and a feed-forward network (``nn_model``), handed to
``on_model`` like the others; the Workbench then trains it in the Fit tab.
"""

from __future__ import annotations

import ipywidgets as w

from workbench.errors import WorkbenchError

SOURCES = ("built-in", "OpenKIM", "plugin")
ACTIVATIONS = ("Tanh", "Sigmoid", "ReLU", "ELU")


def ml_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("workbench.ml.neural_network") is not None
    except ImportError:
        return False


def build_network(species, cutoff: float, hidden, activation: str = "Tanh",
                  hyperparams: str = "set51"):
    """A NeuralNetwork on symmetry functions: ``hidden`` layer sizes, one activation."""
    from workbench.errors import ModelError
    from workbench.ml import NeuralNetwork, SymmetryFunction, nn

    hidden = [int(h) for h in hidden]
    if not hidden or any(h < 1 for h in hidden):
        raise ModelError(f"hidden layer sizes must be positive integers, got {hidden}")
    if activation not in ACTIVATIONS:
        raise ModelError(f"activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    pairs = {f"{a}-{b}": float(cutoff) for i, a in enumerate(species) for b in species[i:]}
    descriptor = SymmetryFunction(cut_dists=pairs, cut_name="cos", hyperparams=hyperparams,
                                  normalize=True)
    model = NeuralNetwork(descriptor)
    sizes = [descriptor.get_size()] + hidden
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), getattr(nn, activation)()]
    layers.append(nn.Linear(sizes[-1], 1))
    model.add_layers(*layers)
    model.workbench_hyperparams = hyperparams  # written to set-up files (network_section)
    return model


def model_names(source: str) -> list[str]:
    from workbench.cli import model as listing

    if source == "built-in":
        return list(listing.builtin_models())
    if source == "plugin":
        return [name for name, _ in listing.plugin_models()]
    if source == "OpenKIM":
        return listing.kim_models()
    raise ValueError(f"unknown model source {source!r}")


def build_model(name: str, species=("Si",)):
    """A built-in, plugin or KIM model by name (the same lookup as ``workbench model``)."""
    from workbench.models.factory import make_model

    return make_model(name, tuple(species))


class ModelPicker(w.VBox):
    def __init__(self, on_model=None, species=("Si",), current=None, **kwargs):
        super().__init__(**kwargs)
        self.add_class("wb-model-picker")
        self.on_model = on_model
        self.model = current
        self.source_w = w.ToggleButtons(options=SOURCES, value="built-in")
        self.name_w = w.Dropdown(options=[], description="model",
                                 layout=w.Layout(width="560px"))
        self.species_w = w.Text(value=" ".join(species), description="species",
                                layout=w.Layout(width="260px"))
        self.create_w = w.Button(description="Use this model", button_style="primary")
        self.message_w = w.HTML()
        self.source_w.observe(lambda _: self.refresh(), "value")
        self.create_w.on_click(lambda _: self.create())
        self.nn_model = None
        self.children = [self.source_w, w.HBox([self.name_w, self.species_w]),
                         w.HBox([self.create_w, self.message_w])]
        if ml_available():
            self.nn_hidden_w = w.Text(value="10, 10", description="hidden layers",
                                      layout=w.Layout(width="260px"))
            self.nn_activation_w = w.Dropdown(options=ACTIVATIONS, value="Tanh",
                                              description="activation")
            self.nn_cutoff_w = w.BoundedFloatText(value=5.0, min=1.0, max=12.0,
                                                  description="cutoff (Å)")
            self.nn_hyper_w = w.Dropdown(options=["set51", "set30"], value="set51",
                                         description="descriptor")
            self.nn_build_w = w.Button(description="Build network")
            self.nn_message_w = w.HTML()
            self.nn_build_w.on_click(lambda _: self.build_nn())
            self.children += (w.HTML("<b>neural network (symmetry functions → dense layers)</b>"),
                              w.HBox([self.nn_hyper_w, self.nn_cutoff_w]),
                              w.HBox([self.nn_hidden_w, self.nn_activation_w]),
                              w.HBox([self.nn_build_w, self.nn_message_w]))
        self.refresh()
        if current is not None:
            self.message_w.value = f"current model: <b>{current!r}</b>"

    def refresh(self) -> None:
        try:
            names = model_names(self.source_w.value)
        except WorkbenchError as exc:
            names = []
            self.message_w.value = f'<span style="color:#c0392b">{exc}</span>'
        else:
            if not names:
                self.message_w.value = f"<i>no {self.source_w.value} models installed</i>"
        self.name_w.options = names
        self.species_w.disabled = self.source_w.value == "OpenKIM"

    def create(self):
        """Build the chosen model and hand it to ``on_model``; errors are shown."""
        name = self.name_w.value
        if not name:
            self.message_w.value = '<span style="color:#c0392b">choose a model first</span>'
            return None
        species = self.species_w.value.replace(",", " ").split()
        try:
            model = build_model(name, species)
        except WorkbenchError as exc:
            self.message_w.value = f'<span style="color:#c0392b">{exc}</span>'
            return None
        self.model = model
        self.message_w.value = f"current model: <b>{model!r}</b>"
        if self.on_model is not None:
            self.on_model(model)
        return model

    def build_nn(self):
        """Build the network described by the builder's fields (kept in ``nn_model``)."""
        species = self.species_w.value.replace(",", " ").split() or ["Si"]
        try:
            hidden = [int(h) for h in self.nn_hidden_w.value.replace(",", " ").split()]
        except ValueError:
            self.nn_message_w.value = ('<span style="color:#c0392b">hidden layers: '
                                       'comma-separated integers, e.g. 10, 10</span>')
            return None
        try:
            net = build_network(species, self.nn_cutoff_w.value, hidden,
                                self.nn_activation_w.value, self.nn_hyper_w.value)
        except WorkbenchError as exc:
            self.nn_message_w.value = f'<span style="color:#c0392b">{exc}</span>'
            return None
        self.nn_model = net
        n = sum(p.numel() for p in net.parameters())
        self.nn_message_w.value = (f"built: {len(hidden)} hidden layer(s) {hidden}, {n} weights; "
                                   "train it in the Fit tab")
        if self.on_model is not None:
            self.on_model(net)
        return net
