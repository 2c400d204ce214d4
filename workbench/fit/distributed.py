"""Evaluating a ``Loss`` on a Dask cluster: one shard of configurations per worker.

``Loss(calc, backend=client)`` (a ``dask.distributed.Client``) splits the calculator's
configurations into contiguous shards of about equal atom counts, one per worker.  Each
shard is built once on its worker by a task that receives the model and the shard's
configurations, creates a Calculator there (neighbor lists / packed batch) and a serial
``Loss`` over it; the resulting :class:`_Shard` stays in that worker's memory as the
result of a future held by the client.  Every evaluation then submits a small task per
shard that depends on that future and carries only ``x``:

* ``loss(x)``: each shard returns ``½‖u_s‖²`` (one float);
* ``loss_and_grad(x)``: ``(½‖u_s‖², J_sᵀu_s)``, n + 1 floats;
* ``gauss_newton(x)``: ``(½‖u_s‖², J_sᵀu_s, J_sᵀJ_s)``, what Gauss-Newton-type methods
  need, (n + 1)(n + 1) floats;
* ``residual(x)`` / ``residual_and_jacobian(x)``: the shard's residual block (and its
  Jacobian rows) for methods that need the full residual vector (scipy's least_squares,
  geodesic LM); the shards' blocks are concatenated in the serial layout.

So the traffic of loss and gradient evaluations does not grow with the number of atoms.

Lost workers: the shard-building task stays in the scheduler's graph, so when a worker
dies Dask rebuilds its shard on another worker and reruns the evaluation (shard tasks
prefer their worker but may run elsewhere).  If the cluster cannot finish an evaluation
(no workers left, repeated failures) the evaluation raises ``StopFit`` and the optimizer
returns the best parameters seen, with ``stopped=True`` and the reason in ``message``.
"""

from __future__ import annotations

import pickle
import time

import cloudpickle
import numpy as np

from workbench.errors import LossError


class _Shard:
    """A worker's part of the data: a serial Loss over its own Calculator."""

    def __init__(self, model_bytes, configs, flags, residual_fn, residual_data, threads):
        from workbench.fit.calculator import Calculator
        from workbench.fit.loss import Loss

        if threads is None:
            threads = _worker_threads()
        if threads:
            import numba

            numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
        model = pickle.loads(model_bytes)
        calc = Calculator(model)
        calc.create(configs, use_energy=flags[0], use_forces=flags[1], use_stress=flags[2])
        self.loss = Loss(calc, residual_fn=residual_fn, residual_data=residual_data)
        self.nconfigs = len(configs)
        self.natoms = int(calc.natoms.sum())
        self.n_build = 1

    def evaluate(self, x, mode):
        loss = self.loss
        if mode == "loss":
            return loss.loss(x)
        if mode == "grad":
            return loss.loss_and_grad(x)
        if mode == "gn":
            u, J = loss.residual_and_jacobian(x)
            return 0.5 * float(u @ u), J.T @ u, J.T @ J
        if mode == "residual":
            return loss.residual(x)
        if mode == "residual_jac":
            return loss.residual_and_jacobian(x)
        raise LossError(f"unknown evaluation mode {mode!r}")


