"""End-to-end tests in a real browser: JupyterLab and Voila started through the
``workbench lab`` / ``workbench app`` commands on a free localhost port with a token, driven
by Debian's headless chromium through playwright.

Screenshots land in ``test-artifacts/ui/<test name>/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
# software WebGL (SwiftShader through ANGLE), so the nglview canvas really draws
CHROMIUM_ARGS = ["--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SIZES = ((1280, 800), (1920, 1080))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.3)
    raise TimeoutError(f"server did not listen on {port}:\n{log.read_text()}")


@contextlib.contextmanager
def workbench_server(kind: str, notebook: Path | None, outdir: Path, extra=(), app_args=(),
                     env_extra=None):
    """Run ``workbench lab|app`` on a free port; yield (base_url, token)."""
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    runtime = outdir / "jupyter-runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(env_extra or {})
    cmd = [sys.executable, "-m", "workbench", kind,
           *(["--notebook", str(notebook)] if notebook is not None else []),
           "--port", str(port), "--no-browser", "--token", token, *app_args, "--", *extra]
    log = outdir / f"{kind}-server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                                start_new_session=True)
    try:
        wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}", token
    finally:
        stop_server(proc, f"http://127.0.0.1:{port}", token, kind)


def descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (kernels are started in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def stop_server(proc: subprocess.Popen, base: str, token: str, kind: str) -> None:
    """Shut the server down with its kernels; nothing it started may outlive the test."""
    started = descendants(proc.pid)
    if kind == "lab":
        with contextlib.suppress(OSError):
            req = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(req, timeout=10).close()
    else:
        proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    for pid in started:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


LAB_EXTRA = ("--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def artifacts(request):
    out = ARTIFACTS / request.node.name.replace("[", "-").replace("]", "")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out


def new_page(browser, outdir, width, height):
    """A page whose JavaScript errors are collected in ``page.js_errors``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.js_errors = []

    def console(m):
        _log(outdir, f"console {m.type}: {m.text}")
        if m.type == "error" and not _benign(m.text):
            page.js_errors.append(m.text)

    page.on("console", console)
    def page_error(exc):
        _log(outdir, f"page error: {exc}\n{getattr(exc, 'stack', '')}")
        page.js_errors.append(f"page error: {exc}")

    page.on("pageerror", page_error)
    return page


def _benign(text: str) -> bool:
    """Console errors that are not the page's: a missing favicon, the server's own
    404s for optional settings and translations, and resources of other hosts that
    cannot resolve on an offline test machine (Voila's template asks a CDN; localhost
    always resolves)."""
    return ("favicon" in text or "Failed to load resource: the server responded with a "
            "status of 404" in text or "net::ERR_NAME_NOT_RESOLVED" in text)


def assert_page_healthy(page) -> None:
    """No JavaScript error, no widget that failed to display."""
    text = page.evaluate("() => document.body.innerText")
    for bad in ("Error displaying widget", "is not registered", "Traceback"):
        assert bad not in text, f"{bad!r} on the page"
    assert page.js_errors == [], page.js_errors


_MARK_FIGURES = """() => {
    // number the figures (and the 3D view) that are on screen; hidden tabs do not count
    const found = [];
    document.querySelectorAll('[data-wb-figure]').forEach(e => e.removeAttribute('data-wb-figure'));
    for (const el of document.querySelectorAll('.js-plotly-plot, .wb-structure-view canvas')) {
        if (!el.offsetParent || el.getBoundingClientRect().width === 0) continue;
        el.setAttribute('data-wb-figure', String(found.length));
        const title = el.querySelector && el.querySelector('.gtitle');
        found.push(el.tagName === 'CANVAS' ? '3D view' : (title ? title.textContent : 'figure'));
    }
    return found;
}"""

_FIGURE_GEOMETRY = """(k) => {
    const el = document.querySelector(`[data-wb-figure="${k}"]`);
    const W = window.innerWidth;
    const box = r => [Math.round(r.left), Math.round(r.right)];
    const out = {W, box: box(el.getBoundingClientRect()), parts: {}};
    if (el.tagName !== 'CANVAS') {
        const svg = el.querySelector('.main-svg');
        if (svg) out.parts.svg = box(svg.getBoundingClientRect());
        const legend = el.querySelector('.legend');
        if (legend) out.parts.legend = box(legend.getBoundingClientRect());
        const parent = el.parentElement.getBoundingClientRect();
        out.parent = box(parent);
    }
    return out;
}"""

