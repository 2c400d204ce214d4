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
from workbench.ui.names import model_title

from workbench.ml.network_setup import ACTIVATIONS, build_network  # noqa: F401

SOURCES = ("built-in", "OpenKIM", "plugin")


def ml_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("workbench.ml.neural_network") is not None
    except ImportError:
        return False


def kim_species(name: str) -> set[str] | None:
    """The chemical species an OpenKIM model's name announces (the token before
    ``__MO_``/``__SM_``, e.g. ``..._SiC__MO_...`` -> {Si, C}); None when the name does not
    spell elements (such models are listed only when nothing is filtered)."""
    import re

    from ase.data import chemical_symbols

    match = re.search(r"_([A-Za-z]+)__(MO|SM)_\d+_\d+$", name)
    if match is None:
        return None
    token, out = match.group(1), set()
    known = set(chemical_symbols[1:])
    k = 0
    while k < len(token):
        two, one = token[k:k + 2], token[k:k + 1]
        if len(two) == 2 and two[1].islower() and two in known:
            out.add(two)
            k += 2
        elif one in known and (k + 1 == len(token) or not token[k + 1].islower()):
            out.add(one)
            k += 1
        else:
            return None
    return out or None


def covers(name: str, species) -> bool:
    """Whether the KIM model ``name`` announces every one of ``species``."""
    have = kim_species(name)
    return have is not None and set(species) <= have


def model_names(source: str) -> list[str]:
    from workbench.cli import model as listing

    if source == "built-in":
        return list(listing.builtin_models())
    if source == "plugin":
        return [name for name, _ in listing.plugin_models()]
    if source == "OpenKIM":
        return listing.kim_models()
    raise ValueError(f"unknown model source {source!r}")


def _name_of(model) -> str | None:
    if model is None or getattr(model, "is_torch", False):
        return None
    if type(model).__name__ == "KIMModel":
        return getattr(model, "model_name", None)
    return type(model).__name__


def _source_of(model) -> str:
    return "OpenKIM" if type(model).__name__ == "KIMModel" else "built-in"


def build_model(name: str, species=("Si",)):
    """A built-in, plugin or KIM model by name (the same lookup as ``workbench model``)."""
    from workbench.models.factory import make_model

    return make_model(name, tuple(species))


class ModelPicker(w.VBox):
    """Choose a model. ``data_species`` (the data set's species) filters the OpenKIM list
    to models that cover all of them; ``search`` narrows any list by name."""

    def __init__(self, on_model=None, species=("Si",), current=None, data_species=(),
                 **kwargs):
        super().__init__(**kwargs)
        self.add_class("wb-model-picker")
        self.on_model = on_model
        self.model = current
        self.data_species = tuple(data_species)
        self._all: list[str] = []
        self.source_w = w.ToggleButtons(
            options=SOURCES, value=_source_of(current),
            tooltips=["potentials built into the workbench (fast, exact derivatives)",
                      "models installed from OpenKIM (any kim-api model; SW, Tersoff, "
                      "Lennard-Jones and Morse_Shifted models run on the built-in kernels with "
                      "exact derivatives, others by finite differences)",
                      "models added by installed plugins"])
        self.source_w.tooltip = "where the model comes from"
        self.search_w = w.Text(placeholder="search names, e.g. Tersoff or 2014",
                               description="search", continuous_update=True,
                               layout=w.Layout(width="320px"),
                               tooltip="show only models whose name contains this text")
        self.search_w.add_class("wb-model-search")
        self.name_w = w.Dropdown(options=[], description="model",
                                 layout=w.Layout(width="100%", max_width="560px"),
                                 tooltip="the model to fit; OpenKIM models are listed only "
                                         "when they cover every species of the data")
        self.name_w.add_class("wb-model-name")
        self.species_w = w.Text(value=" ".join(species), description="species",
                                layout=w.Layout(width="260px"),
                                tooltip="chemical species of a built-in model, e.g. Si C")
        self.create_w = w.Button(description="Use this model", button_style="primary",
                                 tooltip="fit this model from now on (the current model's "
                                         "fit stays in the history and comes back when "
                                         "you choose it again)")
        self.message_w = w.HTML()
        self.count_w = w.HTML()
        self.source_w.observe(lambda _: self.refresh(), "value")
        self.search_w.observe(lambda _: self._filter(), "value")
        self.create_w.on_click(lambda _: self.create())
        self.nn_model = None
        self.children = [self.source_w, w.HBox([self.search_w, self.count_w]),
                         w.HBox([self.name_w, self.species_w],
                                layout=w.Layout(flex_flow="row wrap")),
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
            for wid, tip in (
                    (self.nn_hidden_w, "sizes of the hidden layers, comma separated, e.g. "
                                       "10, 10 (more or wider layers: more flexible, need "
                                       "more data)"),
                    (self.nn_activation_w, "the function applied after each hidden layer; "
                                           "Tanh is the usual choice for potentials"),
                    (self.nn_cutoff_w, "how far (Å) an atom sees its neighbors; about the "
                                       "second-neighbor distance (5 Å for Si)"),
                    (self.nn_hyper_w, "the symmetry-function set describing each atom's "
                                      "neighborhood: set51 (51 functions, more detail) or "
                                      "set30 (30, faster)"),
                    (self.nn_build_w, "build a new, untrained network with these settings "
                                      "and train it in the Fit tab")):
                wid.tooltip = tip
            self.nn_message_w = w.HTML()
            self.nn_build_w.on_click(lambda _: self.build_nn())
            self.children += (w.HTML("<b>neural network (symmetry functions → dense layers)</b>"),
                              w.HBox([self.nn_hyper_w, self.nn_cutoff_w]),
                              w.HBox([self.nn_hidden_w, self.nn_activation_w]),
                              w.HBox([self.nn_build_w, self.nn_message_w]))
        self.refresh()
        if current is not None:
            self.message_w.value = f"current model: <b>{model_title(current)}</b>"

    def refresh(self) -> None:
        source = self.source_w.value
        self.count_w.value = ""
        try:
            names = model_names(source)
        except WorkbenchError as exc:
            names = []
            self.message_w.value = f'<span style="color:#c0392b">{exc}</span>'
        else:
            if not names:
                self.message_w.value = f"<i>no {source} models installed</i>"
            elif source == "OpenKIM" and self.data_species:
                total = len(names)
                names = [n for n in names if covers(n, self.data_species)]
                self.count_w.value = (f"<i>{len(names)} of {total} installed OpenKIM "
                                      f"models cover {', '.join(self.data_species)}</i>")
        self._all = names
        self.species_w.disabled = source == "OpenKIM"
        self._filter()

    def _filter(self) -> None:
        text = self.search_w.value.strip().lower()
        names = [n for n in self._all if text in n.lower()] if text else list(self._all)
        current = _name_of(self.model)
        with self.hold_sync():
            self.name_w.options = names
            if current in names:
                self.name_w.value = current

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
        self.message_w.value = f"current model: <b>{model_title(model)}</b>"
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
