"""Preparing a Workbench's model when the page shows it, not when Fit is pressed.

A fresh install compiles the numba kernels of a model the first time they run.  The
:class:`Preparer` starts that compilation (``workbench.warmup``'s tasks for the model) in
a background thread as soon as the Workbench is displayed, and again for each new model
chosen; the state carries what it is doing (``prepare_state`` "idle" / "preparing" /
"ready" / "failed", ``prepare_text``, ``prepare_progress`` 0..1) and the
:class:`PreparingBar` only renders it.

``~N s`` is the warm-up table's estimate (cold seconds on the 2-core reference machine) of
the tasks not done yet; a progress ticker advances the bar through a task's estimate
(never past 95 % of its share) so a long compile still shows movement.  Tasks already
done in this process are skipped, and with a warm on-disk cache each task takes
milliseconds, so the bar reaches "ready" at once.  Whether anything was compiled is
told by numba's "numba:compile" events in this process and, for the potentials' kernels
that ``workbench.engine.precompile`` compiles in a child process, by asking beforehand
whether the cache holds them.  A Fit pressed afterwards finds the
kernels compiled: its ``compile_time`` (reported apart from ``elapsed``) is then that of
loading them, not of compiling them.
"""

from __future__ import annotations

import threading
import time

import ipywidgets as w

from workbench import warmup
from workbench.ui.names import escape_html

#: warm-up tasks finished in this process (their kernels are loaded)
_DONE: set[str] = set()
_TICK = 0.5  # seconds between progress updates within a task


def tasks_for_model(model) -> list[str]:
    """The warm-up tasks ``model`` needs (a network: the symmetry-function kernels)."""
    if model is None:
        return []
    if getattr(model, "is_torch", False):
        return ["read", "symmetry functions"]
    return warmup.tasks_for(model)


def ready_text(seconds: float, compiled: bool) -> str:
    """What the bar says at the end; ``compiled``: whether numba compiled anything
    (False: every kernel came from the on-disk cache or was loaded already)."""
    if not compiled:
        return "ready (the kernels were already compiled)"
    return f"ready (kernels compiled in {seconds:.0f} s)"


def _compiled_elsewhere(todo) -> bool:
    """Whether a potential's kernel of these tasks will be compiled by a child process
    (``workbench.engine.precompile``, started by the warm-up), where this process's
    numba events do not see it."""
    from workbench.engine import precompile

    modules = [warmup.TASKS[n].engine_module for n in todo]
    return any(precompile.needs_compiling(m) for m in modules if m)


def _compiling_recorder():
    """numba's recorder of real compilations (a kernel loaded from the on-disk cache is
    not one)."""
    from numba.core import event

    return event.install_recorder("numba:compile")


class Preparer:
    """Compiles the current model's kernels in the background once :meth:`start` was
    called (the Workbench calls it when it is first displayed), and again whenever the
    state's model changes.  A newer request supersedes an older one (its progress is no
    longer shown; numba compiles each kernel once either way)."""

    def __init__(self, state):
        self.state = state
        self.started = False
        self._generation = 0
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None
        state.observe(self._on_model, "model")

    def start(self) -> None:
        """Prepare the current model now (once; later models follow automatically)."""
        if not self.started:
            self.started = True
            self._begin(self.state.model)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the latest preparation ended."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.thread is None or not self.thread.is_alive()

    def _on_model(self, change) -> None:
        if self.started:
            self._begin(change["new"])

    def _set(self, generation, state, text, progress) -> None:
        with self._lock:
            if generation != self._generation:
                return
            with self.state.hold_trait_notifications():
                self.state.prepare_state = state
                self.state.prepare_text = text
                self.state.prepare_progress = float(min(max(progress, 0.0), 1.0))

    def _begin(self, model) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
        todo = [n for n in tasks_for_model(model) if n not in _DONE]
        if model is None:
            self._set(generation, "idle", "", 0.0)
            return
        if not todo:
            self._set(generation, "ready", ready_text(0.0, False), 1.0)
            return
        self.thread = threading.Thread(target=self._run, args=(generation, todo),
                                       name="workbench-prepare", daemon=True)
        self.thread.start()

    def _run(self, generation, todo) -> None:
        total = warmup.estimate(todo)
        t0 = time.monotonic()
        current = {"done": 0.0, "task": None, "began": t0, "estimate": 0.0, "text": "",
                   "shown": 0.0}
        finished = threading.Event()
        step_lock = threading.Lock()  # the ticker and the warm-up's callbacks

        def show():
            with step_lock:
                if not current["text"]:
                    return  # the first task has not started yet
                within = min(time.monotonic() - current["began"], 0.95 * current["estimate"])
                value = (current["done"] + within) / total if total else 0.0
                current["shown"] = max(current["shown"], value)
                self._set(generation, "preparing", current["text"], current["shown"])

        def progress(step):
            with step_lock:
                if step.phase == "start":
                    remaining = max(total - current["done"], 1.0)
                    current.update(task=step.task, began=time.monotonic(),
                                   estimate=step.estimate,
                                   text=f"preparing (compiling {step.label}, "
                                        f"~{remaining:.0f} s)")
                else:
                    current["done"] += step.estimate
                    current["estimate"] = 0.0
                    _DONE.add(step.task)
            show()

        def tick():
            while not finished.wait(_TICK):
                show()

        ticker = threading.Thread(target=tick, name="workbench-prepare-tick", daemon=True)
        ticker.start()
        try:
            elsewhere = _compiled_elsewhere(todo)
            with _compiling_recorder() as recorder:
                warmup.warmup(todo, progress)
        except Exception as exc:  # noqa: BLE001 - the fit compiles what it needs anyway
            finished.set()
            ticker.join()
            self._set(generation, "failed", f"preparing failed ({type(exc).__name__}: "
                      f"{exc}); Fit compiles the kernels when it starts", 0.0)
            return
        finished.set()
        ticker.join()  # its last update must not come after "ready"
        compiled = elsewhere or any(e.is_start for _, e in recorder.buffer)
        self._set(generation, "ready", ready_text(time.monotonic() - t0, compiled), 1.0)


class PreparingBar(w.HBox):
    """Renders the state's preparation: the text and, while preparing, a progress bar."""

    def __init__(self, state, **kwargs):
        super().__init__(**kwargs)
        self.add_class("wb-preparing")
        self.state = state
        self.text_w = w.HTML()
        self.text_w.add_class("wb-preparing-text")
        self.bar_w = w.FloatProgress(value=0.0, min=0.0, max=1.0,
                                     layout=w.Layout(width="200px"))
        self.bar_w.add_class("wb-preparing-bar")
        self.children = [self.text_w, self.bar_w]
        state.observe(self._render, ["prepare_state", "prepare_text", "prepare_progress"])
        self._render()

    def _render(self, _change=None) -> None:
        state = self.state.prepare_state
        self.text_w.value = (f"<small>{escape_html(self.state.prepare_text)}</small>"
                             if state != "idle" else "")
        self.bar_w.value = self.state.prepare_progress
        self.bar_w.layout.display = None if state == "preparing" else "none"
        self.layout.display = "none" if state == "idle" else None
