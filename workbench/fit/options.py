"""Optimizer options and bounds checked before a fit starts (and before data are read).

``check_options(method, options)`` refuses what would otherwise fail, or silently do the
wrong thing, deep inside scipy: a numeric option given as text (``maxiter: "abc"``, or
``1e3``, which YAML reads as a string), a NaN tolerance, an unknown keyword of a
least-squares or geodesic method.  ``check_bounds(method, names, bounds)`` refuses bounds
on a method that cannot take them.  ``run_optimizer``, ``FitSession`` and the set-up file
validation all call these, so the same mistake gets the same message everywhere.
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np

from ..errors import LossError

#: Options that are counts (integers).
INT_OPTIONS = frozenset((
    "maxiter", "maxfun", "maxfev", "maxls", "maxcor", "max_nfev", "max_njev", "maxCGit",
    "iprint", "verbose",
))
#: Options that are real numbers (tolerances, step sizes, trust radii, damping).
REAL_OPTIONS = frozenset((
    "ftol", "gtol", "xtol", "ctol", "eps", "tol", "fatol", "xatol", "xrtol", "rhobeg",
    "rhoend", "catol", "initial_tr_radius", "initial_trust_radius", "max_trust_radius",
    "eta", "stepmx", "accuracy", "minfev", "rescale", "offset", "f_scale", "diff_step",
    "lambda0", "lambda_up", "lambda_down", "lambda_max", "h", "alpha", "c1", "c2",
    "barrier_tol", "initial_constr_penalty", "initial_barrier_parameter",
    "initial_barrier_tolerance", "finite_diff_rel_step",
))
#: Keywords the least-squares drivers provide themselves.
_PROVIDED = frozenset(("fun", "x0", "jac", "bounds", "method", "callback", "args", "kwargs"))


def _keywords(method_lower: str) -> set[str] | None:
    """The keyword options a least-squares or geodesic method accepts (None: minimize
    methods, whose unknown options scipy reports itself)."""
    if method_lower == "geodesiclm":
        from .geodesic_lm import geodesic_lm

        fn = geodesic_lm
    elif method_lower in ("trf", "dogbox", "lm"):
        from scipy.optimize import least_squares

        fn = least_squares
    else:
        return None
    return {p for p in inspect.signature(fn).parameters if p not in _PROVIDED}


def _number_problem(name: str, value) -> str | None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        hint = ""
        if isinstance(value, str):
            try:
                float(value)
                hint = " (YAML reads 1e3 as text: write 1000 or 1.0e+3)"
            except ValueError:
                pass
        return f"must be a number, got {value!r}{hint}"
    if not np.isfinite(float(value)):
        return f"must be a finite number, got {value!r}"
    if name in INT_OPTIONS and float(value) != int(value):
        return f"must be a whole number, got {value!r}"
    return None


def check_options(method: str, options: dict | None) -> None:
    """Raise LossError naming the first bad option of ``method``; see the module docstring.

    ``options`` may nest a minimize method's options under ``options``."""
    options = dict(options or {})
    nested = options.pop("options", None)
    if nested is not None:
        if not isinstance(nested, dict):
            raise LossError(f"option 'options' must be a mapping, got {nested!r}")
        options.update(nested)
    allowed = _keywords(str(method).lower())
    for name, value in options.items():
        if allowed is not None and name not in allowed:
            raise LossError(f"method {method!r} has no option {name!r}; its options are "
                            f"{', '.join(sorted(allowed))}")
        if value is None or (name not in INT_OPTIONS and name not in REAL_OPTIONS):
            continue
        problem = _number_problem(name, value)
        if problem:
            raise LossError(f"option {name!r} of method {method!r} {problem}")


def bounded_names(bounds, names) -> list[str]:
    return [names[k] for k, (lo, hi) in enumerate(bounds) if lo is not None or hi is not None]


def check_bounds(method: str, names, bounds, bounded_methods) -> None:
    """LossError if ``bounds`` (normalised, or None) are set and ``method`` cannot take them."""
    if bounds is None or str(method).lower() in bounded_methods:
        return
    hit = bounded_names(bounds, names)
    if not hit:
        return
    from .optimizers import METHODS

    raise LossError(
        f"method {method!r} cannot take bounds, but bounds are set on "
        f"{', '.join(hit[:6]) + (' ...' if len(hit) > 6 else '')}; use one of "
        f"{', '.join(m for m in METHODS if m.lower() in bounded_methods)}, "
        "or remove the bounds")
