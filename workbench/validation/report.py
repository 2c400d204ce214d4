"""Tables and plotly figures of a validation result (used by the CLI, the HTML reports
and the Validate tab, which only displays them)."""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np

from workbench.validation.suite import EXTRA_UNITS, SUMMARY_UNITS


def property_rows(result, ens=None) -> list[dict]:
    """One row per scalar property: name, unit, prediction, std, reference, difference,
    percent, source (empty where there is none)."""
    values = dict(result.values)
    std = {}
    if ens is not None:
        values.update(ens.mean())
        std = ens.std()
    refs = {r["property"]: r for r in result.references}
    rows = []
    for name, unit in {**SUMMARY_UNITS, **EXTRA_UNITS}.items():
        if name not in values:
            continue
        v = float(values[name])
        ref = refs.get(name)
        row = {"property": name, "unit": unit, "prediction": v, "std": std.get(name),
               "reference": None, "difference": None, "percent": None, "source": ""}
        if ref is not None:
            row.update(reference=ref["reference"], difference=v - ref["reference"],
                       percent=100 * (v - ref["reference"]) / abs(ref["reference"]),
                       source=f"{ref['kind']}: {ref['source']}"
                       + (" [value not confirmed]" if str(ref.get("checked", ""))
                          .startswith("not confirmed") else ""))
        rows.append(row)
    return rows


def _fmt(x, digits=5):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return f"{x:.{digits}g}"


def summary_table(result, ens=None) -> str:
    lines = [f"{result.model} on {result.structure} {'-'.join(result.species)}",
             f"{'property':36s} {'prediction':>12s} {'± std':>10s} {'reference':>10s} "
             f"{'diff %':>8s}"]
    for r in property_rows(result, ens):
        lines.append(f"{r['property'] + ' (' + r['unit'] + ')' if r['unit'] else r['property']:36s} "
                     f"{_fmt(r['prediction'], 6):>12s} {_fmt(r['std'], 3):>10s} "
                     f"{_fmt(r['reference']):>10s} {_fmt(r['percent'], 3):>8s}")
    return "\n".join(lines)


def eos_figure(result, ens=None):
    import plotly.graph_objects as go

    fig = go.Figure()
    eos = result.details.get("eos")
    if eos is None:
        return fig
    dft = result.dft_eos  # first, so the model's curve is drawn over the points
    if dft is not None:
        shift = eos["E0"] - dft["E0"]
        fig.add_trace(go.Scatter(x=dft["volumes"], y=(np.array(dft["energies"]) + shift).tolist(),
                                 mode="markers", name=f"DFT (shifted {shift:+.3f} eV)",
                                 marker={"color": "#d62728", "symbol": "x", "size": 6}))
    if ens is not None and "eos" in ens.bands():
        b = ens.bands()["eos"]
        m, s = np.array(b["mean"]), np.array(b["std"])
        fig.add_trace(go.Scatter(x=b["volumes"] + b["volumes"][::-1],
                                 y=(m + s).tolist() + (m - s)[::-1].tolist(), fill="toself",
                                 line={"width": 0}, fillcolor="rgba(31,119,180,0.25)",
                                 name="ensemble ± std"))
    fig.add_trace(go.Scatter(x=eos["fit_volumes"], y=eos["fit_energies"], mode="lines",
                             name="Birch-Murnaghan fit", line={"color": "#1f77b4"}))
    fig.add_trace(go.Scatter(x=eos["volumes"], y=eos["energies"], mode="markers",
                             name="model", marker={"color": "#1f77b4"}))
    fig.update_layout(title="Energy vs volume", xaxis_title="volume (Å³/atom)",
                      yaxis_title="energy (eV/atom)", height=380)
    return fig


