"""AnalysisView: parity plots, per-configuration errors and the Fisher information.

The numbers come from ``workbench.analysis`` (EnergyForcesRMSE per configuration, Fisher
from the exact force Jacobians); they are computed in a background thread when asked for
(the Refresh button, or automatically after a fit), never while a fit is running, and the
view only draws them.  Clicking a bar of the per-configuration errors selects that
configuration in the DatasetBrowser.
"""

from __future__ import annotations

import importlib
import threading
import traceback

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go

from workbench.ui.names import escape_html
from workbench.ui.figures import show_in

UNAVAILABLE = ("<i>Analysis available after the analysis module is installed "
               "(workbench.analysis: per-configuration RMSE and Fisher information).</i>")
COLORS = {"train": "#1f77b4", "test": "#ff7f0e"}
MAX_FORCE_POINTS = 4000   # force components drawn in the parity plot (evenly strided)
MAX_BARS = 60             # worst configurations shown in the error bar chart


def analysis_api():
    """The ``workbench.analysis`` module when it provides this view's analyses, else None."""
    try:
        mod = importlib.import_module("workbench.analysis")
    except ImportError:
        return None
    if not all(hasattr(mod, n) for n in ("EnergyForcesRMSE", "Fisher")):
        return None
    return mod


def _fig(title, xtitle, ytitle, height=320, **layout):
    return go.FigureWidget(layout=go.Layout(
        title=title, height=height, autosize=True, margin=dict(l=60, r=10, t=40, b=45),
        xaxis_title=xtitle, yaxis_title=ytitle, **layout))


def _box(layout) -> w.Box:
    """A box that sets its figure's width (plotly then follows the box's size)."""
    box = w.Box(layout=layout)
    box.add_class("wb-figure")
    return box


