"""Atom lines of many files, stacked as the rows of one byte matrix, parsed with numpy.

Rows laid out like the first row (the same characters except digits, and a sign or a
space before each number), as in files written with a fixed format such as ``%12.5e``,
are parsed column by column: a number is ``mantissa * 10**e`` with an integer mantissa
read as a dot product of digit columns, and its value is Clinger's exact fast path -- one
correctly rounded multiplication or division of two exactly represented floats (mantissa
< 2**53, |e| <= 22), bit for bit what ``float()`` gives.  Numbers outside that path go
through ``float()`` one by one.  Rows of another layout are flagged, not guessed at.
"""

from __future__ import annotations

import os
import re

import numpy as np
from threadpoolctl import ThreadpoolController

from .checks import KNOWN_SPECIES

#: 10**k for k = -22..22 as a factor and as a divisor: a value is ``m * MUL[e] / DIV[e]``
#: (index e + 22), where one of the two is 1.0, so each value is one rounded operation.
_MUL = np.array([1.0] * 22 + [10.0 ** k for k in range(23)])
_DIV = np.array([10.0 ** k for k in range(22, 0, -1)] + [1.0] * 23)
#: rows parsed at a time: the temporaries of a chunk stay in the CPU caches
CHUNK_ROWS = 8192
#: rows below which a group is parsed on one thread (a second thread then costs more
#: than it saves)
SPLIT_ROWS = 16384
_controller = []


def _one_blas_thread():
    if not _controller:
        _controller.append(ThreadpoolController())
    return _controller[0].limit(limits=1, user_api="blas")


class Layout:
    """Where things are in every row: species width, digit columns, per column the range
    its byte must lie in, and per numeric field its mantissa digits, point and exponent."""

    __slots__ = ("width", "digits", "low", "span", "marks", "leads", "signs", "columns",
                 "fields", "lead_of", "sign_of", "frac", "place", "dtype")


def layout(rows, head):
    """The layout of the first row of ``rows`` (a (R, L) uint8 matrix), or None if that
    row is not species then numbers in the columns ``head`` names."""
    row = rows[0].tobytes()
    length = len(row)
    if not row.endswith(b"\n"):
        return None
    end = length - 2 if row.endswith(b"\r\n") else length - 1
    # the species end at the first column that is blank in every row
    width = next((c + 1 for c in range(1, min(end, 8)) if row[c] <= 32 and
                  (rows[:, c] <= 32).all()), None)
    if width is None:
        return None
    kinds = _kinds(row, width, end)
    if kinds is None:
        return None
    kinds += ["G"] * (length - end)
    fields, start = [], None
    for j, k in enumerate(kinds[:end - width] + ["G"]):
        if k == "G" and start is not None:
            fields.append((width + start, "".join(kinds[start:j])))
            start = None
        elif k != "G" and start is None:
            start = j
    if len(fields) + 1 != head.ncol:
        return None
    lay = Layout()
    lay.width = width
    lay.digits = [width + j for j, k in enumerate(kinds) if k == "D"]
    lay.leads = [width + j for j, k in enumerate(kinds) if k == "L"]
    lay.signs = [width + j for j, k in enumerate(kinds) if k == "S"]
    lay.marks = lay.leads + lay.signs
    # per column, its byte minus `low` must be <= `span` (uint8 arithmetic wraps bytes
    # below `low` to large values): digits 0-9, a lead ' '..'-', an exponent sign '+'..'-'
    # (',' and the bytes between ' ' and '+' are refused separately), others exactly
    low = np.frombuffer(row, np.uint8).copy()
    span = np.zeros(length, np.uint8)
    low[:width], span[:width] = 0, 255  # species: checked by _species
    for j, k in enumerate(kinds):
        low[width + j], span[width + j] = {"D": (48, 9), "L": (32, 13), "S": (43, 2)}.get(
            k, (low[width + j], 0))
    lay.low, lay.span = low, span
    wanted = [head.pos_col] + ([head.force_col] if head.force_col is not None else [])
    lay.columns = [col[3] for col in wanted]  # three fields each, in this order
    where = {c: k for k, c in enumerate(lay.digits)}
    lay.fields, lay.lead_of, lay.sign_of = [], [], []
    for col in wanted:
        for c in range(3):
            first, spelled = fields[col[3] + c - 1]
            field = _field(first, spelled, where)
            if field is None:
                return None
            lay.fields.append(field)
    _plan(lay)
    return lay


