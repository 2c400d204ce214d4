"""ParameterTable: one row per parameter component with value, fit toggle, bounds and log.

Every edit goes through the model's own API (``set_param_value``, ``set_fixed``,
``set_bounds``, ``set_param_transform``), which validates and changes nothing on error; the
reason is shown in the row and the model keeps its state.  Values and bounds are shown in
the original space (the model's own units) whatever the transform.

A neural network (a torch model) has hundreds of weights and no per-weight bounds: the
table then shows a compact, read-only summary (layers, sizes, parameter counts).
"""

from __future__ import annotations

import math
import re

import ipywidgets as w
import numpy as np

from workbench.errors import ParameterError
from workbench.ui.names import escape_html


def fmt(v) -> str:
    """A float as the table shows it ("" for an unbounded bound)."""
    if v is None:
        return ""
    return f"{float(v):.8g}"


def parse_number(text: str, what: str, allow_empty: bool = False):
    """``text`` as a float (None for empty text when ``allow_empty``)."""
    s = text.strip()
    if not s:
        if allow_empty:
            return None
        raise ParameterError(f"{what}: a number is required")
    if s.lower() in ("inf", "+inf", "-inf", "none") and allow_empty:
        return None
    try:
        v = float(s)
    except ValueError:
        raise ParameterError(f"{what}: {s!r} is not a number") from None
    if not math.isfinite(v):
        raise ParameterError(f"{what}: {s!r} is not a finite number")
    return v


class _Unparsed(ParameterError):
    """Text in a box that is not a number."""


def plain_message(message: str, label: str) -> str:
    """A model's parameter message without programming terms."""
    text = re.sub(r"\s*\((original|transformed) space\)", "", message)
    text = re.sub(r"component \d+ of (parameter )?'?(\w+)'?", label, text)
    text = re.sub(r"[Pp]arameter '?(\w+)'? component \d+", label, text)
    text = text.replace("set_opt_params()", "the table").replace("None", "none")
    return text


