"""Geodesic Levenberg-Marquardt (Transtrum & Sethna, arXiv:1201.5885).

Levenberg-Marquardt follows the steepest descent direction on the model manifold; in
narrow curved valleys (sloppy models, Rosenbrock-like problems) it must take many short
steps. Geodesic acceleration adds a second-order correction to each step: with velocity

    v = -(JᵀJ + λ DᵀD)⁻¹ Jᵀr

the second directional derivative of the residuals along ``v``,

    r_vv ≈ (2/h) [ (r(x + h v) - r(x)) / h - J v ],

is estimated with one extra residual evaluation, the acceleration is

    a = -(JᵀJ + λ DᵀD)⁻¹ Jᵀ r_vv,

and the proposed step is ``v + a/2``. The step is only tried when ``2‖a‖/‖v‖ ≤ α``
(the acceleration is a small correction); otherwise λ is increased. λ follows the
"delayed gratification" rule: multiplied by ``lambda_up`` (2) on a rejected step, divided
by ``lambda_down`` (3) on an accepted one. ``DᵀD`` is the running maximum of ``diag(JᵀJ)``
(Marquardt's scaling, never shrinking) or the identity.

One Jacobian evaluation per accepted step; rejected steps cost residual evaluations only.
Bounds are not supported.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.optimize import OptimizeResult

from ..errors import LossError

_MESSAGES = {
    -3: "the residual is not finite at the starting point",
    -2: "stopped by the callback",
    -1: "damping parameter lambda exceeded lambda_max: no downhill step found",
    0: "maximum number of iterations / evaluations reached",
    1: "gradient norm below gtol",
    2: "relative cost reduction below ftol",
    3: "step size below xtol",
    4: "cost below ctol",
}


def geodesic_lm(
    fun: Callable[[np.ndarray], np.ndarray],
    jac: Callable[[np.ndarray], np.ndarray],
    x0,
    *,
    bounds=None,
    callback: Callable | None = None,
    maxiter: int | None = None,
    max_nfev: int | None = None,
    max_njev: int | None = None,
    ftol: float = 1e-10,
    xtol: float = 1e-10,
    gtol: float = 1e-10,
    ctol: float = 0.0,
    lambda0: float = 1e-3,
    lambda_up: float = 2.0,
    lambda_down: float = 3.0,
    lambda_max: float = 1e16,
    accel: bool = True,
    h: float = 0.1,
    alpha: float = 0.75,
    damping: str = "marquardt",
    scale0=None,
) -> OptimizeResult:
    """Minimise ``½‖fun(x)‖²`` by geodesic Levenberg-Marquardt.

    ``fun(x)`` returns the residual vector, ``jac(x)`` its exact Jacobian (m, n).
    A non-finite residual at a trial point counts as a rejected step. ``callback`` is
    called after every accepted step with an ``OptimizeResult`` (``x``, ``fun`` = cost,
    ``nit``, ``lam``); returning True stops the run (status -2). ``accel=False`` gives
    plain Levenberg-Marquardt with the same damping strategy. ``lambda0`` and ``scale0``
    (the damping matrix diagonal, Marquardt mode) restore a previous run's state: a run
    restarted from ``(x, lam, scale)`` of a stopped one continues exactly.

    Returns an ``OptimizeResult`` with ``x``, ``cost``, ``fun`` (residuals), ``jac``,
    ``grad``, ``optimality``, ``nfev``, ``njev``, ``nit``, ``lam`` and ``scale`` (the
    damping state a checkpoint stores), ``n_accel_rejected``, ``status``, ``message``,
    ``success``.
    """
    if bounds is not None:
        arr = np.asarray(
            [(-np.inf if lo is None else lo, np.inf if hi is None else hi) for lo, hi in bounds],
            dtype=float,
        )
        if arr.size and np.isfinite(arr).any():
            raise LossError(
                "method 'geodesiclm' does not support bounds; use 'trf', 'dogbox', "
                "'L-BFGS-B' or a parameter transform instead"
            )
    if damping not in ("marquardt", "identity"):
        raise LossError(f"geodesiclm: damping must be 'marquardt' or 'identity', got {damping!r}")
    if not (lambda_up > 1 and lambda_down > 1 and lambda0 > 0):
        raise LossError("geodesiclm: need lambda0 > 0, lambda_up > 1 and lambda_down > 1")
    x = np.array(x0, dtype=float).ravel()
    n = x.size
    maxiter = 200 * max(n, 1) if maxiter is None else int(maxiter)
    max_nfev = np.inf if max_nfev is None else max_nfev
    max_njev = np.inf if max_njev is None else max_njev

    r = np.asarray(fun(x), dtype=float).ravel()
    nfev, njev, nit, n_acc_rej = 1, 0, 0, 0
    lam = float(lambda0)
    J = None
    if not np.all(np.isfinite(r)):
        res = _result(x, r, None, lam, nfev, njev, nit, n_acc_rej, -3)
        res.scale = None
        return res
    cost = 0.5 * float(r @ r)
    J = np.asarray(jac(x), dtype=float).reshape(r.size, n)
    njev += 1
    scale = np.ones(n) if damping == "identity" else _safe_diag(J)
    if scale0 is not None and damping == "marquardt":
        scale = np.maximum(scale, np.asarray(scale0, dtype=float).ravel())
    status = None

    while status is None:
        g = J.T @ r
        if np.max(np.abs(g), initial=0.0) <= gtol:
            status = 1
            break
        if cost <= ctol:
            status = 4
            break
        JtJ = J.T @ J
        accepted = False
        while not accepted:
            if lam > lambda_max:
                status = -1
                break
            if nfev >= max_nfev:
                status = 0
                break
            try:
                cho = cho_factor(JtJ + lam * np.diag(scale), check_finite=True)
            except (LinAlgError, ValueError):
                lam *= lambda_up
                continue
            v = -cho_solve(cho, g)
            step = v
            if accel:
                r_h = np.asarray(fun(x + h * v), dtype=float).ravel()
                nfev += 1
                if not np.all(np.isfinite(r_h)):
                    lam *= lambda_up
                    continue
                rvv = second_directional_derivative(r, r_h, J, v, h)
                a = -cho_solve(cho, J.T @ rvv)
                vnorm = np.linalg.norm(v)
                if vnorm == 0.0 or 2.0 * np.linalg.norm(a) > alpha * vnorm:
                    n_acc_rej += 1
                    lam *= lambda_up
                    continue
                step = v + 0.5 * a
            x_new = x + step
            r_new = np.asarray(fun(x_new), dtype=float).ravel()
            nfev += 1
            if not np.all(np.isfinite(r_new)):
                lam *= lambda_up
                continue
            cost_new = 0.5 * float(r_new @ r_new)
            if cost_new < cost:
                accepted = True
            else:
                lam *= lambda_up
        if not accepted:
            break

        nit += 1
        small_step = np.linalg.norm(step) <= xtol * (np.linalg.norm(x) + xtol)
        small_gain = (cost - cost_new) <= ftol * cost
        x, r, cost = x_new, r_new, cost_new
        lam = max(lam / lambda_down, 1e-300)
        if small_gain:
            status = 2
        elif small_step:
            status = 3
        elif nit >= maxiter or njev >= max_njev:
            status = 0
        if status is None:
            J = np.asarray(jac(x), dtype=float).reshape(r.size, n)
            njev += 1
            if damping == "marquardt":
                scale = np.maximum(scale, _safe_diag(J))
        if callback is not None:
            info = OptimizeResult(
                x=x.copy(), fun=cost, cost=cost, nit=nit, lam=lam, scale=scale.copy()
            )
            if callback(info):
                status = -2
    res = _result(x, r, J, lam, nfev, njev, nit, n_acc_rej, status)
    res.scale = scale
    return res


def second_directional_derivative(r, r_h, J, v, h):
    """``r_vv`` from ``r = r(x)``, ``r_h = r(x + h v)`` and ``J``: exact for quadratic ``r``."""
    return (2.0 / h) * ((r_h - r) / h - J @ v)


def _safe_diag(J: np.ndarray) -> np.ndarray:
    d = np.einsum("ij,ij->j", J, J)
    d = np.where(np.isfinite(d), d, 0.0)
    floor = 1e-12 * max(float(d.max(initial=0.0)), 1.0)
    return np.maximum(d, floor)


def _result(x, r, J, lam, nfev, njev, nit, n_acc_rej, status) -> OptimizeResult:
    cost = 0.5 * float(r @ r) if np.all(np.isfinite(r)) else np.inf
    grad = None if J is None else J.T @ r
    return OptimizeResult(
        x=x,
        cost=cost,
        fun=r,
        jac=J,
        grad=grad,
        optimality=None if grad is None else float(np.max(np.abs(grad), initial=0.0)),
        nfev=nfev,
        njev=njev,
        nit=nit,
        lam=lam,
        n_accel_rejected=n_acc_rej,
        status=status,
        message=_MESSAGES[status],
        success=status > 0,
    )