_FIGURES_SETTLED = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).every(gd => {
    if (!gd.offsetParent) return true;
    const r = gd.getBoundingClientRect();
    const svg = gd.querySelector('.main-svg');
    return r.left >= -1 && r.right <= window.innerWidth + 1
        && (!svg || Math.abs(svg.getBoundingClientRect().width - r.width) <= 2);
})"""


def blank_fraction(png: bytes) -> float:
    """Share of the pixels equal to the image's most common colour (its background)."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.thumbnail((400, 400))
    counts = img.getcolors(maxcolors=400 * 400)
    return max(counts)[0] / sum(c for c, _ in counts)


def figure_problems(page, outdir: Path | None = None, label: str = "") -> list[str]:
    """Every figure on screen (plotly figures and the 3D view), scrolled into view one by
    one: its box, its drawing and its legend must lie inside the viewport horizontally
    and inside the box that holds it, and it must show something (not one flat colour).
    Waits (up to 20 s) for plotly to size the figures first."""
    with contextlib.suppress(Exception):
        page.wait_for_function(_FIGURES_SETTLED, timeout=20_000)
    problems = []
    names = page.evaluate(_MARK_FIGURES)
    for k, name in enumerate(names):
        figure = page.locator(f'[data-wb-figure="{k}"]')
        figure.scroll_into_view_if_needed()
        geometry = page.evaluate(_FIGURE_GEOMETRY, k)
        width = geometry["W"]
        for part, (left, right) in {"box": geometry["box"], **geometry["parts"]}.items():
            if left < -1 or right > width + 1:
                problems.append(f"{name}: {part} [{left}, {right}] outside the viewport "
                                f"0..{width}")
        svg, parent = geometry["parts"].get("svg"), geometry.get("parent")
        if svg and parent and svg[1] - svg[0] > parent[1] - parent[0] + 2:
            problems.append(f"{name}: drawn {svg[1] - svg[0]} px wide in a "
                            f"{parent[1] - parent[0]} px box")
        png = figure.screenshot()
        if outdir is not None:
            (outdir / f"{label}-figure{k}.png").write_bytes(png)
        if blank_fraction(png) > 0.995:
            problems.append(f"{name}: blank")
    return problems


def canvas_is_drawn(page, css: str, outdir: Path, name: str) -> dict:
    """Screenshot of the canvas inside ``css``: how many pixels differ from the
    background, and how many distinct colours it has."""
    from PIL import Image

    canvas = page.locator(f"{css} canvas").first
    canvas.wait_for(state="visible", timeout=60_000)
    page.wait_for_timeout(2500)  # the first WebGL frames
    path = outdir / f"{name}.png"
    canvas.screenshot(path=str(path))
    img = Image.open(path).convert("RGB")
    pixels = list(img.getdata())
    background = max(set(pixels), key=pixels.count)
    drawn = sum(1 for p in pixels if sum(abs(a - b) for a, b in zip(p, background)) > 30)
    return {"drawn": drawn, "total": len(pixels), "colours": len(set(pixels)),
            "size": img.size}


def open_lab(browser, base, token, relpath, outdir, width=1500, height=1100):
    """Open ``relpath`` in JupyterLab and wait for its kernel to be idle."""
    page = new_page(browser, outdir, width, height)
    page.goto(f"{base}/lab/tree/{relpath}?token={token}&reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell"
                           " && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                           timeout=90_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext"
                           ".session.kernel.status === 'idle'", timeout=90_000)
    return page


def lab_run_all(page, timeout_ms=300_000):
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # every code cell has an execution count once the run is over
    page.wait_for_function(
        """() => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            const cells = nb.widgets.filter(c => c.model.type === 'code');
            return cells.every(c => c.model.executionCount !== null)
                && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle';
        }""", timeout=timeout_ms)


