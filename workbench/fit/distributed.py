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
dies Dask rebuilds its shard on another worker (or on a worker the nanny restarted) and
reruns the evaluation; a shard whose build task failed for good (``KilledWorker`` after
repeated deaths) is resubmitted under a new key.  An evaluation is polled, never waited
for blindly: a stop request of the running ``FitSession`` ends it at once (the fit then
stops with the best parameters), and if no worker is alive for ``worker_timeout`` seconds,
or one evaluation takes longer than ``timeout``, it raises ``ClusterError`` naming the
shards (configurations and workers) that were lost; the optimizer then returns the best
parameters seen with ``stopped=True`` and that message.  A ``ParameterError`` raised on a
worker (a refused trial point) reaches the optimizer unchanged: a failed step.
"""

from __future__ import annotations

import pickle
import time

import cloudpickle
import numpy as np

from workbench.errors import ClusterError, LossError, WorkbenchError

_POLL = 0.02  # seconds between looks at a running evaluation
_MAX_RETRIES = 20  # resubmissions of one evaluation after cluster failures
_GONE = ("lost", "error", "cancelled")  # shard futures Dask will not bring back itself


def _is_cluster_failure(exc) -> bool:
    """A failure of the cluster (worker killed, connection lost, task cancelled with its
    worker), as opposed to an error raised by the evaluation itself."""
    from concurrent.futures import CancelledError

    from distributed.scheduler import KilledWorker

    return isinstance(exc, (KilledWorker, CancelledError, OSError, TimeoutError))


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
        self._args = (model_bytes, configs, flags, residual_fn, residual_data, threads)

    def __reduce__(self):
        # When Dask moves a shard between workers (an evaluation placed on one worker
        # while the shard lives on another, e.g. after restarts), the receiving worker
        # builds it again from its inputs: a Loss holds compiled closures and thread
        # pools that do not travel.
        return (_build_shard, self._args)

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
        timeout: seconds one evaluation may take before the fit stops (ClusterError).
        worker_timeout: seconds without any live worker before the fit stops
            (ClusterError naming the lost shards); a restarted worker within that time
            rebuilds the shards and the fit goes on.
    """

    def __init__(self, client, loss, nshards=None, threads=None, timeout=600.0,
                 worker_timeout=60.0):
        self.client = client
        self.loss = loss
        self.timeout = float(timeout)
        self.worker_timeout = float(worker_timeout)
        workers = self._live_workers()
        if not workers:
            raise LossError("the Dask cluster has no workers; start some (e.g. "
                            "cluster.scale(2)) before creating the Loss")
        calc = loss.calculator
        self.ranges = split_by_atoms(calc.natoms, nshards or len(workers))
        self._build_args = (cloudpickle.dumps(calc.model),
                            (calc.use_energy, calc.use_forces, calc.use_stress),
                            loss.residual_fn, loss.residual_data, threads)
        self._configs = calc.configs
        self.workers = [workers[k % len(workers)] for k in range(len(self.ranges))]
        self._live = set(workers)
        self._generation = 0
        self._built_on = [None] * len(self.ranges)
        self.shards = [self._build(k) for k in range(len(self.ranges))]
        self.n_eval = 0
        self.n_rebuilt = 0
        self.failures = []  # (time, message) of evaluations that had to be retried

    def _build(self, k):
        """Submit the build of shard ``k``, preferring its worker when that one is alive.

        Never pinned to a dead worker: Dask leaves a task whose preferred workers are all
        gone waiting, even with ``allow_other_workers``."""
        a, b = self.ranges[k]
        model_bytes, flags, residual_fn, residual_data, threads = self._build_args
        target = self.workers[k] if self.workers[k] in self._live else None
        self._built_on[k] = target
        return self.client.submit(
            _build_shard, model_bytes, self._configs[a:b], flags, residual_fn,
            residual_data, threads, pure=False, workers=None if target is None else [target],
            allow_other_workers=target is not None,
            key=f"workbench-shard-{a}-{b}-{id(self):x}-{self._generation}")

    def _live_workers(self):
        client = self.client
        info = (client.scheduler_info(n_workers=-1) if _takes_n_workers(client)
                else client.scheduler_info())
        return sorted(info["workers"])

    def wait_ready(self):
        """Block until every shard is built; returns per-shard info (worker pid, sizes)."""
        infos = self.client.gather([self.client.submit(_shard_info, s, pure=False)
                                    for s in self.shards])
        return infos

    def _run(self, x, mode):
        from workbench.fit.background import stop_requested
        from workbench.fit.optimizers import StopFit

        x = np.asarray(x, dtype=float).copy()
        started = time.monotonic()
        alone_since = None  # when the cluster was last seen without workers
        next_look = 0.0
        retries = 0
        futs = self._submit(x, mode)
        try:
            while True:
                reason = stop_requested()
                if reason:
                    raise StopFit(reason)
                if any(sh.status in _GONE for sh in self.shards):
                    # a shard's data died with its worker and Dask will not rebuild it
                    # (every worker was lost): build it again, then evaluate again
                    self._release(futs)
                    self._rebuild_failed_shards()
                    futs = self._submit(x, mode)
                    continue
                if all(f.done() for f in futs):
                    try:
                        out = self.client.gather(futs)
                    except WorkbenchError:
                        raise  # e.g. a trial point the model refused: a failed step
                    except Exception as exc:
                        if not _is_cluster_failure(exc) or retries >= _MAX_RETRIES:
                            raise
                        retries += 1  # lost worker, closed comm, KilledWorker
                        self.failures.append((time.time(), f"{type(exc).__name__}: {exc}"))
                        self._release(futs)
                        self._rebuild_failed_shards()
                        futs = self._submit(x, mode)
                        continue
                    self.n_eval += 1
                    return out
                now = time.monotonic()
                if now >= next_look:  # the scheduler is asked about once a second
                    next_look = now + 1.0
                    live = self._refresh_workers()
                    alone_since = (alone_since or now) if not live else None
                    if live and self._pinned_to_dead(futs):
                        self._release(futs)
                        self._rebuild_failed_shards()
                        futs = self._submit(x, mode)
                        continue
                    if alone_since is not None and now - alone_since > self.worker_timeout:
                        raise ClusterError(self._lost_message(
                            f"every Dask worker is gone and none came back within "
                            f"{self.worker_timeout:g} s"))
                if now - started > self.timeout:
                    raise ClusterError(self._lost_message(
                        f"the Dask cluster gave no result within {self.timeout:g} s"))
                time.sleep(_POLL)
        finally:
            self._release(futs)

    def _submit(self, x, mode):
        futs = [self.client.submit(_eval_shard, s, x, mode, pure=False,
                                   workers=[w] if w in self._live else None,
                                   allow_other_workers=w in self._live)
                for s, w in zip(self.shards, self.workers)]
        self._eval_on = [w if w in self._live else None for w in self.workers]
        return futs

    def _pinned_to_dead(self, futs) -> bool:
        """Whether an unfinished build or evaluation waits for a worker that is gone."""
        stuck = [w for f, w in zip(futs, self._eval_on) if not f.done() and w is not None]
        stuck += [w for sh, w in zip(self.shards, self._built_on)
                  if not sh.done() and w is not None]
        return any(w not in self._live for w in stuck)

    @staticmethod
    def _release(futs):
        for f in futs:
            try:
                f.release()
            except Exception:  # the client may already be closing
                pass

    def _rebuild_failed_shards(self):
        """Resubmit the builds whose results are gone for good (data lost with every
        worker, ``KilledWorker``, cancelled), preferring live workers; a build waiting for
        a worker is left to Dask."""
        failed = [k for k, s in enumerate(self.shards) if s.status in _GONE or (
            not s.done() and self._built_on[k] is not None
            and self._built_on[k] not in self._live)]
        if not failed:
            return
        self._refresh_workers()
        self._generation += 1
        for k in failed:
            self.shards[k].release()
            self.shards[k] = self._build(k)
            self.n_rebuilt += 1

    def _lost_message(self, what):
        parts = []
        for k, ((a, b), w) in enumerate(zip(self.ranges, self.workers)):
            parts.append(f"shard {k + 1} (configurations {a}-{b - 1}, last on {w})")
        return (f"{what}; lost {len(parts)} shard(s) of {sum(b - a for a, b in self.ranges)} "
                f"configurations: {'; '.join(parts)}; the fit stops with the best "
                "parameters found so far")

    def _refresh_workers(self):
        """Point shard tasks at live workers (Dask rebuilds lost shards); the live list."""
        try:
            live = self._live_workers()
        except Exception:
            return []
        self._live = set(live)
        if live:
            self.workers = [w if w in live else live[k % len(live)]
                            for k, w in enumerate(self.workers)]
        return live

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
