"""LossMonitor: Start / Pause / Stop a fit and watch it live.

The monitor never evaluates anything itself.  Start asks ``make_objective()`` for an
Objective (a ``Loss``; building it packs the data, so it runs in a background thread),
creates a :class:`workbench.fit.session.FitSession` and subscribes to its events.  Events
arrive on the session's publisher thread; the monitor only appends to its history and lets
a :class:`Throttle` redraw (at most ``rate`` times per second) the loss curve (log scale),
the parameter traces (value / start value), the status line and the ParameterTable.

For a torch model (a neural network) Start instead asks ``make_training(method, options,
status)`` for a :class:`workbench.ml.training_session.TrainingSession` (built in the same
background thread, fingerprints included): the method list becomes torch optimizers, the
options ``{epochs, batch_size, lr}``, the loss curve gains one point per epoch and there
are no parameter traces (see :mod:`workbench.ui.training`).
"""

from __future__ import annotations

import threading
import traceback

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go
import yaml

from workbench.errors import LossError, WorkbenchError
from workbench.ui import training as T
from workbench.ui.throttle import Throttle

DEFAULT_METHOD = "L-BFGS-B"


def available_methods() -> tuple[str, ...]:
    from workbench.fit.optimizers import METHODS

    return tuple(METHODS)


def parse_options(text: str) -> dict:
    """Optimizer options typed as YAML/JSON mapping text, e.g. ``{maxiter: 100}``."""
    if not text.strip():
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LossError(f"optimizer options are not valid YAML/JSON: {exc}") from None
    if not isinstance(value, dict):
        raise LossError(f"optimizer options must be a mapping like {{maxiter: 100}}, got {text!r}")
    return value


