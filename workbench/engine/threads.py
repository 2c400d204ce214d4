"""Run serial, GIL-free numba kernels on several Python threads.

The engine's kernels are compiled without ``parallel=True``: numba's parallel backend
(parfors) costs several times more compile time per kernel than the kernel itself (for
Stillinger-Weber about 45 s of CPU against 9 s, measured with
``benchmarks/bench_coldstart.py``), which a user pays on every fresh install.  Instead a
kernel is written over a range of work items (configurations or chunks of them) and
compiled with ``nogil=True``; :func:`parallel_ranges` calls it for the items from a few
threads at once, so evaluating a data set still uses every core.

The number of threads is numba's (``NUMBA_NUM_THREADS``, ``numba.set_num_threads`` in the
calling thread), so the knobs users already know keep working.  Items are handed out one
at a time (dynamic scheduling: a core slowed down by other work takes fewer), and the
calling thread works too, so concurrent callers sharing the pool always make progress,
and when no helper can be scheduled (the pool was replaced under a concurrent caller, or
the interpreter is exiting and ``concurrent.futures`` refuses new work) the calling
thread does every item itself: a fit still running when its kernel shuts down ends as
"stopped", with its best parameters, never as a failure of the thread pool.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def num_threads() -> int:
    """Threads a kernel call may use: numba's setting for the calling thread."""
    import numba

    return max(1, int(numba.get_num_threads()))


def _pool(size: int) -> ThreadPoolExecutor:
    """The shared pool, with room for ``size`` helpers (threads start only when needed).

    A pool too small is replaced, never shut down: a concurrent caller may still be
    submitting to it, and its idle threads end once nobody holds it any more."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE < size:
            size = max(size, os.cpu_count() or 1)
            _POOL = ThreadPoolExecutor(max_workers=size, thread_name_prefix="workbench-engine")
            _POOL_SIZE = size
        return _POOL


def _start_helpers(work, count: int) -> list:
    """Submit ``work`` ``count`` times; fewer (or none) when the pool refuses new work."""
    helpers = []
    for _ in range(count):
        try:
            helpers.append(_pool(count).submit(work))
        except RuntimeError:  # shut down, or the interpreter is exiting
            break
    return helpers


def split(weights, pieces: int) -> np.ndarray:
    """Cut points ``0 = b[0] < ... < b[-1] = len(weights)`` splitting the items into at
    most ``pieces`` consecutive ranges of about equal total weight."""
    n = len(weights)
    pieces = max(1, min(int(pieces), n))
    work = np.concatenate(([0.0], np.cumsum(np.asarray(weights, dtype=float))))
    targets = np.linspace(0.0, work[-1], pieces + 1)[1:-1]
    cuts = np.searchsorted(work, targets, side="left")
    return np.unique(np.concatenate(([0], cuts, [n]))).astype(np.int64)


def parallel_ranges(fn, bounds, nthreads: int | None = None) -> None:
    """Call ``fn(bounds[k], bounds[k + 1])`` for every k, on several threads.

    Uses up to ``nthreads`` threads (default :func:`num_threads`), the calling thread
    being one of them; ``fn`` must release the GIL to gain anything (a ``nogil`` numba
    kernel) and must only write to the parts of its outputs that belong to its range.
    With one thread ``fn(bounds[0], bounds[-1])`` is called once.  An exception in any
    call is raised here once all threads have stopped.
    """
    bounds = [int(b) for b in bounds]
    nranges = len(bounds) - 1
    if nranges <= 0:
        return
    nthreads = min(nthreads or num_threads(), nranges)
    if nthreads <= 1:
        fn(bounds[0], bounds[-1])
        return
    items = iter(range(nranges))
    lock = threading.Lock()
    failed = threading.Event()

    def work():
        while not failed.is_set():
            with lock:
                k = next(items, None)
            if k is None:
                return
            try:
                fn(bounds[k], bounds[k + 1])
            except BaseException:
                failed.set()
                raise

    helpers = _start_helpers(work, nthreads - 1)
    try:
        work()
    finally:
        errors = [f.exception() for f in helpers]
    for err in errors:
        if err is not None:
            raise err