def lab_execute_new_cell(page, code: str, timeout_ms=60_000) -> str:
    """Append a code cell with ``code``, run it like a user (shift-enter) and return its
    text output."""
    page.evaluate(
        """(code) => {
            const panel = window.jupyterapp.shell.currentWidget;
            const nb = panel.content;
            nb.activeCellIndex = nb.widgets.length - 1;
            return window.jupyterapp.commands.execute('notebook:insert-cell-below').then(() => {
                nb.activeCell.model.sharedModel.setSource(code);
                return window.jupyterapp.commands.execute('notebook:run-cell');
            });
        }""", code)
    handle = page.wait_for_function(
        """(code) => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            const cell = nb.widgets.find(c => c.model.sharedModel.getSource() === code);
            if (!cell || cell.model.executionCount === null) return null;
            const outs = cell.model.outputs.toJSON();
            return JSON.stringify(outs);
        }""", arg=code, timeout=timeout_ms)
    outputs = json.loads(handle.json_value())
    return "".join("".join(o.get("text", "")) if isinstance(o.get("text"), list)
                   else o.get("text", "") for o in outputs)


def open_voila(browser, base, token, outdir, timeout_ms=300_000, width=1500, height=1100):
    page = new_page(browser, outdir, width, height)
    page.goto(f"{base}/?token={token}", timeout=timeout_ms)
    return page


def plot_points(page, css: str) -> list[list[float]]:
    """y values of every trace of the plotly graph inside the element matching ``css``."""
    return page.evaluate(
        """(css) => {
            const host = document.querySelector(css);
            if (!host) return null;
            const gd = host.querySelector('.js-plotly-plot');
            if (!gd || !gd.data) return null;
            return gd.data.map(t => Array.from(t.y || []));
        }""", css)


def _log(outdir: Path, line: str) -> None:
    with open(outdir / "browser.log", "a") as fh:
        fh.write(line + "\n")


# ---------------------------------------------------------------------------------------
# The harness itself, on a small notebook: a button starts a thread that appends points
# to a plotly FigureWidget, so widget updates from a background thread are exercised.

SMOKE_CELLS = [
    "import threading, time\n"
    "import ipywidgets as w\n"
    "import plotly.graph_objects as go\n"
    "fig = go.FigureWidget(data=[go.Scatter(x=[], y=[], mode='lines+markers')])\n"
    "box = w.Box([fig]); box.add_class('smoke-plot')\n"
    "button = w.Button(description='Go'); button.add_class('smoke-go')\n"
    "label = w.Label('idle'); label.add_class('smoke-label')\n"
    "def work():\n"
    "    for i in range(30):\n"
    "        with fig.batch_update():\n"
    "            fig.data[0].x = list(fig.data[0].x) + [i]\n"
    "            fig.data[0].y = list(fig.data[0].y) + [1.0 / (i + 1)]\n"
    "        label.value = f'step {i}'\n"
    "        time.sleep(0.15)\n"
    "    label.value = 'done'\n"
    "button.on_click(lambda _: threading.Thread(target=work, daemon=True).start())\n"
    "w.VBox([button, label, box])",
]


