"""Flat parameter vectors and central finite differences.

The engine computes exact Jacobians; finite differences are for models without them (KIM
models driven through kimpy differentiate the requested columns this way) and for
validating the engine.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def flatten_params(params: dict, names: Sequence[str]) -> np.ndarray:
    """Concatenate ``params[name]`` in ``names`` order into the flat parameter vector."""
    return np.concatenate([np.atleast_1d(np.asarray(params[n], dtype=float)).ravel()
                           for n in names]) if names else np.zeros(0)


def unflatten_params(flat, names: Sequence[str], sizes: Sequence[int]) -> dict:
    """Inverse of :func:`flatten_params` given each parameter's size."""
    flat = np.asarray(flat, dtype=float)
    out, k = {}, 0
    for n, s in zip(names, sizes):
        out[n] = flat[k:k + s].copy()
        k += s
    return out


def param_slices(params: dict, names: Sequence[str]) -> dict:
    """``name -> slice`` of each parameter in the flat vector."""
    out, k = {}, 0
    for n in names:
        s = np.atleast_1d(params[n]).size
        out[n] = slice(k, k + s)
        k += s
    return out


def central_difference_jacobian(fun: Callable[[np.ndarray], np.ndarray], x,
                                columns=None, rel_step: float = 1e-6,
                                abs_step: float = 1e-8) -> np.ndarray:
    """Jacobian ``d fun / d x`` by central differences, shape ``fun(x).shape + (m,)``.

    ``columns`` restricts the differentiated components (others are returned as zero);
    the step of component k is ``max(abs_step, rel_step * |x_k|)``.
    """
    x = np.asarray(x, dtype=float)
    f0 = np.asarray(fun(x), dtype=float)
    cols = range(x.size) if columns is None else [int(c) for c in columns]
    jac = np.zeros(f0.shape + (x.size,))
    for k in cols:
        h = max(abs_step, rel_step * abs(x[k]))
        xp = x.copy()
        xm = x.copy()
        xp[k] += h
        xm[k] -= h
        jac[..., k] = (np.asarray(fun(xp), float) - np.asarray(fun(xm), float)) / (2.0 * h)
    return jac
