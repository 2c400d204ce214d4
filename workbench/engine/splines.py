"""Natural cubic splines on arbitrary knots (numpy side of the EAM engine).

``m = S y`` gives the knot second derivatives of the natural spline through (x, y);
values, the end slope and the basis matrix follow from the usual per-interval cubic.
Outside the knots a spline continues linearly (the natural end makes that C2); a
*radial* spline is zero at and beyond its last knot.
"""

from __future__ import annotations

import numpy as np


def natural_spline_matrix(x) -> np.ndarray:
    """(n, n) matrix S with m = S y: second derivatives of the natural cubic spline
    through (x, y) at its knots (m_0 = m_n-1 = 0)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    S = np.zeros((n, n))
    if n < 3:
        return S
    h = np.diff(x)
    A = np.zeros((n - 2, n - 2))
    R = np.zeros((n - 2, n))
    for k in range(1, n - 1):
        r = k - 1
        A[r, r] = (h[k - 1] + h[k]) / 3.0
        if r > 0:
            A[r, r - 1] = h[k - 1] / 6.0
        if r < n - 3:
            A[r, r + 1] = h[k] / 6.0
        R[r, k - 1] = 1.0 / h[k - 1]
        R[r, k] = -1.0 / h[k - 1] - 1.0 / h[k]
        R[r, k + 1] = 1.0 / h[k]
    S[1:-1] = np.linalg.solve(A, R)
    return S


def end_slope_weights(x, S=None) -> np.ndarray:
    """w with f'(x_last) = w . y for the natural spline through (x, y)."""
    x = np.asarray(x, dtype=float)
    S = natural_spline_matrix(x) if S is None else S
    h = x[-1] - x[-2]
    w = h / 6.0 * S[-2] + h / 3.0 * S[-1]
    w[-1] += 1.0 / h
    w[-2] -= 1.0 / h
    return w


def natural_second_derivatives(x, y) -> np.ndarray:
    """Second derivatives at the knots of the natural cubic spline through (x, y)."""
    from scipy.linalg import solve_banded

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    m = np.zeros(n)
    if n < 3:
        return m
    h = np.diff(x)
    ab = np.zeros((3, n - 2))
    ab[1] = (h[:-1] + h[1:]) / 3.0
    ab[0, 1:] = h[1:-1] / 6.0
    ab[2, :-1] = h[1:-1] / 6.0
    rhs = (y[2:] - y[1:-1]) / h[1:] - (y[1:-1] - y[:-2]) / h[:-1]
    m[1:-1] = solve_banded((1, 1), ab, rhs)
    return m


def spline_basis(x, t, radial: bool) -> np.ndarray:
    """(len(t), len(x)) matrix B with f(t) = B y for the natural spline through (x, y)
    (continued linearly outside the knots; radial: zero at and beyond the last knot)."""
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float).ravel()
    S = natural_spline_matrix(x)
    n = x.size
    B = np.zeros((t.size, n))
    i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, n - 2)
    h = x[i + 1] - x[i]
    A = (x[i + 1] - t) / h
    Bc = 1.0 - A
    inside = (t >= x[0]) & (t <= x[-1])
    c2 = np.where(inside, (A ** 3 - A) * h * h / 6.0, 0.0)
    c3 = np.where(inside, (Bc ** 3 - Bc) * h * h / 6.0, 0.0)
    left = t < x[0]
    right = t > x[-1]
    # linear continuation: value + slope * distance, slope of the natural end
    u = np.where(left, t - x[0], np.where(right, t - x[-1], 0.0))
    c2 = np.where(left, -u * h / 3.0, np.where(right, u * h / 6.0, c2))
    c3 = np.where(left, -u * h / 6.0, np.where(right, u * h / 3.0, c3))
    A = np.where(left, 1.0 - u / h, np.where(right, -u / h, A))
    Bc = np.where(left, u / h, np.where(right, 1.0 + u / h, Bc))
    rows = np.arange(t.size)
    np.add.at(B, (rows, i), A)
    np.add.at(B, (rows, i + 1), Bc)
    B += c2[:, None] * S[i] + c3[:, None] * S[i + 1]
    if radial:
        B[t >= x[-1]] = 0.0
    return B


def spline_values(x, y, t, radial: bool) -> np.ndarray:
    """Values of the natural spline through (x, y) at t (see :func:`spline_basis`)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float).ravel()
    m = natural_second_derivatives(x, y)
    n = x.size
    i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, n - 2)
    h = x[i + 1] - x[i]
    A = (x[i + 1] - t) / h
    B = 1.0 - A
    out = A * y[i] + B * y[i + 1] + ((A ** 3 - A) * m[i] + (B ** 3 - B) * m[i + 1]) * h * h / 6
    h0, h1 = x[1] - x[0], x[-1] - x[-2]
    s0 = (y[1] - y[0]) / h0 - h0 / 3.0 * m[0] - h0 / 6.0 * m[1]
    s1 = (y[-1] - y[-2]) / h1 + h1 / 6.0 * m[-2] + h1 / 3.0 * m[-1]
    out = np.where(t < x[0], y[0] + s0 * (t - x[0]), out)
    out = np.where(t > x[-1], y[-1] + s1 * (t - x[-1]), out)
    if radial:
        out = np.where(t >= x[-1], 0.0, out)
    return out