def make_notebook(path: Path, cells: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("kind", ["lab", "app"])
def test_harness_background_thread_updates_reach_browser(browser, artifacts, tmp_path, kind):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    notebook = make_notebook(nbdir / "smoke.ipynb", SMOKE_CELLS)
    extra = LAB_EXTRA if kind == "lab" else ()
    with workbench_server(kind, notebook, artifacts, extra) as (base, token):
        if kind == "lab":
            page = open_lab(browser, base, token, "notebooks/smoke.ipynb", artifacts)
            lab_run_all(page)
        else:
            page = open_voila(browser, base, token, artifacts)
        page.locator("button.smoke-go").first.click(timeout=300_000)
        page.wait_for_function(
            "() => { const g = document.querySelector('.smoke-plot .js-plotly-plot');"
            " return g && g.data && g.data[0].y.length >= 5; }", timeout=60_000)
        if kind == "lab":
            # the kernel answers another cell while the thread keeps drawing
            out = lab_execute_new_cell(page, "print('other cell', 6 * 7, label.value)")
            assert "other cell 42 step" in out
        page.wait_for_function(
            "() => document.querySelector('.smoke-label').textContent.includes('done')",
            timeout=60_000)
        ys = plot_points(page, ".smoke-plot")[0]
        assert len(ys) == 30
        assert ys[-1] == pytest.approx(1 / 30)
        page.screenshot(path=str(artifacts / "smoke.png"))
        page.close()


# ---------------------------------------------------------------------------------------
# The workbench notebook: SW fitted to the 1000-configuration Si set, in JupyterLab and in
# Voila.  The notebook is copied to a temporary folder so the servers never save into the
# source tree.

NOTEBOOK = ROOT / "notebooks" / "workbench.ipynb"
FIT_OPTIONS = "{maxiter: 15}"


def lab_settings(tmp_path: Path) -> tuple[str, ...]:
    """Private settings/workspace folders; the news pop-up switched off."""
    settings = tmp_path / "lab-settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')
    (tmp_path / "lab-workspaces").mkdir()
    return LAB_EXTRA + (f"--LabApp.user_settings_dir={settings}",
                        f"--LabApp.workspaces_dir={tmp_path / 'lab-workspaces'}")


def param_values(page) -> dict[str, float]:
    return page.evaluate(
        """() => {
            const names = Array.from(document.querySelectorAll('.wb-param-name'));
            const values = Array.from(document.querySelectorAll('.wb-param-value input'));
            return Object.fromEntries(names.map((n, k) => [n.textContent.trim(),
                                                           parseFloat(values[k].value)]));
        }""")


def status_text(page) -> str:
    return page.evaluate("() => document.querySelector('.wb-status').textContent")


def run_fit_in_page(page, outdir: Path, while_running=None) -> dict:
    """Set the options, press Fit like a user, wait for the end; returns what the page
    shows before and after."""
    options = page.locator(".wb-options input").first
    options.fill(FIT_OPTIONS)
    options.press("Enter")
    before = param_values(page)
    page.locator("button.wb-fit").first.click()
    page.wait_for_function(
        "() => /running|compiling|starting/.test(document.querySelector('.wb-status').textContent)",
        timeout=300_000)
    seen_status = status_text(page)
    page.wait_for_function(
        "() => { const g = document.querySelector('.wb-loss-plot .js-plotly-plot');"
        " return g && g.data && g.data[0] && g.data[0].y && g.data[0].y.length >= 2; }", timeout=300_000)
    page.screenshot(path=str(outdir / "fit-running.png"))
    during = while_running(page) if while_running is not None else None
    page.wait_for_function(
        "() => /finished|stopped|failed/.test(document.querySelector('.wb-status').textContent)",
        timeout=600_000)
    page.wait_for_timeout(500)
    shot = outdir / "fit-finished.png"
    page.screenshot(path=str(shot))
    return {"before": before, "after": param_values(page), "status": status_text(page),
            "seen_status": seen_status, "losses": plot_points(page, ".wb-loss-plot")[0],
            "during": during, "screenshot": shot}


def check_fit(result) -> None:
    assert "finished" in result["status"], result["status"]
    losses = result["losses"]
    assert len(losses) >= 5, losses
    assert losses[-1] < losses[0], losses
    before, after = result["before"], result["after"]
    assert set(before) >= {"A", "B", "gamma", "sigma"}
    assert before["A"] == pytest.approx(5.0) and before["gamma"] == pytest.approx(1.5)
    assert after["A"] != pytest.approx(before["A"], rel=1e-6)
    assert after["gamma"] != pytest.approx(before["gamma"], rel=1e-6)
    assert after["sigma"] == pytest.approx(before["sigma"])  # fixed


@pytest.fixture
def notebook_copy(tmp_path) -> Path:
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    return Path(shutil.copy(NOTEBOOK, nbdir / NOTEBOOK.name))


def open_tab(page, title: str) -> None:
    page.locator(".wb-workbench .lm-TabBar-tab", has_text=title).first.click()
    page.wait_for_timeout(800)


def tab_titles(page) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelector('.wb-workbench .lm-TabBar-content')"
        ".children).map(t => t.textContent.trim())")