class AnalysisView(w.VBox):
    """Parity plots (train and test in different colours), per-configuration errors sorted
    by size, Fisher information heatmap, parameter standard deviations and eigenvalues.

    ``workbench`` supplies the model, the train/test configurations and ``make_calculator``;
    ``browser`` receives clicks on the error bars.
    """

    def __init__(self, workbench=None, browser=None, **kwargs):
        super().__init__(**kwargs)
        self.add_class("wb-analysis-view")
        self.workbench = workbench
        self.browser = browser
        self.state = workbench.state if workbench is not None else None
        self.error: str | None = None
        self.visible = False  # set by the Workbench when the view's tab is shown
        self._thread: threading.Thread | None = None
        self.status_w = w.HTML()
        self.status_w.add_class("wb-analysis-status")
        self.refresh_w = w.Button(description="Refresh analysis", icon="refresh")
        self.refresh_w.tooltip = ("recompute the parity plots, per-configuration errors and "
                                  "the Fisher information for the current parameters")
        self.refresh_w.on_click(lambda _: self.refresh())
        self.summary_w = w.HTML()
        self.std_w = w.HTML()
        self.energy_fig = self.force_fig = self.error_fig = None
        self.fisher_fig = self.eigen_fig = None
        # the boxes stay on the page; only the figures in them are replaced: plotly sizes
        # a figure from its box when it is first drawn, so the box must already be laid out
        half = w.Layout(width="50%", min_width="0")
        self.boxes = {name: _box(half if name != "error" else w.Layout(width="100%"))
                      for name in ("energy", "force", "error", "fisher")}
        self.boxes["eigen"] = _box(w.Layout(width="100%"))
        self.plots = w.VBox([
            self.summary_w,
            w.HBox([self.boxes["energy"], self.boxes["force"]], layout=w.Layout(width="100%")),
            self.boxes["error"],
            w.HBox([self.boxes["fisher"], w.VBox([self.std_w, self.boxes["eigen"]],
                                                 layout=half)],
                   layout=w.Layout(width="100%")),
        ])
        self.available = analysis_api() is not None
        self.children = [w.HBox([self.refresh_w, self.status_w]), self.plots]
        if not self.available:
            self.refresh_w.disabled = True
            self.status_w.value = UNAVAILABLE
        else:
            self.status_w.value = "<i>press Refresh (or fit) to analyze the current model</i>"
        if self.state is not None:
            self.state.observe(self._on_state_analysis, "analysis")

    @property
    def result(self) -> dict | None:
        """The current model's latest analysis result (None: none yet)."""
        job = self.state.analysis if self.state is not None else None
        return None if job is None else job.result

    def _on_state_analysis(self, change) -> None:
        if change["new"] is None:  # another model: nothing of the old one is shown
            self.clear()
            if self.available and not self.running:
                self.status_w.value = ("<i>no analysis of this model yet: press Refresh "
                                       "(or fit)</i>")

    def clear(self) -> None:
        """No figures and no numbers (the boxes stay, empty, so nothing stale shows)."""
        for box in self.boxes.values():
            show_in(box, [])
        self.summary_w.value = self.std_w.value = ""
        self.energy_fig = self.force_fig = self.error_fig = None
        self.fisher_fig = self.eigen_fig = None

    def redraw(self) -> None:
        """Fresh figures drawn from the current analysis (a re-displayed Workbench)."""
        self.energy_fig = None
        job = self.state.analysis if self.state is not None else None
        if job is not None and job.result is not None:
            self.draw(job.result)

    # ---------------------------------------------------------------- computing
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def refresh(self) -> None:
        """Analyze the current model in a background thread, then draw."""
        api = analysis_api()
        if api is None:
            self.status_w.value = UNAVAILABLE
            return
        wb = self.workbench
        if wb is None or self.running:
            return
        if wb.monitor.running:
            self.status_w.value = "<i>a fit is running: the analysis follows when it ends</i>"
            return
        from workbench.ui.names import model_title

        self.refresh_w.disabled = True
        self.status_w.value = "computing errors and Fisher information…"
        job = self.state.start_job("analysis", label=model_title(wb.model))
        self._thread = threading.Thread(target=self._run, args=(api, job), daemon=True,
                                        name="AnalysisView")
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, api, job) -> None:
        try:
            result = self.compute(api)
        except Exception as exc:  # shown to the user; the view stays usable
            self.error = f"{type(exc).__name__}: {exc}"
            job.fail(self.error)
            self.status_w.value = (f'<span style="color:#c0392b">analysis failed: '
                                   f'{escape_html(self.error)}</span>')
            self._trace = traceback.format_exc()
        else:
            self.error = None
            job.result = result
            job.state = "finished"
            if self.state.is_current(job):
                # drawn now only when on screen (a hidden figure gets plotly's default
                # width); otherwise when the tab is opened (redraw)
                if self.visible:
                    self.draw(result)
                self.status_w.value = f"analysis of {escape_html(job.model_label)} (current parameters)"
        finally:
            self.refresh_w.disabled = False

    def compute(self, api) -> dict:
        wb = self.workbench
        if getattr(wb.model, "is_torch", False):
            return self._compute_network(wb)
        index = {id(c): k for k, c in enumerate(wb.browser.configs)}
        parts = {}
        for part, configs in (("train", wb.browser.fit_configs()),
                              ("test", wb.browser.test_configs())):
            if not configs:
                continue
            calc = wb.make_calculator(configs)
            rmse = api.EnergyForcesRMSE(calc).compute(normalize=True)
            ref_e = np.array([c.energy for c in configs]) / rmse.natoms
            ref_f = np.concatenate([np.asarray(c.forces, float).ravel() for c in configs])
            parts[part] = {
                "index": np.array([index[id(c)] for c in configs]),
                "atom_offsets": np.concatenate(
                    [[0], np.cumsum([c.get_num_atoms() for c in configs])]).astype(int),
                "ref_e": ref_e, "pred_e": ref_e + rmse.energy_diff / rmse.natoms,
                "ref_f": ref_f, "pred_f": ref_f + rmse.forces_diff.ravel(),
                "force_error": rmse.forces_norm, "energy_error": rmse.energy_norm,
                "energy_rmse": rmse.energy_rmse, "forces_rmse": rmse.forces_rmse,
                "calculator": calc,
            }
        fisher = None
        if "train" in parts:
            fisher = api.Fisher(parts["train"]["calculator"])
            fisher.compute()
        return {"parts": parts, "fisher": fisher}

    def _compute_network(self, wb) -> dict:
        """Parity data of a trained network (no Fisher information: its weights are not
        a small parameter set with exact Jacobians)."""
        import tempfile
        from pathlib import Path

        from workbench.ml.calculator_torch import CalculatorTorch

        index = {id(c): k for k, c in enumerate(wb.browser.configs)}
        parts = {}
        for part, configs in (("train", wb.browser.fit_configs()),
                              ("test", wb.browser.test_configs())):
            if not configs:
                continue
            calc = CalculatorTorch(wb.model)
            with tempfile.TemporaryDirectory(prefix="workbench-analysis-") as tmp:
                calc.create(configs, use_energy=True, use_forces=True, use_stress=False,
                            fingerprints_filename=Path(tmp) / "fp.pkl", reuse=False)
            out = calc.compute()
            natoms = np.array([c.get_num_atoms() for c in configs], dtype=float)
            ref_e = np.array([c.energy for c in configs]) / natoms
            pred_e = np.asarray(out["energy"], float) / natoms
            ref_f = np.concatenate([np.asarray(c.forces, float).ravel() for c in configs])
            pred_f = np.concatenate([np.asarray(f, float).ravel() for f in out["forces"]])
            diff = (pred_f - ref_f).reshape(-1, 3)
            offsets = np.concatenate([[0], np.cumsum(natoms)]).astype(int)
            force_norm = np.array([np.linalg.norm(diff[a:b]) for a, b in
                                   zip(offsets[:-1], offsets[1:])]) / natoms
            parts[part] = {
                "index": np.array([index[id(c)] for c in configs]), "atom_offsets": offsets,
                "ref_e": ref_e, "pred_e": pred_e, "ref_f": ref_f, "pred_f": pred_f,
                "force_error": force_norm, "energy_error": np.abs(pred_e - ref_e),
                "energy_rmse": float(np.sqrt(np.mean((pred_e - ref_e) ** 2))),
                "forces_rmse": float(np.sqrt(np.mean(force_norm ** 2))),
            }
        return {"parts": parts, "fisher": None}

    # ---------------------------------------------------------------- drawing
    def _make_figures(self) -> None:
        """The figures are created with the first results, not with the view (fewer
        widgets for a page to load up front)."""
        if self.energy_fig is not None:
            return
        self.energy_fig = _fig("energy per atom", "reference (eV/atom)", "predicted (eV/atom)")
        self.force_fig = _fig("force components", "reference (eV/Å)", "predicted (eV/Å)")
        self.error_fig = _fig("worst configurations (force error per atom)", "configuration",
                              "‖ΔF‖ / N (eV/Å)", height=300, xaxis=dict(showticklabels=False))
        self.fisher_fig = _fig("Fisher information (log10 |F|)", "", "", height=340,
                               yaxis=dict(autorange="reversed"))
        self.eigen_fig = _fig("eigenvalues of F", "index", "eigenvalue", height=300,
                              yaxis=dict(type="log"))
        for name in ("energy", "force", "error", "fisher", "eigen"):
            show_in(self.boxes[name], [getattr(self, f"{name}_fig")])

    def draw(self, result: dict) -> None:
        self._make_figures()
        parts, fisher = result["parts"], result["fisher"]
        rows = [f"<tr><td>{p}</td><td>{len(d['index'])}</td><td>{d['energy_rmse']:.5g}</td>"
                f"<td>{d['forces_rmse']:.5g}</td></tr>" for p, d in parts.items()]
        self.summary_w.value = (
            "<table><tr><th>set</th><th>configurations</th><th>energy RMSE (eV/atom)</th>"
            "<th>force RMSE (eV/Å/atom)</th></tr>" + "".join(rows) + "</table>")
        with self.energy_fig.batch_update():
            self.energy_fig.data = []
            for p, d in parts.items():
                self.energy_fig.add_scatter(x=d["ref_e"], y=d["pred_e"], mode="markers",
                                            name=p, marker=dict(color=COLORS[p], size=5))
            self._diagonal(self.energy_fig, [d["ref_e"] for d in parts.values()])
        with self.force_fig.batch_update():
            self.force_fig.data = []
            for p, d in parts.items():
                step = max(1, len(d["ref_f"]) // MAX_FORCE_POINTS)
                self.force_fig.add_scatter(x=d["ref_f"][::step], y=d["pred_f"][::step],
                                           mode="markers", name=p,
                                           marker=dict(color=COLORS[p], size=3))
            self._diagonal(self.force_fig, [d["ref_f"] for d in parts.values()])
        self._draw_errors(parts)
        self._draw_fisher(fisher)

    @staticmethod
    def _diagonal(fig, arrays) -> None:
        values = np.concatenate(arrays) if arrays else np.zeros(1)
        lo, hi = float(np.min(values)), float(np.max(values))
        fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x",
                        line=dict(color="#888", dash="dash"), hoverinfo="skip")

    def _draw_errors(self, parts) -> None:
        rows = [(d["force_error"][k], int(d["index"][k]), p)
                for p, d in parts.items() for k in range(len(d["index"]))]
        rows.sort(key=lambda r: -r[0])
        rows = rows[:MAX_BARS]
        self.bar_configs = [r[1] for r in rows]
        names = [str(self.workbench.browser.table.identifier[k]) for k in self.bar_configs]
        with self.error_fig.batch_update():
            self.error_fig.data = []
            self.error_fig.add_bar(x=list(range(len(rows))), y=[r[0] for r in rows],
                                   marker_color=[COLORS[r[2]] for r in rows],
                                   customdata=self.bar_configs, hovertext=names,
                                   name="force error")
        self.error_fig.data[0].on_click(self._on_bar_click)

    def _on_bar_click(self, trace, points, selector=None) -> None:
        if points.point_inds:
            self.open_config(self.bar_configs[points.point_inds[0]])

    def open_config(self, index: int) -> None:
        """Show configuration ``index`` (data-set order) in the DatasetBrowser."""
        browser = self.browser or (self.workbench.browser if self.workbench else None)
        if browser is None:
            return
        browser.select([index])
        if self.workbench is not None:
            self.workbench.tabs.selected_index = 1

    def _draw_fisher(self, fisher) -> None:
        fisher_row = self.plots.children[-1]
        fisher_row.layout.display = "none" if fisher is None else None
        if fisher is None:
            return
        names = list(fisher.names)
        F = np.asarray(fisher.F, float)
        with self.fisher_fig.batch_update():
            self.fisher_fig.data = []
            self.fisher_fig.add_heatmap(z=np.log10(np.abs(F) + 1e-300).tolist(), x=names,
                                        y=names, colorscale="Viridis",
                                        customdata=F.tolist(),
                                        hovertemplate="%{y}, %{x}: %{customdata:.4g}<extra></extra>")
        with self.eigen_fig.batch_update():
            self.eigen_fig.data = []
            self.eigen_fig.add_bar(x=list(range(len(fisher.eigenvalues))),
                                   y=np.abs(fisher.eigenvalues).tolist(), name="|eigenvalue|")
        rows = "".join(f"<tr><td>{n}</td><td>{s:.4g}</td></tr>"
                       for n, s in zip(names, fisher.param_std))
        warn = (f"<p style='color:#c0392b'>{escape_html(fisher.message)}</p>"
                if fisher.message else "")
        self.std_w.value = (f"<table><tr><th>parameter</th><th>std. dev. (optimizer space)</th>"
                            f"</tr>{rows}</table><p>condition number "
                            f"{fisher.condition_number:.3g}</p>{warn}")
