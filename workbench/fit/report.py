"""A self-contained HTML report of a fit: loss curve, parity plots, per-configuration errors.

plotly.js is embedded once, so the file opens offline.  The file is written atomically.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.atomic import write_text_atomic

MAX_FORCE_POINTS = 20000


@dataclass
class Predictions:
    """Predictions and references of one data split (per configuration and per atom)."""

    label: str
    identifiers: list
    natoms: np.ndarray
    energy_pred: np.ndarray
    energy_ref: np.ndarray
    forces_pred: np.ndarray
    forces_ref: np.ndarray

    @property
    def energy_error_per_atom(self):
        return (self.energy_pred - self.energy_ref) / self.natoms

    def force_error_per_config(self):
        """‖F_pred − F_ref‖ / N per configuration (KLIFF's normalized force error)."""
        offsets = np.concatenate([[0], np.cumsum(self.natoms)]).astype(np.int64)
        diff = self.forces_pred - self.forces_ref
        sq = np.add.reduceat((diff ** 2).sum(axis=1), offsets[:-1]) if len(diff) else []
        return np.sqrt(sq) / self.natoms

    def rmse(self):
        """(energy RMSE per atom, force component RMSE) over the split."""
        e = float(np.sqrt(np.mean(self.energy_error_per_atom ** 2)))
        f = float(np.sqrt(np.mean((self.forces_pred - self.forces_ref) ** 2)))
        return e, f


def predictions(label, model, configs, calculator=None) -> Predictions | None:
    """Evaluate ``model`` on ``configs`` (energies and forces); None when empty.

    ``calculator``: a Calculator of ``model`` already created for exactly these
    configurations (a fit's), reused so their neighbor lists are not built again."""
    if not configs:
        return None
    from workbench.fit.calculator import Calculator

    has_forces = all(c.forces is not None for c in configs)
    calc = calculator
    if not _created_for(calc, model, configs, has_forces):
        calc = Calculator(model)
        calc.create(configs, use_energy=True, use_forces=has_forces)
    res = calc.compute()
    forces_pred = res.forces if has_forces else np.zeros((0, 3))
    forces_ref = calc.ref_forces if has_forces else np.zeros((0, 3))
    return Predictions(label, [str(c.identifier) for c in configs], calc.natoms.astype(float),
                       np.asarray(res.energy, float), calc.ref_energy, forces_pred, forces_ref)


def _created_for(calc, model, configs, has_forces) -> bool:
    """Whether ``calc`` evaluates ``model`` on exactly ``configs`` (the same objects, in
    order), with forces when they are wanted."""
    made = getattr(calc, "configs", None)
    return (made is not None and getattr(calc, "model", None) is model
            and getattr(calc, "state_", None) is not None
            and bool(getattr(calc, "use_forces", False)) == has_forces
            and len(made) == len(configs) and all(a is b for a, b in zip(made, configs)))


def _figures(history, splits):
    import plotly.graph_objects as go

    figs = []
    if history:
        it, loss = zip(*history)
        fig = go.Figure(go.Scatter(x=list(it), y=list(loss), mode="lines+markers"))
        fig.update_layout(title="Loss", xaxis_title="iteration", yaxis_title="loss",
                          yaxis_type="log", height=380)
        figs.append(fig)
    colours = {"train": "#1f77b4", "test": "#d62728"}
    efig = go.Figure()
    ffig = go.Figure()
    bfig = go.Figure()
    rng = np.random.default_rng(0)
    for p in splits:
        colour = colours.get(p.label, None)
        efig.add_trace(go.Scatter(x=p.energy_ref / p.natoms, y=p.energy_pred / p.natoms,
                                  mode="markers", name=p.label, text=p.identifiers,
                                  marker={"color": colour, "size": 5}))
        if len(p.forces_ref):
            ref, pred = p.forces_ref.ravel(), p.forces_pred.ravel()
            if ref.size > MAX_FORCE_POINTS:
                pick = rng.choice(ref.size, MAX_FORCE_POINTS, replace=False)
                ref, pred = ref[pick], pred[pick]
            ffig.add_trace(go.Scattergl(x=ref, y=pred, mode="markers", name=p.label,
                                        marker={"color": colour, "size": 3}))
            err = p.force_error_per_config()
            order = np.argsort(err)[::-1]
            bfig.add_trace(go.Bar(x=[p.identifiers[k] for k in order], y=err[order],
                                  name=p.label, marker={"color": colour}))
    for fig, title, unit in ((efig, "Energy per atom", "eV/atom"), (ffig, "Force components",
                                                                     "eV/Å")):
        lo_hi = [tr.x for tr in fig.data] + [tr.y for tr in fig.data]
        if lo_hi:
            allv = np.concatenate([np.asarray(v, float) for v in lo_hi])
            lo, hi = float(allv.min()), float(allv.max())
            fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x",
                                     line={"color": "grey", "dash": "dash"}))
        fig.update_layout(title=f"{title}: prediction vs reference", height=450,
                          xaxis_title=f"reference ({unit})", yaxis_title=f"prediction ({unit})")
        figs.append(fig)
    bfig.update_layout(title="Force error per configuration, ‖ΔF‖/N (sorted)", height=380,
                       xaxis={"showticklabels": False}, yaxis_title="eV/Å")
    figs.append(bfig)
    return figs


def write_report(path, title, history, splits, summary_lines=(), extra_html="") -> Path:
    """Write the HTML report to ``path`` atomically and return the path; ``extra_html``
    (e.g. the properties section of ``workbench.validation.report``) goes at the end."""
    path = Path(path)
    splits = [s for s in splits if s is not None]
    parts = [f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             "<style>body{font-family:sans-serif;margin:2em} pre{background:#f6f6f6;"
             "padding:1em}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    rows = []
    for s in splits:
        e, f = s.rmse()
        rows.append(f"<tr><td>{s.label}</td><td>{len(s.identifiers)}</td>"
                    f"<td>{e:.6g}</td><td>{f:.6g}</td></tr>")
    parts.append("<table border='1' cellpadding='4'><tr><th>split</th><th>configurations"
                 "</th><th>energy RMSE (eV/atom)</th><th>force RMSE (eV/Å)</th></tr>"
                 + "".join(rows) + "</table>")
    if summary_lines:
        parts.append("<pre>" + html.escape("\n".join(summary_lines)) + "</pre>")
    for k, fig in enumerate(_figures(history, splits)):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(k == 0)))
    if extra_html:
        parts.append(extra_html)
    parts.append("</body></html>")
    write_text_atomic(path, "\n".join(parts))
    return path
