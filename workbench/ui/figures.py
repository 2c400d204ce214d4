"""Figures that follow their container's size.

Plotly sizes an ``autosize`` figure from its element's width when it is drawn and when
the window is resized.  Two things kept our figures at a wrong width: a plotly element
inside a flex box is as wide as its content (so it never shrinks below the width it was
first drawn at), and a figure drawn in a hidden tab (or a Voila step not shown yet) gets
plotly's default 700 px.  :class:`FigureSizer`, one invisible widget on the page, fixes
both: its style makes every plotly element exactly as wide as its box, and a
ResizeObserver notices a plot whose drawing no longer matches its element (a tab shown,
a column that wrapped, a side panel opened) and asks plotly to size it again (the
``resize`` event each plotly figure widget listens to, also heard by nglview's stage).
A view whose element already left the page answers that event with plotly.js's "Resize
must be passed a displayed plot div element" rejection; the sizer marks exactly that
one as handled, so the console shows only real errors.
No library offers this for ipywidgets' plotly FigureWidget, so the few lines of
JavaScript live here.
"""

from __future__ import annotations

import anywidget
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


_SIZER_CSS = """
.wb-workbench .js-plotly-plot, .wb-app .js-plotly-plot {
  width: 100%; min-width: 0; max-width: 100%; flex: 1 1 auto;
}
.wb-figure-sizer { display: none; }
"""

_SIZER_ESM = """
function plotsOutOfSize() {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (!gd.offsetParent) continue;  // hidden: sized when it shows
    const svg = gd.querySelector('.main-svg');
    if (!svg) continue;
    const want = gd.getBoundingClientRect().width;
    if (want > 0 && Math.abs(svg.getBoundingClientRect().width - want) > 1) return true;
  }
  return false;
}

// Plotly's figure views size themselves on every window resize, also a view whose
// element has just left the page (an output re-rendered or closed); plotly.js then
// rejects with this message, which only says there was nothing on screen to size.
const NOTHING_TO_SIZE = 'Resize must be passed a displayed plot div element.';

function install() {
  if (window.__wbFigureSizer) return;
  window.__wbFigureSizer = true;
  window.addEventListener('unhandledrejection', (event) => {
    if (event.reason && event.reason.message === NOTHING_TO_SIZE) event.preventDefault();
  });
  let timer = null;
  const check = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (plotsOutOfSize()) window.dispatchEvent(new Event('resize'));
    }, 120);
  };
  const resized = new ResizeObserver(check);
  const watch = () => {
    for (const gd of document.querySelectorAll('.js-plotly-plot')) {
      if (gd.__wbSized) continue;
      gd.__wbSized = true;
      resized.observe(gd);
    }
    check();
  };
  let pending = null;
  new MutationObserver(() => {
    if (pending === null) pending = setTimeout(() => { pending = null; watch(); }, 200);
  }).observe(document.body, {childList: true, subtree: true});
  watch();
}

function render({ el }) {
  el.classList.add('wb-figure-sizer');
  install();
}
export default { render };
"""


class FigureSizer(anywidget.AnyWidget):
    """Invisible: keeps every plotly figure on the page as wide as its box (see the
    module docstring).  One per page is enough; more do no harm."""

    _esm = _SIZER_ESM
    _css = _SIZER_CSS


def untrack_figure_views() -> None:
    """Make plotly FigureWidgets leave ipywidgets' ``_view_count`` unset (once per
    process).  Plotly 5 sets it to 0, so the page counts each figure's views and sends
    the kernel an update whenever one goes away; when a notebook is closed, those
    updates meet a connection already closed ("Could not send widget sync message" in
    the console).  Nothing reads the count."""
    import functools

    from plotly.basewidget import BaseFigureWidget

    if getattr(BaseFigureWidget, "_workbench_untracked", False):
        return
    init = BaseFigureWidget.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._view_count = None

    BaseFigureWidget.__init__ = __init__
    BaseFigureWidget._workbench_untracked = True


#: seconds a replaced figure keeps its data: its page view may still answer a resize it
#: was asked for (plotly sends the new layout back)
RELEASE_DELAY = 10.0


def show_in(box, children) -> None:
    """Make ``children`` the content of ``box`` and, :data:`RELEASE_DELAY` seconds later,
    empty the plotly figures it showed that are not among them, so a replaced figure
    does not keep its points in the kernel for the kernel's life.

    The figures are emptied, not closed: a notebook reopened meanwhile may not have
    opened their comms, and JupyterLab reports closing an unknown comm as an error
    (while an update to one is ignored)."""
    import threading

    children = list(children)
    keep = {id(fig) for child in children for fig in figures_in(child)}
    old = [fig for child in box.children for fig in figures_in(child) if id(fig) not in keep]
    box.children = children
    if not old:
        return

    def release():
        for fig in old:
            if fig.data:
                fig.data = []

    if RELEASE_DELAY <= 0:
        release()
        return
    timer = threading.Timer(RELEASE_DELAY, release)
    timer.daemon = True
    timer.start()


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
