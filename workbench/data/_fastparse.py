"""Byte-level extended-XYZ parser for many files at once (the fast path of the reader).

All files of a batch are read into one byte buffer and parsed by a single numba call.
The parser accepts only a strict, common subset of the format: ASCII text, ``key=value``
pairs on the comment line, plain decimal numbers.  Anything else in a file -- a bare flag
key, a duplicated key, ``nan``, a hex float, a wrong column count, a non-ASCII byte, ... --
marks that file for the careful reader in :mod:`workbench.data.extxyz`, which produces the
values or the exact error message.  Accepted files therefore give the same result as the
careful reader.

Numbers are converted exactly: a mantissa of at most 18 significant digits that is
<= 2**53, scaled by 10**e with |e| <= 22, is one correctly rounded multiplication or
division of two exactly representable doubles (Clinger's fast path), hence equal to
``float(text)``.  Tokens outside that range are left to Python's ``float()``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_P10 = np.array([float(f"1e{k}") for k in range(23)])
_W = [np.frombuffer(w.encode(), np.uint8) for w in (
    "lattice", "pbc", "energy", "stress", "properties",
    "species", "symbols", "element", "pos", "positions", "force", "forces",
    "1", "t", "true", "0", "f", "false")]
(_LATTICE, _PBC, _ENERGY, _STRESS, _PROPS, _SPECIES, _SYMBOLS, _ELEMENT, _POS, _POSITIONS,
 _FORCE, _FORCES, _ONE, _T, _TRUE, _ZERO, _F, _FALSE) = _W
_MAXCOL = 256
# kinds of slow tokens: where the value goes
K_COORD, K_FORCE, K_CELL, K_ENERGY, K_STRESS = 0, 1, 2, 3, 4
# flags per file
F_LATTICE, F_ENERGY, F_FORCE, F_UNIFORM = 1, 2, 4, 8


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
        return 0.0, 2
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
            return 0.0, 2
        if eneg:
            x = -x
    if i != e:
        return 0.0, 2
    if m == 0 and not big:
        return (-0.0 if neg else 0.0), 0
    x += dexp
    if big or m > 9007199254740992 or x < -22 or x > 22:
        return 0.0, 1
    v = np.float64(m)
    if x >= 0:
        v = v * _P10[x]
    else:
        v = v / _P10[-x]
    return (-v if neg else v), 0


@njit(cache=True, nogil=True)
def _scan(buf, bounds):
    """Per file: 1 if it holds only printable ASCII, tab, LF and CRLF; total line count."""
    nf = bounds.size - 1
    clean = np.zeros(nf, np.uint8)
    lines = 0
    for f in range(nf):
        bad = 0
        cr = 0
        nl = 0
        for i in range(bounds[f], bounds[f + 1]):
            c = buf[i]
            bad += (c >= 128) | ((c < 32) & (c != 9) & (c != 10) & (c != 13))
            cr += c == 13
            nl += c == 10
        if cr:
            for i in range(bounds[f], bounds[f + 1]):
                if buf[i] == 13 and (i + 1 == bounds[f + 1] or buf[i + 1] != 10):
                    bad += 1
        clean[f] = bad == 0
        lines += nl + 1
    return clean, lines


@njit(cache=True, nogil=True)
def _line(buf, p, e):
    """(content end, next line start) of the line starting at p."""
    j = p
    while j < e and buf[j] != 10:
        j += 1
    ce = j
    if ce > p and buf[ce - 1] == 13:
        ce -= 1
    return ce, (j + 1 if j < e else e)


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


@njit(cache=True, nogil=True)
def _layout(buf, s, e, roles):
    """Fill roles[col] (-1 ignored, 0 species, 1-3 position, 4-6 force) from a Properties
    value; returns (ncol, has_force) or (-1, False) when the careful reader must judge."""
    roles[:] = -1
    col = 0
    sp = pos = frc = False
    p = s
    while True:
        ns = p
        while p < e and buf[p] != 58:
            p += 1
        ne = p
        if p >= e:
            return -1, False
        ts = p + 1
        p = ts
        while p < e and buf[p] != 58:
            p += 1
        if p >= e or p - ts != 1:
            return -1, False
        t = buf[ts] | 32
        if t != 115 and t != 114 and t != 105 and t != 108:
            return -1, False
        cs = p + 1
        p = cs
        cnt = 0
        while p < e and buf[p] != 58:
            if not (48 <= buf[p] <= 57) or p - cs >= 4:
                return -1, False
            cnt = cnt * 10 + (np.int64(buf[p]) - 48)
            p += 1
        if cnt < 1 or col + cnt > _MAXCOL:
            return -1, False
        if not sp and (_is(buf, ns, ne, _SPECIES) or _is(buf, ns, ne, _SYMBOLS)
                       or _is(buf, ns, ne, _ELEMENT)):
            sp = True
            if cnt != 1 or t != 115:
                return -1, False
            roles[col] = 0
        elif not pos and (_is(buf, ns, ne, _POS) or _is(buf, ns, ne, _POSITIONS)):
            pos = True
            if cnt != 3:
                return -1, False
            for k in range(3):
                roles[col + k] = 1 + k
        elif not frc and (_is(buf, ns, ne, _FORCE) or _is(buf, ns, ne, _FORCES)):
            frc = True
            if cnt != 3:
                return -1, False
            for k in range(3):
                roles[col + k] = 4 + k
        col += cnt
        if p >= e:
            break
        p += 1
    if not (sp and pos):
        return -1, False
    return col, frc


@njit(cache=True, nogil=True)
def _comment(buf, s, e, spans):
    """Record the value spans of Lattice, PBC, Energy, Stress, Properties; False when the
    line is not plain ``key=value`` pairs or one of these keys appears twice."""
    spans[:] = -1
    p = s
    while True:
        p = _ws(buf, p, e)
        if p >= e:
            return True
        ks = p
        while p < e and buf[p] != 32 and buf[p] != 9 and buf[p] != 61 and buf[p] != 34 \
                and buf[p] != 39:
            p += 1
        ke = p
        if ke == ks:
            return False
        p = _ws(buf, p, e)
        if p >= e or buf[p] != 61:
            return False
        p = _ws(buf, p + 1, e)
        if p >= e:
            return False
        c = buf[p]
        if c == 34 or c == 39 or c == 123:
            close = 125 if c == 123 else c
            vs = p + 1
            p = vs
            while p < e and buf[p] != close:
                p += 1
            if p >= e:
                return False
            ve = p
            p += 1
        else:
            vs = p
            while p < e and buf[p] != 32 and buf[p] != 9 and buf[p] != 34 and buf[p] != 39 \
                    and buf[p] != 123:
                p += 1
            ve = p
            if p < e and buf[p] != 32 and buf[p] != 9:
                return False
        key = -1
        if _is(buf, ks, ke, _LATTICE):
            key = 0
        elif _is(buf, ks, ke, _PBC):
            key = 1
        elif _is(buf, ks, ke, _ENERGY):
            key = 2
        elif _is(buf, ks, ke, _STRESS):
            key = 3
        elif _is(buf, ks, ke, _PROPS):
            key = 4
        if key >= 0:
            if spans[key, 0] >= 0:
                return False
            spans[key, 0] = vs
            spans[key, 1] = ve


@njit(cache=True, nogil=True)
def _file(buf, s, e, f, a, roles, spans, cell, pbc, energy, stress, nstress, flags, coords,
          forces, spc, slow, nslow):
    """Parse one file; returns (number of atoms or -1, slow, nslow)."""
    ce, p = _line(buf, s, e)
    q = _ws(buf, s, ce)
    if q < ce and buf[q] == 43:
        q += 1
    n = 0
    nd = 0
    while q < ce and 48 <= buf[q] <= 57:
        n = n * 10 + (np.int64(buf[q]) - 48)
        nd += 1
        q += 1
    if nd == 0 or nd > 9 or n < 1 or _ws(buf, q, ce) != ce or p >= e:
        return -1, slow, nslow
    ce, nxt = _line(buf, p, e)
    if not _comment(buf, p, ce, spans):
        return -1, slow, nslow
    p = nxt
    fl = 0
    if spans[0, 0] >= 0:
        fl |= F_LATTICE
        k, slow, nslow = _floats(buf, spans[0, 0], spans[0, 1], cell, f, 9, f, K_CELL,
                                 slow, nslow)
        if k != 9:
            return -1, slow, nslow
    else:
        cell[f, :] = 0.0
    if spans[1, 0] >= 0:
        if not _pbc(buf, spans[1, 0], spans[1, 1], pbc, f):
            return -1, slow, nslow
        if not fl & F_LATTICE and (pbc[f, 0] or pbc[f, 1] or pbc[f, 2]):
            return -1, slow, nslow
    else:
        pbc[f, :] = 1 if fl & F_LATTICE else 0
    if spans[2, 0] >= 0:
        fl |= F_ENERGY
        k, slow, nslow = _floats(buf, spans[2, 0], spans[2, 1], energy, f, 1, f, K_ENERGY,
                                 slow, nslow)
        if k != 1:
            return -1, slow, nslow
    nstress[f] = 0
    if spans[3, 0] >= 0:
        k, slow, nslow = _floats(buf, spans[3, 0], spans[3, 1], stress, f, 9, f, K_STRESS,
                                 slow, nslow)
        if k != 6 and k != 9:
            return -1, slow, nslow
        nstress[f] = k
    if spans[4, 0] >= 0:
        ncol, frc = _layout(buf, spans[4, 0], spans[4, 1], roles)
        if ncol < 0:
            return -1, slow, nslow
    else:
        roles[:] = -1
        for k in range(4):
            roles[k] = k
        ncol, frc = 4, False
    if frc:
        fl |= F_FORCE
    first = -1
    fl |= F_UNIFORM
    for j in range(n):
        if p >= e:
            return -1, slow, nslow
        ce, nxt = _line(buf, p, e)
        col = 0
        q = _ws(buf, p, ce)
        while q < ce:
            r = _tok_end(buf, q, ce, False)
            if col >= ncol:
                return -1, slow, nslow
            role = roles[col]
            if role == 0:
                if r - q > 3:
                    return -1, slow, nslow
                code = 0
                for k in range(r - q):
                    code |= np.int64(buf[q + k]) << (8 * k)
                spc[a + j] = code
                if j == 0:
                    first = code
                elif code != first:
                    fl &= ~F_UNIFORM
            elif role > 0:
                v, kd = _number(buf, q, r)
                if kd == 2:
                    return -1, slow, nslow
                if role <= 3:
                    coords[a + j, role - 1] = v
                    if kd == 1:
                        slow, nslow = _push_slow(slow, nslow, f, K_COORD,
                                                 3 * (a + j) + role - 1, q, r)
                else:
                    forces[a + j, role - 4] = v
                    if kd == 1:
                        slow, nslow = _push_slow(slow, nslow, f, K_FORCE,
                                                 3 * (a + j) + role - 4, q, r)
            col += 1
            q = _ws(buf, r, ce)
        if col != ncol:
            return -1, slow, nslow
        p = nxt
    for i in range(p, e):
        c = buf[i]
        if c != 32 and c != 9 and c != 10 and c != 13:
            return -1, slow, nslow
    flags[f] = fl
    return n, slow, nslow


@njit(cache=True, nogil=True)
def parse_batch(buf, bounds):
    """Parse the files buf[bounds[f]:bounds[f + 1]].  ``status[f]`` is 0 when file f was
    parsed (its atoms are rows aoff[f]:aoff[f] + natoms[f] of coords/forces/spc), 1 when
    the careful reader must handle it.  ``slow[:nslow]`` lists tokens (file, kind, flat
    index, start, end) whose value must still be set with Python's float()."""
    nf = bounds.size - 1
    clean, nlines = _scan(buf, bounds)
    status = np.ones(nf, np.uint8)
    natoms = np.zeros(nf, np.int64)
    aoff = np.zeros(nf, np.int64)
    flags = np.zeros(nf, np.uint8)
    nstress = np.zeros(nf, np.int64)
    cell = np.zeros((nf, 9))
    pbc = np.zeros((nf, 3), np.uint8)
    energy = np.zeros((nf, 1))
    stress = np.zeros((nf, 9))
    coords = np.empty((nlines, 3))
    forces = np.empty((nlines, 3))
    spc = np.empty(nlines, np.int64)
    slow = np.empty((64, 5), np.int64)
    nslow = 0
    roles = np.empty(_MAXCOL, np.int64)
    spans = np.empty((5, 2), np.int64)
    a = 0
    for f in range(nf):
        if not clean[f]:
            continue
        s0 = nslow
        n, slow, nslow = _file(buf, bounds[f], bounds[f + 1], f, a, roles, spans, cell, pbc,
                               energy, stress, nstress, flags, coords, forces, spc, slow,
                               nslow)
        if n < 0:
            nslow = s0
            continue
        status[f] = 0
        natoms[f] = n
        aoff[f] = a
        a += n
    return (status, natoms, aoff, flags, nstress, cell, pbc, energy[:, 0], stress,
            coords, forces, spc, slow[:nslow])
