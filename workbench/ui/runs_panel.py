"""RunsPanel: the Runs tab — every recorded fit and training, compared and restorable.

A sortable, filterable table of the runs in the store; selecting runs overlays their loss
curves, energy and force parity plots and per-configuration error distributions, and
shows their parameters side by side (differences highlighted).  One selected run can be
restored into the workbench (model, parameters, fit settings), renamed, annotated and
tagged; selected runs can be deleted after a confirmation.

The panel reads the store (``workbench.runs``) and asks the fit layer for predictions
(``workbench.fit.report.predictions`` on the workbench's data); it computes nothing
itself.  It refreshes when a job of the workbench ends.
"""

from __future__ import annotations

import html
import threading

import ipywidgets as w
import numpy as np

from workbench.runs.compare import (fmt, latest_validation, parameter_rows, validation_rows,
                                    when)
from workbench.ui.figures import show_in

COLUMNS = (("name", "name", 28), ("model", "model_kind", 15), ("status", "status", 11),
           ("best loss", "best_loss", 11), ("train E", "train_e_rmse", 9),
           ("train F", "train_f_rmse", 9), ("test E", "test_e_rmse", 9),
           ("test F", "test_f_rmse", 9), ("evals", "n_eval", 6), ("time s", "elapsed", 7),
           ("date", "started", 16), ("tags", "tags", 16))
SORT_KEYS = [(label, key) for label, key, _ in COLUMNS if key != "tags"]
SORTABLE = {key for _, key in SORT_KEYS}
ARROWS = {True: "\u25bc", False: "\u25b2"}  # descending, ascending
STATUS_FILTER = ["any status", "finished", "stopped", "failed", "interrupted", "running"]
MAX_POINTS = 4000
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
_STYLE = ("<style>.wb-runs-table select,.wb-runs-header{font-family:monospace;"
          "font-size:12px;white-space:pre}.wb-runs-params td,.wb-runs-params th{padding:2px 6px;"
          "border-bottom:1px solid #ddd;text-align:right}.wb-runs-params tr.diff{"
          "background:#fff3cd}.wb-runs-header{gap:0}.wb-runs-header button{padding:0 2px;"
          "margin:0;height:22px;text-align:left;font-family:monospace;font-size:12px;"
          "background:#f4f4f4}</style>")


def _cell(key, value, width) -> str:
    if key == "started":
        text = when(value)[:16]
    elif key == "tags":
        text = ",".join(value or [])
    elif key == "elapsed" and value is not None:
        text = f"{value:.1f}"
    elif isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = fmt(value)
    return text[:width].ljust(width)


def row_text(run) -> str:
    return " ".join(_cell(key, run.get(key), width) for _, key, width in COLUMNS).rstrip()