def _kinds(row, width, end):
    """Per byte from ``width`` to ``end``: D digit, . point, E exponent mark, S exponent
    sign, L a sign or space leading a number, G a gap; None for anything else."""
    kinds = []
    for j in range(width, end):
        c = row[j]
        nxt = row[j + 1] if j + 1 < end else 32
        prev = kinds[-1] if kinds else "G"
        starts_number = 48 <= nxt <= 57 or nxt == 46
        if 48 <= c <= 57:
            kinds.append("D")
        elif c == 46:
            kinds.append(".")
        elif c in (69, 101):
            kinds.append("E")
        elif c in (43, 45) and prev == "E":
            kinds.append("S")
        elif c in (32, 43, 45) and prev == "G" and starts_number:
            kinds.append("L")
        elif c == 32:
            kinds.append("G")
        else:
            return None
    return kinds


def _field(first, spelled, where):
    """(lead column or None, mantissa digit indices, fraction digits, exponent sign column
    or None, exponent digit indices, first column, end column) of one number."""
    m = re.fullmatch(r"(L?)([D.]+)(?:E(S?)(D+))?", spelled)
    if m is None or spelled.count(".") > 1 or "D" not in m.group(2):
        return None
    mant = [where[first + m.start(2) + k] for k, ch in enumerate(m.group(2)) if ch == "D"]
    point = m.group(2).find(".")
    frac = 0 if point < 0 else m.group(2).count("D", point)
    exp = [where[first + k] for k in range(m.start(4), m.end(4))] if m.group(4) else []
    return (first if m.group(1) else None, mant, frac,
            first + m.start(3) if m.group(3) else None, exp, first, first + len(spelled))


def _plan(lay):
    """The arithmetic of a layout: place values of the digit columns per mantissa and
    exponent, fraction digits, and which mark column signs which field."""
    nf = len(lay.fields)
    place = np.zeros((len(lay.digits), 2 * nf))
    frac = np.zeros((nf, 1))
    most = 0
    mark = {c: k for k, c in enumerate(lay.marks)}
    for f, (lead, md, fr, sign, ed, _, _) in enumerate(lay.fields):
        place[md, f] = 10.0 ** np.arange(len(md) - 1, -1, -1)
        place[ed, nf + f] = 10.0 ** np.arange(len(ed) - 1, -1, -1)
        frac[f] = fr
        most = max(most, len(md), len(ed))
        if lead is not None:
            lay.lead_of.append((f, mark[lead]))
        if sign is not None:
            lay.sign_of.append((f, mark[sign]))
    # One product gives every mantissa (as an integer) and exponent.  It is exact when
    # every partial sum is an integer the type holds exactly: below 2**24 in float32 (7
    # digits), below 2**53 in float64 (15 digits; longer mantissas go through float()).
    lay.dtype = np.float32 if most <= 7 else np.float64 if most <= 15 else None
    lay.place = place.T.astype(lay.dtype or np.float64)
    lay.frac = frac


def parse_rows(rows, lay, head):
    """(species per row, {first Properties column: (R, 3) values}, per-row ok flags: False
    for rows of another layout or with values the careful reader must judge).

    Rows are parsed in chunks of :data:`CHUNK_ROWS`; a large group is shared between two
    threads (the work is numpy on byte matrices, which runs without the GIL)."""
    species = _species(rows, lay.width)
    if species is None:
        return None
    outputs = [np.empty((len(rows), 3)) for _ in lay.columns]
    ok = np.empty(len(rows), bool)

    def parse(chunks):
        for a in chunks:
            b = min(a + CHUNK_ROWS, len(rows))
            v, ok[a:b] = _parse_numbers(rows[a:b], lay)
            for k, out in enumerate(outputs):
                out[a:b] = v[3 * k:3 * k + 3].T

    chunks = list(range(0, len(rows), CHUNK_ROWS))
    with _one_blas_thread():  # entered once here: threadpoolctl limits are process-wide
        if len(rows) < SPLIT_ROWS or (os.cpu_count() or 1) < 2 or \
                not _on_two_threads(parse, chunks[::2], chunks[1::2]):
            parse(chunks)
    return species, dict(zip(lay.columns, outputs)), ok


