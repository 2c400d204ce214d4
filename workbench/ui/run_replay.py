"""Draw a recorded run again as the workbench's current job.

A fit or a training read back from the run store (a Voilà page reopened after a reload,
a run restored from the Runs tab) becomes a job of the shared state whose events are
built from the stored history: the Fit tab then draws its loss curve, its parameter
traces (when the run fitted the same parameters the model fits now) or, for a network,
its train and test curves per epoch, exactly as it drew them while the run was live.
The job is marked ``restored``: its session lived in another kernel (or has ended), so
no Stop or Pause applies to it.  Nothing here computes; it only turns stored rows into
events.
"""

from __future__ import annotations

import numpy as np

from workbench.ui.fit_readout import vector_slots

#: the stop reason of a fit whose kernel was shut down (workbench.fit.background)
EXIT_REASON = "interpreter exit"


def describe_vector(job, model, start) -> bool:
    """Give ``job`` what its parameter vector means (start vector, names and the model's
    slots, as a live fit records them) when the run fitted the same number of parameters
    as ``model`` fits now; returns whether its parameter traces can be drawn."""
    if not isinstance(start, dict) or start.get("x") is None:
        return False
    x0 = np.asarray(start["x"], dtype=float)
    try:
        if x0.shape != np.shape(model.get_opt_params()):
            return False
        job.slots = vector_slots(model, len(x0))
    except Exception:  # noqa: BLE001 - a model without a parameter vector: no traces
        return False
    job.x0 = x0
    job.names = list(start.get("names") or [name for name, _ in job.slots])
    return True


def best_vector(run, history) -> list | None:
    """The run's best parameter vector; for a run cut off before it saved one, the
    parameters of its lowest recorded loss."""
    best = run.get("best_params")
    if isinstance(best, dict):
        best = best.get("x")
    if best is None:
        done = [row for row in history if row.get("loss") is not None and row.get("params")]
        if done:
            best = min(done, key=lambda row: row["loss"])["params"]
    return best


def cut_off(run) -> bool:
    """Whether the run ended because its kernel went away (shut down or killed)."""
    return run["status"] == "interrupted" or (
        run["status"] == "stopped" and (run.get("message") or "") == EXIT_REASON)


def replay(state, store, run, model, label: str = "", message: str | None = None,
           history: list | None = None):
    """Make ``run`` (a record of ``store``) the current job of ``state``, its events built
    from the stored history (``history``: those rows, when the caller has read them);
    ``message`` replaces the run's own end message.  Returns the job.  A run still
    "running" (in another kernel) is drawn as far as it got."""
    from workbench.fit.events import FitEvent
    from workbench.ui.state import Job

    if history is None:
        history = store.get_history(run["id"])
    training = run.get("kind") == "training"
    job = Job("training" if training else "fit", model_key=state.model_key, model_label=label)
    job.restored = True
    if training:
        job.saved_curves = _training_curves(store, run)
    traced = not training and describe_vector(job, model, run.get("start_params"))
    for row in history:
        if row.get("loss") is None:
            continue
        params = row.get("params") if traced else None
        job.record(FitEvent("iteration", iteration=int(row["iteration"]),
                            loss=float(row["loss"]), best_loss=run.get("best_loss"),
                            params=None if params is None else np.asarray(params, float),
                            n_eval=int(row.get("n_eval") or 0),
                            elapsed=float(row.get("elapsed") or 0.0)))
    status = "stopped" if cut_off(run) else run["status"]
    if status in ("finished", "stopped", "failed"):
        last = history[-1] if history else {}
        losses = [row["loss"] for row in history if row.get("loss") is not None]
        job.record(FitEvent(status, iteration=int(run.get("iterations") or
                                                  last.get("iteration") or 0),
                            best_loss=run.get("best_loss") or (min(losses) if losses else None),
                            n_eval=int(run.get("n_eval") or last.get("n_eval") or 0),
                            elapsed=float(run.get("elapsed") or last.get("elapsed") or 0.0),
                            message=(run.get("message") or "") if message is None else message))
    return state.add_job(job)  # current once complete: every panel draws it whole


def _training_curves(store, run) -> dict | None:
    """The per-configuration train/test curves a training run kept with its results."""
    for result in reversed(store.get_results(run["id"], kind="training")):
        curves = (result.get("data") or {}).get("curves")
        if curves:
            return curves
    return None
