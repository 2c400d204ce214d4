"""``workbench warmup`` and one shared numba cache for a read-only installation."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import warmup
from workbench.errors import WorkbenchError

ROOT = Path(__file__).resolve().parents[1]


def test_warmup_reports_each_task_before_and_after():
    steps = []
    seconds = warmup.warmup(["read", "Morse"], steps.append)
    assert list(seconds) == ["read", "Morse"]
    assert [(s.phase, s.task, s.index, s.total) for s in steps] == [
        ("start", "read", 0, 2), ("done", "read", 0, 2),
        ("start", "Morse", 1, 2), ("done", "Morse", 1, 2)]
    assert steps[2].message == "compiling Morse kernels (~2 s)"
    assert steps[3].seconds == pytest.approx(seconds["Morse"])
    assert steps[3].message.startswith("Morse kernels: ")


def test_warmup_starts_the_potentials_compiling_children_first(monkeypatch):
    from workbench.engine import precompile

    calls = []
    monkeypatch.setattr(precompile, "start", lambda module: calls.append(module) or False)
    monkeypatch.setitem(warmup.TASKS, "read", warmup.WarmupTask(
        "read", "reader", 1.0, lambda: calls.append("read task")))
    warmup.warmup(["read", "SW", "Morse"])
    # before the first task runs; then each model's prepare asks again (already compiled)
    assert calls[:3] == ["workbench.engine.sw", "workbench.engine.morse", "read task"]
    assert set(calls[3:]) <= {"workbench.engine.sw", "workbench.engine.morse"}


def test_tasks_for_models_and_estimates():
    from workbench.models import StillingerWeber, Tersoff

    assert warmup.tasks_for(StillingerWeber()) == ["read", "SW"]
    assert warmup.tasks_for(Tersoff) == ["read", "Tersoff"]
    assert warmup.tasks_for("LennardJones") == ["read", "LJ"]
    assert warmup.tasks_for("SW_StillingerWeber_1985_Si__MO_405512056662_005") == ["read"]
    assert warmup.estimate(["read", "SW"]) == pytest.approx(
        warmup.TASKS["read"].estimate + warmup.TASKS["SW"].estimate)
    with pytest.raises(WorkbenchError, match=r"unknown warm-up task\(s\) \['EAM2'\]"):
        warmup.warmup(["EAM2"])


def test_start_runs_in_a_background_thread():
    steps = []
    thread = warmup.start(["LJ"], steps.append)
    thread.join(120)
    assert not thread.is_alive()
    assert [(s.phase, s.task) for s in steps] == [("start", "LJ"), ("done", "LJ")]
    assert thread.name == "workbench-warmup"


def test_cli_warmup_quiet_and_with_progress(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    exe = str(Path(sys.executable).with_name("workbench"))
    out = subprocess.run([exe, "warmup", "Morse"],
                         env=env, capture_output=True, text=True, check=True)
    assert "compiling Morse kernels (~2 s)" in out.stderr
    assert "kernels cached" in out.stderr
    quiet = subprocess.run([exe, "warmup", "--quiet", "Morse"], env=env, capture_output=True, text=True, check=True)
    assert quiet.stdout == "" and quiet.stderr == ""


_STATS = r"""
import json, sys
from workbench import warmup
warmup.warmup(sys.argv[1:])
from numba.core.registry import CPUDispatcher
hits = misses = 0
kernels = 0
for name, mod in list(sys.modules.items()):
    if not name.startswith("workbench"):
        continue
    for obj in list(vars(mod).values()):
        if isinstance(obj, CPUDispatcher) and obj.signatures:
            kernels += 1
            hits += sum(obj.stats.cache_hits.values())
            misses += sum(obj.stats.cache_misses.values())
print(json.dumps({"kernels": kernels, "hits": hits, "misses": misses}))
"""


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.mark.slow
def test_read_only_install_shares_one_cache_and_the_second_process_compiles_nothing(
        tmp_path):
    """A classroom install: the package directory is read-only, every user sets the same
    writable NUMBA_CACHE_DIR (docs/shared_install.md).  The first process compiles into
    it; the next one loads every kernel from it (numba's cache statistics: hits, no
    misses) and nothing is ever written next to the package's sources."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "workbench", site / "workbench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    before = _tree(site)
    for p in [site, *site.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    cache = tmp_path / "shared-cache"
    cache.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), NUMBA_CACHE_DIR=str(cache),
               PYTHONDONTWRITEBYTECODE="1")
    try:
        runs = [json.loads(subprocess.run(
            [sys.executable, "-c", _STATS, "read", "SW"], env=env, cwd=tmp_path,
            capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
            for _ in range(2)]
    finally:
        for p in [site, *site.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    first, second = runs
    assert first["misses"] > 0  # the first user compiles
    assert second["misses"] == 0  # the second compiles nothing ...
    assert second["hits"] > 0  # ... and loads its kernels from the shared cache
    assert second["kernels"] >= 3  # neighbor lists, SW kernel, and the rest
    assert _tree(site) == before  # the installation was never written to
    assert any(p.suffix == ".nbi" for p in cache.rglob("*"))


@pytest.mark.parametrize("command", ["lab", "app"])
def test_lab_and_app_start_the_warmup_next_to_the_server(command, monkeypatch):
    import importlib

    from workbench.cli import build_parser

    module = importlib.import_module(f"workbench.cli.{command}")
    calls = []
    monkeypatch.setattr(module, "launch", lambda cmd: calls.append(("launch", cmd)) or 0)
    monkeypatch.setattr(warmup, "start_process", lambda *a: calls.append(("warmup", a)))
    args = build_parser().parse_args([command, "--no-browser", "--port", "8899"])
    assert args.func(args) == 0
    assert [c[0] for c in calls] == ["warmup", "launch"]
    assert calls[0][1] == ()
    assert "--no-browser" in calls[1][1]
