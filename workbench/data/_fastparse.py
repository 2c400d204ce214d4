"""Byte-level extended-XYZ parser for many files at once (the fast path of the reader).

All files of a batch are read into one byte buffer and parsed by a single numba call.
The parser accepts only a strict, common subset of the format: ASCII text, ``key=value``
pairs on the comment line, plain decimal numbers.  Anything else in a file -- a bare flag
key, a duplicated key, ``nan``, a hex float, a wrong column count, a non-ASCII byte, ... --
marks that file for the careful reader in :mod:`workbench.data.extxyz`, which produces the
values or the exact error message.  Accepted files therefore give the same result as the
careful reader.

Numbers: see :mod:`._fastnum` (exact, or left to Python's ``float()``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._fastnum import K_CELL, K_COORD, K_ENERGY, K_FORCE, K_STRESS, _floats, _is, _pbc, \
    _prefix_number, _push_slow, _ws

_W = [np.frombuffer(w.encode(), np.uint8) for w in (
    "lattice", "pbc", "energy", "stress", "properties",
    "species", "symbols", "element", "pos", "positions", "force", "forces")]
(_LATTICE, _PBC, _ENERGY, _STRESS, _PROPS, _SPECIES, _SYMBOLS, _ELEMENT, _POS, _POSITIONS,
 _FORCE, _FORCES) = _W
_MAXCOL = 256
# flags per file
F_LATTICE, F_ENERGY, F_FORCE, F_UNIFORM = 1, 2, 4, 8
__all__ = ["parse_batch", "K_COORD", "K_FORCE", "K_CELL", "K_ENERGY", "K_STRESS", "F_LATTICE",
           "F_ENERGY", "F_FORCE", "F_UNIFORM"]


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
        col = 0
        while True:
            while p < e and (buf[p] == 32 or buf[p] == 9):
                p += 1
            if p >= e or buf[p] == 10 or buf[p] == 13:
                break
            if col >= ncol:
                return -1, slow, nslow
            q = p
            role = roles[col]
            if role > 0:
                v, kd, p = _prefix_number(buf, q, e)
                if kd == 2 or (p < e and buf[p] != 32 and buf[p] != 9 and buf[p] != 10
                               and buf[p] != 13):
                    return -1, slow, nslow
                if role <= 3:
                    coords[a + j, role - 1] = v
                    if kd == 1:
                        slow, nslow = _push_slow(slow, nslow, f, K_COORD,
                                                 3 * (a + j) + role - 1, q, p)
                else:
                    forces[a + j, role - 4] = v
                    if kd == 1:
                        slow, nslow = _push_slow(slow, nslow, f, K_FORCE,
                                                 3 * (a + j) + role - 4, q, p)
            else:
                while p < e and buf[p] != 10 and buf[p] != 13 and buf[p] != 32 \
                        and buf[p] != 9:
                    p += 1
                if role == 0:
                    if p - q > 3:
                        return -1, slow, nslow
                    code = 0
                    for k in range(p - q):
                        code |= np.int64(buf[q + k]) << (8 * k)
                    spc[a + j] = code
                    if j == 0:
                        first = code
                    elif code != first:
                        fl &= ~F_UNIFORM
            col += 1
        if col != ncol:
            return -1, slow, nslow
        if p < e and buf[p] == 13:
            p += 1
        p += 1
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
