"""Serial nogil kernels on Python threads (workbench.engine.threads) and the compile bill:
the same numbers with one thread or two, and one type specialisation per kernel."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from workbench.engine import threads

ROOT = Path(__file__).resolve().parents[1]


def test_split_balances_weights_and_covers_all_items():
    b = threads.split([1, 1, 1, 1, 10, 1, 1, 1], 3)
    assert b[0] == 0 and b[-1] == 8
    assert np.all(np.diff(b) > 0)
    assert b.tolist() == [0, 5, 8]  # the heavy item closes the first range
    assert threads.split([], 4).tolist() == [0]
    assert threads.split([5.0], 4).tolist() == [0, 1]


def test_parallel_ranges_calls_every_range_once_on_two_threads():
    seen = []
    names = set()
    lock = threading.Lock()

    def fn(lo, hi):
        time.sleep(0.01)  # releases the GIL like a nogil kernel
        with lock:
            seen.append((lo, hi))
            names.add(threading.current_thread().name)

    threads.parallel_ranges(fn, [0, 2, 3, 7, 8, 10], nthreads=2)
    assert sorted(seen) == [(0, 2), (2, 3), (3, 7), (7, 8), (8, 10)]
    assert len(names) == 2

    seen.clear()
    threads.parallel_ranges(fn, [0, 2, 3, 7], nthreads=1)
    assert seen == [(0, 7)]


def test_parallel_ranges_raises_the_first_error_after_all_threads_stopped():
    done = []

    def fn(lo, hi):
        if lo == 1:
            raise ValueError("range 1 failed")
        time.sleep(0.005)
        done.append(lo)

    with pytest.raises(ValueError, match="range 1 failed"):
        threads.parallel_ranges(fn, range(6), nthreads=2)
    assert 1 not in done


def test_parallel_ranges_works_on_when_the_pool_refuses_new_work():
    seen = []

    def fn(lo, hi):
        seen.append((lo, hi))

    threads._pool(2).shutdown()  # as if replaced under a concurrent caller
    threads.parallel_ranges(fn, [0, 1, 2, 3], nthreads=2)
    assert sorted(seen) == [(0, 1), (1, 2), (2, 3)]
    threads._POOL = None  # the next caller gets a working pool
    names = set()

    def slow(lo, hi):
        time.sleep(0.01)
        names.add(threading.current_thread().name)

    threads.parallel_ranges(slow, range(6), nthreads=2)
    assert len(names) == 2


def test_concurrent_callers_asking_for_more_threads_never_fail():
    errors, calls = [], []

    def caller(nthreads):
        try:
            for _ in range(20):
                threads.parallel_ranges(lambda lo, hi: time.sleep(0.0005), range(nthreads + 2),
                                        nthreads=nthreads)
                calls.append(nthreads)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads._POOL, threads._POOL_SIZE = None, 0
    workers = [threading.Thread(target=caller, args=(n,)) for n in (2, 3, 5, 9, 2, 17)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == [] and len(calls) == 120


EXITING = """
import atexit, json, threading, time
from workbench.engine import threads
errors, calls = [], []
stop = threading.Event()
def loop():
    while not stop.is_set():
        try:
            threads.parallel_ranges(lambda lo, hi: time.sleep(0.001), range(9), nthreads=2)
            calls.append(1)
        except Exception as exc:
            errors.append(repr(exc))
            return
def report():  # runs after concurrent.futures has refused new work
    before = len(calls)
    time.sleep(0.3)
    stop.set()
    worker.join(5)
    print(json.dumps({"errors": errors, "calls_while_exiting": len(calls) - before}))
atexit.register(report)
worker = threading.Thread(target=loop, daemon=True)
worker.start()
time.sleep(0.3)
"""


def test_work_still_running_at_interpreter_exit_finishes_on_its_own_thread():
    """A fit whose kernel shuts down keeps evaluating until the exit hook stops it."""
    out = subprocess.run([sys.executable, "-c", EXITING], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["calls_while_exiting"] > 5


@pytest.fixture
def si4(si4_path):
    from workbench.dataset import Dataset, Weight

    return Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()


def _sw_everything(configs):
    from workbench.engine import sw
    from workbench.engine.batch import pack

    batch = pack(configs, 3.77118, ("Si",))
    p = {k: np.array([v]) for k, v in sw.SI_1985.items()}
    full = sw.compute(batch, p, forces=True, stress=True, jacobian=True)
    n = batch.natoms
    rng = np.random.default_rng(1)
    _, g = sw.gradient(batch, p, [0, 1, 5], np.ones(batch.nconfigs),
                       rng.normal(size=batch.nconfigs), np.full((n, 3), 0.1),
                       rng.normal(size=(n, 3)))
    return batch, full, g


def test_one_thread_and_two_threads_give_identical_numbers(si4, monkeypatch):
    from workbench.engine import sw

    b1, r1, g1 = _sw_everything(si4)
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    monkeypatch.setattr(sw, "num_threads", lambda: 2)
    b2, r2, g2 = _sw_everything(si4)
    assert len(sw._chunks_for(b2)) > 2  # really split over threads
    for name in ("pair_offsets", "pair_j", "pair_d", "pair_shift"):
        assert np.array_equal(getattr(b1, name), getattr(b2, name)), name
    for name in ("energy", "forces", "stress", "d_energy", "d_forces", "d_stress"):
        assert np.array_equal(getattr(r1, name), getattr(r2, name)), name
    assert np.array_equal(g1, g2)
    assert np.isfinite(r1.d_forces).all() and np.abs(g1).max() > 0


_SPECIALISATIONS = r"""
import json, numpy as np
from workbench import datasets
from workbench.dataset import Dataset, Weight
from workbench.models import LennardJones, StillingerWeber, Tersoff
from workbench.calculators import Calculator
from workbench.loss import Loss
from workbench.engine import _sw_kernels, neighbors, pair, tersoff

configs = Dataset(datasets.path("Si_4"), Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()
for model in (StillingerWeber(), LennardJones(), Tersoff(["Si"])):
    name = list(model.model_params)[0]
    model.set_opt_params(**{name: [["default"]]})
    calc = Calculator(model)
    calc.create(configs, use_stress=False)
    loss = Loss(calc)
    x = loss.x0()
    loss.loss(x)
    loss.loss_and_grad(x * 1.01)
    loss.residual_and_jacobian(x * 1.02)
    model.compute(calc.state_, forces=True, stress=True, jacobian=True)
# a non-periodic configuration takes the neighbor lists' counting pass
c = configs[0]
neighbors.neighbor_list(c.coords, c.cell, [False, False, False], 3.0)
kernels = {"sw": _sw_kernels.sw_kernel, "pairs": neighbors._pairs_range,
           "pair": pair._pair_range, "tersoff": tersoff.tersoff_kernel}
print(json.dumps({k: len(v.signatures) for k, v in kernels.items()}))
"""


def test_every_path_of_a_potential_uses_one_compiled_specialisation():
    """Loss, gradient, Jacobian, stress and both neighbor-list passes run one compiled
    version of each kernel: consistent dtypes, contiguity and writability of the
    arguments, so numba never compiles a kernel twice (a fresh process, so that no
    other test's calls count)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _SPECIALISATIONS], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"sw": 1, "pairs": 1, "pair": 1,
                                                         "tersoff": 1}