def _worker_threads():
    """The thread count of the Dask worker running this task (None outside a worker)."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except Exception:
        return None


def _build_shard(model_bytes, configs, flags, residual_fn, residual_data, threads):
    return _Shard(model_bytes, configs, flags, residual_fn, residual_data, threads)


def _eval_shard(shard, x, mode):
    return shard.evaluate(np.asarray(x, dtype=float), mode)


def _shard_info(shard):
    import os

    return {"pid": os.getpid(), "nconfigs": shard.nconfigs, "natoms": shard.natoms}


def split_by_atoms(natoms, nshards):
    """Contiguous config ranges ``[(start, stop), ...]`` with about equal atom counts."""
    natoms = np.asarray(natoms, dtype=np.int64)
    nshards = max(1, min(int(nshards), natoms.size))
    cum = np.concatenate([[0], np.cumsum(natoms)])
    cuts = np.searchsorted(cum, np.linspace(0, cum[-1], nshards + 1)[1:-1], side="left")
    bounds = np.unique(np.concatenate([[0], cuts, [natoms.size]]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


class DaskBackend:
    """Shards of a Loss's data on the workers of a ``dask.distributed.Client``.

    Args:
        client: the Client.
        loss: the (client-side) Loss whose calculator, residual function and data are
            distributed.
        nshards: number of shards (default: one per worker at construction).
        threads: numba threads per shard (default None: the worker's ``nthreads``, so a
            worker started with ``--nthreads 4`` runs its shard's kernels on 4 threads).
        timeout: seconds to wait for one evaluation before giving up (StopFit).
    """

    def __init__(self, client, loss, nshards=None, threads=None, timeout=600.0):
        self.client = client
        self.loss = loss
        self.timeout = timeout
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"]) \
            if _takes_n_workers(client) else sorted(client.scheduler_info()["workers"])
        if not workers:
            raise LossError("the Dask cluster has no workers; start some (e.g. "
                            "cluster.scale(2)) before creating the Loss")
        calc = loss.calculator
        self.ranges = split_by_atoms(calc.natoms, nshards or len(workers))
        model_bytes = cloudpickle.dumps(calc.model)
        flags = (calc.use_energy, calc.use_forces, calc.use_stress)
        self.workers = [workers[k % len(workers)] for k in range(len(self.ranges))]
        self.shards = []
        for (a, b), addr in zip(self.ranges, self.workers):
            fut = client.submit(_build_shard, model_bytes, calc.configs[a:b], flags,
                                loss.residual_fn, loss.residual_data, threads,
                                pure=False, workers=[addr], allow_other_workers=True,
                                key=f"workbench-shard-{a}-{b}-{id(self):x}")
            self.shards.append(fut)
        self.n_eval = 0
        self.failures = []  # (time, message) of evaluations that had to be retried

    def wait_ready(self):
        """Block until every shard is built; returns per-shard info (worker pid, sizes)."""
        infos = self.client.gather([self.client.submit(_shard_info, s, pure=False)
                                    for s in self.shards])
        return infos

    def _run(self, x, mode):
        from distributed import wait

        from workbench.fit.optimizers import StopFit

        x = np.asarray(x, dtype=float).copy()
        last = None
        for attempt in range(3):
            futs = [self.client.submit(_eval_shard, s, x, mode, pure=False,
                                       workers=[w], allow_other_workers=True)
                    for s, w in zip(self.shards, self.workers)]
            try:
                wait(futs, timeout=self.timeout)
                out = self.client.gather(futs)
                self.n_eval += 1
                return out
            except LossError:
                raise
            except Exception as exc:  # lost worker, closed comm, timeout
                last = exc
                self.failures.append((time.time(), f"{type(exc).__name__}: {exc}"))
                self._refresh_workers()
            finally:
                for f in futs:
                    f.release()
        raise StopFit(f"the Dask cluster could not evaluate the loss ({type(last).__name__}: "
                      f"{last}); the fit stops with the best parameters found so far")

    def _refresh_workers(self):
        """Point shard tasks at live workers after a failure (Dask rebuilds lost shards)."""
        try:
            live = sorted(self.client.scheduler_info()["workers"])
        except Exception:
            return
        if live:
            self.workers = [w if w in live else live[k % len(live)]
                            for k, w in enumerate(self.workers)]

    # -- reductions --------------------------------------------------------------------
    def loss_value(self, x) -> float:
        return float(sum(self._run(x, "loss")))

    def loss_and_grad(self, x):
        parts = self._run(x, "grad")
        return float(sum(p[0] for p in parts)), np.sum([p[1] for p in parts], axis=0)

    def gauss_newton(self, x):
        parts = self._run(x, "gn")
        return (float(sum(p[0] for p in parts)), np.sum([p[1] for p in parts], axis=0),
                np.sum([p[2] for p in parts], axis=0))

    def residual(self, x):
        return np.concatenate(self._run(x, "residual"))

    def residual_and_jacobian(self, x):
        parts = self._run(x, "residual_jac")
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def close(self):
        for f in self.shards:
            f.release()
        self.shards = []


def _takes_n_workers(client) -> bool:
    import inspect

    try:
        return "n_workers" in inspect.signature(client.scheduler_info).parameters
    except (TypeError, ValueError):
        return False


def map_chunks(client, fn, items, *args):
    """``fn(chunk, *args)`` on one contiguous chunk of ``items`` per worker of ``client``;
    the returned lists are concatenated in order.  For one-off data-parallel work
    (fingerprints); ``args`` are shipped once per chunk."""
    from distributed import Client

    if not isinstance(client, Client):
        raise LossError(f"unsupported backend {client!r}; pass a dask.distributed.Client")
    items = list(items)
    nworkers = max(1, len(client.scheduler_info()["workers"]))
    ranges = split_by_atoms(np.ones(len(items), dtype=np.int64), nworkers) if items else []
    blob = cloudpickle.dumps(args)
    futs = [client.submit(_run_chunk, fn, items[a:b], blob, pure=False) for a, b in ranges]
    out = []
    for part in client.gather(futs):
        out.extend(part)
    return out


def _run_chunk(fn, chunk, blob):
    return fn(chunk, *pickle.loads(blob))


def make_backend(backend, loss, **options):
    """The evaluator for ``Loss(..., backend=...)``: a Dask Client -> :class:`DaskBackend`."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is a dependency
        Client = None
    if Client is not None and isinstance(backend, Client):
        return DaskBackend(backend, loss, **options)
    if isinstance(backend, DaskBackend):
        return backend
    raise LossError(f"unsupported backend {backend!r}; pass a dask.distributed.Client")