class RunsPanel:
    """The Runs tab on a ``WorkbenchState`` (``Panel(state)``, the "Runs" slot).

    ``store``: a ``RunStore`` (default: the default store).  ``on_restore(model, run)`` is
    called by Restore (the Workbench sets it to put the model into every panel; by
    default the state's model is replaced).
    """

    title = "Runs"

    def __init__(self, state, store="default"):
        from workbench.runs import resolve_store

        self.state = state
        self.store = resolve_store(store)
        self.on_restore = None
        self.runs: list[dict] = []
        self._hold_refresh = False
        # a fit's end refreshes the table from the fit's thread: one refresh at a time, so
        # the last one reads the filter as it is now (not as an earlier one read it)
        self._refresh_lock = threading.RLock()
        self._predictions: dict = {}
        lay = w.Layout(width="auto")
        self.search_w = w.Text(placeholder="filter: name, model, notes, id",
                               continuous_update=False, layout=w.Layout(width="260px"))
        self.status_w = w.Dropdown(options=STATUS_FILTER, value="any status", layout=lay)
        self.tag_w = w.Text(placeholder="tag", continuous_update=False,
                            layout=w.Layout(width="120px"))
        # the sort is chosen from the column headers; these two (hidden) hold it
        self.sort_w = w.Dropdown(options=SORT_KEYS, value="started", description="sort by",
                                 layout=w.Layout(display="none"))
        self.descending_w = w.ToggleButton(value=True, description="descending",
                                           layout=w.Layout(display="none"))
        self.refresh_w = w.Button(description="Refresh", icon="refresh", layout=lay)
        # the column headers: click one to sort by it, click again to reverse
        self.header_buttons = {}
        for label, key, width in COLUMNS:
            button = w.Button(description=label, disabled=key not in SORTABLE,
                              tooltip=(f"sort by {label} (click again to reverse)"
                                       if key in SORTABLE else
                                       f"the runs' {label} (this column does not sort)"),
                              layout=w.Layout(width=f"{width + 1}ch", min_width="0"))
            button.add_class(f"wb-runs-col-{key}")
            button.on_click(lambda _b, key=key: self.sort_by(key))
            self.header_buttons[key] = button
        self.header_w = w.HBox(list(self.header_buttons.values()))
        self.table_w = w.SelectMultiple(options=[], rows=12, layout=w.Layout(width="100%"))
        self.message_w = w.HTML()
        self.restore_w = w.Button(description="Restore", icon="undo", layout=lay,
                                  tooltip="put this run's model, parameters and settings "
                                          "into the workbench")
        self.name_w = w.Text(placeholder="name", layout=w.Layout(width="220px"))
        self.rename_w = w.Button(description="Rename", layout=lay)
        self.tags_w = w.Text(placeholder="tags, comma separated", layout=w.Layout(width="200px"))
        self.save_tags_w = w.Button(description="Set tags", layout=lay)
        self.notes_w = w.Textarea(placeholder="notes", layout=w.Layout(width="420px",
                                                                        height="52px"))
        self.save_notes_w = w.Button(description="Save notes", layout=lay)
        self.delete_w = w.Button(description="Delete", icon="trash", button_style="danger",
                                 layout=lay)
        self.confirm_text_w = w.HTML()
        self.confirm_w = w.Button(description="Yes, delete", button_style="danger", layout=lay)
        self.cancel_w = w.Button(description="Cancel", layout=lay)
        for wid, tip in (
                (self.search_w, "show only runs whose name, model, notes or id contain "
                                "this text"),
                (self.status_w, "show only runs that ended this way (or are running)"),
                (self.tag_w, "show only runs with this tag"),
                (self.sort_w, "order the runs by this column"),
                (self.descending_w, "newest / largest first"),
                (self.refresh_w, "read the run store again (runs from other notebooks or "
                                 "`workbench fit` appear)"),
                (self.table_w, "the recorded fits and trainings; select one to see it, two "
                               "or more to compare them"),
                (self.name_w, "a new name for the selected run"),
                (self.rename_w, "give the selected run this name"),
                (self.tags_w, "tags of the selected run, comma separated, for filtering"),
                (self.save_tags_w, "replace the selected run's tags with these"),
                (self.notes_w, "your notes on the selected run (kept in the run store)"),
                (self.save_notes_w, "save these notes with the selected run"),
                (self.delete_w, "delete the selected runs from the store (asks first)"),
                (self.confirm_w, "delete them for good, with their files"),
                (self.cancel_w, "keep the runs")):
            if not wid.tooltip:
                wid.tooltip = tip
        self.confirm_box = w.HBox([self.confirm_text_w, self.confirm_w, self.cancel_w],
                                  layout=w.Layout(display="none"))
        self.params_w = w.HTML()
        self.validation_w = w.HTML()
        self.loss_fig = self.parity_e = self.parity_f = self.errors_fig = None
        self.figures_box = w.VBox()
        for wid, cls in ((self.search_w, "wb-runs-search"), (self.status_w, "wb-runs-status"),
                         (self.tag_w, "wb-runs-tag"), (self.sort_w, "wb-runs-sort"),
                         (self.descending_w, "wb-runs-descending"),
                         (self.refresh_w, "wb-runs-refresh"), (self.header_w, "wb-runs-header"),
                         (self.table_w, "wb-runs-table"), (self.message_w, "wb-runs-message"),
                         (self.restore_w, "wb-runs-restore"), (self.rename_w, "wb-runs-rename"),
                         (self.name_w, "wb-runs-name"), (self.tags_w, "wb-runs-tags"),
                         (self.save_tags_w, "wb-runs-save-tags"),
                         (self.notes_w, "wb-runs-notes"),
                         (self.save_notes_w, "wb-runs-save-notes"),
                         (self.delete_w, "wb-runs-delete"), (self.confirm_w, "wb-runs-confirm"),
                         (self.cancel_w, "wb-runs-cancel"), (self.params_w, "wb-runs-params"),
                         (self.validation_w, "wb-runs-validation"),
                         (self.figures_box, "wb-runs-figures")):
            wid.add_class(cls)
        controls = w.HBox([self.search_w, self.status_w, self.tag_w, self.sort_w,
                           self.descending_w, self.refresh_w])
        actions = w.VBox([w.HBox([self.restore_w, self.name_w, self.rename_w, self.tags_w,
                                  self.save_tags_w, self.delete_w]),
                          w.HBox([self.notes_w, self.save_notes_w]), self.confirm_box])
        self.widget = w.VBox([w.HTML(_STYLE), controls, self.header_w, self.table_w,
                              self.message_w, actions, self.figures_box, self.params_w,
                              self.validation_w])
        self.widget.add_class("wb-runs")
        for wid in (self.search_w, self.status_w, self.tag_w, self.sort_w, self.descending_w):
            wid.observe(lambda _: self.refresh(), "value")
        self.refresh_w.on_click(lambda _: self.refresh())
        self.table_w.observe(self._on_select, "value")
        self.restore_w.on_click(lambda _: self.restore())
        self.rename_w.on_click(lambda _: self.rename(self.name_w.value))
        self.save_tags_w.on_click(lambda _: self.set_tags(self.tags_w.value.split(",")))
        self.save_notes_w.on_click(lambda _: self.set_notes(self.notes_w.value))
        self.delete_w.on_click(lambda _: self.ask_delete())
        self.confirm_w.on_click(lambda _: self.confirm_delete())
        self.cancel_w.on_click(lambda _: self._hide_confirm())
        self._watched_jobs: set = set()
        if state is not None and hasattr(state, "observe"):
            state.observe(self._on_jobs, "jobs")
        self.refresh()

    # ------------------------------------------------------------------ table
    def sort_by(self, key: str) -> None:
        """What clicking a column header does: sort by ``key`` (dates, evaluations and
        times newest/largest first, names, losses and RMSEs smallest first); clicking the
        sorted column again reverses the order.  The header shows the order (▲/▼)."""
        if key not in SORTABLE:
            return
        if self.sort_w.value == key:
            self.descending_w.value = not self.descending_w.value
        else:
            self._hold_refresh = True
            try:
                self.sort_w.value = key
                self.descending_w.value = key in ("started", "n_eval", "elapsed")
            finally:
                self._hold_refresh = False
            self.refresh()

    def _show_sort(self) -> None:
        for label, key, _width in COLUMNS:
            arrow = ARROWS[bool(self.descending_w.value)] if key == self.sort_w.value else ""
            self.header_buttons[key].description = f"{label} {arrow}".rstrip()

    def refresh(self) -> None:
        """Re-read the store with the current filter and sort; keeps the selection."""
        if self._hold_refresh:
            return
        with self._refresh_lock:
            self._refresh()

    def _refresh(self) -> None:
        self._show_sort()
        if self.store is None:
            self.message_w.value = "<i>run recording is off (WORKBENCH_RUNS=off)</i>"
            return
        status = None if self.status_w.value == "any status" else self.status_w.value
        self.runs = self.store.list_runs(status=status, tag=self.tag_w.value.strip() or None,
                                         search=self.search_w.value.strip() or None,
                                         order_by=self.sort_w.value,
                                         descending=self.descending_w.value)
        keep = [r for r in self.table_w.value if any(run["id"] == r for run in self.runs)]
        self.table_w.options = [(row_text(r), r["id"]) for r in self.runs]
        self.table_w.value = tuple(keep)
        self.message_w.value = f"{len(self.runs)} run(s) in {html.escape(str(self.store.path))}"

    def select(self, run_ids) -> None:
        """Select runs by id (what clicking rows in the table does)."""
        self.table_w.value = tuple(self.store.resolve(r) for r in run_ids)

    @property
    def selected(self) -> list[str]:
        return list(self.table_w.value)

    def _on_jobs(self, change) -> None:
        for job in change["new"]:
            if id(job) not in self._watched_jobs:
                self._watched_jobs.add(id(job))
                job.observe(self._on_job_state, "state")

    def _on_job_state(self, change) -> None:
        if change["new"] in ("finished", "stopped", "failed"):
            self.refresh()

    # ------------------------------------------------------------------ comparing
    def _on_select(self, _change=None) -> None:
        ids = self.selected
        self._hide_confirm()
        if len(ids) == 1:
            run = self.store.get_run(ids[0])
            self.name_w.value = run["name"]
            self.tags_w.value = ", ".join(run["tags"] or [])
            self.notes_w.value = run["notes"] or ""
        self.show_comparison(ids)

    def show_comparison(self, ids) -> None:
        """Overlay the loss curves, parity plots and error distributions of runs ``ids``
        and tabulate their parameters.  The figures are made once and redrawn in place
        (front ends cope badly with plot widgets replaced in quick succession)."""
        if not ids:
            for fig in (self.loss_fig, self.parity_e, self.parity_f, self.errors_fig):
                if fig is not None:
                    _redraw(fig, [])
            self.params_w.value = self.validation_w.value = ""
            return
        if self.loss_fig is None:
            self._make_figures()
        runs = [self.store.get_run(r) for r in ids]
        loss_traces = []
        for k, run in enumerate(runs):
            hist = [(h["iteration"], h["loss"]) for h in self.store.get_history(run["id"])
                    if h["loss"] is not None and np.isfinite(h["loss"]) and h["loss"] > 0]
            loss_traces.append(dict(type="scatter", x=[h[0] for h in hist],
                                    y=[h[1] for h in hist], mode="lines", name=_label(run),
                                    line=dict(color=COLOURS[k % len(COLOURS)], width=3)))
        _redraw(self.loss_fig, loss_traces)
        preds = [self._prediction(run) for run in runs]
        for fig, traces in zip((self.parity_e, self.parity_f, self.errors_fig),
                               _parity_traces(runs, preds)):
            _redraw(fig, traces)
        self.params_w.value = params_table(runs)
        self.validation_w.value = validation_table(
            runs, [latest_validation(self.store, r["id"]) for r in runs])

    def _make_figures(self) -> None:
        import plotly.graph_objects as go

        margin = dict(l=50, r=10, t=40, b=40)
        self.loss_fig = go.FigureWidget(layout=dict(
            title="loss", height=320, yaxis_type="log", xaxis_title="iteration", margin=margin))
        parity = dict(height=340, margin=margin, xaxis_title="DFT", yaxis_title="model",
                      legend=dict(orientation="h", y=-0.25))
        self.parity_e = go.FigureWidget(layout=dict(title="energy per atom (eV)", **parity))
        self.parity_f = go.FigureWidget(layout=dict(title="force components (eV/Å)", **parity))
        self.errors_fig = go.FigureWidget(layout=dict(
            title="per-configuration energy error (eV/atom)", barmode="overlay", height=300,
            margin=margin))
        half = w.Layout(width="50%")
        show_in(self.figures_box, [
            _boxed(self.loss_fig, "wb-runs-loss"),
            w.HBox([_boxed(self.parity_e, "wb-runs-parity-e", half),
                    _boxed(self.parity_f, "wb-runs-parity-f", half)]),
            _boxed(self.errors_fig, "wb-runs-errors")])

    def _prediction(self, run):
        """Energies and forces of the run's best model on the workbench's included data
        (cached per run); None for runs that cannot be rebuilt (networks, no set-up)."""
        if run["id"] in self._predictions:
            return self._predictions[run["id"]]
        from workbench.fit.report import predictions
        from workbench.fit.run_record import model_from_run

        result = None
        configs = [] if self.state is None else [
            c for c, inc in zip(self.state.configs, self.state.included) if inc]
        if configs and (run.get("model") or {}).get("params") is not None and run.get("setup"):
            try:
                result = predictions("data", model_from_run(run), configs)
            except Exception as exc:  # noqa: BLE001 - shown, never raised into the UI
                self.message_w.value = (f"<span style='color:#c0392b'>{html.escape(run['id'])}: "
                                        f"no predictions ({html.escape(str(exc))})</span>")
        self._predictions[run["id"]] = result
        return result

    # ------------------------------------------------------------------ actions
    def _one(self, what):
        if len(self.selected) != 1:
            self.message_w.value = f"<span style='color:#c0392b'>select one run to {what}</span>"
            return None
        return self.selected[0]

    def restore(self):
        """Put the selected run's model (with its best parameters) and fit settings into
        the workbench; returns the model.  A training run's final weights go into the
        workbench's network instead."""
        run_id = self._one("restore")
        if run_id is None:
            return None
        from workbench.fit.run_record import model_from_run

        run = self.store.get_run(run_id)
        if run.get("kind") == "training":
            return self._restore_weights(run)
        try:
            model = model_from_run(run)
        except Exception as exc:  # noqa: BLE001
            self.message_w.value = (f"<span style='color:#c0392b'>cannot restore {run_id}: "
                                    f"{html.escape(str(exc))}</span>")
            return None
        _mark_restored(model, run_id)
        if self.on_restore is not None:
            self.on_restore(model, run)
        else:
            self.state.set_model(model)
            fit = (run.get("setup") or {}).get("fit")
            if fit:
                self.state.fit_settings = dict(fit)
        self._replay(run)
        self.message_w.value = f"restored run {html.escape(run_id)} ({html.escape(run['name'])})"
        return model

    def _replay(self, run) -> None:
        """Show the restored run's history as the current job (the Fit tab draws it)."""
        from workbench.ui.names import model_title
        from workbench.ui.run_replay import replay

        if self.state.model is None:
            return
        try:
            replay(self.state, self.store, run, self.state.model,
                   label=f"{model_title(self.state.model)} · run {run['name']}")
        except Exception as exc:  # noqa: BLE001 - the model is restored; its curve is not
            self.message_w.value = (f"<span style='color:#c0392b'>run {html.escape(run['id'])}"
                                    f" restored, but its history could not be drawn: "
                                    f"{html.escape(str(exc))}</span>")

    def _restore_weights(self, run):
        """A training run: its final weights go into the workbench's network (which
        must have the run's architecture); returns the network."""
        from workbench.runs.weights import restore_weights

        model = getattr(self.state, "model", None)
        try:
            restore_weights(self.store, run["id"], model)
        except Exception as exc:  # noqa: BLE001 - shown, never raised into the UI
            self.message_w.value = (f"<span style='color:#c0392b'>cannot restore "
                                    f"{html.escape(run['id'])}: {html.escape(str(exc))}</span>")
            return None
        _mark_restored(model, run["id"])
        self._replay(run)
        self.message_w.value = (f"restored the weights of run {html.escape(run['id'])} "
                                f"({html.escape(run['name'])}) into the network")
        return model

    def rename(self, name: str) -> None:
        run_id = self._one("rename")
        if run_id is not None and name.strip():
            self.store.rename(run_id, name.strip())
            self.refresh()

    def set_tags(self, tags) -> None:
        run_id = self._one("tag")
        if run_id is not None:
            self.store.set_tags(run_id, tags)
            self.refresh()

    def set_notes(self, notes: str) -> None:
        run_id = self._one("annotate")
        if run_id is not None:
            self.store.set_notes(run_id, notes)
            self.message_w.value = f"notes of {html.escape(run_id)} saved"

    def ask_delete(self) -> None:
        if not self.selected:
            return
        self.confirm_text_w.value = (f"<b>Delete {len(self.selected)} run(s) and their "
                                     "artifacts?</b>")
        self.confirm_box.layout.display = "flex"

    def confirm_delete(self) -> None:
        ids = self.selected
        for run_id in ids:
            self.store.delete_run(run_id)
            self._predictions.pop(run_id, None)
        self._hide_confirm()
        self.table_w.value = ()
        self.refresh()
        self.message_w.value = f"deleted {len(ids)} run(s)"

    def _hide_confirm(self) -> None:
        self.confirm_box.layout.display = "none"


