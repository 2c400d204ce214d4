"""Runs side by side: parameter, loss and RMSE tables, and an HTML comparison report.

Shared by ``workbench runs compare`` and the Runs tab, so both show the same numbers.
"""

from __future__ import annotations

import datetime as _dt
import html

SUMMARY_ROWS = (
    ("status", "status"), ("model", "model_kind"), ("method", "method"),
    ("best loss", "best_loss"), ("final loss", "final_loss"), ("iterations", "iterations"),
    ("evaluations", "n_eval"), ("wall time (s)", "elapsed"),
    ("train E RMSE (eV/atom)", "train_e_rmse"), ("train F RMSE (eV/Å)", "train_f_rmse"),
    ("test E RMSE (eV/atom)", "test_e_rmse"), ("test F RMSE (eV/Å)", "test_f_rmse"),
    ("data set hash", "dataset_hash"),
)


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def when(timestamp) -> str:
    if timestamp is None:
        return "-"
    return _dt.datetime.fromtimestamp(float(timestamp)).strftime("%Y-%m-%d %H:%M:%S")


def best_values(run) -> dict:
    """``{"A": [..], ...}``: the run's best parameters in the model's units, falling back
    to the fitted vector by name, then to the start values."""
    best = run.get("best_params") or {}
    if best.get("values"):
        return best["values"]
    if best.get("x") is not None and best.get("names"):
        return {n: [v] for n, v in zip(best["names"], best["x"])}
    model = run.get("model") or {}
    return {n: p["value"] for n, p in (model.get("params") or {}).items()}


def parameter_rows(runs) -> list[tuple[str, list, bool]]:
    """``(label, [value per run], differs)`` for every parameter component of any run."""
    values = [best_values(r) for r in runs]
    names = []
    for v in values:
        names += [n for n in v if n not in names]
    rows = []
    for n in names:
        size = max(len(v.get(n) or ()) for v in values)
        for c in range(size):
            label = n if size == 1 else f"{n}[{c}]"
            cells = [(v.get(n) or [None] * size)[c] if c < len(v.get(n) or ()) else None
                     for v in values]
            present = [x for x in cells if x is not None]
            differs = len(present) != len(cells) or any(
                abs(x - present[0]) > 1e-12 * max(1.0, abs(present[0])) for x in present)
            rows.append((label, cells, differs))
    return rows


def latest_validation(store, run_id) -> dict | None:
    """The newest validation result stored with a run (the Validate tab's, or
    ``workbench validate --run``'s), None when it has none."""
    results = store.get_results(run_id, "validation")
    return results[-1]["data"] if results else None


def _validation_values(data) -> tuple[dict, dict, str]:
    """(values, standard deviations, "structure species") of a stored validation result,
    a single model's (``values``) or an ensemble's (``central``, ``mean``, ``std``)."""
    if "central" in data:
        central = data["central"]
        values = {**central.get("values", {}), **(data.get("mean") or {})}
        std = data.get("std") or {}
    else:
        central, values, std = data, data.get("values", {}), {}
    what = f"{central.get('structure', '?')} {'-'.join(central.get('species') or [])}"
    return values, std, what.strip()


def validation_rows(validations) -> list[tuple[str, list[str]]]:
    """``(label with unit, [cell per run])``: the summary properties of each run's stored
    validation (``mean ± std`` for an ensemble, "-" where a run has none)."""
    from workbench.validation.suite import SUMMARY_UNITS

    parsed = [None if v is None else _validation_values(v) for v in validations]
    if all(p is None for p in parsed):
        return []
    rows = [("structure", ["-" if p is None else p[2] for p in parsed])]
    for key, unit in SUMMARY_UNITS.items():
        cells = []
        for p in parsed:
            value = None if p is None else p[0].get(key)
            if value is None:
                cells.append("-")
                continue
            std = p[1].get(key)
            cells.append(f"{value:.6g}" + ("" if std is None else f" ± {std:.2g}"))
        if any(c != "-" for c in cells):
            rows.append((f"{key} ({unit})", cells))
    return rows


def summary_rows(runs) -> list[tuple[str, list]]:
    rows = [("name", [r.get("name") for r in runs]),
            ("started", [when(r.get("started")) for r in runs])]
    rows += [(label, [r.get(key) for r in runs]) for label, key in SUMMARY_ROWS]
    return rows


def text_table(header, rows) -> str:
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def compare_text(runs, validations=None) -> str:
    """Summary and parameter tables of ``runs`` (dicts from ``RunStore.get_run``), and
    their validated properties (``validations``: one stored result or None per run)."""
    header = [""] + [r["id"] for r in runs]
    summary = [[label] + [fmt(v) for v in vals] for label, vals in summary_rows(runs)]
    params = [[("* " if differs else "  ") + label] + [fmt(v) for v in vals]
              for label, vals, differs in parameter_rows(runs)]
    text = (text_table(header, summary) + "\n\nbest parameters (* differs)\n"
            + text_table(header, params))
    props = validation_rows(validations or [None] * len(runs))
    if props:
        text += ("\n\nvalidated properties (latest validation of each run)\n"
                 + text_table(header, [[label] + cells for label, cells in props]))
    return text


def compare_html(runs, histories, title="Run comparison", validations=None) -> str:
    """A self-contained HTML page: overlaid loss curves and the tables of
    :func:`compare_text` (plotly.js embedded once, so it opens offline)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for run, hist in zip(runs, histories):
        pts = [(h["iteration"], h["loss"]) for h in hist if h["loss"] is not None]
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts],
                                 mode="lines+markers", name=f"{run['name']} ({run['id']})"))
    fig.update_layout(title="Loss", xaxis_title="iteration", yaxis_title="loss",
                      yaxis_type="log", height=420)
    esc = html.escape

    def table(header, rows, marks=None):
        out = ["<table><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in header) + "</tr>"]
        for k, row in enumerate(rows):
            cls = ' class="diff"' if marks and marks[k] else ""
            out.append(f"<tr{cls}>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>")
        return "".join(out) + "</table>"

    header = [""] + [r["id"] for r in runs]
    summary = [[label] + [fmt(v) for v in vals] for label, vals in summary_rows(runs)]
    prow = parameter_rows(runs)
    params = [[label] + [fmt(v) for v in vals] for label, vals, _ in prow]
    props = validation_rows(validations or [None] * len(runs))
    props_html = ("<h2>Validated properties</h2><p>The latest validation of each run.</p>"
                  + table(header, [[label] + cells for label, cells in props])
                  if props else "")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}tr.diff{background:#fff3cd}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{style}</style></head><body><h1>{esc(title)}</h1>"
            + fig.to_html(full_html=False, include_plotlyjs=True)
            + "<h2>Runs</h2>" + table(header, summary)
            + "<h2>Best parameters</h2><p>Highlighted rows differ.</p>"
            + table(header, params, [d for _, _, d in prow]) + props_html + "</body></html>")
