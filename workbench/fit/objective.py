"""The ``Objective`` protocol: what every optimizer and ``FitSession`` minimizes.

An objective is a least-squares problem in a parameter vector ``x`` (for a ``Loss`` this is
the model's free parameters in the transformed space): a residual vector ``u(x)`` with an
exact Jacobian ``J = du/dx``, and the loss ``½‖u‖²`` with its exact gradient ``Jᵀu``.
Optimizers never take finite differences of an objective; every derivative comes from
``residual_and_jacobian`` / ``loss_and_grad``.

``LeastSquaresObjective`` builds one from plain callables, for users with their own problem
and for testing the optimizers on problems with known minima.
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import LossError

Bounds = list[tuple[float | None, float | None]]


@runtime_checkable
class Objective(Protocol):
    """A least-squares objective with exact derivatives.

    Optional hook: an objective may define ``warmup()`` (e.g. to compile kernels); a
    ``FitSession`` calls it once before the optimization, announcing a "compiling" event.
    """

    def x0(self) -> np.ndarray:
        """Starting point (a fresh copy)."""

    def bounds(self) -> Bounds | None:
        """One ``(lo, hi)`` per component, ``None`` for an open side; or ``None`` for none."""

    def names(self) -> list[str]:
        """One label per component of ``x``, e.g. ``"A[0]"``."""

    def residual(self, x: np.ndarray) -> np.ndarray:
        """Residual vector ``u(x)``, shape (m,)."""

    def residual_and_jacobian(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(u, J)`` with ``J[i, k] = du_i/dx_k``, shape (m, n)."""

    def loss(self, x: np.ndarray) -> float:
        """``½‖u(x)‖²``."""

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(½‖u‖², Jᵀu)``."""

    def set_params(self, x: np.ndarray) -> None:
        """Store ``x`` as the current parameters (e.g. write them into the model)."""


def normalize_bounds(bounds, n: int, names: Sequence[str] | None = None) -> Bounds | None:
    """Check and normalise bounds to a list of ``(lo, hi)`` with ``None`` for open sides.

    Infinite values become ``None``; a bounds list whose entries are all open becomes
    ``None``. Raises ``LossError`` naming the component when the list is malformed.
    """
    if bounds is None:
        return None
    bounds = list(bounds)
    if len(bounds) != n:
        raise LossError(f"bounds has {len(bounds)} entries but there are {n} parameters")
    out: Bounds = []
    for k, pair in enumerate(bounds):
        label = names[k] if names is not None and k < len(names) else f"x[{k}]"
        try:
            lo, hi = pair
        except (TypeError, ValueError):
            raise LossError(f"bounds of {label}: expected a pair (lo, hi), got {pair!r}") from None
        lo = None if lo is None or np.isneginf(lo) else float(lo)
        hi = None if hi is None or np.isposinf(hi) else float(hi)
        if (lo is not None and np.isnan(lo)) or (hi is not None and np.isnan(hi)):
            raise LossError(f"bounds of {label} contain NaN: {pair!r}")
        if lo is not None and hi is not None and lo > hi:
            raise LossError(f"bounds of {label}: lower {lo} is greater than upper {hi}")
        out.append((lo, hi))
    if all(lo is None and hi is None for lo, hi in out):
        return None
    return out


def bounds_arrays(bounds: Bounds | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` float arrays with ``-inf`` / ``inf`` for open sides."""
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    if bounds is not None:
        for k, (a, b) in enumerate(bounds):
            if a is not None:
                lo[k] = a
            if b is not None:
                hi[k] = b
    return lo, hi


def format_params(names: Sequence[str], x: np.ndarray, limit: int = 12) -> str:
    """``"A[0]=1.5, B=0.3, ..."`` for messages."""
    x = np.asarray(x, dtype=float).ravel()
    parts = [
        f"{names[k] if k < len(names) else f'x[{k}]'}={x[k]:.8g}" for k in range(min(limit, x.size))
    ]
    if x.size > limit:
        parts.append(f"... ({x.size - limit} more)")
    return ", ".join(parts)


class LeastSquaresObjective:
    """An ``Objective`` from plain callables.

    Parameters
    ----------
    residual_fn : callable ``x -> u`` (shape (m,)).
    jacobian_fn : callable ``x -> J`` (shape (m, n)), the exact Jacobian. Required: the
        optimizers never approximate derivatives.
    x0 : starting point.
    bounds : optional list of ``(lo, hi)`` (``None`` or ``±inf`` for open sides).
    names : optional labels (default ``x[0]``, ``x[1]``, ...).
    on_set_params : optional callable ``x -> None`` run by ``set_params``.

    The current parameters are kept in ``self.params``.
    """

    def __init__(
        self,
        residual_fn: Callable[[np.ndarray], np.ndarray],
        jacobian_fn: Callable[[np.ndarray], np.ndarray],
        x0,
        bounds=None,
        names: Sequence[str] | None = None,
        on_set_params: Callable[[np.ndarray], None] | None = None,
    ):
        if not callable(residual_fn):
            raise LossError("residual_fn must be callable")
        if not callable(jacobian_fn):
            raise LossError(
                "jacobian_fn must be callable: optimizers use the exact Jacobian, "
                "never finite differences"
            )
        self._residual_fn = residual_fn
        self._jacobian_fn = jacobian_fn
        self._x0 = np.array(x0, dtype=float).ravel()
        n = self._x0.size
        if names is None:
            names = [f"x[{k}]" for k in range(n)]
        names = [str(s) for s in names]
        if len(names) != n:
            raise LossError(f"names has {len(names)} entries but there are {n} parameters")
        self._names = names
        self._bounds = normalize_bounds(bounds, n, names)
        self._on_set_params = on_set_params
        self.params = self._x0.copy()

    def x0(self) -> np.ndarray:
        return self._x0.copy()

    def bounds(self) -> Bounds | None:
        return None if self._bounds is None else list(self._bounds)

    def names(self) -> list[str]:
        return list(self._names)

    def residual(self, x) -> np.ndarray:
        return np.asarray(self._residual_fn(np.asarray(x, dtype=float)), dtype=float).ravel()

    def residual_and_jacobian(self, x) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=float)
        u = self.residual(x)
        J = np.asarray(self._jacobian_fn(x), dtype=float)
        if J.ndim == 1 and self._x0.size == 1:
            J = J.reshape(-1, 1)
        if J.shape != (u.size, self._x0.size):
            raise LossError(
                f"jacobian_fn returned shape {J.shape}, expected {(u.size, self._x0.size)}"
            )
        return u, J

    def loss(self, x) -> float:
        u = self.residual(x)
        return 0.5 * float(u @ u)

    def loss_and_grad(self, x) -> tuple[float, np.ndarray]:
        u, J = self.residual_and_jacobian(x)
        return 0.5 * float(u @ u), J.T @ u

    def set_params(self, x) -> None:
        self.params = np.array(x, dtype=float).ravel()
        if self._on_set_params is not None:
            self._on_set_params(self.params.copy())
