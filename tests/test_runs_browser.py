"""The Runs scenario as a user lives it, in a real browser (JupyterLab and Voila): press
the Workbench's Fit button twice (a short and a long fit), open the Runs tab, sort by a
column header, select both runs and see their loss curves overlaid (plotly traces with
data and coloured pixels on the screen)."""

from __future__ import annotations

import pytest

from test_ui_browser import (  # noqa: F401 - browser and artifacts are fixtures
    artifacts,
    browser,
    lab_run_all,
    lab_settings,
    make_notebook,
    open_lab,
    open_tab,
    open_voila,
    screenshot_on_failure,
    workbench_server,
)
from test_ui_runs_browser import check, compare_two_runs, setup_cell

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    setup_cell("runs-fit-button-") +
    "wb = Workbench(dataset=ds, model=model)\n"
    "wb",
]

N_RUNS = "() => document.querySelectorAll('.wb-runs-table select option').length"


def press_fit(page, options: str, runs_after: int) -> None:
    """Type the optimizer options and press Fit; the fit's run appears in the Runs
    table (which refreshes itself when the fit ends)."""
    field = page.locator(".wb-options input").first
    field.fill(options)
    field.press("Enter")
    page.locator("button.wb-fit").first.click()
    page.wait_for_function(f"() => ({N_RUNS})() >= {runs_after}", timeout=600_000)
    page.wait_for_function(
        "() => /finished/.test(document.querySelector('.wb-status').textContent)",
        timeout=120_000)


def fit_twice_and_compare(page, outdir):
    page.wait_for_selector("button.wb-fit", timeout=300_000)
    assert page.evaluate(N_RUNS) == 0
    press_fit(page, "{maxiter: 4}", 1)
    press_fit(page, "{maxiter: 60}", 2)
    open_tab(page, "Runs")
    # the controls stay on screen; only the old sort controls are hidden
    for css in (".wb-runs-status", ".wb-runs-refresh", ".wb-runs-restore", ".wb-runs-rename",
                ".wb-runs-delete", ".wb-runs-save-notes"):
        assert page.locator(css).first.is_visible(), css
    for css in (".wb-runs-sort", ".wb-runs-descending"):
        assert not page.locator(css).first.is_visible(), css
    # the header sorts: best loss ascending puts the long fit first, as the date does
    page.locator(".wb-runs-col-best_loss").first.click()
    page.wait_for_function(
        "() => document.querySelector('.wb-runs-col-best_loss').textContent.includes('\u25b2')",
        timeout=30_000)
    names = page.evaluate("() => Array.from(document.querySelectorAll("
                          "'.wb-runs-table select option')).map(o => o.textContent)")
    assert len(names) == 2 and all("StillingerWeber" in n for n in names), names
    page.locator(".wb-runs-col-started").first.click()  # back to newest first
    page.wait_for_function(
        "() => document.querySelector('.wb-runs-col-started').textContent.includes('\u25bc')",
        timeout=30_000)
    return compare_two_runs(page, outdir)


def test_fit_button_runs_compared_in_voila(browser, artifacts, tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    notebook = make_notebook(nbdir / "runs.ipynb", CELLS)
    with workbench_server("app", notebook, artifacts) as (base, token):
        page = open_voila(browser, base, token, artifacts, timeout_ms=600_000)
        with screenshot_on_failure(page, artifacts):
            check(*fit_twice_and_compare(page, artifacts))
        page.close()


def test_fit_button_runs_compared_in_jupyterlab(browser, artifacts, tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    notebook = make_notebook(nbdir / "runs.ipynb", CELLS)
    with workbench_server("lab", notebook, artifacts, lab_settings(tmp_path)) as (base, token):
        page = open_lab(browser, base, token, "notebooks/runs.ipynb", artifacts, 1800)
        with screenshot_on_failure(page, artifacts):
            lab_run_all(page, timeout_ms=600_000)
            check(*fit_twice_and_compare(page, artifacts))
        page.close()