class LossMonitor(w.VBox):
    """Fit controls, live loss curve, parameter traces and status line.

    Args:
        make_objective: ``() -> Objective`` for the current set-up.
        make_training: ``(method, options, status) -> TrainingSession`` for a torch
            model (``status(text)`` shows progress while it prepares).
        model: the model being fitted (maps session parameters to its original space).
        parameter_table: a ParameterTable to lock during a fit and to update live.
        rate: maximum redraws per second.
    """

    def __init__(self, make_objective=None, model=None, parameter_table=None,
                 method=DEFAULT_METHOD, options=None, rate: float = 10.0,
                 make_training=None, **kwargs):
        super().__init__(**kwargs)
        self.add_class("wb-loss-monitor")
        self.make_objective = make_objective
        self.make_training = make_training
        self.model = model
        self.parameter_table = parameter_table
        self.session = None
        self.objective = None
        self.error: str | None = None
        self.on_finish = []  # callbacks(session) after a terminal event was drawn
        self._lock = threading.Lock()
        self._prepare: threading.Thread | None = None
        self._unsubscribe = None
        self._last = None
        self._slots: list[tuple[str, int]] = []
        self._x0 = None
        self.iterations: list[int] = []
        self.losses: list[float] = []
        self.param_history: list[np.ndarray] = []
        self.event_kinds: list[str] = []  # kinds of the events received, in order
        self.throttle = Throttle(self._draw, rate)

        torch_model = self._torch = T.is_torch_model(model)
        # the last method/options of each kind of model; the given ones belong to the
        # kind their method names
        self._saved = {False: (DEFAULT_METHOD, {"maxiter": 100}),
                       True: (T.DEFAULT_METHOD, dict(T.DEFAULT_OPTIONS))}
        given = method in T.TORCH_METHODS and method not in available_methods()
        self._saved[given] = (method, options or self._saved[given][1])
        method, options = self._saved[torch_model]
        self.method_w = w.Dropdown(options=self._methods(torch_model), value=method,
                                   description="method", layout=w.Layout(width="220px"))
        self.options_w = w.Text(value=_dump(options), description="options",
                                layout=w.Layout(width="320px"))
        self.start_w = w.Button(description="Fit", icon="play", button_style="success")
        self.pause_w = w.Button(description="Pause", icon="pause", disabled=True)
        self.stop_w = w.Button(description="Stop", icon="stop", button_style="danger",
                               disabled=True)
        self.status_w = w.HTML("idle")
        for wid, cls in ((self.start_w, "wb-fit"), (self.pause_w, "wb-pause"),
                         (self.stop_w, "wb-stop"), (self.status_w, "wb-status"),
                         (self.method_w, "wb-method"), (self.options_w, "wb-options")):
            wid.add_class(cls)
        self.start_w.on_click(lambda _: self.start())
        self.pause_w.on_click(lambda _: self.toggle_pause())
        self.stop_w.on_click(lambda _: self.stop())

        self.loss_fig = go.FigureWidget(
            data=[go.Scatter(x=[], y=[], mode="lines+markers", name="loss")],
            layout=go.Layout(height=300, width=560, margin=dict(l=60, r=10, t=30, b=40),
                             title="loss", xaxis_title="iteration",
                             yaxis=dict(type="log", title="loss")))
        self.param_fig = go.FigureWidget(
            layout=go.Layout(height=260, width=560, margin=dict(l=60, r=10, t=30, b=40),
                             title="parameters", xaxis_title="iteration",
                             yaxis_title="value / start value",
                             legend=dict(orientation="h", y=1.02, yanchor="bottom",
                                         x=1, xanchor="right")))
        loss_box = w.Box([self.loss_fig])
        loss_box.add_class("wb-loss-plot")
        param_box = w.Box([self.param_fig])
        param_box.add_class("wb-param-plot")
        self.children = [
            w.HBox([self.method_w, self.options_w]),
            w.HBox([self.start_w, self.pause_w, self.stop_w]),
            self.status_w, loss_box, param_box,
        ]

    # ----------------------------------------------------------------- model
    @staticmethod
    def _methods(torch_model: bool) -> tuple[str, ...]:
        return T.TORCH_METHODS if torch_model else available_methods()

    @property
    def is_torch(self) -> bool:
        """True when the current model is trained with a TrainingSession."""
        return self._torch

    def set_model(self, model) -> None:
        """Fit ``model`` from now on; switching between a physics model and a network
        swaps the method list and options (each kind keeps its last settings)."""
        self.model = model
        torch_model = T.is_torch_model(model)
        if torch_model == self._torch:
            return
        try:
            current = parse_options(self.options_w.value)
        except WorkbenchError:
            current = self._saved[self._torch][1]
        self._saved[self._torch] = (self.method_w.value, current)
        self._torch = torch_model
        method, options = self._saved[torch_model]
        with self.hold_sync():
            self.method_w.options = self._methods(torch_model)
            self.method_w.value = method
            self.options_w.value = _dump(options)

    # ----------------------------------------------------------------- control
    @property
    def running(self) -> bool:
        return (self._prepare is not None and self._prepare.is_alive()) or bool(
            self.session is not None and self.session.running)

    def start(self) -> None:
        """Build the objective and start a FitSession, both off the calling thread."""
        if self.running:
            return
        try:
            options = parse_options(self.options_w.value)
        except WorkbenchError as exc:
            self._fail(str(exc))
            return
        if (self.make_training if self._torch else self.make_objective) is None:
            self._fail("nothing to fit: no data set / model set-up")
            return
        self.error = None
        self._set_buttons(running=True)
        if self.parameter_table is not None:
            self.parameter_table.lock(True)
        self.status_w.value = "preparing the data set…"
        self._prepare = threading.Thread(target=self._launch, args=(self.method_w.value, options),
                                         name="LossMonitor-start", daemon=True)
        self._prepare.start()

    def _launch(self, method: str, options: dict) -> None:
        from workbench.fit.session import FitSession

        try:
            if self._torch:
                session = self.make_training(method, options, self._show_status)
                objective = session.loss
            else:
                objective = self.make_objective()
                session = FitSession(objective, method=method, options=options)
            self._reset(objective)
            self.objective, self.session = objective, session
            self._unsubscribe = session.subscribe(self._on_event)
            session.start()
        except Exception as exc:
            msg = str(exc) if isinstance(exc, WorkbenchError) else (
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            self._fail(msg)
            self._set_buttons(running=False)
            if self.parameter_table is not None:
                self.parameter_table.lock(False)

    def toggle_pause(self) -> None:
        s = self.session
        if s is None:
            return
        if s.state == "paused":
            s.resume()
        elif s.state == "running":
            s.pause()

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current fit (if any) ended and its last redraw happened."""
        if self._prepare is not None:
            self._prepare.join(timeout)
        if self.session is None:
            return True
        done = self.session.wait(timeout)
        self.throttle.flush()
        return done

    # ----------------------------------------------------------------- events
    def _reset(self, objective) -> None:
        with self._lock:
            self.iterations, self.losses, self.param_history = [], [], []
            self.event_kinds = []
            self._last = None
            self._slots = []
            if self._torch:  # hundreds of weights: no parameter traces
                self._x0 = None
            else:
                self._x0 = np.asarray(objective.x0(), dtype=float)
            if self.model is not None and not self._torch:
                for k in range(len(self._x0)):
                    name, _, _, comp = self.model.get_opt_param_name_value_and_indices(k)
                    self._slots.append((name, comp))
        self._names = [] if self._torch else list(objective.names())
        with self.param_fig.batch_update():
            self.param_fig.data = []
            for name in self._names:
                self.param_fig.add_scatter(x=[], y=[], mode="lines", name=name)
        with self.loss_fig.batch_update():
            self.loss_fig.data[0].x, self.loss_fig.data[0].y = [], []

    def _on_event(self, ev) -> None:
        """Runs on the session's publisher thread: record, then ask for a redraw."""
        with self._lock:
            self.event_kinds.append(ev.kind)
            if ev.kind == "iteration" and ev.loss is not None and np.isfinite(ev.loss):
                self.iterations.append(ev.iteration)
                self.losses.append(float(ev.loss))
                if ev.params is not None:
                    self.param_history.append(np.asarray(ev.params, dtype=float))
            self._last = ev
        self.throttle.submit(ev, final=ev.terminal)

    def original_values(self, x) -> dict:
        """name -> original-space values for the optimization vector ``x``."""
        if self.model is None or x is None or self._torch:
            return {}
        out = {}
        for (name, comp), v in zip(self._slots, np.asarray(x, dtype=float)):
            p = self.model.model_params[name]
            if name not in out:
                out[name] = p.get_value("original")
            t = p.transform
            out[name][comp] = v if t is None else float(t.inverse([v])[0])
        return out

    def _draw(self, ev) -> None:
        with self._lock:
            its = list(self.iterations)
            hist = np.array(self.param_history) if self.param_history else None
        # the session records every iteration; events may have been coalesced
        history = [(i, f) for i, f in list(self.session.history) if f is not None
                   and np.isfinite(f)] if self.session is not None else []
        with self.loss_fig.batch_update():
            self.loss_fig.data[0].x = [i for i, _ in history]
            self.loss_fig.data[0].y = [f for _, f in history]
        if hist is not None and hist.ndim == 2 and self._x0 is not None:
            x0 = np.where(self._x0 == 0, 1.0, self._x0)
            rel = hist / x0
            with self.param_fig.batch_update():
                for k, trace in enumerate(self.param_fig.data[: rel.shape[1]]):
                    trace.x, trace.y = its[: len(rel)], rel[:, k].tolist()
        self.status_w.value = self.status_text(ev)
        if self.parameter_table is not None:
            if ev.terminal:
                self.parameter_table.lock(False)
                self.parameter_table.refresh()
            elif ev.params is not None:
                self.parameter_table.update_values(self.original_values(ev.params))
        if ev.terminal:
            self._set_buttons(running=False)
            if self._unsubscribe is not None:
                self._unsubscribe()
            for cb in list(self.on_finish):
                cb(self.session)
        elif ev.kind in ("paused", "resumed"):
            self.pause_w.description = "Resume" if ev.kind == "paused" else "Pause"
            self.pause_w.icon = "play" if ev.kind == "paused" else "pause"

    def status_text(self, ev) -> str:
        best = "–" if ev.best_loss is None else f"{ev.best_loss:.6g}"
        rate = ev.n_eval / ev.elapsed if ev.elapsed > 0 else 0.0
        if self._torch:
            stats = (f"epoch {ev.iteration} · {ev.n_eval} batches ({rate:.1f}/s) · "
                     f"elapsed {ev.elapsed:.1f} s · best loss {best}")
        else:
            stats = (f"iteration {ev.iteration} · {ev.n_eval} evaluations ({rate:.1f}/s) · "
                     f"elapsed {ev.elapsed:.1f} s · best loss {best}")
        label = {"started": "running", "compiling": "compiling… (first run of the kernels)",
                 "iteration": "running", "bad_step": "running (failed step)",
                 "paused": "paused", "resumed": "running", "stopping": "stopping…",
                 "finished": "finished", "stopped": "stopped", "failed": "failed"}[ev.kind]
        text = f"<b>{label}</b> · {stats}"
        if ev.terminal and ev.message:
            first = ev.message.strip().splitlines()[0] if ev.message.strip() else ""
            text += f"<br><small>{_escape(first)}</small>"
        return text

    def _show_status(self, text: str) -> None:
        self.status_w.value = _escape(text)

    def _fail(self, message: str) -> None:
        self.error = message
        first = message.strip().splitlines()[0] if message.strip() else message
        self.status_w.value = f'<b style="color:#c0392b">cannot fit:</b> {_escape(first)}'

    def _set_buttons(self, running: bool) -> None:
        self.start_w.disabled = running
        self.pause_w.disabled = not running
        self.stop_w.disabled = not running
        self.method_w.disabled = running
        self.options_w.disabled = running
        if not running:
            self.pause_w.description, self.pause_w.icon = "Pause", "pause"


def _dump(options: dict) -> str:
    return yaml.safe_dump(dict(options), default_flow_style=True).strip()


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
