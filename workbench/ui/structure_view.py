"""StructureView: one configuration in nglview with its cell, atoms coloured by species,
optional force arrows (reference, predicted or their difference) and, once the current
model was analyzed, atoms coloured by their force error.

Predicted forces come from the state's current analysis (computed in the analysis job,
never here): :func:`forces_of` reads them per configuration.  The view only turns arrays
into nglview shapes.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np

ARROWS = ("no arrows", "reference forces", "predicted forces", "force error")
COLOURS = ("species", "force error")
ARROW_RGB = {"reference forces": [0.15, 0.35, 0.85], "predicted forces": [0.1, 0.6, 0.2],
             "force error": [0.85, 0.2, 0.1]}


def import_nglview():
    """nglview without its start-up warning (3.1.4 reads its version through
    pkg_resources, which setuptools marks deprecated)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import nglview
    return nglview


def forces_of(state, index: int):
    """(reference, predicted) forces of configuration ``index`` (data-set order);
    predicted is None unless the current model's analysis covers it."""
    config = state.configs[index]
    ref = None if config.forces is None else np.asarray(config.forces, float)
    job = state.analysis
    if job is None or job.result is None or not state.is_current(job):
        return ref, None
    for part in job.result["parts"].values():
        rows = np.flatnonzero(part["index"] == index)
        if rows.size:
            k = int(rows[0])
            start, stop = part["atom_offsets"][k], part["atom_offsets"][k + 1]
            pred = np.asarray(part["pred_f"], float).reshape(-1, 3)[start:stop]
            return ref, pred
    return ref, None


def error_colours(errors: np.ndarray) -> list[list[float]]:
    """Blue (smallest error) to red (largest), linear in the error."""
    e = np.asarray(errors, float)
    span = float(e.max() - e.min()) if e.size else 0.0
    t = (e - e.min()) / span if span > 0 else np.zeros_like(e)
    return [[float(0.1 + 0.85 * x), float(0.25 * (1 - abs(2 * x - 1))), float(0.95 - 0.85 * x)]
            for x in t]


class StructureView(w.VBox):
    """The 3D view of one configuration; ``show(index)`` draws it."""

    def __init__(self, state, **kwargs):
        super().__init__(**kwargs)
        self.add_class("wb-structure")
        self.state = state
        self.index: int | None = None
        self.view = None
        self._parts: list = []
        self.arrows_w = w.Dropdown(options=ARROWS, value="no arrows", description="arrows",
                                   layout=w.Layout(width="230px"),
                                   tooltip="draw the reference (DFT) forces, the model's "
                                           "predicted forces or their difference on each atom")
        self.colour_w = w.Dropdown(options=COLOURS, value="species", description="colour",
                                   layout=w.Layout(width="200px"),
                                   tooltip="colour atoms by element, or by the size of the "
                                           "model's force error (after a fit or Refresh "
                                           "in the Analysis tab)")
        self.arrows_w.add_class("wb-arrows")
        self.colour_w.add_class("wb-colour")
        self.note_w = w.HTML()
        self.box = w.Box(layout=w.Layout(width="100%", height="380px"))
        self.arrows_w.observe(lambda _: self.redraw(), "value")
        self.colour_w.observe(lambda _: self.redraw(), "value")
        state.observe(lambda _: self.redraw(), "analysis")
        self.children = [w.HBox([self.arrows_w, self.colour_w]), self.note_w, self.box]

    @property
    def forces_shown(self) -> bool:
        return self.arrows_w.value != "no arrows"

    def show(self, index: int | None) -> None:
        self.index = index
        self.redraw()

    def redraw(self) -> None:
        if self.index is None:
            return
        view = self._ensure_view()
        if view is None:
            return
        nglview = import_nglview()
        config = self.state.configs[self.index]
        ref, pred = forces_of(self.state, self.index)
        notes = []
        for part in self._parts:
            view.remove_component(part)
        self._parts = []
        by_error = self.colour_w.value == "force error"
        if by_error and pred is None:
            notes.append("force errors appear once the current model was analyzed "
                         "(after a fit, or Refresh in the Analysis tab)")
            by_error = False
        comp = view.add_component(nglview.ASEStructure(config.to_ase()),
                                  default_representation=False)
        if by_error:
            comp.add_licorice(colorScheme="element", radius=0.08)
        else:
            comp.add_ball_and_stick(colorScheme="element")
        comp.add_unitcell()
        self._parts.append(comp)
        coords = np.asarray(config.coords, float)
        if by_error:
            err = np.linalg.norm(pred - ref, axis=1)
            spheres = [("sphere", p.tolist(), c, 0.45)
                       for p, c in zip(coords, error_colours(err))]
            self._parts.append(view._add_shape(spheres, name="force error"))
            notes.append(f"atoms coloured by |ΔF|: blue {err.min():.3g} → red "
                         f"{err.max():.3g} eV/Å")
        arrows = self.arrow_vectors(ref, pred)
        if arrows is None and self.forces_shown:
            notes.append(f"{self.arrows_w.value} appear once the current model was "
                         "analyzed" if ref is not None else "this configuration has no forces")
        if arrows is not None:
            scale = 1.0 / max(float(np.abs(arrows).max()), 1e-12)
            rgb = ARROW_RGB[self.arrows_w.value]
            shapes = [("arrow", p.tolist(), (p + scale * f).tolist(), rgb, 0.08)
                      for p, f in zip(coords, arrows)]
            self._parts.append(view._add_shape(shapes, name=self.arrows_w.value))
        self.note_w.value = "<br>".join(f"<small>{n}</small>" for n in notes)
        view.center()

    def arrow_vectors(self, ref, pred):
        choice = self.arrows_w.value
        if choice == "reference forces":
            return ref
        if choice in ("predicted forces", "force error") and (pred is None or ref is None):
            return None
        if choice == "predicted forces":
            return pred
        if choice == "force error":
            return pred - ref
        return None

    def _ensure_view(self):
        if self.view is None:
            try:
                nglview = import_nglview()
            except ImportError:
                self.note_w.value = "<i>install nglview to see structures</i>"
                return None
            self.view = nglview.NGLWidget(layout=w.Layout(width="100%", height="360px"))
            self.view.add_class("wb-structure-view")
            self.box.children = [self.view]
        return self.view