def check_pages_and_view(page, outdir: Path, prefix: str, sizes=SIZES) -> dict:
    """At each window size, every tab: no figure clipped or blank (see
    :func:`figure_problems`); the 3D view of a selected configuration draws pixels; no
    widget or JS error."""
    found = {}
    titles = tab_titles(page)
    assert titles[:6] == ["Fit", "Data", "Weights", "Model", "Analysis", "Export"], titles
    for width, height in sizes:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(1200)
        for tab in titles:
            open_tab(page, tab)
            if tab == "Data" and "canvas" not in found:
                page.locator(".wb-config-table select").first.select_option(index=3)
                found["canvas"] = canvas_is_drawn(page, ".wb-structure-view", outdir,
                                                  f"{prefix}-structure")
            if tab == "Analysis":
                page.wait_for_selector(".wb-analysis-view .js-plotly-plot", timeout=300_000)
                page.wait_for_timeout(1000)
                found.setdefault("analysis figures", page.locator(
                    ".wb-analysis-view .js-plotly-plot").count())
            bad = figure_problems(page)
            assert bad == [], f"{tab} tab at {width}x{height}: {bad}"
            page.locator(".wb-workbench").first.scroll_into_view_if_needed()
            page.screenshot(path=str(outdir / f"{prefix}-{tab}-{width}x{height}.png"))
        assert_page_healthy(page)
    canvas = found["canvas"]
    # a drawn structure: many pixels off the background, shaded in many colours
    assert canvas["drawn"] > 0.02 * canvas["total"], canvas
    assert canvas["colours"] > 50, canvas
    assert found["analysis figures"] >= 4, found
    open_tab(page, "Fit")
    return found


def test_workbench_notebook_in_jupyterlab(browser, artifacts, tmp_path, notebook_copy):
    with workbench_server("lab", notebook_copy, artifacts, lab_settings(tmp_path)) as (base, token):
        page = open_lab(browser, base, token, "notebooks/workbench.ipynb", artifacts, 1920,
                        1080)
        with screenshot_on_failure(page, artifacts):
            lab_run_all(page)
            page.wait_for_selector("button.wb-fit", timeout=120_000)
            title = page.locator(".wb-title").first.inner_text()
            assert "Stillinger-Weber (Si) · 1000 configurations · not fitted yet" in title

            def another_cell(page):
                return lab_execute_new_cell(
                    page, "print('session', wb.session.state, wb.session.iteration)")

            result = run_fit_in_page(page, artifacts, another_cell)
            check_fit(result)
            assert "Stillinger-Weber (Si) · 1000 configurations · fitted" in \
                page.locator(".wb-title").first.inner_text()
            # the kernel ran a cell while the optimizer was working in its thread
            assert result["during"].startswith("session running"), result["during"]
            # the kernel's own view agrees with what the browser shows
            out = lab_execute_new_cell(page, "print(repr(float(model.model_params['A'].value[0])))")
            assert float(out.strip()) == pytest.approx(result["after"]["A"], rel=1e-6)
            check_pages_and_view(page, artifacts, "lab")
            # displayed again in another cell: the same fit, drawn from the job's history
            lab_execute_new_cell(page, "wb")
            page.wait_for_function(
                "(n) => { const gs = document.querySelectorAll('.wb-loss-plot .js-plotly-plot');"
                " const g = gs[gs.length - 1];"
                " return gs.length >= 2 && g.data && g.data[0] && g.data[0].y.length === n; }",
                arg=len(result["losses"]), timeout=60_000)
            again = page.evaluate(
                "() => { const gs = document.querySelectorAll('.wb-loss-plot .js-plotly-plot');"
                " return Array.from(gs[gs.length - 1].data[0].y); }")
            assert again == pytest.approx(result["losses"])
            assert_page_healthy(page)
            page.set_viewport_size({"width": 1920, "height": 1080})
            page.locator(".wb-fit-tab").first.scroll_into_view_if_needed()
            page.locator(".wb-workbench").first.screenshot(path=str(artifacts / "workbench.png"))
            assert (artifacts / "workbench.png").stat().st_size > 10_000
        page.close()


