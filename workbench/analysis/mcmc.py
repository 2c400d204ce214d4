"""Bayesian uncertainty by MCMC (emcee's affine-invariant ensemble sampler).

The posterior over the optimization vector x is ``p(x) ∝ exp(−L(x)/T) · prior(x)`` with
``L`` the fit's loss (½‖u‖²) and a flat prior inside the parameter bounds (−inf outside).
By default T is KLIFF's natural temperature ``T0 = 2·L(x_fit)/n`` (n free parameters).
Walkers start in a small Gaussian ball around the fit shaped by the Gauss–Newton
covariance ``T·(JᵀJ)⁻¹``.  The burn-in defaults to a multiple of the integrated
autocorrelation time, which is reported with the samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.errors import LossError
from workbench.fit.objective import bounds_arrays, normalize_bounds


def natural_temperature(objective, x=None) -> float:
    """``T0 = 2·L(x)/n`` at the fit (KLIFF's ``get_T0``)."""
    x = np.asarray(objective.x0() if x is None else x, float)
    return 2.0 * float(objective.loss(x)) / x.size


def _summary(result) -> dict:
    """What the run store keeps of a chain: posterior mean, spread and diagnostics."""
    return {"names": list(result.names), "x_fit": result.x_fit.tolist(), "T": float(result.T),
            "steps": int(result.chain.shape[0]), "burn": int(result.burn),
            "mean": result.mean.tolist(), "std": result.std.tolist(),
            "tau": result.tau.tolist(), "tau_reliable": bool(result.tau_reliable),
            "acceptance_fraction": float(result.acceptance_fraction)}


@dataclass
class MCMCResult:
    names: list
    x_fit: np.ndarray
    T: float
    chain: np.ndarray            # (steps, walkers, n), burn-in included
    log_prob: np.ndarray         # (steps, walkers)
    burn: int
    thin: int
    tau: np.ndarray              # integrated autocorrelation time per parameter (steps)
    tau_reliable: bool           # emcee's criterion: chain longer than 50·tau
    acceptance_fraction: float

    @property
    def samples(self) -> np.ndarray:
        """Post-burn-in, thinned samples of all walkers, shape (S, n)."""
        return self.chain[self.burn::self.thin].reshape(-1, self.chain.shape[-1])

    @property
    def mean(self) -> np.ndarray:
        return self.samples.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        return self.samples.std(axis=0, ddof=1)

    @property
    def cov(self) -> np.ndarray:
        return np.atleast_2d(np.cov(self.samples, rowvar=False))


class MCMC:
    """Sample the tempered posterior of an Objective (e.g. a fitted ``Loss``).

    Args:
        objective: the fit's objective; ``objective.x0()`` is taken as the fit.
        T: temperature (default: the natural temperature ``2·L0/n``).
        nwalkers: number of walkers (default ``max(4n, 8)``, even).
        seed: seed of the initial ball and of the sampler.
        init_scale: the initial ball's size relative to the Gauss–Newton std.
    """

    def __init__(self, objective, T=None, nwalkers=None, seed=None, init_scale=0.1):
        self.objective = objective
        self.x_fit = np.asarray(objective.x0(), float).copy()
        n = self.x_fit.size
        self.names = list(objective.names())
        self.lo, self.hi = bounds_arrays(
            normalize_bounds(objective.bounds(), n, self.names), n)
        if np.any(self.x_fit < self.lo) or np.any(self.x_fit > self.hi):
            raise LossError("MCMC: the fitted parameters lie outside their bounds")
        self.T = natural_temperature(objective, self.x_fit) if T is None else float(T)
        if not self.T > 0:
            raise LossError(f"MCMC temperature must be positive; got T={self.T} (a loss of "
                            "zero at the fit gives T0 = 0: pass T explicitly)")
        nw = max(4 * n, 8) if nwalkers is None else int(nwalkers)
        if nw < 2 * n:
            raise LossError(f"nwalkers must be at least twice the number of parameters "
                            f"({2 * n}); got {nw}")
        self.nwalkers = nw + (nw % 2)
        self.seed = seed
        self.init_scale = float(init_scale)

    def log_prob(self, x) -> float:
        """``−L(x)/T`` inside the bounds, ``−inf`` outside or where L is not finite."""
        x = np.asarray(x, float)
        if np.any(x <= self.lo) or np.any(x >= self.hi):
            return -np.inf
        try:
            L = float(self.objective.loss(x))
        except (FloatingPointError, ValueError, ZeroDivisionError):
            return -np.inf
        return -L / self.T if np.isfinite(L) else -np.inf

    def initial_walkers(self, rng) -> np.ndarray:
        n = self.x_fit.size
        try:
            _, J = self.objective.residual_and_jacobian(self.x_fit)
            cov = self.T * np.linalg.inv(J.T @ J)
            scale = np.linalg.cholesky(0.5 * (cov + cov.T))
        except (np.linalg.LinAlgError, AttributeError):
            scale = np.diag(1e-3 * np.maximum(np.abs(self.x_fit), 1e-3))
        p0 = np.empty((self.nwalkers, n))
        for w in range(self.nwalkers):
            for _ in range(1000):
                x = self.x_fit + self.init_scale * scale @ rng.standard_normal(n)
                if np.all(x > self.lo) and np.all(x < self.hi):
                    break
            else:
                x = np.clip(x, np.nextafter(self.lo, np.inf), np.nextafter(self.hi, -np.inf))
            p0[w] = x
        return p0

    def job(self, nsteps=2000, burn=None, thin=1, store="default"):
        """An unstarted job; recorded in the run ``store`` (see ``FitSession``)."""
        from workbench.analysis.jobs import AnalysisJob
        from workbench.fit.run_record import job_fields

        if int(nsteps) < 2:
            raise LossError(f"nsteps must be at least 2, got {nsteps!r}")
        return AnalysisJob(lambda job: self._work(job, int(nsteps), burn, int(thin)),
                           name="mcmc", total=int(nsteps), store=store,
                           run_info=lambda: {**job_fields(self.objective, "emcee"),
                                             "name": f"MCMC × {int(nsteps)} steps"},
                           summarize=_summary)

    def run(self, nsteps=2000, burn=None, thin=1, store="default") -> MCMCResult:
        """Blocking run; ``burn`` (steps) defaults to 3 × the largest autocorrelation
        time, at most half the chain."""
        return self.job(nsteps, burn, thin, store).run()

    def _work(self, job, nsteps, burn, thin):
        import emcee

        rng = np.random.default_rng(self.seed)
        p0 = self.initial_walkers(rng)
        n = self.x_fit.size
        sampler = emcee.EnsembleSampler(self.nwalkers, n, self.log_prob)
        sampler.random_state = np.random.RandomState(
            rng.integers(2**32 - 1)).get_state()
        every = max(nsteps // 200, 1)
        try:
            for k, state in enumerate(sampler.sample(p0, iterations=nsteps), start=1):
                if k % every == 0 or k == nsteps:
                    best = int(np.argmax(state.log_prob))
                    job.progress(k, nsteps, loss=-self.T * float(state.log_prob[best]),
                                 params=state.coords[best].copy())
                if job.should_stop():
                    break
        finally:
            self.objective.set_params(self.x_fit)
        chain = sampler.get_chain()
        steps = chain.shape[0]
        if steps < 2:
            raise LossError("MCMC stopped before two steps were taken")
        tau = np.asarray(emcee.autocorr.integrated_time(chain, quiet=True), float)
        if burn is None:
            burn = int(min(np.ceil(3 * np.nanmax(tau)), steps // 2))
        burn = int(min(max(burn, 0), steps - 1))
        post = chain[burn:]
        tau_post = np.asarray(emcee.autocorr.integrated_time(post, quiet=True), float)
        return MCMCResult(
            names=self.names, x_fit=self.x_fit.copy(), T=self.T, chain=chain,
            log_prob=sampler.get_log_prob(), burn=burn, thin=max(thin, 1), tau=tau_post,
            tau_reliable=bool(post.shape[0] > 50 * np.nanmax(tau_post)),
            acceptance_fraction=float(np.mean(sampler.acceptance_fraction)))
