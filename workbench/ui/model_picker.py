"""ModelPicker: choose a built-in potential, an installed OpenKIM model or a plugin model.

Built-ins come from ``workbench.models.builtin.BUILTIN_MODELS``, plugins from the
``workbench.models`` entry-point group and KIM models from the installed collections
(listed on first use, since that asks kim-api).  ``on_model(model)`` receives the new
model.
"""

from __future__ import annotations

import ipywidgets as w

from workbench.errors import WorkbenchError

SOURCES = ("built-in", "OpenKIM", "plugin")


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
    from workbench.cli.model import make_model

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
        self.children = [self.source_w, w.HBox([self.name_w, self.species_w]),
                         w.HBox([self.create_w, self.message_w])]
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