def test_notebook_closed_and_reopened_during_a_fit(browser, artifacts, tmp_path,
                                                   notebook_copy):
    """Closing the workbench notebook while a fit runs and opening it again (the kernel
    keeps running) shows the Workbench again, in both cells that displayed it, with the
    fit still updating it; displaying it once more after that draws the whole fit."""
    with workbench_server("lab", notebook_copy, artifacts, lab_settings(tmp_path)) as (base, token):
        page = open_lab(browser, base, token, "notebooks/workbench.ipynb", artifacts, 1280,
                        800)
        with screenshot_on_failure(page, artifacts):
            lab_run_all(page)
            page.wait_for_selector("button.wb-fit", timeout=120_000)
            lab_execute_new_cell(page, "wb")  # the same Workbench in a second output
            page.wait_for_function(
                "() => document.querySelectorAll('.wb-workbench button.wb-fit').length === 2",
                timeout=60_000)
            losses = reopen_during_fit(page, artifacts)
            assert page.locator(".wb-workbench button.wb-fit").count() == 2
            # the kernel's session agrees with the reopened page
            out = lab_execute_new_cell(page, "print(wb.session.state, wb.session.history[-1][1])")
            state, last_loss = out.split()
            assert state == "finished" and float(last_loss) == pytest.approx(losses[-1]), out
            # displayed once more in the reopened notebook: the whole fit, nothing broken
            lab_execute_new_cell(page, "wb")
            page.wait_for_function(
                f"() => document.querySelectorAll('.wb-workbench button.wb-fit').length === 3"
                f" && ({LAST_LOSS})() === {len(losses)}", timeout=60_000)
            page.wait_for_timeout(2000)  # the figures size themselves to the new output
            assert_page_healthy(page)
            # plotly's "nothing on screen to size" rejection is the only one marked handled
            page.evaluate("() => { Promise.reject(new Error("
                          "'Resize must be passed a displayed plot div element.'));"
                          " Promise.reject(new Error('a real failure')); }")
            page.wait_for_timeout(500)
            assert [e for e in page.js_errors if "displayed plot div" in e] == []
            assert any("a real failure" in e for e in page.js_errors), page.js_errors
        page.close()


LAST_LOSS = """() => { const gs = document.querySelectorAll('.wb-loss-plot .js-plotly-plot');
    const g = gs[gs.length - 1];
    return g && g.data && g.data[0] && g.data[0].y ? g.data[0].y.length : -1; }"""
LAST_STATUS = """() => { const s = document.querySelectorAll('.wb-status');
    return s.length ? s[s.length - 1].textContent : ''; }"""


def reopen_during_fit(page, outdir: Path) -> list[float]:
    """Close the notebook while a fit runs and open it again: every widget displays (no
    "Error displaying widget", no console error on closing or opening), the loss plot is
    redrawn with the points so far, and the fit goes on updating it until it finishes.
    Returns the finished fit's losses."""
    options = page.locator(".wb-options input").last
    options.fill("{maxiter: 40}")
    options.press("Enter")
    page.locator("button.wb-fit").last.click()
    page.wait_for_function(f"() => /running · iteration ([3-9]|[1-9][0-9])/"
                           f".test(({LAST_STATUS})())", timeout=300_000)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_timeout(1000)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.close()")
    page.wait_for_function("() => !document.querySelector('.wb-workbench')", timeout=30_000)
    assert_page_healthy(page)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:open',"
                  " {path: 'notebooks/workbench.ipynb'})")
    page.wait_for_function(f"() => ({LAST_LOSS})() >= 1", timeout=120_000)
    seen = page.evaluate(LAST_LOSS)
    status = page.evaluate(LAST_STATUS)
    page.screenshot(path=str(outdir / "lab-reopened-during-fit.png"))
    # still running: more points arrive in the reopened page; or already finished
    if "finished" not in status:
        assert "running" in status, status
        page.wait_for_function(f"() => ({LAST_LOSS})() > {seen}", timeout=120_000)
    page.wait_for_function(f"() => /finished|stopped/.test(({LAST_STATUS})())",
                           timeout=600_000)
    assert "finished" in page.evaluate(LAST_STATUS)
    losses = page.evaluate(
        "() => { const gs = document.querySelectorAll('.wb-loss-plot .js-plotly-plot');"
        " return Array.from(gs[gs.length - 1].data[0].y); }")
    assert len(losses) >= max(seen, 5), losses
    assert losses[-1] < losses[0], losses
    assert_page_healthy(page)
    return losses