def _mark_restored(model, run_id) -> None:
    """Remember on the model which run it came from and when (the Validate tab stores
    its results with that run until the model is fitted again)."""
    import time

    try:
        model.restored_from_run = (run_id, time.monotonic())
    except Exception:  # noqa: BLE001 - a model that takes no attributes: nothing kept
        pass


def _label(run) -> str:
    return f"{run['name']} ({run['id'][-6:]})"


def _boxed(fig, cls, layout=None):
    box = w.Box([fig], layout=layout or w.Layout())
    box.add_class(cls)
    return box


def _redraw(fig, traces) -> None:
    fig.data = []
    if traces:
        fig.add_traces(traces)


def _parity_traces(runs, preds):
    """Trace lists of the energy parity, force parity and error-histogram figures."""
    rng = np.random.default_rng(0)
    pe, pf, err = [], [], []
    lo, hi = np.inf, -np.inf
    flo, fhi = np.inf, -np.inf
    for k, (run, p) in enumerate(zip(runs, preds)):
        if p is None:
            continue
        colour = COLOURS[k % len(COLOURS)]
        e_ref, e_pred = p.energy_ref / p.natoms, p.energy_pred / p.natoms
        lo, hi = min(lo, e_ref.min(), e_pred.min()), max(hi, e_ref.max(), e_pred.max())
        pe.append(dict(type="scatter", x=e_ref, y=e_pred, mode="markers", name=_label(run),
                       marker=dict(color=colour, size=6, opacity=0.7)))
        f_ref, f_pred = p.forces_ref.ravel(), p.forces_pred.ravel()
        if f_ref.size > MAX_POINTS:
            pick = rng.choice(f_ref.size, MAX_POINTS, replace=False)
            f_ref, f_pred = f_ref[pick], f_pred[pick]
        if f_ref.size:
            flo, fhi = min(flo, f_ref.min(), f_pred.min()), max(fhi, f_ref.max(), f_pred.max())
            pf.append(dict(type="scatter", x=f_ref, y=f_pred, mode="markers", name=_label(run),
                           marker=dict(color=colour, size=3, opacity=0.5)))
        err.append(dict(type="histogram", x=p.energy_error_per_atom, name=_label(run),
                        opacity=0.55, marker_color=colour))
    for traces, a, b in ((pe, lo, hi), (pf, flo, fhi)):
        if np.isfinite(a):
            traces.append(dict(type="scatter", x=[a, b], y=[a, b], mode="lines",
                               showlegend=False, line=dict(color="#888", dash="dot")))
    return pe, pf, err


