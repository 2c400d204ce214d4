"""GuidedApp: the Workbench as five steps for a teaching lab (``workbench app``).

1 look at the data, 2 choose a model and what to fit, 3 fit, 4 check the result,
5 export.  Each step shows the Workbench panels it needs and a short help text; the
panels are the Workbench's own (one state), only arranged differently.

A student's fits are recorded in the run store with the tag ``student:NAME`` (the page's
``?student=NAME``); when the page is opened again (a reload, a new kernel), the latest of
them is drawn from the store: its loss curve, its state, and, once it ended, its best
parameters in the table.  Closing or reloading the page shuts its kernel down (see
workbench/app/serve.py), so a fit running then stops as the kernel exits (or is left
interrupted if the kernel is killed): the reopened page shows it stopped at its last
recorded iteration, with the best parameters it reached in the table.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np


STEPS = ("1 Data", "2 Model", "3 Fit", "4 Check", "5 Export")
HELP = {
    "1 Data": "Look at the training data: sort and filter the configurations, select one "
              "to see it in 3D (force arrows in the menu above the view). Exclude odd ones, "
              "or keep a share as a test set (Split). The Weights panel below sets how much "
              "energies and forces count.",
    "2 Model": "Choose a potential (built-in, or an installed OpenKIM model for your "
               "species) and tick 'fit' for the parameters to adjust. Bounds keep a "
               "parameter in a range; 'log' fits parameters that span decades.",
    "3 Fit": "Press Fit and watch the loss fall and the parameters move. Pause or Stop at "
             "any time: the best parameters so far are kept.",
    "4 Check": "How good is the fit? Predicted against reference energies and forces, the "
               "worst configurations (click a bar to see it in the Data step) and how well "
               "the data determine each parameter (Fisher information).",
    "5 Export": "Download your model: the KIM model runs in LAMMPS and ASE, the set-up "
                "reruns this fit with `workbench fit setup.yaml`, the report keeps the plots.",
}


def student_from_query(query: str) -> str | None:
    """``alice`` from a query string like ``student=alice&x=1`` (letters, digits, -_.)."""
    from urllib.parse import parse_qs

    name = (parse_qs(query or "").get("student") or [""])[0].strip()
    clean = "".join(ch for ch in name if ch.isalnum() or ch in "-_.")
    return clean[:64] or None


class GuidedApp(w.VBox):
    """Steps over a :class:`workbench.ui.workbench.Workbench` ``wb``."""

    def __init__(self, wb, student: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.add_class("wb-app")
        self.wb = wb
        self.student = student
        self.steps_w = w.ToggleButtons(options=STEPS, value=STEPS[0],
                                       tooltips=[HELP[s].split(":")[0] for s in STEPS])
        self.steps_w.add_class("wb-steps")
        self.steps_w.tooltip = "the steps of a fit; click one to go there"
        self.help_w = w.HTML()
        self.help_w.add_class("wb-help")
        self.body = w.Box(layout=w.Layout(width="100%"))
        self.back_w = w.Button(description="Back", icon="arrow-left",
                               tooltip="the previous step")
        self.next_w = w.Button(description="Next", icon="arrow-right", button_style="info",
                               tooltip="the next step")
        self.back_w.on_click(lambda _: self.go(-1))
        self.next_w.on_click(lambda _: self.go(+1))
        self.steps_w.observe(lambda _: self.show(), "value")
        settings = wb.fit_tab.children[0].children[-1]  # the "fit to" settings
        self.pages = {
            "1 Data": [wb.browser, w.HTML("<h4>weights</h4>"), wb.weights],
            "2 Model": [wb.picker, w.HTML("<h4>parameters</h4>"), wb.params.tools_w, wb.params],
            "3 Fit": [w.HBox([wb.monitor, settings],
                             layout=w.Layout(flex_flow="row wrap", width="100%"))],
            "4 Check": [wb.analysis] + self._slot("Validate"),
            "5 Export": [wb.export.widget] + self._slot("Runs"),
        }
        wb.monitor.layout = w.Layout(flex="1 1 520px", min_width="0")
        self.children = [wb.title_w, wb.preparing_w, self.steps_w, self.help_w, self.body,
                         w.HBox([self.back_w, self.next_w]), wb.sizer]
        self.show()

    def _repr_mimebundle_(self, **kwargs):
        """Shown on a page: start compiling the model's kernels (see ``Workbench``)."""
        self.wb.preparer.start()
        return super()._repr_mimebundle_(**kwargs)

    def _slot(self, title: str) -> list:
        panel = self.wb.panels.get(title)
        return [w.HTML(f"<h4>{title.lower()}</h4>"), panel.widget] if panel else []

    def go(self, delta: int) -> None:
        k = STEPS.index(self.steps_w.value) + delta
        self.steps_w.value = STEPS[max(0, min(len(STEPS) - 1, k))]

    def show(self) -> None:
        step = self.steps_w.value
        self.help_w.value = f"<p style='max-width:60em'>{HELP[step]}</p>"
        self.body.children = [w.VBox(self.pages[step], layout=w.Layout(width="100%"))]
        self.wb.fresh_figures(self.pages[step])
        self.back_w.disabled = step == STEPS[0]
        self.next_w.disabled = step == STEPS[-1]


def restore_last_run(wb, store, tag: str):
    """Draw the latest fit tagged ``tag`` from ``store`` as the current job of ``wb``
    (loss history, parameter traces, state, best parameters once it ended); returns the
    run or None."""
    from workbench.ui.names import model_title
    from workbench.ui.run_replay import best_vector, cut_off, replay

    runs = store.list_runs(kind="fit", tag=tag, limit=1)
    if not runs:
        return None
    run = store.get_run(runs[0]["id"])
    history = store.get_history(run["id"])
    message = None
    if cut_off(run):
        # the page was closed or reloaded during the fit and its kernel shut down (the
        # fit stopped as the interpreter exited, or died before it could): keep what it
        # reached, the parameters of its lowest recorded loss when none were saved
        last = max([row["iteration"] for row in history], default=0)
        message = (f"the page was closed during this fit, at iteration {last}; its best "
                   "parameters are in the table: press Fit to go on from them")
    job = replay(wb.state, store, run, wb.model, label=model_title(wb.model), message=message,
                 history=history)
    best = best_vector(run, history) if job.state in ("finished", "stopped") else None
    if best is not None:
        try:
            x = np.asarray(best, dtype=float)
            if x.shape == np.shape(wb.model.get_opt_params()):
                wb.model.update_model_params(x)
                wb.params.refresh()
        except Exception:  # noqa: BLE001 - a stale run does not break the page
            pass
    wb.monitor.redraw()
    if not job.terminal:
        wb.monitor._set_buttons(running=False)
    return run
