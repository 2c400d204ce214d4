"""The teaching-lab page that ``workbench app`` serves with Voila.

``workbench_app.ipynb`` (next to this file, shipped in the package) has one cell,
``from workbench.app import main; main()``, so an installed wheel can serve it and the page
shows nothing but the app.  ``main`` builds the Workbench from ``$WORKBENCH_APP_CONFIG``
(a set-up file) or, without one, Stillinger-Weber on the bundled DFT silicon set, and
shows it as a :class:`workbench.ui.guided.GuidedApp`.  Fits are recorded in the run store
(``$WORKBENCH_RUNS``) tagged with the page's ``?student=NAME``, and a reopened page draws
that student's latest fit from it.
"""

from __future__ import annotations

import os
from pathlib import Path

NOTEBOOK = Path(__file__).with_name("workbench_app.ipynb")


def default_workbench():
    """Stillinger-Weber on the bundled 1000-configuration DFT silicon set (KLIFF's
    tutorial set-up)."""
    from workbench import datasets
    from workbench.data import Dataset, Weight
    from workbench.models import StillingerWeber
    from workbench.ui.workbench import Workbench

    dataset = Dataset(datasets.path("Si"), Weight(energy_weight=1.0, forces_weight=0.1))
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    return Workbench(dataset=dataset, model=model,
                     fit={"method": "L-BFGS-B", "options": {"maxiter": 100}})


def build(config: str | None = None, query: str | None = None):
    """The GuidedApp for ``config`` (a set-up file; default ``$WORKBENCH_APP_CONFIG``) and
    the page's query string (default ``$QUERY_STRING``, set by Voila)."""
    from workbench.ui.guided import GuidedApp, restore_last_run, student_from_query
    from workbench.ui.workbench import Workbench

    config = config or os.environ.get("WORKBENCH_APP_CONFIG") or None
    wb = Workbench.from_config(config) if config else default_workbench()
    student = student_from_query(query if query is not None
                                 else os.environ.get("QUERY_STRING", ""))
    app = GuidedApp(wb, student=student)
    if student:
        from workbench.runs import default_store

        tag = f"student:{student}"
        wb.monitor.session_options = {"tags": [tag], "name": f"{student}"}
        try:
            store = default_store()
            if store is not None:
                restore_last_run(wb, store, tag)
        except Exception as exc:  # noqa: BLE001 - the page works without its history
            wb.monitor.status_w.value = f"<i>previous fits could not be read: {exc}</i>"
    return app


def main():
    """Display the app (the page's only output)."""
    from IPython.display import display

    display(build())
