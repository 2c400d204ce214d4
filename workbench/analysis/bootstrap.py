"""Bootstrap uncertainty: refit on configurations resampled with replacement.

A resample draws M configurations with replacement from the M of the fit.  Its loss is
the original loss over the drawn configurations, a configuration drawn c times counting
c times; this is computed over the distinct drawn configurations with their residual
rows scaled by √c (the same loss, less work).  Every refit starts from the current fit.
The refits run in a thread pool (the engine kernels release the GIL) or, given a
``dask.distributed`` client, as dask tasks.
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from workbench.errors import LossError


@dataclass
class BootstrapResult:
    """Refitted parameters of every resample and the spread of the predictions."""

    names: list
    x_fit: np.ndarray                # parameters of the full-data fit
    samples: np.ndarray              # (B, n) refitted parameters (NaN rows: not run)
    losses: np.ndarray               # (B,) final loss of each refit
    counts: np.ndarray               # (B, M) multiplicity of each configuration
    identifiers: list = field(default_factory=list)
    energy: np.ndarray | None = None  # (B, M) predicted energies with each sample
    forces: np.ndarray | None = None  # (B, N, 3) predicted forces (when forces are used)

    @property
    def done(self) -> np.ndarray:
        return np.all(np.isfinite(self.samples), axis=1)

    @property
    def mean(self) -> np.ndarray:
        return self.samples[self.done].mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        s = self.samples[self.done]
        return s.std(axis=0, ddof=1) if len(s) > 1 else np.full(s.shape[1], np.nan)

    @property
    def energy_std(self) -> np.ndarray:
        """Per configuration: standard deviation of the predicted energy."""
        e = self.energy[self.done]
        return e.std(axis=0, ddof=1)

    def forces_std(self, atom_offsets) -> np.ndarray:
        """Per configuration: RMS over its force components of their standard deviation."""
        f = self.forces[self.done]
        var = f.var(axis=0, ddof=1).sum(axis=1)
        starts = np.asarray(atom_offsets[:-1], dtype=np.int64)
        n = np.diff(atom_offsets)
        return np.sqrt(np.add.reduceat(var, starts) / (3 * n))

    def to_dataframe(self):
        """Per-parameter summary (name, fit value, bootstrap mean and std)."""
        import pandas as pd

        return pd.DataFrame({"name": self.names, "fit": self.x_fit, "mean": self.mean,
                             "std": self.std})


def clone_model(model):
    """An independent copy of a model (KIM models are rebuilt from their saved state)."""
    try:
        return copy.deepcopy(model)
    except TypeError:
        from workbench.models import io

        d = io.model_to_dict(model)
        clone = type(model)(**dict(d.get("init_kwargs") or {}))
        io._apply(clone, d, f"<copy of {model.model_name}>")
        return clone


class _Multiplicity:
    """An Objective: ``inner``'s residual rows of configuration k scaled by ``scale[k]``."""

    def __init__(self, inner, row_scale):
        self.inner = inner
        self.row_scale = row_scale

    def x0(self):
        return self.inner.x0()

    def bounds(self):
        return self.inner.bounds()

    def names(self):
        return self.inner.names()

    def set_params(self, x):
        self.inner.set_params(x)

    def _check(self, u):
        if u.shape != self.row_scale.shape:
            raise LossError(f"bootstrap needs one residual row per energy/force/stress "
                            f"component; the residual function returned {u.size} rows "
                            f"for {self.row_scale.size} components")

    def residual(self, x):
        u = self.inner.residual(x)
        self._check(u)
        return u * self.row_scale

    def residual_and_jacobian(self, x):
        u, J = self.inner.residual_and_jacobian(x)
        self._check(u)
        return u * self.row_scale, J * self.row_scale[:, None]

    def loss(self, x):
        u = self.residual(x)
        return 0.5 * float(u @ u)

    def loss_and_grad(self, x):
        u, J = self.residual_and_jacobian(x)
        return 0.5 * float(u @ u), J.T @ u


def fit_resample(model, configs, flags, residual_fn, residual_data, counts, method,
                 options, x0):
    """Refit a copy of ``model`` on one resample; returns ``(x, loss)``.

    A module-level function so that dask can ship it to workers.
    """
    from workbench.fit.calculator import Calculator
    from workbench.fit.loss import Loss
    from workbench.fit.optimizers import run_optimizer

    model = clone_model(model)
    model.update_model_params(np.asarray(x0, float))
    counts = np.asarray(counts)
    idx = np.flatnonzero(counts)
    sub = [configs[i] for i in idx]
    use_e, use_f, use_s = flags
    calc = Calculator(model)
    calc.create(sub, use_energy=use_e, use_forces=use_f, use_stress=use_s)
    inner = Loss(calc, residual_fn=residual_fn, residual_data=residual_data)
    rows = np.asarray(calc.natoms) * 3 * int(use_f) + int(use_e) + 6 * int(use_s)
    scale = np.repeat(np.sqrt(counts[idx].astype(float)), rows)
    res = run_optimizer(_Multiplicity(inner, scale), method, options=dict(options or {}),
                        x0=np.asarray(x0, float))
    return np.asarray(res.x, float), float(res.fun)


