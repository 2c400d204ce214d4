"""KLIFF's ``kliff.parallel``: ``parmap1``/``parmap2`` map a function over data in worker
processes with extra positional arguments, as KLIFF 0.4 documents them.

The engine itself does not need these (its kernels evaluate whole data sets in parallel
and ``Loss(calc, backend=client)`` scales out with Dask); they are here so that scripts
written for KLIFF keep running.  Both are built on the standard library:

* ``parmap1`` hands the items one at a time to a pool of workers
  (:class:`concurrent.futures.ProcessPoolExecutor`, ``chunksize=1``): no idle worker
  while items remain, but ``f`` and the items must be picklable.
* ``parmap2`` deals the items (shuffled with a fixed seed, to balance the load) into
  ``nprocs`` groups, one process per group, results sent back through a
  :func:`multiprocessing.Pipe`.  Under the ``fork`` start method the processes inherit
  ``f`` and the items, so neither needs to be picklable (e.g. objects holding a KIM
  model); elsewhere they are sent with cloudpickle.

Results come back in the order of ``X``; an exception raised by ``f`` in a worker is
raised again in the caller.  ``nprocs=1`` runs in the calling process.
"""

from __future__ import annotations

import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor

import cloudpickle

__all__ = ["parmap1", "parmap2", "get_context", "get_MPI_world_size"]


def get_context():
    """The multiprocessing context the helpers use: ``fork`` where the platform has it
    (workers inherit unpicklable objects), the platform's default otherwise."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def get_MPI_world_size() -> int:
    """Number of MPI processes (``mpi4py``'s ``COMM_WORLD`` size), 1 without mpi4py."""
    try:
        from mpi4py import MPI
    except ImportError:
        return 1
    return MPI.COMM_WORLD.Get_size()


def _call(f, x, args, tuple_X):
    return f(*x, *args) if tuple_X else f(x, *args)


def _check_nprocs(nprocs) -> int:
    if isinstance(nprocs, bool) or int(nprocs) != nprocs or nprocs < 1:
        raise ValueError(f"nprocs={nprocs!r}: expected a positive integer")
    return int(nprocs)


def parmap1(f, X, *args, tuple_X: bool = False, nprocs: int = 2) -> list:
    """``[f(x, *args) for x in X]`` (``f(*x, *args)`` with ``tuple_X=True``) over a pool
    of ``nprocs`` worker processes taking one item at a time.  ``f`` must be picklable
    (a module-level function); use :func:`parmap2` otherwise."""
    nprocs = _check_nprocs(nprocs)
    X = list(X)
    if nprocs == 1 or len(X) <= 1:
        return [_call(f, x, args, tuple_X) for x in X]
    with ProcessPoolExecutor(max_workers=min(nprocs, len(X)),
                             mp_context=get_context()) as pool:
        futures = [pool.submit(_call, f, x, args, tuple_X) for x in X]
        return [fut.result() for fut in futures]


def _group_worker(conn, payload, forked):
    try:
        f, items, args, tuple_X = payload if forked else cloudpickle.loads(payload)
        conn.send(("ok", [_call(f, x, args, tuple_X) for x in items]))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
        try:
            conn.send(("error", exc))
        except Exception:  # the exception itself does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def parmap2(f, X, *args, tuple_X: bool = False, nprocs: int = 2) -> list:
    """``[f(x, *args) for x in X]`` (``f(*x, *args)`` with ``tuple_X=True``) with the
    items shuffled and dealt into ``nprocs`` groups, one process per group.  ``f`` need
    not be picklable where processes fork; its results must be."""
    nprocs = _check_nprocs(nprocs)
    X = list(X)
    if nprocs == 1 or len(X) <= 1:
        return [_call(f, x, args, tuple_X) for x in X]
    order = list(range(len(X)))
    random.Random(35).shuffle(order)
    groups = [order[k::nprocs] for k in range(min(nprocs, len(X)))]
    ctx = get_context()
    forked = ctx.get_start_method() == "fork"
    running = []
    for group in groups:
        items = [X[i] for i in group]
        payload = (f, items, args, tuple_X)
        if not forked:
            payload = cloudpickle.dumps(payload)
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_group_worker, args=(child, payload, forked), daemon=True)
        proc.start()
        child.close()
        running.append((group, parent, proc))
    results: list = [None] * len(X)
    error = None
    for group, parent, proc in running:
        try:
            status, value = parent.recv()
        except EOFError:
            status, value = "lost", None
        proc.join()
        if status == "lost":
            status, value = "error", RuntimeError(
                f"parmap2: a worker process ended without a result (exit code "
                f"{proc.exitcode})")
        if status == "error":
            error = error or value
            continue
        for i, r in zip(group, value):
            results[i] = r
    if error is not None:
        raise error
    return results
