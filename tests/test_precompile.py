"""A fresh install compiles a potential's kernels in a child process while the data set is
packed; the first evaluation then loads them from the cache (engine/precompile.py)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from workbench.engine import precompile

_FIRST_EVALUATION = r"""
import json
from workbench import datasets
from workbench.dataset import Dataset
from workbench.engine import precompile
from workbench.engine._sw_kernels import sw_kernel
from workbench.models import StillingerWeber

configs = Dataset(datasets.path("Si_4")).get_configs()
model = StillingerWeber()
state = model.prepare(configs)
started = "workbench.engine.sw" in precompile._RUNNING
res = model.compute(state, forces=True)
print(json.dumps({"started": started, "hits": sum(sw_kernel.stats.cache_hits.values()),
                  "misses": sum(sw_kernel.stats.cache_misses.values()),
                  "energy": res.energy.tolist(), "forces": res.forces.tolist()}))
"""


@pytest.mark.slow
def test_first_evaluation_loads_the_kernel_the_child_compiled(tmp_path, si4_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               WORKBENCH_PRECOMPILE="1")
    runs = [json.loads(subprocess.run(
        [sys.executable, "-c", _FIRST_EVALUATION], env=env, cwd=tmp_path,
        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        for _ in range(2)]
    cold, warm = runs
    assert cold["started"] is True  # empty cache: the child compiles the SW kernel ...
    assert (cold["hits"], cold["misses"]) == (1, 0)  # ... and this process loads it
    assert warm["started"] is False  # already cached: no child
    assert (warm["hits"], warm["misses"]) == (1, 0)

    from workbench.dataset import Dataset
    from workbench.models import StillingerWeber

    model = StillingerWeber()
    ref = model.compute(model.prepare(Dataset(si4_path).get_configs()), forces=True)
    for run in runs:
        np.testing.assert_array_equal(run["energy"], ref.energy)
        np.testing.assert_array_equal(run["forces"], ref.forces)


def test_no_child_when_compiled_or_switched_off(monkeypatch):
    from workbench.engine.sw import SPEC

    precompile.compile_kernels("workbench.engine.sw")  # this process has the kernel now
    assert precompile.needs_compiling("workbench.engine.sw") is False
    assert precompile.start("workbench.engine.sw") is False
    assert precompile.needs_compiling("workbench.engine.eam") is False  # not listed
    monkeypatch.setenv("WORKBENCH_PRECOMPILE", "0")
    assert precompile.start("workbench.engine.sw") is False
    assert precompile._RUNNING == {}
    # the hand-made batch evaluates as the same two atoms packed with neighbor lists
    from workbench.engine.batch import pack_arrays

    params = SPEC.default_params(("Si",))
    batch = precompile.tiny_batch(SPEC.influence_distance(params))
    packed = pack_arrays([batch.coords], [np.zeros((3, 3))], [[False] * 3], [["Si", "Si"]],
                         batch.cutoff)
    np.testing.assert_array_equal(packed.pair_d, batch.pair_d)
    res = SPEC.compute(batch, params, forces=True)
    ref = SPEC.compute(packed, params, forces=True)
    np.testing.assert_array_equal(res.energy, ref.energy)
    np.testing.assert_array_equal(res.forces, ref.forces)
    assert res.energy[0] < 0 and res.forces[0, 0] < 0  # in the well, on its repulsive side


def test_every_caller_waits_for_the_running_child(monkeypatch):
    """Two threads evaluating at once both wait until the child has finished (neither
    may compile the kernel meanwhile), and the child is forgotten afterwards."""
    import threading

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    monkeypatch.setitem(precompile._RUNNING, "workbench.engine.sw", proc)
    returned = []

    def evaluate():
        precompile.wait("workbench.engine.sw")
        returned.append(proc.poll())

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert returned == [0, 0]
    assert "workbench.engine.sw" not in precompile._RUNNING


def test_a_fit_set_up_starts_compiling_before_it_reads_the_data(monkeypatch):
    """``build_setup`` asks the model to start compiling as soon as the model is built,
    before the settings checks import the optimizers and before the data set is read."""
    from importlib import resources

    from workbench.fit import setup_file

    order = []
    monkeypatch.setattr(precompile, "start", lambda module: order.append(module) or False)
    read = setup_file.build_dataset
    monkeypatch.setattr(setup_file, "build_dataset",
                        lambda cfg: order.append("read") or read(cfg))
    config = resources.files("workbench.fit").joinpath("examples/sw_si.yaml").read_text()
    setup = setup_file.build_setup(config)
    assert order[:2] == ["workbench.engine.sw", "read"]
    assert len(setup.train) == 1000