def _summary(result) -> dict:
    """What the run store keeps of a bootstrap: per-parameter mean and spread."""
    return {"names": list(result.names), "x_fit": result.x_fit.tolist(),
            "n_done": int(result.done.sum()), "n_samples": int(len(result.samples)),
            "mean": result.mean.tolist(), "std": result.std.tolist()}


class Bootstrap:
    """Bootstrap over the configurations of a fitted ``Loss``.

    Args:
        loss: a :class:`workbench.fit.loss.Loss` whose model holds the fitted parameters.
        method, options: optimizer and its options for every refit (``run_optimizer``).
        seed: seed of the resampling.
        nthreads: thread-pool size (default: number of CPUs, at most the resamples).
        client: a ``dask.distributed.Client``; the refits then run as dask tasks.
        backend: the same as ``client`` (the name ``Loss`` uses); by default the Client
            the ``loss`` was created with, if any.
    """

    def __init__(self, loss, method="L-BFGS-B", options=None, seed=None, nthreads=None,
                 client=None, backend=None):
        self.loss = loss
        self.method = method
        self.options = dict(options or {})
        self.seed = seed
        self.nthreads = nthreads
        self.client = client if client is not None else (
            backend if backend is not None else getattr(loss, "backend", None))

    def resample_counts(self, n_samples) -> np.ndarray:
        M = len(self.loss.calculator.configs)
        rng = np.random.default_rng(self.seed)
        return rng.multinomial(M, np.full(M, 1.0 / M), size=int(n_samples))

    def job(self, n_samples=100, predictions=True, store="default"):
        """An unstarted :class:`AnalysisJob` computing a :class:`BootstrapResult`,
        recorded in the run ``store`` (see ``FitSession``; None: not recorded)."""
        from workbench.analysis.jobs import AnalysisJob
        from workbench.fit.run_record import job_fields

        if int(n_samples) < 1:
            raise LossError(f"n_samples must be a positive integer, got {n_samples!r}")
        return AnalysisJob(lambda job: self._work(job, int(n_samples), predictions),
                           name="bootstrap", total=int(n_samples), store=store,
                           run_info=lambda: {**job_fields(self.loss, self.method, self.options),
                                             "name": f"bootstrap × {int(n_samples)}"},
                           summarize=_summary)

    def run(self, n_samples=100, predictions=True, store="default") -> BootstrapResult:
        """Blocking bootstrap; returns the :class:`BootstrapResult`."""
        return self.job(n_samples, predictions, store).run()

    def _work(self, job, B, predictions):
        loss = self.loss
        calc = loss.calculator
        x_fit = np.asarray(loss.x0(), float)
        counts = self.resample_counts(B)
        n = x_fit.size
        out = BootstrapResult(names=list(loss.names()), x_fit=x_fit,
                              samples=np.full((B, n), np.nan), losses=np.full(B, np.nan),
                              counts=counts, identifiers=[str(c.identifier)
                                                          for c in calc.configs])
        args = (calc.configs, (calc.use_energy, calc.use_forces, calc.use_stress),
                loss.residual_fn, loss.residual_data)
        finished = 0
        for b, (x, fun) in self._fits(job, counts, args, x_fit):
            out.samples[b], out.losses[b] = x, fun
            finished += 1
            job.progress(finished, B, loss=fun, params=x,
                         message=f"resample {b} refitted")
        if predictions:
            self._predict(out)
        return out

    def _fits(self, job, counts, args, x_fit):
        configs, flags, rfn, rdata = args
        model = self.loss.model
        call = (self.method, self.options, x_fit)
        if self.client is not None:
            from dask.distributed import as_completed as dask_completed

            cf = self.client.scatter(list(configs), broadcast=True)
            futs = {self.client.submit(fit_resample, model, cf, flags, rfn, rdata, c, *call,
                                       pure=False): b for b, c in enumerate(counts)}
            for fut in dask_completed(futs):
                if job.should_stop():
                    for f in futs:
                        f.cancel()
                    return
                yield futs[fut], fut.result()
            return
        workers = self.nthreads or min(len(counts), os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=max(int(workers), 1)) as pool:
            def task(b):
                if job.should_stop():
                    return None
                return fit_resample(model, configs, flags, rfn, rdata, counts[b], *call)

            futs = {pool.submit(task, b): b for b in range(len(counts))}
            for fut in as_completed(futs):
                r = fut.result()
                if r is not None:
                    yield futs[fut], r

    def _predict(self, out):
        """Energies (and forces) of the whole data set with every refitted sample."""
        calc = self.loss.calculator
        model = calc.model
        use_f = bool(calc.use_forces)
        B = len(out.samples)
        out.energy = np.full((B, len(calc.configs)), np.nan)
        out.forces = np.full((B, int(calc.atom_offsets[-1]), 3), np.nan) if use_f else None
        try:
            for b in np.flatnonzero(out.done):
                model.update_model_params(out.samples[b])
                r = model.compute(calc.state_, forces=use_f, stress=False)
                out.energy[b] = r.energy
                if use_f:
                    out.forces[b] = r.forces
        finally:
            model.update_model_params(out.x_fit)
            calc.result_ = None