def _on_two_threads(work, mine, theirs):
    """``work(theirs)`` on a helper thread while this thread does ``work(mine)``; False
    (nothing done) when no thread can be started (the interpreter is exiting)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="workbench-read") as pool:
        try:
            other = pool.submit(work, theirs)
        except RuntimeError:
            return False
        work(mine)
        other.result()
    return True


def _parse_numbers(rows, lay):
    """((3 per column, R) values, (R,) ok flags) of the numeric fields of ``rows``."""
    ok = np.ones(rows.shape[0], bool)
    outside = (rows - lay.low) > lay.span
    if outside.any():
        ok[np.flatnonzero(outside) // rows.shape[1]] = False
    neg = None
    if lay.marks:
        marks = np.take(rows, lay.marks, axis=1)
        # within range, still refused: ',' anywhere, '!'..'*' before a number
        refused = marks == 44
        refused[:, :len(lay.leads)] |= (marks[:, :len(lay.leads)] - np.uint8(33)) < 10
        if refused.any():
            ok[np.flatnonzero(refused) // len(lay.marks)] = False
        neg = np.ascontiguousarray((marks == 45).T)
    # np.take along an axis is several times faster than fancy indexing here
    digits = np.take(rows, lay.digits, axis=1)
    digits -= np.uint8(48)
    dtype = lay.dtype or np.float64
    # (2 nf, R): one C-contiguous row per field (one BLAS thread: the caller's limit)
    both = (lay.place @ digits.astype(dtype).T).astype(np.float64)
    nf = len(lay.fields)
    value, e = both[:nf], both[nf:]
    for f, k in lay.sign_of:
        np.negative(e[f], out=e[f], where=neg[k])
    e -= lay.frac
    lo, hi = e.min(initial=0.0), e.max(initial=0.0)
    index = (e + 22.0).astype(np.intp)
    slow = None
    if lo < -22.0 or hi > 22.0 or lay.dtype is None:  # outside the exact fast path
        slow = (np.abs(e) > 22.0) if lay.dtype is not None else np.ones(e.shape, bool)
        np.clip(index, 0, 44, out=index)
    v = value * np.take(_MUL, index)
    v /= np.take(_DIV, index)
    for f, k in lay.lead_of:
        np.negative(v[f], out=v[f], where=neg[k])  # exact; gives -0.0 for "-0.0"
    if slow is not None:
        for f, r in np.argwhere(slow & ok[None, :]).tolist():
            first, stop = lay.fields[f][5:]
            v[f, r] = float(rows[r, first:stop].tobytes())
    finite = np.isfinite(v)
    if not finite.all():
        ok &= finite.all(axis=0)
    return v, ok


def _species(rows, width):
    """The species of each row from its first ``width`` bytes (at most 8), or None if one
    is not a known symbol."""
    sub = np.zeros((len(rows), 8), np.uint8)
    sub[:, :width] = rows[:, :width]
    key = sub.view("<u8")[:, 0]
    if (key == key[0]).all():
        sym = sub[0].tobytes().rstrip(b"\0").decode("ascii", "replace").strip()
        return _Uniform(sym) if sym in KNOWN_SPECIES else None
    uniq, inverse = np.unique(key, return_inverse=True)
    names = []
    for u in uniq.tolist():
        sym = int(u).to_bytes(8, "little").rstrip(b"\0").decode("ascii", "replace")
        if sym.strip() not in KNOWN_SPECIES or " " in sym.strip() or sym[0] == " ":
            return None
        names.append(sym.strip())
    return _Mixed(names, inverse.reshape(-1))


class _Uniform:
    def __init__(self, sym):
        self.sym = sym

    def __getitem__(self, sl):
        return [self.sym] * (sl.stop - sl.start)


class _Mixed:
    def __init__(self, names, codes):
        self.names, self.codes = names, codes

    def __getitem__(self, sl):
        names = self.names
        return [names[c] for c in self.codes[sl].tolist()]
