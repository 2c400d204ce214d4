"""Undo and reset for the parameter table.

A snapshot is every parameter's full state (value, fixed flags, bounds, transform) and the
list of fitted parameters, taken before each edit; ``restore`` puts one back exactly.
"Reset to the last run's start" uses the snapshot taken when the last fit started (the
table is locked then); "reset to defaults" takes values, bounds and transforms from a
fresh model of the same kind and keeps what is fitted.
"""

from __future__ import annotations

import copy

MAX_UNDO = 50


def snapshot(model) -> dict:
    return {"params": {n: copy.deepcopy(p.__dict__) for n, p in model.model_params.items()},
            "opt": list(getattr(model, "_opt_names", []))}


def restore(model, snap: dict) -> None:
    for name, state in snap["params"].items():
        model.model_params[name].__dict__.update(copy.deepcopy(state))
    if hasattr(model, "_opt_names"):
        model._opt_names[:] = snap["opt"]
    changed = getattr(model, "_params_changed", None)
    if changed is not None:
        changed(list(snap["params"]))


def defaults_snapshot(model) -> dict:
    """``model``'s state with the default values, bounds and transforms of its kind (the
    fitted parameters and fixed flags kept)."""
    from workbench.fit.setup_file import model_name
    from workbench.models.factory import make_model

    fresh = make_model(model_name(model), tuple(getattr(model, "species", ("Si",))))
    snap = snapshot(model)
    for name, state in snapshot(fresh)["params"].items():
        if name in snap["params"]:
            fixed = {k: v for k, v in snap["params"][name].items() if "fixed" in k}
            snap["params"][name] = {**state, **fixed}
    return snap


class ParameterHistory:
    """Undo stack and reset points of one model's parameter settings."""

    def __init__(self, model=None):
        self.model = model
        self.undo_stack: list[dict] = []
        self.run_start: dict | None = None

    def set_model(self, model) -> None:
        self.model, self.undo_stack, self.run_start = model, [], None

    def push(self) -> None:
        self.undo_stack.append(snapshot(self.model))
        del self.undo_stack[:-MAX_UNDO]

    def undo(self) -> bool:
        if not self.undo_stack:
            return False
        restore(self.model, self.undo_stack.pop())
        return True

    def mark_run_start(self) -> None:
        self.run_start = snapshot(self.model)

    def reset_to_run_start(self) -> bool:
        if self.run_start is None:
            return False
        self.push()
        restore(self.model, self.run_start)
        return True

    def reset_to_defaults(self) -> None:
        snap = defaults_snapshot(self.model)
        self.push()
        restore(self.model, snap)
