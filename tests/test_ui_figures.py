"""Figures follow their boxes: the FigureSizer is on every Workbench and app page, and the
page does not count the views of plotly figures."""

import plotly.graph_objects as go
import pytest

from workbench.data import Dataset, Weight
from workbench.models import StillingerWeber
from workbench.ui.figures import FigureSizer, figures_in
from workbench.ui.guided import GuidedApp
from workbench.ui.workbench import Workbench


@pytest.fixture
def wb(si4_path):
    ds = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1))
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], gamma=[[1.5]])
    return Workbench(dataset=ds, model=model)


def test_the_sizer_is_on_the_workbench_and_the_app_page(wb):
    assert isinstance(wb.sizer, FigureSizer) and wb.sizer in wb.children
    assert GuidedApp(wb).children[-1] is wb.sizer
    # its style gives plotly elements their box's width; its script resizes on a change
    assert ".wb-workbench .js-plotly-plot, .wb-app .js-plotly-plot" in wb.sizer._css
    assert "width: 100%; min-width: 0" in wb.sizer._css
    assert "new ResizeObserver" in wb.sizer._esm
    assert "window.dispatchEvent(new Event('resize'))" in wb.sizer._esm


def test_plotly_figures_do_not_count_their_views(wb):
    figures = figures_in(wb)
    assert len(figures) >= 2  # the loss and parameter figures of the Fit tab
    assert all(f._view_count is None for f in figures)
    wb.fresh_figures([wb.browser, wb.monitor])  # new figures, made after the Workbench
    assert all(f._view_count is None for f in figures_in(wb))
    assert go.FigureWidget()._view_count is None


def test_replaced_figures_give_up_their_data(wb, monkeypatch):
    """Tab visits and re-displays give panels new figures; the old ones are emptied (a
    few seconds later), so the kernel does not keep a figure's points per visit."""
    from workbench.ui import figures

    monkeypatch.setattr(figures, "RELEASE_DELAY", 0.0)
    panels = [wb.browser, wb.weights, wb.monitor, wb.analysis]
    wb.fresh_figures(panels)
    old = figures_in(wb)
    assert any(len(fig.data) for fig in old)  # the histograms and loss traces
    for _ in range(3):
        wb.fresh_figures(panels)
        wb.redraw()
    assert all(len(fig.data) == 0 for fig in old)
    shown = figures_in(wb)
    assert shown and not {id(f) for f in shown} & {id(f) for f in old}
    assert any(len(fig.data) for fig in shown)


def test_a_replaced_figure_is_emptied_after_the_delay(monkeypatch):
    import time

    import ipywidgets as w

    from workbench.ui import figures

    monkeypatch.setattr(figures, "RELEASE_DELAY", 0.3)
    old = go.FigureWidget(data=[go.Scatter(x=[1, 2], y=[3, 4])])
    new = go.FigureWidget()
    box = w.VBox([w.VBox([old])])
    figures.show_in(box, [new])
    assert box.children == (new,) and len(old.data) == 1  # its view may still answer
    deadline = time.monotonic() + 10
    while old.data and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(old.data) == 0 and old.comm is not None  # emptied, not closed
