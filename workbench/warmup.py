"""Compile the numba kernels of the default workflows ahead of time (``workbench warmup``).

numba compiles a kernel the first time it is called and caches the machine code on disk
(``cache=True``: next to the sources, or in ``NUMBA_CACHE_DIR``).  On a fresh install the
first fit would otherwise wait for that compilation; a warm-up pays it up front, in the
background or during ``make setup``, by running each workflow once on the four bundled
Si configurations, through the same functions (so the same compiled type
specialisations) a real fit uses.  With a filled cache every task takes milliseconds.

API (used by the CLI and by the UI, which shows "preparing (compiling SW kernels, ~N s)"):

* :data:`TASKS`: the tasks by name ("read", "SW", "LJ", "Morse", "Tersoff",
  "symmetry functions"), each with a label and a rough cold compile estimate;
* :func:`warmup(names, progress)` runs them in this thread, calling
  ``progress(WarmupStep)`` before and after each;
* :func:`start(names, progress)` runs them in a daemon thread and returns it;
* :func:`tasks_for(model)` names the tasks a model needs;
* :func:`start_process()` runs ``workbench warmup --quiet`` as a detached process (what
  ``workbench lab`` and ``workbench app`` do when their server starts).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class WarmupTask:
    name: str
    label: str  # what is compiled, e.g. "Stillinger-Weber kernels"
    estimate: float  # cold compile seconds on one core of the 2-core reference machine
    run: Callable[[], object]
    #: engine module whose kernel compiles in a child process (``engine.precompile``)
    engine_module: str | None = None


@dataclass(frozen=True)
class WarmupStep:
    """Progress of a warm-up: ``phase`` "start" or "done" of task ``index`` (0-based) of
    ``total``; ``seconds`` is the task's duration when done."""

    phase: str
    index: int
    total: int
    task: str
    label: str
    estimate: float
    seconds: float = 0.0

    @property
    def message(self) -> str:
        if self.phase == "start":
            return f"compiling {self.label} (~{self.estimate:.0f} s)"
        return f"{self.label}: {self.seconds:.1f} s"


def _configs():
    from workbench import datasets
    from workbench.data.dataset import Dataset
    from workbench.data.weight import Weight

    return Dataset(datasets.path("Si_4"), Weight(energy_weight=1.0,
                                                 forces_weight=0.1)).get_configs()


def _fit_paths(model):
    """The evaluations a fit, the RMSE and the Fisher matrix make: loss, gradient,
    Jacobian, energy/forces/stress."""
    from workbench.fit.calculator import Calculator
    from workbench.fit.loss import Loss

    name = next(iter(model.model_params))
    model.set_opt_params(**{name: [["default"]] * len(model.model_params[name])})
    calc = Calculator(model)
    calc.create(_configs())
    loss = Loss(calc)
    for kind in ("residual", "gradient", "jacobian"):
        loss.warmup(kind=kind)
    model.compute(calc.state_, forces=True, stress=True, jacobian=False)


def _read_and_pack():
    from workbench.engine.batch import pack

    configs = _configs()
    pack(configs, 3.77118, ("Si",))
    # a non-periodic cluster takes the neighbor lists' exact counting pass
    from workbench.engine.neighbors import neighbor_list

    c = configs[0]
    neighbor_list(c.coords, c.cell, [False, False, False], 3.0)


def _builtin(cls_name, **kwargs):
    def run():
        from workbench.models import builtin

        _fit_paths(getattr(builtin, cls_name)(**kwargs))
    return run


def _engine(name):
    return f"workbench.engine.{name}"


def _symmetry_functions():
    from workbench.ml.descriptors.symmetry_function import SymmetryFunction

    desc = SymmetryFunction({"Si-Si": 5.0}, "cos", "set51")
    list(desc.transform_many(_configs()[:2], fit_forces=True))


