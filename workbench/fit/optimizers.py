"""Run one optimization of an ``Objective`` with any supported method.

Methods
-------
* every ``scipy.optimize.minimize`` method. Gradient methods get the exact gradient
  ``Jᵀu`` (``loss_and_grad`` with ``jac=True``), never scipy's finite differences.
  Methods that need a Hessian (Newton-CG, dogleg, trust-ncg, trust-krylov, trust-exact,
  and trust-constr) get the Gauss-Newton approximation ``JᵀJ`` (``hess`` or ``hessp``),
  which is the exact Hessian of ``½‖u‖²`` up to the term ``Σ u_i ∇²u_i`` (small near a
  good fit). Nelder-Mead, Powell, COBYLA and COBYQA are derivative-free: they use loss
  values only and converge to the tolerance of their own stopping rules.
  Bounds go to the methods that accept them (Nelder-Mead, Powell, L-BFGS-B, TNC, SLSQP,
  trust-constr, COBYLA, COBYQA); any other method with bounds set raises ``LossError``.
* ``scipy.optimize.least_squares`` methods "trf", "dogbox" (both with bounds) and "lm"
  (no bounds), given the exact residual Jacobian.
* "geodesiclm": geodesic Levenberg-Marquardt (``workbench.fit.geodesic_lm``), no bounds.

Failed steps
------------
A trial point whose residual or loss is NaN/inf, or that the model refuses (a
``ParameterError``: sigma <= 0 after a least-squares step, a log-space value whose
exponential underflows to 0, any value outside a parameter's domain), is a failed step,
never a crash, for every method: minimize methods see a large finite loss (with a zero
gradient), trf/dogbox/geodesiclm see a non-finite residual (they reject such steps
themselves), and "lm" sees a large finite residual.  At the starting point the same
problems raise (``LossError`` for a non-finite loss, the model's ``ParameterError``).

Whatever ends a run (convergence, a stop, an exception in the objective, Ctrl-C), the
objective is left at the best finite point evaluated: on an exception ``run_optimizer``
calls ``objective.set_params(best)`` before re-raising.

Stopping
--------
``callback(info)`` is called after every iteration with an ``OptimizeResult`` holding
``x``, ``fun`` (loss ½‖u‖²), ``nit`` and method state (``lam`` for geodesiclm).
Returning True, or raising ``StopFit`` from the callback or from inside the objective,
ends the run; ``run_optimizer`` then returns the best point evaluated, with
``stopped=True`` and the reason in ``message``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult, least_squares, minimize
from threadpoolctl import threadpool_limits

from ..errors import ClusterError, LossError, ParameterError
from .geodesic_lm import geodesic_lm
from .objective import bounds_arrays, format_params, normalize_bounds
from .options import check_bounds, check_options


class StopFit(Exception):
    """Raised to end an optimization early; ``str(exc)`` is the reason.  Internal: the
    optimizers turn it into a stopped result, it never reaches the user."""


_ALL_MINIMIZE = (
    "Nelder-Mead", "Powell", "CG", "BFGS", "Newton-CG", "L-BFGS-B", "TNC", "COBYLA",
    "COBYQA", "SLSQP", "trust-constr", "dogleg", "trust-ncg", "trust-exact", "trust-krylov",
)
try:
    from scipy.optimize._minimize import MINIMIZE_METHODS as _SCIPY_METHODS
except ImportError:  # pragma: no cover
    _SCIPY_METHODS = [m.lower() for m in _ALL_MINIMIZE]

MINIMIZE_METHODS = tuple(m for m in _ALL_MINIMIZE if m.lower() in _SCIPY_METHODS)
LEAST_SQUARES_METHODS = ("trf", "dogbox", "lm")
GEODESIC_METHODS = ("geodesiclm",)
METHODS = MINIMIZE_METHODS + LEAST_SQUARES_METHODS + GEODESIC_METHODS

BOUNDED_METHODS = frozenset(
    m.lower()
    for m in ("Nelder-Mead", "Powell", "L-BFGS-B", "TNC", "SLSQP", "trust-constr", "COBYLA",
              "COBYQA", "trf", "dogbox")
)
DERIVATIVE_FREE = frozenset(("nelder-mead", "powell", "cobyla", "cobyqa"))
HESS_METHODS = frozenset(("dogleg", "trust-exact"))
HESSP_METHODS = frozenset(("newton-cg", "trust-ncg", "trust-krylov", "trust-constr"))

_RESERVED = {"fun", "x0", "jac", "hess", "hessp", "bounds", "callback", "method", "args",
             "constraints"}


def evaluation_kind(method: str) -> str:
    """What ``method`` asks of the objective: "residual" (derivative-free), "gradient"
    (``loss_and_grad``) or "jacobian" (least squares, Gauss-Newton Hessians)."""
    m = canonical_method(method)
    if m.lower() in DERIVATIVE_FREE:
        return "residual"
    if m in LEAST_SQUARES_METHODS or m in GEODESIC_METHODS or m.lower() in HESS_METHODS \
            or m.lower() in HESSP_METHODS:
        return "jacobian"
    return "gradient"


def canonical_method(method: str) -> str:
    """The spelling used in ``METHODS`` for ``method`` (case-insensitive)."""
    for m in METHODS:
        if m.lower() == str(method).lower():
            return m
    raise LossError(f"unknown optimizer method {method!r}; choose one of {', '.join(METHODS)}")


class _Evaluator:
    """Adapts an objective to scipy: finite checks, penalties, cache, best point."""

    def __init__(self, objective, names, bounds=None):
        self.obj = objective
        self.names = names
        self.lo, self.hi = bounds_arrays(bounds, len(names))
        self.best_x = None
        self.best_loss = np.inf
        self.ref_loss = None
        self.worst_loss = 0.0
        self.n_refused = 0  # trial points the model refused (ParameterError)
        self.last_refusal = ""
        self._shape = None  # (m, n) of the Jacobian, from the first evaluation
        self._cache: list[tuple[bytes, float]] = []
        self._J = None  # (x bytes, J) for Hessian methods

    def _call(self, fn, x):
        """``fn(x)``, or None when the model refuses the trial point ``x`` (ParameterError)
        after the start: that is a failed step.  At the start the error is raised."""
        try:
            return fn(x)
        except ParameterError as exc:
            if self.ref_loss is None:
                raise
            self.n_refused += 1
            self.last_refusal = str(exc)
            self._record(x, np.nan)
            return None

    def _zeros_jacobian(self, x):
        m = self._shape[0] if self._shape is not None else 1
        return np.zeros((m, x.size))

    def _record(self, x, f):
        key = x.tobytes()
        self._cache.append((key, f))
        del self._cache[:-8]
        if np.isfinite(f):
            if self.ref_loss is None:
                self.ref_loss = f
            self.worst_loss = max(self.worst_loss, abs(f))
            # COBYLA and Powell may evaluate outside the bounds: such points never count
            inside = np.all(x >= self.lo) and np.all(x <= self.hi)
            if f < self.best_loss and inside:
                self.best_loss, self.best_x = f, x.copy()
        elif self.ref_loss is None:
            raise LossError(
                f"the loss is not finite ({f}) at the starting parameters "
                f"{format_params(self.names, x)}"
            )

    def cached_loss(self, x):
        key = np.asarray(x, dtype=float).tobytes()
        for k, f in reversed(self._cache):
            if k == key:
                return f
        return None

    def penalty(self) -> float:
        """Above every finite loss seen, but not so far that line searches crawl."""
        return 10.0 * self.worst_loss + 1.0

    # --- minimize ---------------------------------------------------------------------
    def loss(self, x):
        x = np.array(x, dtype=float)
        f = self._call(self.obj.loss, x)
        if f is None:
            return self.penalty()
        f = float(f)
        self._record(x, f)
        return f if np.isfinite(f) else self.penalty()

    def loss_and_grad(self, x):
        x = np.array(x, dtype=float)
        got = self._call(self.obj.loss_and_grad, x)
        if got is None:
            return self.penalty(), np.zeros_like(x)
        f, g = got
        f = float(f)
        g = np.asarray(g, dtype=float)
        if np.isfinite(f) and not np.all(np.isfinite(g)):
            f = np.nan
        self._record(x, f)
        if not np.isfinite(f):
            return self.penalty(), np.zeros_like(x)
        return f, g

    def loss_and_grad_gn(self, x):
        """Via the Jacobian, kept for the Gauss-Newton Hessian at the same point."""
        x = np.array(x, dtype=float)
        got = self._call(self.obj.residual_and_jacobian, x)
        if got is None:
            self._J = (x.tobytes(), self._zeros_jacobian(x))
            return self.penalty(), np.zeros_like(x)
        u, J = got
        self._shape = np.shape(J)
        f = 0.5 * float(u @ u)
        if np.isfinite(f) and not np.all(np.isfinite(J)):
            f = np.nan
        self._record(x, f)
        if not np.isfinite(f):
            self._J = (x.tobytes(), np.zeros_like(J))
            return self.penalty(), np.zeros_like(x)
        self._J = (x.tobytes(), J)
        return f, J.T @ u

    def _jac_at(self, x):
        x = np.array(x, dtype=float)
        if self._J is None or self._J[0] != x.tobytes():
            self.loss_and_grad_gn(x)
        return self._J[1]

    def hess(self, x):
        J = self._jac_at(x)
        return J.T @ J

    def hessp(self, x, p):
        J = self._jac_at(x)
        return J.T @ (J @ np.asarray(p, dtype=float))

    # --- least squares ----------------------------------------------------------------
    def residual(self, x, finite_only=False):
        x = np.array(x, dtype=float)
        got = self._call(self.obj.residual, x)
        if got is None:
            u = np.full(self._shape[0] if self._shape is not None else 1, np.nan)
            f = np.nan
        else:
            u = np.asarray(got, dtype=float).ravel()
            self._shape = (u.size, x.size)
            f = 0.5 * float(u @ u)
            self._record(x, f)
        if finite_only and not np.isfinite(f):
            return np.full(u.shape, np.sqrt(2.0 * self.penalty() / max(u.size, 1)))
        return u

    def jacobian(self, x):
        x = np.array(x, dtype=float)
        got = self._call(self.obj.residual_and_jacobian, x)
        if got is None:
            return self._zeros_jacobian(x)
        u, J = got
        J = np.array(J, dtype=float)
        self._shape = J.shape
        self._record(x, 0.5 * float(u @ u))
        bad = ~np.isfinite(J)
        if bad.any():
            J[bad] = 0.0
        return J


def _minimize_callback(ev: _Evaluator, user_cb, tracker):
    def cb(intermediate_result):
        res = intermediate_result
        if isinstance(res, OptimizeResult):
            x = np.array(res.x, dtype=float)
            f = res.get("fun")
        else:  # methods that pass only xk
            x, f = np.array(res, dtype=float), None
        if f is None or not np.isscalar(f):
            f = ev.cached_loss(x)
        if f is None:
            f = ev.loss(x)
        tracker["nit"] += 1
        tracker["x"], tracker["loss"] = x, float(f)
        if user_cb is not None and user_cb(
            OptimizeResult(x=x.copy(), fun=float(f), nit=tracker["nit"])
        ):
            raise StopFit("stopped by the callback")

    return cb


def _split_minimize_options(options: dict):
    options = dict(options)
    tol = options.pop("tol", None)
    nested = options.pop("options", None) or {}
    return tol, {**options, **nested}


def run_optimizer(objective, method="L-BFGS-B", options=None, callback=None, *, x0=None):
    """Minimise ``objective`` with ``method``; see the module docstring.

    ``options``: for minimize methods, the method's options (``maxiter``, ``ftol``, ...;
    a nested ``options`` dict and ``tol`` are also accepted); for
    least-squares methods, keyword arguments of ``scipy.optimize.least_squares``
    (``ftol``, ``xtol``, ``gtol``, ``max_nfev``, ``x_scale``, ...); for "geodesiclm",
    keyword arguments of ``geodesic_lm``. ``x0`` overrides ``objective.x0()``.

    Returns an ``OptimizeResult`` with ``x``, ``fun`` (loss), ``success``, ``status``,
    ``message``, ``nit``, ``method``, ``stopped``, ``state`` (``{"lam": ..., "scale": [...]}``
    for geodesiclm, else None) and ``raw`` (the underlying solver's result, ``None`` if stopped).
    """
    method = canonical_method(method)
    meth = method.lower()
    options = dict(options or {})
    clash = _RESERVED & set(options)
    if clash:
        raise LossError(f"options may not set {sorted(clash)}: run_optimizer provides them")
    check_options(method, options)
    names = list(objective.names())
    x_start = np.array(objective.x0() if x0 is None else x0, dtype=float).ravel()
    bounds = normalize_bounds(objective.bounds(), x_start.size, names)
    check_bounds(method, names, bounds, BOUNDED_METHODS)
    if bounds is not None:
        lo, hi = bounds_arrays(bounds, x_start.size)
        outside = (x_start < lo) | (x_start > hi)
        if outside.any():
            k = int(np.flatnonzero(outside)[0])
            raise LossError(
                f"starting value {names[k]}={x_start[k]:.8g} is outside its bounds "
                f"({bounds[k][0]}, {bounds[k][1]})"
            )
    ev = _Evaluator(objective, names, bounds)
    tracker = {"nit": 0, "x": x_start.copy(), "loss": None}
    state: dict = {}
    try:
        # The optimizers' small dense algebra would otherwise wake OpenBLAS's thread pool
        # after every step, whose spinning threads take the cores the engine's numba
        # threads are about to use.
        with threadpool_limits(limits=1, user_api="blas"):
            if meth in GEODESIC_METHODS:
                raw = _run_geodesic(ev, x_start, bounds, options, callback, tracker, state)
            elif meth in LEAST_SQUARES_METHODS:
                raw = _run_least_squares(ev, meth, x_start, bounds, options, callback,
                                         tracker)
            else:
                raw = _run_minimize(ev, method, x_start, bounds, options, callback, tracker)
    except (StopFit, ClusterError) as exc:
        x, f = (ev.best_x, ev.best_loss) if ev.best_x is not None else (x_start, None)
        return OptimizeResult(
            x=np.array(x), fun=f, success=False, status=-2, message=str(exc),
            nit=tracker["nit"], method=method, stopped=True,
            state=dict(state) if state else None, raw=None, n_refused=ev.n_refused,
        )
    except BaseException:
        _leave_at_best(objective, ev, x_start)
        raise
    return _finish(ev, method, raw, tracker, state)


def _leave_at_best(objective, ev, x_start):
    """After an exception: put the best finite point (or the start) back into the model."""
    set_params = getattr(objective, "set_params", None)
    if set_params is None:
        return
    try:
        set_params(np.array(ev.best_x if ev.best_x is not None else x_start))
    except Exception:  # the original exception matters more
        pass


def _run_minimize(ev, method, x0, bounds, options, callback, tracker):
    meth = method.lower()
    tol, opts = _split_minimize_options(options)
    kw = {}
    if meth in DERIVATIVE_FREE:
        fun, kw["jac"] = ev.loss, None
    elif meth in HESS_METHODS or meth in HESSP_METHODS:
        fun, kw["jac"] = ev.loss_and_grad_gn, True
        if meth in HESS_METHODS:
            kw["hess"] = ev.hess
        else:
            kw["hessp"] = ev.hessp
    else:
        fun, kw["jac"] = ev.loss_and_grad, True
    if bounds is not None:
        kw["bounds"] = bounds
    return minimize(
        fun, x0, method=method, tol=tol, options=opts,
        callback=_minimize_callback(ev, callback, tracker), **kw,
    )


def _run_least_squares(ev, meth, x0, bounds, options, callback, tracker):
    if bounds is not None and meth == "lm":
        raise LossError(
            "least_squares method 'lm' cannot take bounds; use 'trf' or 'dogbox', "
            "or remove the bounds"
        )
    lo, hi = bounds_arrays(bounds, x0.size)
    n_jac = {"n": 0}

    def jac(x):
        J = ev.jacobian(x)
        n_jac["n"] += 1
        if n_jac["n"] > 1:  # every Jacobian after the first follows an accepted step
            f = ev.cached_loss(np.asarray(x, dtype=float))
            tracker["nit"] += 1
            tracker["x"], tracker["loss"] = np.array(x, dtype=float), f
            if callback is not None and callback(
                OptimizeResult(x=np.array(x, dtype=float), fun=f, nit=tracker["nit"])
            ):
                raise StopFit("stopped by the callback")
        return J

    finite_only = meth == "lm"
    return least_squares(
        lambda x: ev.residual(x, finite_only=finite_only), x0, jac=jac,
        bounds=(lo, hi), method=meth, **options,
    )


def _run_geodesic(ev, x0, bounds, options, callback, tracker, state):
    def cb(info):
        tracker["nit"] = info.nit
        tracker["x"], tracker["loss"] = info.x, info.fun
        state["lam"] = float(info.lam)
        state["scale"] = np.asarray(info.scale, dtype=float).tolist()
        if callback is not None:
            return callback(info)
        return False

    return geodesic_lm(ev.residual, ev.jacobian, x0, bounds=bounds, callback=cb, **options)


def _finish(ev, method, raw, tracker, state):
    meth = method.lower()
    x = np.array(raw.x, dtype=float)
    if meth in LEAST_SQUARES_METHODS or meth in GEODESIC_METHODS:
        f = float(raw.cost)
        nit = tracker["nit"]
    else:
        f = float(raw.fun)
        nit = int(raw.get("nit", tracker["nit"]) or tracker["nit"])
    if meth in GEODESIC_METHODS:
        state["lam"] = float(raw.lam)
        if raw.scale is not None:
            state["scale"] = np.asarray(raw.scale, dtype=float).tolist()
    if not np.isfinite(f) or (ev.best_x is not None and ev.best_loss < f):
        if ev.best_x is not None:
            x, f = ev.best_x.copy(), ev.best_loss
    stopped = int(raw.get("status", 0)) == -2 and meth in GEODESIC_METHODS
    message = str(raw.get("message", ""))
    if ev.n_refused:
        message += (f" ({ev.n_refused} trial point(s) refused by the model, treated as "
                    f"failed steps; last: {ev.last_refusal})")
    return OptimizeResult(
        x=x, fun=f, success=bool(raw.get("success", False)), status=raw.get("status"),
        message=message, nit=nit, method=method, stopped=stopped,
        state=dict(state) if state else None, raw=raw, n_refused=ev.n_refused,
    )
