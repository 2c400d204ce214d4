"""Figures that follow their container's size.

Plotly sizes an ``autosize`` figure from its container when it is drawn and when the
window is resized, but not when a hidden tab becomes visible: a figure drawn in a hidden
tab keeps plotly's default width and is clipped.  :func:`resize_later` asks figures
to size themselves again (a ``relayout`` with ``autosize``) once the page drew them; the
Workbench draws a tab's figures when the tab is shown and then calls it.
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




def resize_later(figures, delay: float = 1.5) -> None:
    """Ask ``figures`` to size themselves to their boxes after ``delay`` seconds, when
    the page has drawn them (a relayout with ``autosize`` reaches only drawn figures)."""
    import threading

    figs = list(figures)
    if not figs:
        return

    def resize():
        for fig in figs:
            fig._send_relayout_msg({"autosize": True})

    timer = threading.Timer(delay, resize)
    timer.daemon = True
    timer.start()
