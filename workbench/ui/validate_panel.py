"""ValidatePanel: the Validate tab — what the fitted model predicts, beside references.

Choose a structure, species and properties (and, when the Analysis tab ran a bootstrap or
MCMC for this model, its ensemble), press Run: the property suite
(:mod:`workbench.validation`) runs as a background :class:`AnalysisJob` with progress and
a Stop button.  When it ends the panel shows the property table (prediction, ± std,
reference, difference, source), the E-V curve over the DFT points, the phonon bands
(ensemble bands when there is an ensemble), the dimer/trimer curves and the MD energy
trace.  The result is attached to the model's latest recorded run
(``RunStore.add_result(run_id, "validation", ...)``) so runs can be compared by their
properties.  The panel only displays what ``workbench.validation.report`` draws.
"""

from __future__ import annotations

import html

import ipywidgets as w

from workbench.validation.settings import ALL_PROPERTIES, DEFAULT_PROPERTIES
from workbench.validation.structures import PROTOTYPES
from workbench.ui.figures import show_in

#: what the Run button computes by default in the tab (the CLI's default suite)
TAB_PROPERTIES = DEFAULT_PROPERTIES
#: at most this many ensemble members (evenly spaced through an MCMC chain)
ENSEMBLE_MEMBERS = 20


class ValidatePanel:
    """The Validate tab on a ``WorkbenchState`` (``Panel(state)``, the "Validate" slot).

    ``store``: the RunStore results go to ("default": the default store, None: none).
    """

    title = "Validate"

    def __init__(self, state, store="default"):
        self.state = state
        self._store_arg = store
        self.analysis_job = None
        self.result = None
        self.ensemble = None
        species = " ".join(state.species()) or "Si"
        self.structure_w = w.Dropdown(options=list(PROTOTYPES), value=(
            "zincblende" if len(species.split()) == 2 else "diamond"),
            description="structure", layout=w.Layout(width="220px"))
        self.species_w = w.Text(value=species, description="species",
                                layout=w.Layout(width="200px"))
        self.props_w = w.SelectMultiple(options=list(ALL_PROPERTIES), value=TAB_PROPERTIES,
                                        rows=5, description="properties",
                                        layout=w.Layout(width="260px"))
        self.ensemble_w = w.Checkbox(value=False, description="use the ensemble of the "
                                     "latest bootstrap/MCMC", indent=False)
        self.run_w = w.Button(description="Run", button_style="primary", icon="play")
        self.run_w.add_class("wb-validate-run")
        self.stop_w = w.Button(description="Stop", icon="stop", disabled=True)
        self.stop_w.add_class("wb-validate-stop")
        for wid, tip in (
                (self.structure_w, "the crystal structure the properties are computed for"),
                (self.species_w, "the chemical species of that structure, e.g. Si or Si C"),
                (self.props_w, "the properties to compute (Ctrl/Shift to choose several): "
                               "lattice constant, elastic constants, vacancy energy ..."),
                (self.ensemble_w, "compute every property for each parameter set of the "
                                  "latest bootstrap or MCMC: gives error bars"),
                (self.run_w, "compute the chosen properties with the current model and "
                             "compare them with the reference values"),
                (self.stop_w, "stop the computation (finished properties are kept)")):
            wid.tooltip = tip
        self.progress_w = w.FloatProgress(value=0.0, min=0.0, max=1.0,
                                          layout=w.Layout(width="260px"))
        self.status_w = w.HTML("")
        self.status_w.add_class("wb-validate-status")
        self.table_w = w.HTML("")
        self.table_w.add_class("wb-validate-table")
        self.figures_w = w.VBox([])
        self.figures_w.add_class("wb-validate-figures")
        self.run_w.on_click(lambda _: self.run())
        self.stop_w.on_click(lambda _: self.stop())
        controls = w.HBox([self.structure_w, self.species_w, self.props_w,
                           w.VBox([self.ensemble_w, w.HBox([self.run_w, self.stop_w]),
                                   self.progress_w, self.status_w])])
        self.widget = w.VBox([controls, self.table_w, self.figures_w])
        self.widget.add_class("wb-validate")

    # ---------------------------------------------------------------- running
    def _ensemble_samples(self):
        job = self.state.analysis
        if job is None or not self.state.is_current(job) or job.result is None:
            return None
        samples = getattr(job.result, "samples", None)
        return None if samples is None else samples

    def run(self):
        """Start the suite for the current model in the background."""
        from workbench.analysis.jobs import AnalysisJob
        from workbench.validation.structures import species_list

        model = self.state.model
        if model is None:
            self._status("no model to validate", error=True)
            return None
        try:
            species = species_list(self.species_w.value)
        except Exception as exc:
            self._status(str(exc), error=True)
            return None
        samples = self._ensemble_samples() if self.ensemble_w.value else None
        if self.ensemble_w.value and samples is None:
            self._status("no bootstrap or MCMC result for this model yet (Analysis tab)",
                         error=True)
            return None
        structure, props = self.structure_w.value, tuple(self.props_w.value)
        job = self.state.start_job("validation", getattr(model, "model_name", "") or "")

        def work(aj):
            from workbench.validation import validate
            from workbench.validation.ensemble import validate_ensemble
            from workbench.validation.suite import Stopped

            def progress(done, total, message):
                aj.progress(done, total, message=message)

            try:
                if samples is not None:
                    ens = validate_ensemble(model, samples, structure, species, props,
                                            members=ENSEMBLE_MEMBERS,
                                            progress=progress, should_stop=aj.should_stop)
                    return ens.central, ens
                return validate(model, structure, species, props, progress=progress,
                                should_stop=aj.should_stop), None
            except Stopped:
                return None

        aj = AnalysisJob(work, name="validation", total=len(props) + 1)
        job.session = aj
        self.analysis_job = aj
        aj.subscribe(lambda ev: self._on_event(job, ev))
        self.run_w.disabled, self.stop_w.disabled = True, False
        self.progress_w.value = 0.0
        self._status("running")
        aj.start()
        return aj

    def stop(self):
        if self.analysis_job is not None:
            self.analysis_job.stop()

    def _on_event(self, job, ev):
        job.record(ev)
        self.progress_w.value = ev.fraction
        if ev.kind == "iteration":
            self._status(f"running: {html.escape(ev.message)} ({ev.done}/{ev.total})")
        if ev.kind not in ("finished", "stopped", "failed"):
            return
        self.run_w.disabled, self.stop_w.disabled = False, True
        if ev.kind == "failed":
            self._status(f"failed: {html.escape(ev.message.strip().splitlines()[-1])}",
                         error=True)
            return
        out = self.analysis_job.result
        if ev.kind == "stopped" or out is None:
            self._status("stopped")
            return
        self.result, self.ensemble = out
        job.result = out
        self.show(*out)
        stored = self._store(out)
        self._status(f"finished in {ev.elapsed:.1f} s" + (f"; saved with run {stored}"
                                                           if stored else ""))

    def _store(self, out):
        """Attach the result to the model's run: its latest recorded fit, or the run it
        was restored from in the Runs tab when that came later; returns the run id."""
        result, ens = out
        fit_job = self.state.latest_job(("fit", "training"))
        session = getattr(fit_job, "session", None)
        run_id = getattr(session, "run_id", None)
        restored = getattr(self.state.model, "restored_from_run", None)
        if restored is not None:
            ended = getattr(session, "_t_end", None)
            if run_id is None or (ended is not None and restored[1] > ended):
                run_id = restored[0]
        if run_id is None or self._store_arg is None:
            return None
        from workbench.runs import resolve_store

        store = resolve_store(self._store_arg)
        if store is None:
            return None
        store.add_result(run_id, "validation", ens.to_dict() if ens else result.to_dict())
        return run_id

    # ---------------------------------------------------------------- display
    def show(self, result, ens=None):
        """Display a ValidationResult (and its EnsembleResult)."""
        import plotly.graph_objects as go

        from workbench.validation import report

        self.table_w.value = _table(report.property_rows(result, ens))
        figs = [("wb-validate-eos", report.eos_figure(result, ens)),
                ("wb-validate-phonons", report.phonon_figure(result, ens)),
                ("wb-validate-curves", report.curves_figure(result)),
                ("wb-validate-md", report.md_figure(result))]
        boxes = []
        for css, fig in figs:
            if not fig.data:
                continue
            box = w.Box([go.FigureWidget(fig)])
            box.add_class(css)
            boxes.append(box)
        show_in(self.figures_w, boxes)

    def _status(self, text, error=False):
        colour = "#c0392b" if error else "#333"
        self.status_w.value = f"<span style='color:{colour}'>{text}</span>"


def _table(rows) -> str:
    def f(x, d=5):
        return "" if x is None else f"{x:.{d}g}"

    head = ("<tr><th>property</th><th>unit</th><th>prediction</th><th>± std</th>"
            "<th>reference</th><th>difference</th><th>%</th><th>source</th></tr>")
    body = "".join(
        f"<tr class='wb-prop-{html.escape(r['property'])}'><td>{html.escape(r['property'])}"
        f"</td><td>{html.escape(r['unit'])}</td><td class='wb-pred'>{f(r['prediction'], 6)}"
        f"</td><td>{f(r['std'], 3)}</td><td>{f(r['reference'])}</td>"
        f"<td>{f(r['difference'], 4)}</td><td>{f(r['percent'], 3)}</td>"
        f"<td style='font-size:11px'>{html.escape(r['source'])}</td></tr>" for r in rows)
    return ("<style>.wb-validate-table td,.wb-validate-table th{padding:2px 6px;"
            "border-bottom:1px solid #ddd}</style>"
            f"<table>{head}{body}</table>")
