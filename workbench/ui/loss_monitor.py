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
options ``{epochs, batch_size, lr}``, the loss figure shows train and test loss per
configuration against epochs and the parameter figure the weights' norm (see
:mod:`workbench.ui.training`).
"""

from __future__ import annotations

import threading
import traceback

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go
import yaml

from workbench.errors import LossError, WorkbenchError
from workbench.ui import fit_readout as R
from workbench.ui import training as T
from workbench.ui.function_curves import FunctionCurves
from workbench.ui.names import escape_html
from workbench.ui.figures import show_in
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
                 make_training=None, state=None, preflight=None, check_objective=None,
                 **kwargs):
        from workbench.ui.state import WorkbenchState

        super().__init__(**kwargs)
        self.add_class("wb-loss-monitor")
        self.make_objective = make_objective
        self.make_training = make_training
        # the jobs (and their event histories) live in the shared state; the monitor
        # only draws the current one
        self.state = state if state is not None else WorkbenchState(model=model)
        self.parameter_table = parameter_table
        self.preflight = preflight              # (method, options) -> reason | None
        self.check_objective = check_objective  # (objective) -> reason | None, off-thread
        self.blocked: str | None = None
        self.session_options: dict = {}  # extra FitSession keywords (run store tags)
        self.error: str | None = None
        self.on_finish = []  # callbacks(session) after a terminal event was drawn
        self._prepare: threading.Thread | None = None
        self._unsubscribe = None
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
        self.status_w = w.HTML("not fitted yet")
        for wid, cls in ((self.start_w, "wb-fit"), (self.pause_w, "wb-pause"),
                         (self.stop_w, "wb-stop"), (self.status_w, "wb-status"),
                         (self.method_w, "wb-method"), (self.options_w, "wb-options")):
            wid.add_class(cls)
        for wid, tip in (
                (self.method_w, "the optimizer. L-BFGS-B: fast, uses gradients and bounds "
                                "(a good default); trf/lm: least squares with the exact "
                                "Jacobian, often fewer steps; Nelder-Mead/Powell: no "
                                "derivatives, slow; for networks Adam is the usual choice"),
                (self.options_w, "optimizer settings as {name: value}, e.g. {maxiter: 100} "
                                 "(iteration limit) or {ftol: 1e-10} (stop tolerance); "
                                 "networks: {epochs: 50, batch_size: 10, lr: 0.01}"),
                (self.start_w, "start fitting in the background; the page stays usable"),
                (self.pause_w, "pause the fit (Resume continues where it stopped)"),
                (self.stop_w, "stop the fit; the best parameters found are kept")):
            wid.tooltip = tip
        self.start_w.on_click(lambda _: self.start())
        self.pause_w.on_click(lambda _: self.toggle_pause())
        self.stop_w.on_click(lambda _: self.stop())

        self.loss_box = w.Box(layout=w.Layout(width="100%"))
        self.loss_box.add_class("wb-loss-plot")
        self.param_box = w.Box(layout=w.Layout(width="100%"))
        self.param_box.add_class("wb-param-plot")
        self.function_curves = FunctionCurves()
        self.new_figures()
        self.children = [
            w.HBox([self.method_w, self.options_w]),
            w.HBox([self.start_w, self.pause_w, self.stop_w]),
            self.status_w, self.loss_box, self.param_box, self.curves_box,
        ]
        self.state.observe(self._on_state_job, "job")
        self.state.observe(self._on_state_model, "model")
        if self.state.job is not None:
            self.redraw()

    def new_figures(self) -> None:
        """Fresh loss and parameter figures (a re-displayed Workbench gets new ones, drawn
        from the job's history, since a figure's front end only holds what it was sent
        while it was on the page)."""
        self.loss_fig = go.FigureWidget(
            data=[go.Scatter(x=[], y=[], mode="lines+markers", name="loss"),
                  go.Scatter(x=[], y=[], mode="lines+markers", name="test")],
            layout=go.Layout(height=300, autosize=True, margin=dict(l=60, r=10, t=30, b=40),
                             title="loss", xaxis_title=self._x_label(),
                             yaxis=dict(type="log", title="loss"),
                             legend=dict(orientation="h", y=1.02, yanchor="bottom",
                                         x=1, xanchor="right")))
        self._label_loss_axes()
        self.param_fig = go.FigureWidget(
            layout=go.Layout(height=260, autosize=True, margin=dict(l=60, r=10, t=30, b=40),
                             title="parameters", xaxis_title=self._x_label(),
                             yaxis_title="value / start value",
                             legend=dict(orientation="h", y=1.02, yanchor="bottom",
                                         x=1, xanchor="right")))
        show_in(self.loss_box, [self.loss_fig])
        show_in(self.param_box, [self.param_fig])
        self._label_param_axes()
        self.function_curves.reset()
        self.draw_curves()

    @property
    def curves_box(self):
        return self.function_curves.box

    @property
    def curves_fig(self):
        """The function-curves figure (None for a model without curves)."""
        return self.function_curves.fig

    def draw_curves(self) -> None:
        """Draw (or update) the model's function curves; one panel per group."""
        self.function_curves.draw(self.model)

    def _x_label(self) -> str:
        return "epoch" if self._torch else "iteration"

    def _label_param_axes(self) -> None:
        """A network has hundreds of weights: one trace of their norm per epoch instead
        of parameter traces, shown once there is a point to draw (no empty plot)."""
        with self.param_fig.batch_update():
            self.param_fig.layout.xaxis.title = self._x_label()
            self.param_fig.layout.title = "weights" if self._torch else "parameters"
            self.param_fig.layout.yaxis.title = ("weight norm ‖w‖₂" if self._torch
                                                 else "value / start value")
        norms = (self.loss_curves().get("weight_norm") or []) if self._torch else None
        self.param_box.layout.display = "none" if norms == [] else None

    def _label_loss_axes(self) -> None:
        """A network's figure shows train and test loss per configuration (the sets
        differ in size); a physics fit's the optimizer's loss."""
        with self.loss_fig.batch_update():
            self.loss_fig.layout.xaxis.title = self._x_label()
            self.loss_fig.layout.yaxis.title = ("loss per configuration" if self._torch
                                                else "loss")
            self.loss_fig.data[0].name = "train" if self._torch else "loss"
            self.loss_fig.layout.showlegend = self._torch

    # ----------------------------------------------------------------- model
    @staticmethod
    def _methods(torch_model: bool) -> tuple[str, ...]:
        return T.TORCH_METHODS if torch_model else available_methods()

    @property
    def is_torch(self) -> bool:
        """True when the current model is trained with a TrainingSession."""
        return self._torch

    @property
    def model(self):
        return self.state.model

    @property
    def job(self):
        """The current model's latest fit or training (None: not fitted yet)."""
        return self.state.job

    @property
    def session(self):
        job = self.state.job
        return None if job is None else job.session

    @property
    def objective(self):
        job = self.state.job
        return None if job is None else getattr(job, "objective", None)

    @property
    def event_kinds(self) -> list[str]:
        job = self.state.job
        return [] if job is None else [ev.kind for ev in job.snapshot()]

    @property
    def iterations(self) -> list[int]:
        return [] if self.job is None else self.job.iterations()[0]

    @property
    def losses(self) -> list[float]:
        return [] if self.job is None else self.job.iterations()[1]

    @property
    def param_history(self) -> list:
        if self.job is None:
            return []
        rows = self.job.iterations()[2]
        return [] if rows is None else list(rows)

    def set_model(self, model) -> None:
        """Fit ``model`` from now on (through the shared state)."""
        if model is not self.state.model:
            self.state.set_model(model)

    def _on_state_model(self, change) -> None:
        """Switching between a physics model and a network swaps the method list and
        options (each kind keeps its last settings)."""
        torch_model = T.is_torch_model(change["new"])
        self.function_curves.reset()
        self.draw_curves()
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
        self._label_loss_axes()
        self._label_param_axes()

    def _on_state_job(self, change) -> None:
        """Another job became current (a new fit, or the model changed): draw it."""
        if change["new"] is None or change["new"] is not change["old"]:
            self.redraw()

    def redraw(self) -> None:
        """Draw the current job's whole history (or an empty, 'not fitted yet' view)."""
        job = self.state.job
        if job is None:
            self._clear_loss()
            self.param_fig.data = []
            self._label_param_axes()
            self.status_w.value = "not fitted yet"
            self._set_buttons(running=False)
            return
        self._prepare_traces(job)
        last = job.last
        if last is not None:
            self._draw(last, finishing=False)
        elif job.state == "failed":
            self._fail(job.message)
        self._set_buttons(running=not job.terminal and not job.restored)

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
        if self.blocked:
            self._fail(self.blocked)
            return
        problem = self.preflight(self.method_w.value, options) if self.preflight else None
        if problem:
            self._fail(problem)
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
        from workbench.ui.names import model_title

        job = self.state.start_job("training" if self._torch else "fit",
                                   label=model_title(self.model))
        try:
            if self._torch:
                session = self.make_training(method, options, self._show_status)
                objective = session.loss
            else:
                objective = self.make_objective()
                problem = self.check_objective(objective) if self.check_objective else None
                if problem:
                    raise LossError(problem)
                session = FitSession(objective, method=method, options=options,
                                     **self.session_options)
            job.objective = objective
            self._describe(job, objective)
            job.session = session
            self._prepare_traces(job)
            self._unsubscribe = session.subscribe(lambda ev: self._on_event(job, ev))
            session.start()
        except Exception as exc:
            msg = str(exc) if isinstance(exc, WorkbenchError) else (
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            job.fail(msg)
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
    def _describe(self, job, objective) -> None:
        """Record on the job what its parameter vector means (for drawing it later)."""
        job.objective = objective
        if self._torch:  # hundreds of weights: no parameter traces
            return
        job.x0 = np.asarray(objective.x0(), dtype=float)
        job.names = list(objective.names())
        if self.model is not None:
            job.slots = R.vector_slots(self.model, len(job.x0))

    def _prepare_traces(self, job) -> None:
        with self.param_fig.batch_update():
            self.param_fig.data = []
            for name in (["‖w‖₂"] if self._torch else job.names):
                self.param_fig.add_scatter(x=[], y=[], mode="lines", name=name)
        self._clear_loss()

    def _clear_loss(self) -> None:
        with self.loss_fig.batch_update():
            for trace in self.loss_fig.data:
                trace.x, trace.y = [], []

    def loss_curves(self, job=None) -> dict:
        """What the loss figure shows for ``job`` (default: the current one): see
        :func:`workbench.ui.fit_readout.loss_curves`."""
        return R.loss_curves(job or self.state.job)

    def _on_event(self, job, ev) -> None:
        """Runs on the session's publisher thread: record, then ask for a redraw."""
        job.record(ev)
        if job is self.state.job:
            self.throttle.submit(ev, final=ev.terminal)
        elif ev.terminal:
            self._finish(job)

    def original_values(self, x, job=None) -> dict:
        """name -> original-space values for the optimization vector ``x``."""
        if self._torch:
            return {}
        return R.original_values(self.model, job or self.state.job, x)

    def relative_traces(self, job) -> tuple[list[int], np.ndarray | None]:
        """(iterations, value / start value per fitted component) in the original space:
        see :func:`workbench.ui.fit_readout.relative_traces`."""
        return R.relative_traces(self.model, job)

    def _draw(self, ev, finishing: bool = True) -> None:
        job = self.state.job
        if job is None:
            return
        curves = self.loss_curves(job)
        with self.loss_fig.batch_update():
            self.loss_fig.data[0].x, self.loss_fig.data[0].y = curves["x"], curves["train"]
            test = curves["test"] or []
            self.loss_fig.data[1].x = curves["x"][: len(test)]
            self.loss_fig.data[1].y = test
        norms = curves["weight_norm"]
        if norms and self.param_fig.data:
            with self.param_fig.batch_update():
                self.param_fig.data[0].x = curves["x"][: len(norms)]
                self.param_fig.data[0].y = norms
            self.param_box.layout.display = None
        its, rel = self.relative_traces(job)
        if rel is not None:
            with self.param_fig.batch_update():
                for k, trace in enumerate(self.param_fig.data[: rel.shape[1]]):
                    trace.x, trace.y = its[: len(rel)], rel[:, k].tolist()
        self.status_w.value = self.status_text(ev)
        if self.curves_fig is not None:
            self.draw_curves()
        if self.parameter_table is not None and not ev.terminal and ev.params is not None:
            self.parameter_table.update_values(self.original_values(ev.params, job))
        if ev.terminal and finishing:
            self._finish(job)
        elif ev.kind in ("paused", "resumed"):
            self.pause_w.description = "Resume" if ev.kind == "paused" else "Pause"
            self.pause_w.icon = "play" if ev.kind == "paused" else "pause"

    def _finish(self, job) -> None:
        """After the terminal event of ``job``: unlock, refresh, tell the listeners."""
        self._set_buttons(running=False)
        if self.parameter_table is not None:
            self.parameter_table.lock(False)
            self.parameter_table.refresh()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.state.params_changed()
        for cb in list(self.on_finish):
            cb(job.session)

    def status_text(self, ev) -> str:
        """The status line for event ``ev`` of the current job, in words."""
        return R.status_text(ev, self.state.job, self._torch)

    def _show_status(self, text: str) -> None:
        self.status_w.value = escape_html(text)

    def _fail(self, message: str) -> None:
        self.error = message
        first = message.strip().splitlines()[0] if message.strip() else message
        self.status_w.value = f'<b style="color:#c0392b">cannot fit:</b> {escape_html(first)}'

    def set_blocked(self, reason: str | None) -> None:
        """Disable Fit with ``reason`` shown (None: enable it again)."""
        self.blocked = reason or None
        if not self.running:
            self.start_w.disabled = bool(self.blocked)
            if self.blocked:
                self.status_w.value = (f'<b style="color:#c0392b">cannot fit yet:</b> '
                                       f'{escape_html(self.blocked)}')
            elif self.status_w.value.startswith('<b style="color:#c0392b">cannot fit yet'):
                self.status_w.value = "not fitted yet" if self.job is None else \
                    self.status_text(self.job.last) if self.job.last else ""

    def _set_buttons(self, running: bool) -> None:
        self.start_w.disabled = running or bool(self.blocked)
        self.pause_w.disabled = not running
        self.stop_w.disabled = not running
        self.method_w.disabled = running
        self.options_w.disabled = running
        if not running:
            self.pause_w.description, self.pause_w.icon = "Pause", "pause"


def _dump(options: dict) -> str:
    return yaml.safe_dump(dict(options), default_flow_style=True).strip()
