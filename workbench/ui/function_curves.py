"""The model's function curves beside the loss (EAM's pair, density and embedding
functions), redrawn as a fit changes them; hidden for models that have none."""

from __future__ import annotations

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go

from workbench.ui.figures import show_in


def model_curves(model) -> list[dict]:
    """``model.function_curves()`` ([] when the model has none or cannot draw them)."""
    fn = getattr(model, "function_curves", None)
    if fn is None:
        return []
    try:
        return list(fn() or [])
    except Exception:  # noqa: BLE001 - a model that cannot draw just draws nothing
        return []


class FunctionCurves:
    """A box holding one figure with a panel per curve group; ``draw(model)`` updates it."""

    def __init__(self):
        self.box = w.Box(layout=w.Layout(width="100%"))
        self.box.add_class("wb-curves-plot")
        self.fig = None

    def reset(self) -> None:
        """Forget the figure (a re-displayed or re-modelled monitor draws a new one)."""
        self.fig = None

    def draw(self, model) -> None:
        """Draw (or update in place) ``model``'s curves, or hide the box."""
        curves = model_curves(model)
        if not curves:
            show_in(self.box, [])
            self.box.layout.display = "none"
            return
        groups = list(dict.fromkeys(c["group"] for c in curves))
        if self.fig is None or len(self.fig.data) != len(curves):
            self.fig = go.FigureWidget(_grid(curves, groups))
            show_in(self.box, [self.fig])
            self.box.layout.display = None
        with self.fig.batch_update():
            for trace, c in zip(self.fig.data, curves):
                trace.x = np.asarray(c["x"], float).tolist()
                trace.y = np.asarray(c["y"], float).tolist()


def _grid(curves, groups):
    from plotly.subplots import make_subplots

    grid = make_subplots(rows=1, cols=len(groups), horizontal_spacing=0.08,
                         subplot_titles=groups)
    for c in curves:
        grid.add_scatter(x=[], y=[], mode="lines", name=c["name"],
                         row=1, col=groups.index(c["group"]) + 1)
    for k, g in enumerate(groups):
        first = next(c for c in curves if c["group"] == g)
        grid.update_xaxes(title_text=first["x_label"], row=1, col=k + 1)
        grid.update_yaxes(title_text=first["y_label"], row=1, col=k + 1)
    grid.update_layout(height=280, autosize=True, title="model functions",
                       margin=dict(l=60, r=10, t=50, b=40))
    return grid
