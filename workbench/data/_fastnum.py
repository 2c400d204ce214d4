"""Tokens and numbers for the batch extended-XYZ parser (:mod:`._fastparse`).

Numbers are converted exactly: a mantissa of at most 18 significant digits that is
<= 2**53, scaled by 10**e with |e| <= 22, is one correctly rounded multiplication or
division of two exactly representable doubles (Clinger's fast path), hence equal to
``float(text)``.  Other plain decimals are reported as "slow" tokens whose value the caller
sets with Python's ``float()``; anything else (``nan``, ``1_0``, hex, ...) as not a number.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_P10 = np.array([float(f"1e{k}") for k in range(23)])
_ONE, _T, _TRUE, _ZERO, _F, _FALSE = [np.frombuffer(w.encode(), np.uint8) for w in (
    "1", "t", "true", "0", "f", "false")]
# kinds of slow tokens: where the value goes
K_COORD, K_FORCE, K_CELL, K_ENERGY, K_STRESS = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True)
def _is(buf, s, e, word):
    """Bytes [s, e) equal ``word`` ignoring ASCII case."""
    if e - s != word.size:
        return False
    for k in range(word.size):
        c = buf[s + k]
        if 65 <= c <= 90:
            c += 32
        if c != word[k]:
            return False
    return True


@njit(cache=True, nogil=True)
def _number(buf, s, e):
    """(value, kind) of the token [s, e): kind 0 exact, 1 plain decimal that needs
    Python's float(), 2 anything else."""
    v, k, i = _prefix_number(buf, s, e)
    if i != e:
        return 0.0, 2
    return v, k


@njit(cache=True, nogil=True)
def _prefix_number(buf, s, e):
    """(value, kind, end): the decimal number that starts at s and ends before ``end``
    (kinds as in :func:`_number`)."""
    i = s
    neg = False
    c = buf[i]
    if c == 45 or c == 43:
        neg = c == 45
        i += 1
    m = 0
    nsig = 0
    ndig = 0
    dexp = 0
    big = False
    while i < e and 48 <= buf[i] <= 57:
        d = np.int64(buf[i]) - 48
        ndig += 1
        if m != 0 or d != 0:
            if nsig < 18:
                m = m * 10 + d
                nsig += 1
            else:
                big = True
        i += 1
    if i < e and buf[i] == 46:
        i += 1
        while i < e and 48 <= buf[i] <= 57:
            d = np.int64(buf[i]) - 48
            ndig += 1
            if m != 0 or d != 0:
                if nsig < 18:
                    m = m * 10 + d
                    nsig += 1
                    dexp -= 1
                else:
                    big = True
            else:
                dexp -= 1
            i += 1
    if ndig == 0:
        return 0.0, 2, i
    x = 0
    if i < e and (buf[i] == 101 or buf[i] == 69):
        i += 1
        eneg = False
        if i < e and (buf[i] == 45 or buf[i] == 43):
            eneg = buf[i] == 45
            i += 1
        nd = 0
        while i < e and 48 <= buf[i] <= 57:
            if nd < 6:
                x = x * 10 + (np.int64(buf[i]) - 48)
            else:
                big = True
            nd += 1
            i += 1
        if nd == 0:
            return 0.0, 2, i
        if eneg:
            x = -x
    if m == 0 and not big:
        return (-0.0 if neg else 0.0), 0, i
    x += dexp
    if big or m > 9007199254740992 or x < -22 or x > 22:
        return 0.0, 1, i
    v = np.float64(m)
    if x >= 0:
        v = v * _P10[x]
    else:
        v = v / _P10[-x]
    return (-v if neg else v), 0, i


@njit(cache=True, nogil=True)
def _ws(buf, p, e):
    while p < e and (buf[p] == 32 or buf[p] == 9):
        p += 1
    return p


@njit(cache=True, nogil=True)
def _tok_end(buf, p, e, comma):
    while p < e and buf[p] != 32 and buf[p] != 9 and not (comma and buf[p] == 44):
        p += 1
    return p


@njit(cache=True, nogil=True)
def _push_slow(slow, nslow, f, kind, idx, s, e):
    if nslow == slow.shape[0]:
        new = np.empty((2 * nslow, 5), np.int64)
        new[:nslow] = slow
        slow = new
    slow[nslow, 0] = f
    slow[nslow, 1] = kind
    slow[nslow, 2] = idx
    slow[nslow, 3] = s
    slow[nslow, 4] = e
    return slow, nslow + 1


@njit(cache=True, nogil=True)
def _floats(buf, s, e, out, row, maxn, f, kind, slow, nslow):
    """Parse the numbers of a header value into out[row, :]; returns (count or -1, ...)."""
    n = 0
    p = s
    while True:
        while p < e and (buf[p] == 32 or buf[p] == 9 or buf[p] == 44):
            p += 1
        if p >= e:
            break
        q = _tok_end(buf, p, e, True)
        if n >= maxn:
            return -1, slow, nslow
        v, k = _number(buf, p, q)
        if k == 2:
            return -1, slow, nslow
        out[row, n] = v
        if k == 1:
            slow, nslow = _push_slow(slow, nslow, f, kind, row * out.shape[1] + n, p, q)
        n += 1
        p = q
    return n, slow, nslow


@njit(cache=True, nogil=True)
def _pbc(buf, s, e, out, row):
    n = 0
    p = _ws(buf, s, e)
    while p < e:
        q = _tok_end(buf, p, e, False)
        if n >= 3:
            return False
        if _is(buf, p, q, _ONE) or _is(buf, p, q, _T) or _is(buf, p, q, _TRUE):
            out[row, n] = 1
        elif _is(buf, p, q, _ZERO) or _is(buf, p, q, _F) or _is(buf, p, q, _FALSE):
            out[row, n] = 0
        else:
            return False
        n += 1
        p = _ws(buf, q, e)
    return n == 3
