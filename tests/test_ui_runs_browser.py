"""The Runs tab in a real browser (JupyterLab and Voila): two fits recorded by the
Workbench are selected in the table and their loss curves appear overlaid — checked as
plotly traces with data and as coloured pixels on the screen."""

from __future__ import annotations

import io

import pytest

from test_ui_browser import (  # noqa: F401 - browser and artifacts are fixtures
    artifacts,
    browser,
    lab_run_all,
    lab_settings,
    make_notebook,
    open_lab,
    open_voila,
    screenshot_on_failure,
    workbench_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def setup_cell(runs_prefix: str) -> str:
    """The notebook's first lines: a private run store, the Si_4 set and an SW model."""
    return (
        "import os, tempfile\n"
        f"os.environ['WORKBENCH_RUNS'] = tempfile.mkdtemp(prefix={runs_prefix!r})\n"
        "from workbench import datasets\n"
        "from workbench.dataset import Dataset, Weight\n"
        "from workbench.models import StillingerWeber\n"
        "from workbench.ui.workbench import Workbench\n"
        "ds = Dataset(datasets.path('Si_4'), Weight(energy_weight=1.0, forces_weight=0.1))\n"
        "model = StillingerWeber()\n"
        "model.set_opt_params(A=[[5.0, 1.0, 20]], gamma=[[1.5]])\n")


CELLS = [
    setup_cell("runs-tab-") +
    "from workbench.fit import setup_file as fc\n"
    "from workbench.fit.session import FitSession\n"
    "for maxiter in (4, 60):  # two recorded fits (the default store)\n"
    "    _, loss = fc.build_loss(model, ds.get_configs(), {})\n"
    "    FitSession(loss, options={'maxiter': maxiter}).run()\n"
    "wb = Workbench(dataset=ds, model=model)\n"
    "wb.tabs.selected_index = wb.tabs.titles.index('Runs')\n"
    "wb",
]

#: the loss-curve colours of the first two runs (runs_panel.COLOURS)
BLUE, RED = (0x1F, 0x77, 0xB4), (0xD6, 0x27, 0x28)


def count_colour(png: bytes, rgb, tol=40) -> int:
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    return int(np.all(np.abs(img - np.array(rgb)) <= tol, axis=-1).sum())


def compare_two_runs(page, outdir):
    page.wait_for_selector(".wb-runs-table select", timeout=300_000)
    page.wait_for_function(
        "() => document.querySelectorAll('.wb-runs-table select option').length >= 2",
        timeout=120_000)
    before = page.locator(".wb-runs-loss").count()
    assert before == 0
    page.locator(".wb-runs-table select").first.select_option(index=[0, 1])
    page.wait_for_function(
        """() => { const g = document.querySelector('.wb-runs-loss .js-plotly-plot');
                   return g && g.data && g.data.length === 2
                          && g.data.every(t => t.y && t.y.length >= 2); }""",
        timeout=120_000)
    page.wait_for_timeout(800)
    traces = page.evaluate(
        """() => { const g = document.querySelector('.wb-runs-loss .js-plotly-plot');
                   return {n: g.data.length, ys: g.data.map(t => t.y.length),
                           drawn: Array.from(g.querySelectorAll('.scatterlayer .trace path.js-line'))
                                   .filter(p => (p.getAttribute('d') || '').length > 20).length}; }""")
    loss = page.locator(".wb-runs-loss").first
    loss.scroll_into_view_if_needed()
    png = loss.screenshot(path=str(outdir / "runs-loss.png"))
    page.locator(".wb-runs").first.screenshot(path=str(outdir / "runs-tab.png"))
    return traces, count_colour(png, BLUE), count_colour(png, RED)


def check(traces, blue, red):
    assert traces["n"] == 2 and traces["drawn"] == 2, traces
    # newest first: the 60-iteration fit, then the one stopped after 4 iterations
    assert traces["ys"][1] == 4 and traces["ys"][0] > 4, traces
    # both curves are on screen: each colour covers a line's worth of pixels
    assert blue > 150 and red > 150, (blue, red)


def test_runs_tab_compares_two_runs_in_jupyterlab(browser, artifacts, tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    notebook = make_notebook(nbdir / "runs.ipynb", CELLS)
    with workbench_server("lab", notebook, artifacts, lab_settings(tmp_path)) as (base, token):
        page = open_lab(browser, base, token, "notebooks/runs.ipynb", artifacts, 1800)
        with screenshot_on_failure(page, artifacts):
            lab_run_all(page, timeout_ms=600_000)
            check(*compare_two_runs(page, artifacts))
        page.close()


def test_runs_tab_compares_two_runs_in_voila(browser, artifacts, tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    notebook = make_notebook(nbdir / "runs.ipynb", CELLS)
    with workbench_server("app", notebook, artifacts) as (base, token):
        page = open_voila(browser, base, token, artifacts, timeout_ms=600_000)
        with screenshot_on_failure(page, artifacts):
            check(*compare_two_runs(page, artifacts))
        page.close()

