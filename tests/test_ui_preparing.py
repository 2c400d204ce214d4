"""A Workbench compiles its model's kernels when it is displayed, not when Fit is pressed:
the state carries "preparing (compiling ... kernels, ~N s)" with a progress value, then
"ready"; a Fit afterwards spends (almost) nothing compiling, and that time is reported
apart from the fit's own; a new model is prepared when it is chosen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json
from workbench import datasets
from workbench.data import Dataset, Weight
from workbench.models import StillingerWeber
from workbench.ui.workbench import Workbench

ds = Dataset(datasets.path("Si_4"), Weight(energy_weight=1.0, forces_weight=0.1))
model = StillingerWeber()
model.set_opt_params(A=[[5.0]], B=[["default"]], sigma=[[2.0951, "fix"]], gamma=[[1.5]])
wb = Workbench(ds, model, fit={"method": "L-BFGS-B", "options": {"maxiter": 20}})
seen = []
wb.state.observe(lambda ch: seen.append((wb.state.prepare_state, wb.state.prepare_text,
                                         wb.state.prepare_progress)),
                 ["prepare_state", "prepare_text", "prepare_progress"])
before = wb.state.prepare_state
wb._repr_mimebundle_()          # what displaying the Workbench in a notebook calls
assert wb.preparer.wait(1200)
wb.monitor.start()
assert wb.monitor.wait(600)
s = wb.monitor.session
print(json.dumps({"before": before, "seen": seen, "state": s.state,
                  "compile_time": s.compile_time, "bar": wb.preparing_w.text_w.value}))
"""


def texts(seen) -> list[str]:
    """The distinct texts in the order they appeared."""
    out = []
    for _, text, _ in seen:
        if not out or out[-1] != text:
            out.append(text)
    return out


def check_progress(seen) -> None:
    values = [p for _, _, p in seen]
    assert values == sorted(values) and values[-1] == 1.0
    assert [s for s, _, _ in seen if s != "preparing"] == ["ready"] * sum(
        1 for s, _, _ in seen if s != "preparing")


def run_script(cache_dir) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), NUMBA_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


READ = "preparing (compiling extended-XYZ reader and neighbor lists, ~18 s)"
SW = "preparing (compiling Stillinger-Weber kernels, ~10 s)"


@pytest.mark.slow
def test_a_fresh_cache_is_compiled_when_the_workbench_is_shown(tmp_path):
    cold = run_script(tmp_path / "numba-cache")
    assert cold["before"] == "idle"
    shown = texts(cold["seen"])
    assert shown[:2] == [READ, SW] and len(shown) == 3
    seconds = shown[2].removeprefix("ready (kernels compiled in ").removesuffix(" s)")
    assert int(seconds) >= 1
    check_progress(cold["seen"])
    assert cold["bar"] == f"<small>{shown[2]}</small>"
    # the fit found the kernels compiled: its compile time is loading, not compiling
    assert cold["state"] == "finished" and cold["compile_time"] < 0.5
    # the same cache in a new process: nothing to compile, ready at once
    warm = run_script(tmp_path / "numba-cache")
    assert texts(warm["seen"]) == [READ, SW, "ready (the kernels were already compiled)"]
    assert warm["compile_time"] < 0.5


def test_preparing_follows_the_model_through_the_state(monkeypatch):
    from workbench import datasets
    from workbench.data import Dataset, Weight
    from workbench.models import LennardJones, StillingerWeber
    from workbench.ui import preparing
    from workbench.ui.workbench import Workbench

    monkeypatch.setattr(preparing, "_DONE", set())  # as in a new kernel
    ds = Dataset(datasets.path("Si_4"), Weight(energy_weight=1.0, forces_weight=0.1))
    sw = StillingerWeber()
    sw.set_opt_params(A=[[5.0]], B=[["default"]], sigma=[[2.0951, "fix"]], gamma=[[1.5]])
    wb = Workbench(ds, sw, fit={"method": "L-BFGS-B", "options": {"maxiter": 5}})
    state = wb.state
    seen = []
    state.observe(lambda ch: seen.append((state.prepare_state, state.prepare_text,
                                          state.prepare_progress)),
                  ["prepare_state", "prepare_text", "prepare_progress"])
    # not displayed: nothing prepared, the bar hidden
    assert state.prepare_state == "idle" and wb.preparing_w.layout.display == "none"
    wb.set_model(LennardJones(species=("Si",)))
    assert seen == []
    wb.set_model(sw)
    wb._repr_mimebundle_()
    assert wb.preparer.wait(600)
    shown = texts(seen)
    assert shown[:2] == [READ, SW] and len(shown) == 3
    assert shown[2] == "ready (the kernels were already compiled)" or \
        shown[2].startswith("ready (kernels compiled in ")
    check_progress(seen)
    assert wb.preparing_w.text_w.value == f"<small>{shown[2]}</small>"
    assert wb.preparing_w.layout.display is None
    assert wb.preparing_w.bar_w.layout.display == "none"  # the bar shows only while busy
    # Fit after preparing: the compile time is reported apart and is (almost) nothing
    wb.monitor.start()
    assert wb.monitor.wait(300) and wb.monitor.session.state == "finished"
    assert wb.monitor.session.compile_time < 0.5
    compiling = [e for e in state.job.snapshot() if e.kind == "iteration"]
    assert compiling and compiling[0].compile_time == wb.monitor.session.compile_time
    # another model: its own kernels (the reader's are done)
    seen.clear()
    wb.set_model(LennardJones(species=("Si",)))
    assert wb.preparer.wait(600)
    shown = texts(seen)
    assert shown[0] == "preparing (compiling Lennard-Jones kernels, ~4 s)" and len(shown) == 2
    assert shown[1].startswith("ready (")
    # back to Stillinger-Weber: done in this kernel already
    wb.set_model(sw)
    assert wb.preparer.thread is None or not wb.preparer.thread.is_alive()
    assert state.prepare_text == "ready (the kernels were already compiled)"
    assert state.prepare_state == "ready" and state.prepare_progress == 1.0


def test_the_status_line_reports_compile_time_apart_from_the_fit():
    from workbench.fit.events import FitEvent
    from workbench.ui.loss_monitor import LossMonitor

    mon = LossMonitor()
    cold = FitEvent("finished", iteration=7, loss=1.5, best_loss=1.25, n_eval=10,
                    elapsed=2.0, compile_time=12.34)
    assert mon.status_text(cold) == (
        "<b>finished</b> · iteration 7 · 10 evaluations (5.0/s) · elapsed 2.0 s · "
        "best loss 1.25 · compiling took 12.3 s before the fit")
    warm = FitEvent("finished", iteration=7, loss=1.5, best_loss=1.25, n_eval=10,
                    elapsed=2.0, compile_time=0.006)
    assert mon.status_text(warm) == ("<b>finished</b> · iteration 7 · 10 evaluations "
                                     "(5.0/s) · elapsed 2.0 s · best loss 1.25")