def params_table(runs) -> str:
    """The runs' best parameters side by side, differing rows highlighted (HTML)."""
    esc = html.escape
    head = "".join(f"<th>{esc(_label(r))}</th>" for r in runs)
    rows = []
    for label, values, differs in parameter_rows(runs):
        cls = " class='diff'" if differs and len(runs) > 1 else ""
        rows.append(f"<tr{cls}><td style='text-align:left'>{esc(label)}</td>"
                    + "".join(f"<td>{esc(fmt(v))}</td>" for v in values) + "</tr>")
    for label, key in (("best loss", "best_loss"), ("train E RMSE", "train_e_rmse"),
                       ("train F RMSE", "train_f_rmse"), ("evaluations", "n_eval")):
        rows.append(f"<tr><td style='text-align:left'><i>{label}</i></td>"
                    + "".join(f"<td>{esc(fmt(r.get(key)))}</td>" for r in runs) + "</tr>")
    return (f"<div class='wb-runs-params'><b>parameters</b><table><tr><th></th>{head}</tr>"
            + "".join(rows) + "</table></div>")


def validation_table(runs, validations) -> str:
    """The runs' validated properties side by side (HTML; empty when none has any)."""
    esc = html.escape
    rows = validation_rows(validations)
    if not rows:
        return ""
    head = "".join(f"<th>{esc(_label(r))}</th>" for r in runs)
    body = "".join(f"<tr><td style='text-align:left'>{esc(label)}</td>"
                   + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>"
                   for label, cells in rows)
    return (f"<div class='wb-runs-params'><b>validated properties</b> (the latest "
            f"validation of each run)<table><tr><th></th>{head}</tr>{body}</table></div>")
