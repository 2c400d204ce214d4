"""The Validate tab in a real browser: JupyterLab started by ``workbench lab``, the tab
opened and Run pressed like a user, the property table and the E-V plot checked in the
page (harness: tests/test_ui_browser.py)."""

from __future__ import annotations

import re

import pytest

from test_ui_browser import (  # noqa: F401  (fixtures)
    artifacts,
    browser,
    lab_run_all,
    lab_settings,
    make_notebook,
    open_lab,
    plot_points,
    screenshot_on_failure,
    workbench_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "from workbench import datasets\n"
    "from workbench.dataset import Dataset, Weight\n"
    "from workbench.models import StillingerWeber\n"
    "from workbench.ui.workbench import Workbench\n"
    "wb = Workbench(Dataset(datasets.path('Si_4'), Weight(energy_weight=1.0, "
    "forces_weight=0.1)), StillingerWeber())\n"
    "wb",
]


def test_validate_tab_in_jupyterlab(browser, artifacts, tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    notebook = make_notebook(nbdir / "validate.ipynb", CELLS)
    with workbench_server("lab", notebook, artifacts, lab_settings(tmp_path)) as (base, token):
        page = open_lab(browser, base, token, "notebooks/validate.ipynb", artifacts, 1800)
        with screenshot_on_failure(page, artifacts):
            lab_run_all(page)
            page.locator(".jp-OutputArea .lm-TabBar-tab",
                         has_text=re.compile(r"^\s*Validate\s*$")).first.click(timeout=120_000)
            page.locator("button.wb-validate-run").first.click(timeout=60_000)
            page.wait_for_function(
                "() => /finished|failed/.test(document.querySelector("
                "'.wb-validate-status').textContent)", timeout=300_000)
            status = page.evaluate(
                "() => document.querySelector('.wb-validate-status').textContent")
            assert "finished" in status, status
            page.screenshot(path=str(artifacts / "validate-table.png"))
            c11 = page.evaluate("() => document.querySelector('.wb-prop-C11 .wb-pred')"
                                ".textContent")
            assert float(c11) == pytest.approx(151.4, rel=5e-3)
            ref = page.evaluate("() => document.querySelector('.wb-prop-C11').textContent")
            assert "165.77" in ref and "McSkimin" in ref
            page.locator(".wb-validate-eos").first.scroll_into_view_if_needed(timeout=60_000)
            page.wait_for_function(
                "() => { const g = document.querySelector('.wb-validate-eos .js-plotly-plot');"
                " return g && g.data && g.data.length >= 3; }", timeout=60_000)
            traces = plot_points(page, ".wb-validate-eos")
            assert len(traces[0]) == 100  # the DFT E-V points of the Si set
            page.screenshot(path=str(artifacts / "validate-figures.png"))
        assert (artifacts / "validate-table.png").stat().st_size > 10_000
        page.close()
