"""What the Fit tab shows, read from a job: loss curves, parameter traces, the status line.

Plain functions of a job (``workbench.ui.state.Job``: its recorded events and what its
parameter vector means) and the model it fits; they return lists, arrays and text for the
:class:`~workbench.ui.loss_monitor.LossMonitor` to put into its widgets.  Nothing here
evaluates the model: a job's history already holds every loss and parameter vector.
"""

from __future__ import annotations

import numpy as np

_LABELS = {"started": "running", "compiling": "compiling… (first run of the kernels)",
           "iteration": "running", "bad_step": "running (failed step)", "paused": "paused",
           "resumed": "running", "stopping": "stopping…", "finished": "finished",
           "stopped": "stopped", "failed": "failed"}


def loss_curves(job) -> dict:
    """The loss figure's data for ``job``: ``x`` (epochs or iterations), ``train``,
    ``test`` (None without a test curve) and ``weight_norm`` (networks only)."""
    curves = None if job is None else job.curves()
    if curves is not None:
        return {"x": curves["epoch"], "train": curves["train"], "test": curves["test"],
                "weight_norm": curves.get("weight_norm")}
    history = [] if job is None else job.loss_history()
    return {"x": [i for i, _ in history], "train": [f for _, f in history], "test": None,
            "weight_norm": None}


def vector_slots(model, n: int) -> list[tuple[str, int]]:
    """(parameter, component) of each of the ``n`` entries of ``model``'s optimization
    vector: what a job records to draw its parameter traces."""
    return [model.get_opt_param_name_value_and_indices(k)[::3] for k in range(n)]


def original_values(model, job, x) -> dict:
    """name -> original-space values of ``model``'s parameters for the optimization
    vector ``x`` of ``job`` (components ``x`` does not hold keep the model's values)."""
    if model is None or x is None or job is None:
        return {}
    out = {}
    for (name, comp), v in zip(job.slots, np.asarray(x, dtype=float)):
        p = model.model_params[name]
        if name not in out:
            out[name] = p.get_value("original")
        t = p.transform
        out[name][comp] = v if t is None else float(t.inverse([v])[0])
    return out


def relative_traces(model, job) -> tuple[list[int], np.ndarray | None]:
    """(iterations, value / start value per fitted component), both in the model's
    original space whatever the transform (a log-space parameter is drawn as its value
    over its start value, not as a ratio of logarithms)."""
    its, hist = job.trajectory()
    if hist is None or hist.ndim != 2 or job.x0 is None or not job.slots:
        return its, None
    start = to_original(model, job, job.x0[None, :])
    values = to_original(model, job, hist)
    start = np.where(start == 0, 1.0, start)
    return its, values / start


def to_original(model, job, rows: np.ndarray) -> np.ndarray:
    """Rows of optimization vectors of ``job`` mapped to the original space."""
    out = np.array(rows, dtype=float, copy=True)
    for k, (name, _comp) in enumerate(job.slots):
        t = model.model_params[name].transform if model is not None else None
        if t is not None:
            out[:, k] = np.asarray(t.inverse(out[:, k]), dtype=float)
    return out


def status_text(ev, job, torch_model: bool) -> str:
    """The status line (HTML) for event ``ev`` of ``job``: state, progress, rate and
    elapsed time of the fit alone (compile time told apart), the stop reason in words."""
    best = "–" if ev.best_loss is None else f"{ev.best_loss:.6g}"
    rate = ev.n_eval / ev.elapsed if ev.elapsed > 0 else 0.0
    if torch_model:
        stats = (f"epoch {ev.iteration} · {ev.n_eval} batches ({rate:.1f}/s) · "
                 f"elapsed {ev.elapsed:.1f} s · best loss {best}")
        curves = loss_curves(job)
        if curves["test"] and curves["test"][-1] is not None:
            stats += (f" · per configuration: train {curves['train'][-1]:.4g}, "
                      f"test {curves['test'][-1]:.4g}")
    else:
        stats = (f"iteration {ev.iteration} · {ev.n_eval} evaluations ({rate:.1f}/s) · "
                 f"elapsed {ev.elapsed:.1f} s · best loss {best}")
        if ev.compile_time >= 0.05:
            # the kernels' first compilation is not the fit's time (nor in its rate)
            stats += f" · compiling took {ev.compile_time:.1f} s before the fit"
    text = f"<b>{_LABELS[ev.kind]}</b> · {stats}"
    if getattr(job, "restored", False) and not ev.terminal:
        text = (f"<b>still running in the page you left</b> · {stats} (when this page "
                "opened); reload to follow it, or press Fit to start a new fit")
    if ev.terminal and ev.message:
        from workbench.ui.names import escape_html, stop_reason

        text += f"<br><small>{escape_html(stop_reason(ev.message))}</small>"
    return text