class ParameterRow:
    """Widgets of one component; ``apply_*`` handlers push edits to the model."""

    def __init__(self, table: "ParameterTable", name: str, component: int):
        self.table, self.name, self.component = table, name, component
        p = table.model.model_params[name]
        self.label = name if len(p) == 1 else f"{name}[{component}]"
        lay = w.Layout(width="auto")
        unit = f" ({p.unit})" if p.unit else ""
        self.name_w = w.HTML(f'<b title="{escape_html(p.description + unit)}">{self.label}</b>')
        self.value_w = w.Text(continuous_update=False, layout=lay)
        self.fit_w = w.Checkbox(indent=False, layout=lay)
        self.lower_w = w.Text(continuous_update=False, placeholder="-inf", layout=lay)
        self.upper_w = w.Text(continuous_update=False, placeholder="inf", layout=lay)
        self.log_w = w.Checkbox(indent=False, layout=lay)
        self.error_w = w.HTML("", layout=lay)
        for wid, cls in ((self.name_w, "wb-param-name"), (self.value_w, "wb-param-value"),
                         (self.fit_w, "wb-param-fit"), (self.lower_w, "wb-param-lower"),
                         (self.upper_w, "wb-param-upper"), (self.log_w, "wb-param-log"),
                         (self.error_w, "wb-param-error")):
            wid.add_class(cls)
        for wid, tip in (
                (self.value_w, f"the value of {self.label} (in {p.unit or 'its units'}); "
                               "Enter applies it"),
                (self.fit_w, f"tick to let the fit adjust {self.label}; untick to keep it "
                             "fixed"),
                (self.lower_w, f"smallest value the fit may give {self.label} (empty: none)"),
                (self.upper_w, f"largest value the fit may give {self.label} (empty: none)"),
                (self.log_w, f"fit log({self.label}) instead: for positive parameters that "
                             "may change by orders of magnitude")):
            wid.tooltip = tip
        self.cells = [self.name_w, self.value_w, self.fit_w, self.lower_w, self.upper_w,
                      self.log_w, self.error_w]
        self._syncing = False
        self.invalid = False
        self.error = ""
        self.refresh()
        self.value_w.observe(self._on_value, "value")
        self.lower_w.observe(self._on_bounds, "value")
        self.upper_w.observe(self._on_bounds, "value")
        self.fit_w.observe(self._on_fit, "value")
        self.log_w.observe(self._on_log, "value")

    @property
    def param(self):
        return self.table.model.model_params[self.name]

    # model -> widgets ------------------------------------------------------------------
    def refresh(self) -> None:
        """Show the model's state; clears any error message (a row is never left
        showing a value, bound or log box the model does not hold)."""
        p, c = self.param, self.component
        lo, hi = p.get_bounds("original")[c]
        self._syncing = True
        try:
            self.value_w.value = fmt(p.value[c])
            self.lower_w.value = fmt(lo)
            self.upper_w.value = fmt(hi)
            self.fit_w.value = self.label in self.table.model.get_opt_param_names()
            self.log_w.value = p.transform is not None and "log" in type(p.transform).__name__.lower()
        finally:
            self._syncing = False
        self.set_error("")

    def show_value(self, value: float) -> None:
        self._syncing = True
        try:
            self.value_w.value = fmt(value)
        finally:
            self._syncing = False

    def set_error(self, message: str, invalid: bool = False) -> None:
        """Show ``message`` beside the row. ``invalid``: the row holds text the model
        did not take (Fit stays disabled until it is fixed); otherwise the edit was
        reverted and the message says why."""
        self.error = message
        self.invalid = bool(message) and invalid
        editors = (self.value_w, self.lower_w, self.upper_w)
        if message:
            word = "invalid" if invalid else "not applied"
            self.error_w.value = (f'<span style="color:#c0392b"><b>{word}:</b> '
                                  f'{escape_html(message)}</span>')
        else:
            self.error_w.value = ""
        for wid in editors:
            if self.invalid:
                wid.add_class("wb-invalid")
            else:
                wid.remove_class("wb-invalid")
        self.table._validity_changed()

    # widgets -> model ------------------------------------------------------------------
    def _guard(self, change, action) -> None:
        if self._syncing:
            return
        if self.table.locked:
            self.refresh()
            self.set_error("a fit is running: stop it to edit parameters")
            return
        self.table.history.push()
        try:
            action()
        except _Unparsed as exc:  # keep what was typed; the row blocks Fit
            self.table.history.undo_stack.pop()
            self.set_error(str(exc), invalid=True)
            return
        except ParameterError as exc:  # the model refused: show its state again
            self.table.history.undo_stack.pop()
            self.refresh()
            self.set_error(plain_message(str(exc), self.label))
            return
        self.table.refresh_param(self.name)
        self.table._notify()

    def _number(self, text: str, what: str, allow_empty: bool = False):
        try:
            return parse_number(text, what, allow_empty)
        except ParameterError as exc:
            raise _Unparsed(str(exc)) from None

    def _on_value(self, change):
        def act():
            v = self._number(change["new"], "value")
            lo, hi = self.param.get_bounds("original")[self.component]
            if lo is not None and v < lo:
                raise ParameterError(f"{v:g} is below the lower bound {lo:g}")
            if hi is not None and v > hi:
                raise ParameterError(f"{v:g} is above the upper bound {hi:g}")
            limit = self.table.limit_problem(self.name, v)
            if limit:
                raise ParameterError(limit)
            values = self.param.get_value("original")
            values[self.component] = v
            self.table.model.set_param_value(self.name, values, "original")
        self._guard(change, act)

    def _on_bounds(self, change):
        def act():
            lo = self._number(self.lower_w.value, "lower bound", True)
            hi = self._number(self.upper_w.value, "upper bound", True)
            v = float(self.param.value[self.component])
            if lo is not None and hi is not None and lo > hi:
                raise ParameterError(f"lower bound {lo:g} is above the upper bound {hi:g}")
            if lo is not None and v < lo:
                raise ParameterError(f"the value {v:g} is below the new lower bound {lo:g}; "
                                     "change the value first")
            if hi is not None and v > hi:
                raise ParameterError(f"the value {v:g} is above the new upper bound {hi:g}; "
                                     "change the value first")
            self.table.model.set_bounds(self.name, self.component, lo, hi, space="original")
        self._guard(change, act)

    def _on_fit(self, change):
        self._guard(change, lambda: self.table.model.set_fixed(
            self.name, self.component, not change["new"]))

    def _on_log(self, change):
        self._guard(change, lambda: self.table.model.set_param_transform(
            self.name, "log" if change["new"] else None))