TASKS = {t.name: t for t in (
    WarmupTask("read", "extended-XYZ reader and neighbor lists", 8.0, _read_and_pack),
    WarmupTask("SW", "Stillinger-Weber kernels", 10.0, _builtin("StillingerWeber"),
               _engine("sw")),
    WarmupTask("LJ", "Lennard-Jones kernels", 4.0, _builtin("LennardJones"), _engine("lj")),
    WarmupTask("Morse", "Morse kernels", 2.0, _builtin("Morse"), _engine("morse")),
    WarmupTask("Tersoff", "Tersoff kernels", 8.0, _builtin("Tersoff"), _engine("tersoff")),
    WarmupTask("symmetry functions", "symmetry-function descriptor kernels", 20.0,
               _symmetry_functions),
)}

DEFAULT = tuple(TASKS)


#: what ``tasks_for`` answers for models by class name
_MODEL_TASKS = {"StillingerWeber": "SW", "LennardJones": "LJ", "Morse": "Morse",
                "Tersoff": "Tersoff"}


def tasks_for(model) -> list[str]:
    """Warm-up tasks a model needs (a Model instance, class or name such as "SW");
    empty for models without numba kernels of their own (KIM models on kim-api,
    plugins).  A KIMModel on a numba twin needs its engine's kernels."""
    name = model if isinstance(model, str) else getattr(model, "__name__", None) or \
        type(model).__name__
    twin = getattr(model, "_twin", None) if name == "KIMModel" else None
    if twin is not None:
        name = {"SW": "SW", "Tersoff": "Tersoff", "LJ": "LJ", "LJ_shifted": "LJ",
                "Morse_Shifted": "Morse"}.get(twin.spec(model._values()).name, name)
    if name in TASKS:
        task = name
    else:
        task = _MODEL_TASKS.get(name)
    return ["read"] + ([task] if task and task != "read" else [])


def estimate(names: Sequence[str] | None = None) -> float:
    """Rough cold compile seconds of the given tasks (default: all)."""
    return float(sum(TASKS[n].estimate for n in _check(names)))


def _check(names):
    names = list(DEFAULT if names is None else names)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        from workbench.errors import WorkbenchError

        raise WorkbenchError(f"unknown warm-up task(s) {unknown}; known: {list(TASKS)}")
    return names


def warmup(names: Sequence[str] | None = None,
           progress: Callable[[WarmupStep], None] | None = None) -> dict[str, float]:
    """Run the warm-up tasks ``names`` (default: all) in this thread; returns the
    seconds each took.  ``progress`` is called with a :class:`WarmupStep` before and
    after every task."""
    names = _check(names)
    from workbench.engine import precompile

    # the potentials' kernels compile in child processes meanwhile, so "read" (the
    # neighbor lists, in this process) and "SW" cost the longer of the two, not the sum
    for name in names:
        if TASKS[name].engine_module:
            precompile.start(TASKS[name].engine_module)
    seconds = {}
    for k, name in enumerate(names):
        task = TASKS[name]
        step = dict(index=k, total=len(names), task=name, label=task.label,
                    estimate=task.estimate)
        if progress is not None:
            progress(WarmupStep("start", **step))
        t0 = time.perf_counter()
        task.run()
        seconds[name] = time.perf_counter() - t0
        if progress is not None:
            progress(WarmupStep("done", seconds=seconds[name], **step))
    return seconds


def start(names: Sequence[str] | None = None,
          progress: Callable[[WarmupStep], None] | None = None) -> threading.Thread:
    """:func:`warmup` in a daemon thread (started; ``join()`` it to wait).  An error
    ends the thread quietly: the fit that needs the kernel compiles it anyway and
    reports the error there."""
    names = _check(names)

    def run():
        try:
            warmup(names, progress)
        except Exception:  # noqa: BLE001 - a warm-up must never break its caller
            pass

    thread = threading.Thread(target=run, name="workbench-warmup", daemon=True)
    thread.start()
    return thread


def start_process(names: Sequence[str] | None = None) -> subprocess.Popen | None:
    """Run ``workbench warmup --quiet`` as a detached process (its own session, no
    output), e.g. next to a notebook server; None when it cannot be started."""
    cmd = [sys.executable, "-m", "workbench.warmup", "--quiet"] + list(names or ())
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                env=dict(os.environ))
    except OSError:
        return None


def main(argv=None) -> int:
    """``workbench warmup`` as a function (``argv`` as on the command line); the exit
    code."""
    from workbench.cli.warmup import build_parser, run

    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
