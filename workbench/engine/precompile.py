"""Compile a potential's kernels on the second core while this process does other work.

On a fresh install (empty numba cache) a first fit pays two compilations one after the
other on one core: the neighbor-list kernel while the data set is packed, then the
potential's kernel at the first evaluation (Stillinger-Weber: about 7 s and 10 s of CPU
on the 2-core reference machine, ``benchmarks/bench_coldstart.py``).  numba compiles
with the GIL held, so a thread cannot overlap them; a child process can.  When a model
prepares its data (:meth:`BuiltinModel.prepare`), :func:`start` launches
``python -m workbench.engine.precompile MODULE`` which evaluates the potential once on a
two-atom batch made by hand (no neighbor-list kernel needed) and so writes the kernel's
machine code into the shared numba cache.  Meanwhile this process reads and packs the
data; its first evaluation calls :func:`wait`, and numba then loads the kernel from the
cache instead of compiling it.

The child is only started when it can help: the kernel is neither compiled in this
process nor in the cache, the cache directory is writable, and there is more than one
core.  ``WORKBENCH_PRECOMPILE=0`` turns it off.  If the child fails, this process simply
compiles the kernel itself, as without it.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

#: engine module of a potential -> its entry kernels ("module:name"), whose compiled
#: code the child writes into the cache.  Potentials whose kernels all compile with
#: one type specialisation for every evaluation mode (tests/test_engine_threads.py).
KERNELS = {
    "workbench.engine.sw": ("workbench.engine._sw_kernels:sw_kernel",),
    "workbench.engine.tersoff": ("workbench.engine.tersoff:tersoff_kernel",),
    "workbench.engine.lj": ("workbench.engine.pair:_pair_range",),
    "workbench.engine.morse": ("workbench.engine.pair:_pair_range",),
}

#: seconds a first evaluation waits for the child at most
WAIT_LIMIT = 600.0

_RUNNING: dict[str, subprocess.Popen] = {}
_LOCK = threading.Lock()


def _dispatchers(module_name):
    out = []
    for ref in KERNELS.get(module_name, ()):
        mod, name = ref.split(":")
        out.append(getattr(importlib.import_module(mod), name))
    return out


def needs_compiling(module_name: str) -> bool:
    """Whether the entry kernels of ``module_name`` would be compiled by a first call:
    not compiled in this process and not in the on-disk cache (False when the cache
    cannot be written, so a child could not help)."""
    kernels = _dispatchers(module_name)
    if not kernels:
        return False
    for k in kernels:
        if k.overloads:
            continue
        cache = getattr(k, "_cache", None)
        index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
        if index is None:
            return False  # no on-disk cache: nothing a child could hand over
        if os.path.exists(index):
            continue
        path = Path(cache._cache_path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        if not os.access(path, os.W_OK):
            return False
        return True
    return False


def start(module_name: str) -> bool:
    """Start compiling the kernels of engine module ``module_name`` in a child process
    (see the module docstring); True when one was started (or is already running)."""
    if os.environ.get("WORKBENCH_PRECOMPILE", "1") == "0" or (os.cpu_count() or 1) < 2:
        return False
    with _LOCK:
        if module_name in _RUNNING:
            return True
        for other, proc in list(_RUNNING.items()):  # LJ and Morse share one kernel
            if set(KERNELS.get(other, ())) & set(KERNELS.get(module_name, ())):
                _RUNNING[module_name] = proc
                return True
        try:
            if not needs_compiling(module_name):
                return False
        except Exception:  # noqa: BLE001 - only an optimisation: the caller compiles
            return False
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # this copy of the package
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        try:
            _RUNNING[module_name] = subprocess.Popen(
                [sys.executable, "-m", "workbench.engine.precompile", module_name],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=env)
        except OSError:
            return False
        return True


def wait(module_name: str) -> None:
    """Wait for the child compiling ``module_name``'s kernels, if one is running, so the
    next call loads them from the cache instead of compiling them a second time."""
    if not _RUNNING:
        return
    with _LOCK:
        proc = _RUNNING.get(module_name)
    if proc is None:
        return
    try:
        proc.wait(timeout=WAIT_LIMIT)
    except subprocess.TimeoutExpired:
        pass  # a stuck child: compile here, as without it
    with _LOCK:  # only now: a concurrent caller must wait too, not compile meanwhile
        if _RUNNING.get(module_name) is proc:
            del _RUNNING[module_name]


def tiny_batch(cutoff: float):
    """Two atoms 0.6 cutoff apart, not periodic, pairs listed by hand: a batch with the
    same array types as a packed data set, built without the neighbor-list kernel."""
    from workbench.engine.batch import PackedBatch

    d = 0.6 * cutoff
    return PackedBatch(
        coords=np.array([[0.0, 0.0, 0.0], [d, 0.0, 0.0]]),
        species=np.zeros(2, dtype=np.int64), atom_config=np.zeros(2, dtype=np.int64),
        config_offsets=np.array([0, 2], dtype=np.int64), cells=np.zeros((1, 3, 3)),
        pbc=np.zeros((1, 3), dtype=bool), volumes=np.zeros(1),
        pair_offsets=np.array([0, 1, 2], dtype=np.int64),
        pair_j=np.array([1, 0], dtype=np.int64),
        pair_d=np.array([[d, 0.0, 0.0], [-d, 0.0, 0.0]]),
        pair_shift=np.zeros((2, 3), dtype=np.int64), cutoff=float(cutoff),
        species_names=("Si",))


def compile_kernels(module_name: str) -> None:
    """Evaluate the potential of ``module_name`` on :func:`tiny_batch` in every mode a
    fit uses (energy, forces, stress, Jacobian, and the gradient pass)."""
    module = importlib.import_module(module_name)
    spec = getattr(module, "SPEC", None) or module.SPECS[0]
    params = spec.default_params(("Si",))
    batch = tiny_batch(spec.influence_distance(params))
    spec.compute(batch, params, forces=True, stress=True, jacobian=True)
    gradient = spec.extra.get("gradient")
    if gradient is not None:
        nflat = sum(len(v) for v in params.values())
        gradient(batch, params, np.arange(nflat, dtype=np.int64), np.ones(1), np.zeros(1),
                 np.ones((2, 3)), np.zeros((2, 3)))


if __name__ == "__main__":
    compile_kernels(sys.argv[1])