class ParameterTable(w.GridBox):
    """Editable parameters of ``model``; ``update_values(values)`` shows live values
    (name -> original-space array) during a fit, ``locked`` blocks edits meanwhile."""

    def __init__(self, model=None, on_change=None, **kwargs):
        kwargs.setdefault("layout", w.Layout(
            grid_template_columns="80px 110px 30px 90px 90px 30px minmax(140px, 1fr)",
            grid_gap="2px 6px", align_items="center"))
        super().__init__(**kwargs)
        self.add_class("wb-parameter-table")
        self.on_change = on_change
        self.on_validity = []  # callbacks(list of reasons) when rows become (in)valid
        self.locked = False
        self.rows: list[ParameterRow] = []
        self.model = None
        self.summary_w: w.HTML | None = None
        from workbench.ui.param_history import ParameterHistory

        self.history = ParameterHistory()
        self.undo_w = w.Button(description="Undo", icon="undo", layout=w.Layout(width="auto"),
                               tooltip="undo the last parameter edit")
        self.reset_run_w = w.Button(description="Reset to last run's start",
                                    layout=w.Layout(width="auto"),
                                    tooltip="put back the parameters the last fit started "
                                            "from")
        self.reset_defaults_w = w.Button(description="Reset to defaults",
                                         layout=w.Layout(width="auto"),
                                         tooltip="put back the model's default parameters")
        for wid, cls in ((self.undo_w, "wb-param-undo"), (self.reset_run_w, "wb-param-reset-run"),
                         (self.reset_defaults_w, "wb-param-reset-defaults")):
            wid.add_class(cls)
        self.undo_w.on_click(lambda _: self._history_action(self.history.undo))
        self.reset_run_w.on_click(lambda _: self._history_action(self.history.reset_to_run_start))
        self.reset_defaults_w.on_click(
            lambda _: self._history_action(self.history.reset_to_defaults))
        self.tools_w = w.HBox([self.undo_w, self.reset_run_w, self.reset_defaults_w],
                              layout=w.Layout(grid_column="1 / -1"))
        if model is not None:
            self.set_model(model)

    def set_model(self, model) -> None:
        from workbench.ui import training

        self.model = model
        self.history.set_model(model)
        if training.is_torch_model(model):
            self.rows = []
            self.summary_w = w.HTML(training.summary_html(model),
                                    layout=w.Layout(grid_column="1 / -1"))
            self.summary_w.add_class("wb-nn-summary")
            self.children = [self.summary_w]
            return
        self.summary_w = None
        apply_physical_limits(model)
        self.rows = []
        self.rows = [ParameterRow(self, name, c)
                     for name, p in model.model_params.items() for c in range(len(p))]
        header = [w.HTML(f"<b>{t}</b>") for t in
                  ("parameter", "value", "fit", "lower", "upper", "log")]
        header.append(w.HTML(_STYLE))
        # the undo/reset row is placed above the grid by its container (a grid cell
        # spanning all columns did not render as one row)
        self.children = header + [cell for r in self.rows for cell in r.cells]

    def row(self, label: str) -> ParameterRow:
        for r in self.rows:
            if r.label == label:
                return r
        raise KeyError(f"no row {label!r}; rows are {[r.label for r in self.rows]}")

    def refresh(self) -> None:
        if self.summary_w is not None:
            from workbench.ui.training import summary_html

            self.summary_w.value = summary_html(self.model)
            return
        with self.hold_sync():
            for r in self.rows:
                r.refresh()

    def refresh_param(self, name: str) -> None:
        """Re-read every row of parameter ``name`` (a log toggle affects all of them)."""
        for r in self.rows:
            if r.name == name:
                r.refresh()

    def update_values(self, values: dict) -> None:
        """Show ``values`` (name -> original-space array) without touching the model."""
        with self.hold_sync():
            for r in self.rows:
                v = values.get(r.name)
                if v is not None:
                    r.show_value(float(np.asarray(v)[r.component]))

    def _history_action(self, action) -> None:
        """Undo or reset (not while a fit runs); the table and listeners follow."""
        if self.locked or self.summary_w is not None:
            return
        if action() is not False:
            self.refresh()
            self._notify()

    def lock(self, locked: bool) -> None:
        if locked and not self.locked and self.summary_w is None:
            self.history.mark_run_start()  # a fit starts: its start point, for reset
        self.locked = locked
        for wid in (self.undo_w, self.reset_run_w, self.reset_defaults_w):
            wid.disabled = locked
        for r in self.rows:
            for wid in (r.value_w, r.fit_w, r.lower_w, r.upper_w, r.log_w):
                wid.disabled = locked

    def invalid_reasons(self) -> list[str]:
        """'label: reason' of every row holding text the model did not take."""
        return [f"{r.label}: {r.error}" for r in self.rows if r.invalid]

    def _validity_changed(self) -> None:
        reasons = self.invalid_reasons()
        for cb in list(self.on_validity):
            cb(reasons)

    def limit_problem(self, name: str, value: float) -> str | None:
        """The physical limit of parameter ``name`` that ``value`` breaks, in words."""
        for ps_name, lower, upper in physical_limits(self.model):
            if ps_name != name:
                continue
            if lower is not None and value <= lower:
                return f"{name} must be greater than {lower:g}"
            if upper is not None and value >= upper:
                return f"{name} must be less than {upper:g}"
        return None

    def _notify(self) -> None:
        if self.on_change is not None:
            self.on_change(self.model)


def physical_limits(model) -> list[tuple[str, float | None, float | None]]:
    """(parameter name, lower, upper) limits of the potential's spec (e.g. sigma > 0)."""
    spec = getattr(model, "spec", None)
    aliases = getattr(model, "param_aliases", {}) or {}
    out = []
    for ps in getattr(spec, "params", ()):
        if ps.lower is not None or ps.upper is not None:
            out.append((aliases.get(ps.name, ps.name), ps.lower, ps.upper))
    return out


def apply_physical_limits(model) -> None:
    """Physical limits become the default bounds of every component that has none on
    that side (the table shows them; they can be edited)."""
    for name, lower, upper in physical_limits(model):
        p = model.model_params.get(name)
        if p is None:
            continue
        for c, (lo, hi) in enumerate(p.get_bounds("original")):
            v = float(p.value[c])
            new_lo = lower if lo is None and lower is not None and v > lower else lo
            new_hi = upper if hi is None and upper is not None and v < upper else hi
            if (new_lo, new_hi) != (lo, hi):
                try:
                    model.set_bounds(name, c, new_lo, new_hi, space="original")
                except ParameterError:
                    pass  # e.g. a log transform that cannot take a bound at 0


_STYLE = ("<style>.wb-invalid input { border-color: #c0392b !important; "
          "background: #fdecea; }</style>")