@contextlib.contextmanager
def screenshot_on_failure(page, outdir: Path):
    try:
        yield
    except Exception:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(outdir / "failure.png"), full_page=True)
        raise


def open_step(page, step: str) -> None:
    page.locator(".wb-steps button", has_text=step).first.click()
    page.wait_for_timeout(1000)


def page_kernel_id(page) -> str:
    """The id of the kernel behind a Voila page (from its page config)."""
    return page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")


def kernel_exists(base: str, token: str, kernel_id: str) -> bool:
    """Ask the server's API whether ``kernel_id`` still runs (200) or is gone (404)."""
    import urllib.error

    req = urllib.request.Request(f"{base}/api/kernels/{kernel_id}",
                                 headers={"Authorization": f"token {token}"})
    try:
        urllib.request.urlopen(req, timeout=10).close()
        return True
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise


def wait_kernel_gone(base, token, kernel_id, timeout: float) -> float:
    """Seconds until the server no longer knows ``kernel_id`` (fails after ``timeout``)."""
    start = time.monotonic()
    while kernel_exists(base, token, kernel_id):
        assert time.monotonic() - start < timeout, f"kernel {kernel_id} still running"
        time.sleep(1)
    return time.monotonic() - start


def fit_in_app(page, options: str) -> None:
    open_step(page, "3 Fit")
    field = page.locator(".wb-options input").first
    field.fill(options)
    field.press("Enter")
    page.locator("button.wb-fit").first.click()


def test_workbench_app_in_voila(browser, artifacts, tmp_path):
    """The packaged app page: guided steps, a fit, the 3D view, every step at both sizes
    with nothing clipped or blank, no stray output; a reload during the fit shuts the old
    kernel down (the unload request is accepted) and shows the student's fit from the run
    store; three students at once each get a working page and complete a fit; the kernel
    of a page that vanished without closing is culled after the idle timeout."""
    runs = tmp_path / "runs"
    with workbench_server("app", None, artifacts, app_args=("--runs", str(runs),
                                                            "--cull-idle", "10")) as (base, token):
        page = new_page(browser, artifacts, 1280, 800)
        page.goto(f"{base}/?token={token}&student=alice", timeout=300_000)
        with screenshot_on_failure(page, artifacts):
            page.wait_for_selector(".wb-steps", timeout=300_000)
            text = page.evaluate("() => document.body.innerText")
            assert "Run all cells" not in text and "no fit yet" not in text
            assert "Stillinger-Weber (Si) · 1000 configurations · not fitted yet" in text
            # one output only: the app
            assert page.locator(".jp-OutputArea-output").count() == 1
            open_step(page, "1 Data")
            page.locator(".wb-config-table select").first.select_option(index=3)
            canvas = canvas_is_drawn(page, ".wb-structure-view", artifacts, "app-structure")
            assert canvas["drawn"] > 0.02 * canvas["total"] and canvas["colours"] > 50, canvas
            fit_in_app(page, "{maxiter: 60}")
            page.wait_for_function(
                "() => { const g = document.querySelector('.wb-loss-plot .js-plotly-plot');"
                " return g && g.data && g.data[0] && g.data[0].y && g.data[0].y.length >= 3; }",
                timeout=300_000)
            page.screenshot(path=str(artifacts / "app-fit-running.png"))
            # reload during the fit: the page's unload request shuts its kernel down (the
            # fit with it), and the new page shows alice's fit from the run store
            first_kernel = page_kernel_id(page)
            page.reload()
            page.wait_for_selector(".wb-steps", timeout=300_000)
            assert page_kernel_id(page) != first_kernel
            wait_kernel_gone(base, token, first_kernel, timeout=30)
            open_step(page, "3 Fit")
            page.wait_for_function(
                "() => { const g = document.querySelector('.wb-loss-plot .js-plotly-plot');"
                " return g && g.data && g.data[0] && g.data[0].y && g.data[0].y.length >= 3; }",
                timeout=120_000)
            status = status_text(page)
            assert "stopped" in status and "the page was closed during this fit" in status, \
                status
            # the parameter traces are drawn again from the saved trajectory
            page.wait_for_function(
                "() => { const g = document.querySelector('.wb-param-plot .js-plotly-plot');"
                " return g && g.data && g.data.length >= 3 && g.data[0].y"
                " && g.data[0].y.length >= 2; }", timeout=60_000)
            page.screenshot(path=str(artifacts / "app-after-reload.png"))
            assert_page_healthy(page)
            log = (artifacts / "app-server.log").read_text()
            assert f"Kernel shutdown: {first_kernel}" in log
            refused = re.findall(r".*\b403 (?:GET|POST)\b.*", log)
            assert refused == [], refused
            # a finished fit of her own, then every step at both sizes
            fit_in_app(page, "{maxiter: 10}")
            page.wait_for_function(
                "() => { const t = document.querySelector('.wb-status').textContent;"
                " return /finished|stopped|failed/.test(t) && !/page was closed/.test(t); }",
                timeout=600_000)
            assert "finished" in status_text(page)
            assert_page_healthy(page)
            for width, height in SIZES:
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_timeout(1000)
                for step in ("1 Data", "2 Model", "3 Fit", "4 Check", "5 Export"):
                    open_step(page, step)
                    if step == "4 Check":
                        page.wait_for_selector(".wb-analysis-view .js-plotly-plot",
                                               timeout=300_000)
                        page.wait_for_timeout(1000)
                    bad = figure_problems(page)
                    assert bad == [], f"{step} at {width}x{height}: {bad}"
                    page.locator(".wb-app").first.scroll_into_view_if_needed()
                    page.screenshot(path=str(artifacts / f"app-{step[0]}-{width}x{height}.png"))
            # the export step hands files to the browser
            page.locator("button.wb-export-prepare").first.click()
            page.wait_for_selector("a.wb-download-setup", timeout=300_000)
            with page.expect_download() as dl:
                page.locator("a.wb-download-setup").first.click()
            setup = Path(dl.value.path()).read_text()
            assert "StillingerWeber" in setup and "dataset:" in setup
            assert_page_healthy(page)
            three_students_fit_at_once(browser, base, token, artifacts)
        page.close()


