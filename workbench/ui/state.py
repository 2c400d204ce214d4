"""WorkbenchState: the one observable state every Workbench panel renders from.

The panels of a Workbench never keep a copy of what another panel owns.  They read the
:class:`WorkbenchState` (a ``traitlets.HasTraits``, like an ipywidgets model without a
front end), observe the traits they draw, and send their intent back through the state's
methods (``set_model``, ``set_included``, ``select``, ``start_job`` ...).  One change of
the model or of the data then reaches every panel in one step.

Background work (a fit, a network's training, an analysis, a validation) is a
:class:`Job`.  A job keeps every event it received, so a panel created later (a
re-displayed Workbench, a notebook reopened during a fit) redraws the whole history,
including that of a fit that is still running.  Jobs remember the model they ran for
(``model_key``); a panel shows a job as current only while ``job.model_key ==
state.model_key`` and labels it with the model's name otherwise.

Adding a tab: a panel class constructed as ``Panel(state)`` exposing ``.widget`` (and a
``title``) is placed in the Workbench by ``Workbench(..., tabs=[Panel])`` or, for the
named slots ("Runs", "Validate"), by the module the slot names (see
``workbench.ui.workbench.TAB_SLOTS``).
"""

from __future__ import annotations

import threading
import time

import numpy as np
from traitlets import Any, Dict, Float, HasTraits, Int, List, Tuple, Unicode

JOB_KINDS = ("fit", "training", "analysis", "validation")
TERMINAL = frozenset(("finished", "stopped", "failed"))


class Job(HasTraits):
    """One background job and everything it published, in order.

    ``session`` is the object doing the work (a FitSession, TrainingSession, AnalysisJob
    or None while preparing); ``events`` every event received (appended on the job's
    publisher thread; ``n_events`` changes after each, for observers); ``result`` what
    the job produced (an analysis result, a validation report).
    """

    kind = Unicode()
    model_key = Any()
    model_label = Unicode()
    state = Unicode("preparing")
    message = Unicode("")
    n_events = Int(0)
    result = Any(None)
    session = Any(None)

    def __init__(self, kind: str, model_key=None, model_label: str = "", **kwargs):
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}; expected one of {JOB_KINDS}")
        super().__init__(kind=kind, model_key=model_key, model_label=model_label, **kwargs)
        self.events: list = []
        self.created = time.time()
        self.x0: np.ndarray | None = None   # optimization vector at the start (fits)
        self.slots: list[tuple[str, int]] = []  # (parameter, component) per x entry
        self.names: list[str] = []          # optimizer-space names per x entry
        self.restored = False               # drawn from the run store (another kernel's)
        self.saved_curves: dict | None = None  # a restored training's curves
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ recording
    def record(self, event) -> None:
        """Append ``event`` (a FitEvent or any object with ``kind``) and notify."""
        with self._lock:
            self.events.append(event)
        kind = getattr(event, "kind", "")
        if kind in TERMINAL:
            self.state = kind
            self.message = getattr(event, "message", "") or ""
        elif kind in ("paused",):
            self.state = "paused"
        elif kind:
            self.state = "running"
        self.n_events += 1

    def fail(self, message: str) -> None:
        """The job could not start (or broke outside its session)."""
        self.message = message
        self.state = "failed"

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> list:
        with self._lock:
            return list(self.events)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def last(self):
        with self._lock:
            return self.events[-1] if self.events else None

    def iterations(self) -> tuple[list[int], list[float], np.ndarray | None]:
        """(iterations, losses, parameter rows) of the iteration events received."""
        its, losses, params = [], [], []
        for ev in self.snapshot():
            if ev.kind == "iteration" and ev.loss is not None and np.isfinite(ev.loss):
                its.append(ev.iteration)
                losses.append(float(ev.loss))
                if ev.params is not None:
                    params.append(np.asarray(ev.params, dtype=float))
        return its, losses, (np.array(params) if params else None)

    def trajectory(self) -> tuple[list[int], np.ndarray | None]:
        """(iterations, parameter rows) of the iteration events that carry parameters
        (a run drawn from the store has them only for the rows it recorded live)."""
        its, params = [], []
        for ev in self.snapshot():
            if ev.kind == "iteration" and ev.params is not None and ev.loss is not None \
                    and np.isfinite(ev.loss):
                its.append(ev.iteration)
                params.append(np.asarray(ev.params, dtype=float))
        return its, (np.array(params) if params else None)

    def curves(self) -> dict | None:
        """A training's loss curves per configuration (``epoch``, ``train``, ``test``;
        see ``TrainingSession.curves``), kept by its session (or by the run store, for
        a training drawn from it); None for other jobs."""
        fn = getattr(self.session, "curves", None)
        return self.saved_curves if fn is None else fn()

    def loss_history(self) -> list[tuple[int, float]]:
        """Every finite (iteration, loss) the session recorded (events may have been
        coalesced; the session's own history has each iteration)."""
        hist = getattr(self.session, "history", None)
        if hist is None:
            its, losses, _ = self.iterations()
            return list(zip(its, losses))
        return [(i, f) for i, f in list(hist) if f is not None and np.isfinite(f)]


