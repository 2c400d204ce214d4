"""Figures that follow their container's size.

Plotly sizes an ``autosize`` figure from its container when it is drawn and when the
window is resized, but not when a hidden tab becomes visible: a figure drawn in a hidden
tab keeps plotly's default width and is clipped.  :func:`fit_to_containers` asks every
figure below a widget to size itself again (a ``relayout`` with ``autosize``), which the
Workbench does whenever a tab or a step is shown.
"""

from __future__ import annotations

import ipywidgets as w


def widgets_in(widget) -> list:
    """``widget`` and every widget below it (depth first)."""
    out, todo = [], [widget]
    while todo:
        wid = todo.pop()
        out.append(wid)
        if isinstance(wid, w.Box):
            todo.extend(reversed(wid.children))
    return out


def figures_in(widget) -> list:
    """Every plotly FigureWidget below ``widget`` (depth first)."""
    import plotly.graph_objects as go

    out, todo = [], [widget]
    while todo:
        wid = todo.pop()
        if isinstance(wid, go.FigureWidget):
            out.append(wid)
        elif isinstance(wid, w.Box):
            todo.extend(reversed(wid.children))
    return out


def fit_to_containers(widget) -> int:
    """Size every figure below ``widget`` to its container; returns how many."""
    figs = figures_in(widget)
    for fig in figs:
        fig._send_relayout_msg({"autosize": True})
    return len(figs)