def three_students_fit_at_once(browser, base, token, outdir: Path) -> None:
    """Three pages opened together each get a working app and each complete a fit; then
    the students' browsers vanish without closing the pages: their kernels are culled
    after the server's idle timeout."""
    pages = []
    for name in ("s1", "s2", "s3"):
        p = new_page(browser, outdir, 1280, 800)
        p.goto(f"{base}/?token={token}&student={name}", wait_until="commit", timeout=300_000)
        pages.append(p)
    for p in pages:
        p.wait_for_selector(".wb-steps", timeout=600_000)
        assert "not fitted yet" in p.locator(".wb-title").first.inner_text()
    kernels = [page_kernel_id(p) for p in pages]
    assert len(set(kernels)) == 3
    for p in pages:
        fit_in_app(p, "{maxiter: 5}")
    for k, p in enumerate(pages):
        p.wait_for_function(
            "() => /finished|stopped|failed/.test(document.querySelector('.wb-status')"
            ".textContent)", timeout=600_000)
        assert "finished" in status_text(p), status_text(p)
        losses = plot_points(p, ".wb-loss-plot")[0]
        assert len(losses) >= 3 and losses[-1] < losses[0], losses
        p.screenshot(path=str(outdir / f"student{k + 1}-finished.png"))
        assert_page_healthy(p)
    # the three browsers vanish without closing their pages (no unload request): the
    # kernels are idle with no page connected, and the culler (10 s) ends them
    for p in pages:
        p.close(run_before_unload=False)
    waited = [wait_kernel_gone(base, token, kernel, timeout=90) for kernel in kernels]
    log = (outdir / "app-server.log").read_text()
    for kernel in kernels:
        assert re.search(rf"Culling '\w+' kernel '\w+' \({kernel}\) with 0 connections due "
                         r"to \d+ seconds of inactivity", log), (kernel, waited)