def model_key(model):
    """The identity of a model object for labelling results (None for no model)."""
    return None if model is None else id(model)


class WorkbenchState(HasTraits):
    """Data set and selection, model and its parameter settings, fit settings, and the
    jobs run so far.

    Traits panels observe:
      ``configs`` all configurations (data-set order); ``included`` / ``split`` one bool
      and one "train"/"test" per configuration; ``selection`` selected data-set indices;
      ``weights_revision`` bumped after weights were applied;
      ``model`` the model being fitted; ``params_revision`` bumped after any parameter
      setting changed (table edit, fit end); ``fit_settings`` the ``fit`` section;
      ``job`` the current model's latest job of kind fit/training (None: not fitted yet);
      ``analysis`` the latest analysis job; ``jobs`` every job in order;
      ``status`` the last guard-rail message for the user ("" when none);
      ``prepare_state`` / ``prepare_text`` / ``prepare_progress`` the compilation of the
      model's kernels started when the Workbench is shown (``workbench.ui.preparing``).
    """

    configs = List()
    data_name = Unicode("")
    included = Tuple()
    split = Tuple()
    selection = Tuple()
    weights_revision = Int(0)
    model = Any(None)
    params_revision = Int(0)
    fit_settings = Dict()
    job = Any(None)
    analysis = Any(None)
    jobs = List()
    status = Unicode("")
    prepare_state = Unicode("idle")
    prepare_text = Unicode("")
    prepare_progress = Float(0.0)

    def __init__(self, configs=(), model=None, fit_settings=None, data_name: str = "",
                 **kwargs):
        configs = list(configs)
        super().__init__(configs=configs, included=(True,) * len(configs),
                         split=("train",) * len(configs), model=model,
                         fit_settings=dict(fit_settings or {}), data_name=data_name,
                         **kwargs)

    # ------------------------------------------------------------------ data
    def fit_configs(self) -> list:
        """Included training configurations, in data-set order."""
        return [c for c, inc, s in zip(self.configs, self.included, self.split)
                if inc and s == "train"]

    def test_configs(self) -> list:
        return [c for c, inc, s in zip(self.configs, self.included, self.split)
                if inc and s == "test"]

    def set_included(self, indices, included: bool) -> None:
        flags = list(self.included)
        for i in indices:
            flags[int(i)] = bool(included)
        self.included = tuple(flags)

    def set_split(self, split) -> None:
        split = tuple(split)
        if len(split) != len(self.configs) or not set(split) <= {"train", "test"}:
            raise ValueError("split: one of 'train'/'test' per configuration")
        self.split = split

    def select(self, indices) -> None:
        self.selection = tuple(int(i) for i in indices)

    def species(self) -> tuple[str, ...]:
        """Every chemical species in the data set, sorted."""
        return tuple(sorted({s for c in self.configs for s in c.species}))

    # ------------------------------------------------------------------ model
    @property
    def model_key(self):
        return model_key(self.model)

    def set_model(self, model) -> None:
        """Fit ``model`` from now on: the current job becomes that model's latest job
        (None for a new model), in the same notification step."""
        with self.hold_trait_notifications():
            self.model = model
            self.job = self.latest_job(("fit", "training"), model)
            self.analysis = self.latest_job(("analysis",), model)
            self.params_revision += 1
            self.status = ""

    def params_changed(self) -> None:
        """Parameter settings of the model changed (edits, the end of a fit)."""
        self.params_revision += 1

    # ------------------------------------------------------------------ jobs
    def start_job(self, kind: str, label: str = "") -> Job:
        """A new job of ``kind`` for the current model, made current."""
        return self.add_job(Job(kind, model_key=self.model_key, model_label=label))

    def add_job(self, job: Job) -> Job:
        """Make ``job`` (made for the current model) the current job of its kind."""
        self.jobs = [*self.jobs, job]
        if job.kind in ("fit", "training"):
            self.job = job
        elif job.kind == "analysis":
            self.analysis = job
        return job

    def latest_job(self, kinds, model=None):
        """The latest job of one of ``kinds`` for ``model`` (default: the current one)."""
        key = model_key(self.model if model is None else model)
        for job in reversed(self.jobs):
            if job.kind in kinds and job.model_key == key:
                return job
        return None

    def is_current(self, job) -> bool:
        """Whether ``job`` ran for the model the workbench fits now."""
        return job is not None and job.model_key == self.model_key

    @property
    def fitted(self) -> bool:
        """True once a fit or training of the current model finished or was stopped."""
        job = self.latest_job(("fit", "training"))
        return job is not None and job.state in ("finished", "stopped")