def phonon_figure(result, ens=None):
    import plotly.graph_objects as go

    fig = go.Figure()
    ph = result.details.get("phonons")
    if ph is None:
        return fig
    x = ph["x"]
    freqs = np.array(ph["frequencies"])
    if ens is not None and "phonons" in ens.bands():
        b = ens.bands()["phonons"]
        m, s = np.array(b["mean"]), np.array(b["std"])
        for k in range(m.shape[1]):
            fig.add_trace(go.Scatter(x=list(x) + list(x)[::-1],
                                     y=(m[:, k] + s[:, k]).tolist()
                                     + (m[:, k] - s[:, k])[::-1].tolist(),
                                     fill="toself", line={"width": 0}, showlegend=k == 0,
                                     fillcolor="rgba(31,119,180,0.25)", name="ensemble ± std"))
    for k in range(freqs.shape[1]):
        fig.add_trace(go.Scatter(x=x, y=freqs[:, k], mode="lines", showlegend=k == 0,
                                 name="model", line={"color": "#1f77b4"}))
    labels = ["Γ" if lab == "G" else lab for lab in ph["labels"]]
    for xs in ph["special_x"]:
        fig.add_vline(x=xs, line={"color": "grey", "width": 1})
    fig.update_layout(title="Phonon band structure" + (" (imaginary modes!)"
                                                       if ph["imaginary"] else ""),
                      xaxis={"tickvals": ph["special_x"], "ticktext": labels},
                      yaxis_title="frequency (THz)", height=380)
    return fig


def md_figure(result):
    import plotly.graph_objects as go

    fig = go.Figure()
    run = result.details.get("md")
    if run is not None:
        fig.add_trace(go.Scatter(x=run["time_fs"], y=run["total_energy"], mode="lines",
                                 name="total energy"))
        fig.update_layout(title=f"NVE total energy (drift {run['drift']:.2e} eV/atom/ps, "
                                f"structure {'held' if run['held'] else 'NOT held'})",
                          xaxis_title="time (fs)", yaxis_title="energy (eV/atom)", height=320)
    return fig


def curves_figure(result):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    d = result.details
    funcs = d.get("functions") or []
    panels = [("dimer", "r (Å)"), ("trimer", "θ (degrees)")] + [(c, c.get("x_label", ""))
                                                               for c in funcs]
    panels = [(p, lab) for p, lab in panels if not isinstance(p, str) or p in d]
    if not panels:
        return go.Figure()
    titles = [p if isinstance(p, str) else p.get("name", "") for p, _ in panels]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles)
    for k, (p, xlab) in enumerate(panels, start=1):
        if p == "dimer":
            x, y, ylab = d["dimer"]["r"], d["dimer"]["energy"], "E (eV)"
        elif p == "trimer":
            x, y, ylab = d["trimer"]["theta"], d["trimer"]["energy"], "E (eV)"
        else:
            x, y, ylab = p["x"], p["y"], p.get("y_label", "")
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", showlegend=False), row=1, col=k)
        fig.update_xaxes(title_text=xlab, row=1, col=k)
        fig.update_yaxes(title_text=ylab, row=1, col=k)
    fig.update_layout(height=320)
    return fig


def properties_html(result, ens=None, include_plotlyjs=True) -> str:
    """An HTML section: the property table and the figures."""
    head = ("<tr><th>property</th><th>unit</th><th>prediction</th><th>± std</th>"
            "<th>reference</th><th>difference</th><th>%</th><th>source</th></tr>")
    body = "".join(
        f"<tr><td>{html.escape(r['property'])}</td><td>{html.escape(r['unit'])}</td>"
        f"<td>{_fmt(r['prediction'], 6)}</td><td>{_fmt(r['std'], 3)}</td>"
        f"<td>{_fmt(r['reference'])}</td><td>{_fmt(r['difference'], 4)}</td>"
        f"<td>{_fmt(r['percent'], 3)}</td><td>{html.escape(r['source'])}</td></tr>"
        for r in property_rows(result, ens))
    parts = [f"<h2>Properties: {html.escape(result.model)} on {html.escape(result.structure)}"
             f" {html.escape('-'.join(result.species))}</h2>",
             f"<table class='properties' border='1' cellpadding='4'>{head}{body}</table>"]
    figs = [eos_figure(result, ens), phonon_figure(result, ens), curves_figure(result),
            md_figure(result)]
    for k, fig in enumerate(f for f in figs if f.data):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs and k == 0))
    return "\n".join(parts)


def write_validation_report(path, result, ens=None) -> Path:
    from workbench.atomic import write_text_atomic

    title = f"Validation of {result.model}"
    text = (f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;margin:2em'><h1>{html.escape(title)}</h1>"
            f"{properties_html(result, ens)}</body></html>")
    return write_text_atomic(Path(path), text)
