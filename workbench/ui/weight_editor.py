"""WeightEditor: the weights of the loss, for all configurations and per configuration.

Two kinds: ``Weight`` (constant config / energy / forces / stress weights) or
``MagnitudeInverseWeight`` (Lenosky's 1/w^2 = c1^2 + c2^2 |p|^2, c1 and c2 per property).  Per-configuration config weights are set
by identifier pattern or for the configurations selected in the DatasetBrowser; every rule
is kept (``rules``) so the set-up can be written to a config file and replayed.  The
preview shows the distribution of the resulting effective energy and force weights.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.data import MagnitudeInverseWeight
from workbench.errors import WorkbenchError
from workbench.fit.setup_file import apply_weights, matches, relative_identifier
from workbench.ui.figures import show_in

KINDS = ("Weight", "MagnitudeInverseWeight")
PROPS = ("energy", "forces", "stress")


class WeightEditor(w.VBox):
    """Edit the weights of ``configs``; ``on_change()`` runs after they were applied.

    ``browser`` (optional DatasetBrowser) supplies the selection for per-configuration
    weights.
    """

    def __init__(self, configs, spec: dict | None = None, rules=None, browser=None,
                 on_change=None, root=None, lazy_figures: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.root = root
        self.add_class("wb-weight-editor")
        self.configs = list(configs)
        self.browser = browser
        self.on_change = on_change
        self.rules: list[dict] = list(rules or [])
        spec = dict(spec or {})
        lay = w.Layout(width="200px")
        self.kind_w = w.ToggleButtons(options=KINDS, value=spec.get("type", "Weight"))
        self.config_w = w.FloatText(value=spec.get("config_weight", 1.0),
                                    description="config", layout=lay)
        self.energy_w = w.FloatText(value=spec.get("energy_weight", 1.0),
                                    description="energy", layout=lay)
        self.forces_w = w.FloatText(value=spec.get("forces_weight", 1.0),
                                    description="forces", layout=lay)
        self.stress_w = w.FloatText(value=spec.get("stress_weight", 1.0),
                                    description="stress", layout=lay)
        self.c_w = {}
        for p in PROPS:
            c1, c2 = _pair((spec.get("weight_params") or {}).get(f"{p}_weight_params", [1.0, 0.0]))
            self.c_w[p] = (w.FloatText(value=c1, description=f"{p} c1", layout=lay),
                           w.FloatText(value=c2, description=f"{p} c2", layout=lay))
        for wid, tip in (
                (self.config_w, "weight of every configuration as a whole"),
                (self.energy_w, "how much energies count in the loss"),
                (self.forces_w, "how much forces count in the loss (per component)"),
                (self.stress_w, "how much stresses count in the loss")):
            wid.tooltip = tip
        self.kind_w.tooltips = ["the same weights for every configuration",
                                "weights that shrink for large values (Lenosky): "
                                "1/w^2 = c1^2 + c2^2 |value|^2"]
        self.pattern_w = w.Text(placeholder="identifier pattern, e.g. *T300*",
                                layout=w.Layout(width="260px"))
        self.rule_weight_w = w.FloatText(value=2.0, description="config weight",
                                         layout=lay)
        self.by_pattern_w = w.Button(description="Set for pattern")
        self.by_selection_w = w.Button(description="Set for selection")
        self.clear_rules_w = w.Button(description="Clear rules")
        self.apply_w = w.Button(description="Apply weights", button_style="primary")
        for p in PROPS:
            self.c_w[p][0].tooltip = (f"c1 of the {p} weight: the absolute uncertainty of "
                                      f"{p} values (in their units)")
            self.c_w[p][1].tooltip = (f"c2 of the {p} weight: the relative uncertainty, "
                                      f"for large {p} values")
        self.kind_w.tooltip = ("how the weights are set: equal for all configurations, or "
                               "smaller where values are large")
        for wid, tip in (
                (self.pattern_w, "identifier pattern (text or glob, e.g. *T300*) of the "
                                 "configurations to weight differently"),
                (self.rule_weight_w, "configuration weight for the pattern or the selection, "
                                     "e.g. 2 to count them double, 0.5 for half"),
                (self.by_pattern_w, "give the configurations matching the pattern this "
                                    "configuration weight"),
                (self.by_selection_w, "give the configurations selected in the Data tab "
                                      "this configuration weight"),
                (self.clear_rules_w, "remove every per-configuration rule (the weights above "
                                     "apply to all again)"),
                (self.apply_w, "put these weights on the configurations; the next fit uses "
                               "them")):
            wid.tooltip = tip
        self.message_w = w.HTML()
        self.rules_w = w.HTML()
        self.preview = None
        self.preview_box = w.Box(layout=w.Layout(width="100%"))
        self.constant_box = w.VBox([self.config_w, self.energy_w, self.forces_w, self.stress_w])
        self.inverse_box = w.VBox([self.config_w] + [w.HBox(list(self.c_w[p])) for p in PROPS])
        self.params_box = w.Box()
        self.kind_w.observe(lambda _: self._show_kind(), "value")
        self.by_pattern_w.on_click(lambda _: self.add_rule(pattern=self.pattern_w.value))
        self.by_selection_w.on_click(lambda _: self.add_rule(selection=True))
        self.clear_rules_w.on_click(lambda _: self.clear_rules())
        self.apply_w.on_click(lambda _: self.apply())
        self.children = [
            self.kind_w, self.params_box,
            w.HTML("<b>per-configuration config weights</b>"),
            w.HBox([self.pattern_w, self.rule_weight_w, self.by_pattern_w,
                    self.by_selection_w, self.clear_rules_w]),
            self.rules_w, w.HBox([self.apply_w, self.message_w]), self.preview_box,
        ]
        self._show_kind()
        self._show_rules()
        if not lazy_figures:
            self.show_figures()

    def show_figures(self) -> None:
        """Create and draw the preview (a Workbench does this when the tab opens)."""
        if self.preview is None:
            self.preview = go.FigureWidget(make_subplots(rows=1, cols=2, horizontal_spacing=0.15))
            self.preview.update_layout(height=260, autosize=True, showlegend=False,
                                       margin=dict(l=50, r=10, t=30, b=40),
                                       xaxis=dict(title="config × energy weight"),
                                       xaxis2=dict(title="config × forces weight"),
                                       yaxis=dict(title="configurations"),
                                       yaxis2=dict(title="configurations"))
            show_in(self.preview_box, [self.preview])
        self.refresh_preview()

    def _show_kind(self) -> None:
        self.params_box.children = [self.constant_box if self.kind_w.value == "Weight"
                                    else self.inverse_box]

    def spec(self) -> dict:
        """The weight settings as the ``dataset.weight`` mapping of a fit config."""
        out = {"type": self.kind_w.value, "config_weight": float(self.config_w.value)}
        if self.kind_w.value == "Weight":
            out.update(energy_weight=float(self.energy_w.value),
                       forces_weight=float(self.forces_w.value),
                       stress_weight=float(self.stress_w.value))
        else:
            out["weight_params"] = {f"{p}_weight_params": [float(self.c_w[p][0].value),
                                                           float(self.c_w[p][1].value)]
                                    for p in PROPS}
        return out

    def add_rule(self, pattern: str | None = None, selection: bool = False,
                 config_weight: float | None = None) -> None:
        cw = float(self.rule_weight_w.value if config_weight is None else config_weight)
        if selection:
            if self.browser is None or not self.browser.selected:
                self._message("select configurations in the data set browser first", error=True)
                return
            rule = {"identifiers": [relative_identifier(self.configs[i], self.root)
                                    for i in self.browser.selected], "config_weight": cw}
        else:
            if not pattern or not pattern.strip():
                self._message("type an identifier pattern first", error=True)
                return
            rule = {"pattern": pattern.strip(), "config_weight": cw}
            n = sum(matches(str(c.identifier), rule["pattern"]) for c in self.configs)
            if n == 0:
                self._message(f"pattern {pattern!r} matches no configuration", error=True)
                return
        self.rules.append(rule)
        self._show_rules()
        self.apply()

    def clear_rules(self) -> None:
        self.rules = []
        self._show_rules()
        self.apply()

    def apply(self) -> bool:
        """Apply the weights to every configuration; False (with a message) if invalid."""
        try:
            apply_weights(self.configs, self.spec(), self.rules, self.root)
        except WorkbenchError as exc:
            self._message(str(exc), error=True)
            return False
        self._message(f"weights applied to {len(self.configs)} configurations")
        self.refresh_preview()
        if self.on_change is not None:
            self.on_change()
        return True

    def refresh_preview(self) -> None:
        if self.preview is None:
            return
        ew = np.array([float(np.mean(c.config_weight)) * float(np.mean(c.energy_weight))
                       for c in self.configs])
        fw = np.array([float(np.mean(c.config_weight)) * float(np.mean(c.forces_weight))
                       for c in self.configs])
        with self.preview.batch_update():
            self.preview.data = []
            for values, col in ((ew, 1), (fw, 2)):
                h, edges = np.histogram(values, bins=30)
                self.preview.add_trace(go.Bar(x=0.5 * (edges[1:] + edges[:-1]), y=h,
                                              marker_color="#1f77b4"), row=1, col=col)

    def _show_rules(self) -> None:
        if not self.rules:
            self.rules_w.value = "<i>no per-configuration rules</i>"
            return
        items = []
        for r in self.rules:
            what = (f"pattern <code>{r['pattern']}</code>" if "pattern" in r
                    else f"{len(r['identifiers'])} selected configuration(s)")
            items.append(f"<li>{what}: config weight {r['config_weight']:g}</li>")
        self.rules_w.value = "<ul style='margin:0'>" + "".join(items) + "</ul>"

    def _message(self, text: str, error: bool = False) -> None:
        color = "#c0392b" if error else "#555"
        self.message_w.value = f'<span style="color:{color}">{text}</span>'


def spec_from_configs(configs) -> dict:
    """The weight mapping that describes the first configuration's weight (what a data set
    read with one Weight template carries)."""
    if not configs:
        return {"type": "Weight"}
    wt = configs[0].weight
    if isinstance(wt, MagnitudeInverseWeight):
        return {"type": "MagnitudeInverseWeight",
                "config_weight": float(np.mean(wt.config_weight)),
                "weight_params": {k: [float(v) for v in c] for k, c in wt.weight_params.items()}}
    return {"type": "Weight", "config_weight": float(np.mean(wt.config_weight)),
            "energy_weight": float(np.mean(wt.energy_weight)),
            "forces_weight": float(np.mean(wt.forces_weight)),
            "stress_weight": float(np.mean(wt.stress_weight))}


def _pair(value) -> tuple[float, float]:
    if np.ndim(value) == 0:
        return float(value), 0.0
    c1, c2 = value
    return float(c1), float(c2)
