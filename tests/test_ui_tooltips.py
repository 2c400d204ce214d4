"""Every control of the Workbench says what it does: a walk over the whole widget tree
(every tab, and the controls a panel keeps while they are not shown, e.g. the KIM list
or the weight parameters of another weight kind) finds each interactive widget and asserts
a tooltip of a few words that is more than its label."""

from __future__ import annotations

import ipywidgets as w
import pytest

from workbench.data import Dataset, Weight
from workbench.models import StillingerWeber
from workbench.ui.model_picker import build_network
from workbench.ui.workbench import Workbench

CONTROLS = (w.Button, w.Dropdown, w.Text, w.Textarea, w.FloatText, w.IntText,
            w.BoundedFloatText, w.BoundedIntText, w.Checkbox, w.IntSlider, w.FloatSlider,
            w.FloatLogSlider, w.IntRangeSlider, w.FloatRangeSlider, w.SelectionSlider,
            w.ToggleButton, w.ToggleButtons, w.Select, w.SelectMultiple, w.RadioButtons,
            w.Combobox)


def widgets_below(root):
    """Every widget reachable from ``root``: children, and the widgets (or panels of
    workbench.ui) a panel holds as attributes, so hidden controls are found too."""
    seen, stack, out = set(), [root], []
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, w.Widget):
            out.append(obj)
            stack.extend(getattr(obj, "children", ()) or ())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
            continue
        elif isinstance(obj, dict):
            stack.extend(obj.values())
            continue
        if type(obj).__module__.startswith("workbench.ui") and hasattr(obj, "__dict__"):
            for value in vars(obj).values():
                if isinstance(value, (w.Widget, list, tuple, dict)) or \
                        type(value).__module__.startswith("workbench.ui"):
                    stack.append(value)
    return out


def missing_tooltips(root) -> list[str]:
    bad = []
    for wid in widgets_below(root):
        if not isinstance(wid, CONTROLS):
            continue
        label = (getattr(wid, "description", "") or "").strip()
        tip = (wid.tooltip or "").strip()
        name = label or getattr(wid, "placeholder", "") or ""
        where = f"{type(wid).__name__}({name!r}) {wid._dom_classes}"
        if len(tip.split()) < 3 or tip.lower() == label.lower():
            bad.append(f"{where}: tooltip {tip!r}")
        if isinstance(wid, w.ToggleButtons):
            tips = list(wid.tooltips or ())
            if len(tips) != len(wid.options) or not all(len(t.split()) >= 2 for t in tips):
                bad.append(f"{where}: one tooltip per option, got {tips!r}")
    return bad


@pytest.fixture(scope="module")
def configs(si_path):
    ds = Dataset(si_path / "varying_alat", Weight(energy_weight=1.0, forces_weight=0.1))
    return ds.get_configs()[:6]


def test_every_control_of_a_physics_workbench_has_a_tooltip(configs):
    wb = Workbench(configs, StillingerWeber())
    found = [x for x in widgets_below(wb) if isinstance(x, CONTROLS)]
    # the walk reaches every tab: fit controls, data table, weights, model picker, runs,
    # validation, parameter rows
    classes = {c for x in found for c in x._dom_classes}
    assert {"wb-fit", "wb-method", "wb-options", "wb-config-table", "wb-param-log",
            "wb-param-fit", "wb-model-name", "wb-export-prepare", "wb-runs-table",
            "wb-validate-run", "wb-arrows"} <= classes
    assert len(found) > 60
    assert missing_tooltips(wb) == []


def test_every_control_of_a_network_workbench_has_a_tooltip(configs):
    wb = Workbench(configs, build_network(["Si"], 4.0, [5], "Tanh", "set30"))
    assert wb.monitor.is_torch
    assert missing_tooltips(wb) == []


def test_the_walk_finds_a_control_without_tooltip():
    box = w.VBox([w.HBox([w.Checkbox(description="energy")]),
                  w.Button(description="Go", tooltip="go")])
    assert sorted(missing_tooltips(box)) == ["Button('Go') (): tooltip 'go'",
                                             "Checkbox('energy') (): tooltip ''"]
