"""Read many extended-XYZ files at once with numpy (no compilation, no per-number Python).

Comment lines: files of one data set usually differ only in the numbers on their comment
line.  The first comment line of each shape (the text between its numbers) is parsed by
the careful reader's :func:`workbench.data.extxyz.parse_header`; later lines of the same
shape only have their numbers converted, by the same rules (plain decimals, finite,
0/1 PBC flags, a right-handed non-singular cell), so values and outcomes are the same.

Atom blocks: files whose atom lines all have one length are stacked as the rows of one
byte matrix per (line length, Properties) group.  Rows laid out like the first row (the
same characters except digits, and a sign or a space before each number), as in files
written with a fixed format such as ``%12.5e``, are parsed column by column: a number is
``mantissa * 10**e`` with an integer mantissa read as a dot product of digit columns, and
its value is Clinger's exact fast path -- one correctly rounded multiplication or division
of two exactly represented floats (mantissa < 2**53, |e| <= 22), bit for bit what
``float()`` gives.  Numbers outside that path go through ``float()`` one by one.

Anything else (ragged lines, other layouts, several frames, unusual characters, a
missing final newline...) is answered with None: the careful reader reads that file and
names any problem.
"""

from __future__ import annotations

import copy
import os
import re

import numpy as np
from threadpoolctl import ThreadpoolController

from workbench.errors import DatasetError

from .checks import KNOWN_SPECIES, VOIGT_FROM_NINE
from .configuration import Configuration
from .extxyz import _KV, parse_header, warn_if_no_forces

_POW10 = np.array([10.0 ** k for k in range(23)])
#: Candidate numbers on a comment line; a candidate Python's float() rejects (``1.2.3``)
#: sends the file to the careful reader, and float() accepts exactly the plain decimals
#: among strings of these characters.
_NUMBER = re.compile(r"([-+.0-9][-+.0-9eE]*)")
_FLAG = {"1": True, "0": False}
_CHUNK = 1 << 16
_controller = []


def _one_blas_thread():
    if not _controller:
        _controller.append(ThreadpoolController())
    return _controller[0].limit(limits=1, user_api="blas")


def read_configs(paths, weight=None) -> list:
    """Per path (a string): a Configuration, a DatasetError raised by ``weight`` for it, or
    None when the careful reader must read the file."""
    out: list = [None] * len(paths)
    groups: dict = {}
    shapes: dict = {}
    for k, path in enumerate(paths):
        got = _header(path, shapes)
        if got is not None:
            shape, values, block, length = got
            groups.setdefault((length, shape.head.properties), []).append(
                (k, shape, values, block))
    for (length, _), members in groups.items():
        _read_group(members, length, paths, weight, out)
    return out


def _read_bytes(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:  # one read for the usual small file (no fstat: a system call saved per file)
        data = os.read(fd, _CHUNK)
        if len(data) == _CHUNK:
            chunks = [data]
            while chunks[-1]:
                chunks.append(os.read(fd, 1 << 20))
            data = b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data


# -- comment lines -----------------------------------------------------------------------
class _Shape:
    """How to read a comment line of one shape: the Header of its first line, and which
    number goes where."""

    __slots__ = ("head", "lattice", "energy", "stress", "pbc")

    def __init__(self, head, comment):
        self.head = head
        slots: dict[str, list[int]] = {}
        spans = {}
        for m in _KV.finditer(comment):
            for g in (2, 3, 4, 5):
                if m.group(g) is not None:
                    spans[m.group(1).lower()] = m.span(g)
        for k, m in enumerate(_NUMBER.finditer(comment)):
            for key, (a, b) in spans.items():
                if a <= m.start() and m.end() <= b:
                    slots.setdefault(key, []).append(k)
        self.lattice = slots.get("lattice", [])
        self.energy = slots.get("energy", [])
        self.stress = slots.get("stress", [])
        self.pbc = slots.get("pbc", [])
        ok = (len(self.lattice) == (9 if "lattice" in spans else 0)
              and len(self.energy) == (head.energy is not None)
              and len(self.stress) in ((0,) if head.stress is None else (6, 9))
              and len(self.pbc) in (0, 3))
        if not ok:  # values spelled otherwise: leave every line of this shape to the reader
            self.head = None

    def values(self, nums):
        """(cell as 9 floats, pbc, energy, stress) from this line's numbers, or None if a
        value would make the careful reader complain (non-finite, a PBC flag other than
        0/1); the cell itself is checked with its group (:func:`_bad_cells`)."""
        head = self.head
        pbc = list(head.pbc)
        if self.pbc:
            try:
                pbc = [_FLAG[nums[k]] for k in self.pbc]
            except KeyError:
                return None
        try:
            if self.lattice:
                cell = [float(nums[k]) for k in self.lattice]  # an array made per group
                total = sum(cell)
                if total - total != 0.0:  # NaN or inf somewhere
                    return None
            elif any(pbc):
                return None
            else:
                cell = head.cell.ravel().tolist()
            energy = None
            if self.energy:
                energy = float(nums[self.energy[0]])
                if energy - energy != 0.0:
                    return None
            stress = None
            if self.stress:
                sv = [float(nums[k]) for k in self.stress]
                if any(v - v != 0.0 for v in sv):
                    return None
                stress = np.array(sv if len(sv) == 6 else [sv[k] for k in VOIGT_FROM_NINE])
        except ValueError:
            return None
        return cell, pbc, energy, stress


def _header(path, shapes):
    """(shape, (cell, pbc, energy, stress), atom-block bytes, line length) for a file the
    batch can take, else None."""
    data = _read_bytes(path)
    if not data or not data.isascii():
        return None
    i = data.find(b"\n")
    j = data.find(b"\n", i + 1)
    if i < 0 or j < 0:
        return None
    count = data[:i].strip()
    if not count.isdigit():
        return None
    comment = data[i + 1:j].decode().rstrip("\r")
    parts = _NUMBER.split(comment)
    key = (count, "\0".join(parts[0::2]))
    shape = shapes.get(key)
    if shape is None:
        try:
            head = parse_header(data[:i].decode().rstrip("\r"), comment, path)
        except DatasetError:  # maybe this line's values only: the next line may do
            return None
        shape = shapes[key] = _Shape(head, comment)
    if shape.head is None:
        return None
    values = shape.values(parts[1::2])
    if values is None:
        return None
    n = shape.head.natoms
    length = data.find(b"\n", j + 1, j + 200) - j
    if length <= 1 or len(data) - j - 1 < n * length:
        return None
    end = j + 1 + n * length
    if len(data) > end and data[end:].strip():
        return None  # another frame, or too many lines: the careful reader explains
    return shape, values, memoryview(data)[j + 1:end], length


# -- atom blocks -------------------------------------------------------------------------
def _read_group(members, length, paths, weight, out):
    head = members[0][1].head
    if head.species_col[3] != 0:
        return
    rows = np.frombuffer(b"".join(m[3] for m in members), np.uint8).reshape(-1, length)
    layout = _layout(rows[0].tobytes(), rows, head)
    if layout is None:
        return
    got = _parse_rows(rows, layout, head)
    if got is None:
        return
    species, columns, ok = got
    pos = columns[head.pos_col[3]]
    frc = None if head.force_col is None else columns[head.force_col[3]]
    sizes = [m[1].head.natoms for m in members]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    good = np.minimum.reduceat(ok, starts[:-1])
    cells = np.array([m[2][0] for m in members]).reshape(-1, 3, 3)
    pbcs = np.array([m[2][1] for m in members], dtype=bool)
    good &= ~_bad_cells(cells, pbcs)
    trusted = Configuration._trusted
    for (k, shape, (_, pbc, energy, stress), _), cell, a, b, fine in zip(
            members, cells, starts[:-1].tolist(), starts[1:].tolist(), good.tolist()):
        if not fine:
            continue
        forces = None if frc is None else frc[a:b]
        warn_if_no_forces(shape.head, paths[k])
        try:
            out[k] = trusted(cell, species[a:b], pos[a:b], pbc, energy, forces, stress,
                             paths[k], weight)
        except DatasetError as exc:
            out[k] = exc


def _bad_cells(cells, pbcs):
    """(F,) True where :func:`workbench.data.checks.cell_problem` would object, or the
    cell is too close to its singularity threshold to decide here."""
    a, b, c = cells[:, 0], cells[:, 1], cells[:, 2]
    det = np.einsum("ij,ij->i", a, np.cross(b, c))
    scale = np.sqrt((a * a).sum(1) * (b * b).sum(1) * (c * c).sum(1))
    with np.errstate(all="ignore"):
        fine = (det > 1e-10 * scale * (1 + 1e-6)) & (scale > 0) & np.isfinite(scale)
    checked = pbcs.any(axis=1) | (cells != 0).any(axis=(1, 2))
    return checked & ~fine


class _Layout:
    """Where things are in every row: species width, digit columns, the columns that must
    hold given bytes, and per numeric field its mantissa digits, point and exponent."""

    __slots__ = ("width", "digits", "fixed", "fixed_bytes", "leads", "signs", "fields")


def _layout(row, rows, head):
    """The layout of the first row, or None if it is not species then numbers."""
    length = len(row)
    if not row.endswith(b"\n"):
        return None
    end = length - 2 if row.endswith(b"\r\n") else length - 1
    blank = (rows[:, 1:min(end, 9)] <= 32).all(axis=0)  # the species end at a blank column
    if not blank.any():
        return None
    width = int(np.argmax(blank)) + 1
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
    lay = _Layout()
    lay.width = width
    lay.digits = [width + j for j, k in enumerate(kinds) if k == "D"]
    lay.fixed = [width + j for j, k in enumerate(kinds) if k in "G.E"]
    lay.fixed_bytes = np.frombuffer(row, np.uint8)[lay.fixed]
    lay.leads = [width + j for j, k in enumerate(kinds) if k == "L"]
    lay.signs = [width + j for j, k in enumerate(kinds) if k == "S"]
    wanted = [head.pos_col] + ([head.force_col] if head.force_col is not None else [])
    lay.fields = []
    where = {c: k for k, c in enumerate(lay.digits)}
    for col in wanted:
        for c in range(3):
            first, spelled = fields[col[3] + c - 1]
            m = re.fullmatch(r"(L?)([D.]+)(?:E(S?)(D+))?", spelled)
            if m is None or spelled.count(".") > 1 or "D" not in m.group(2):
                return None
            mant = [where[first + m.start(2) + k] for k, ch in enumerate(m.group(2))
                    if ch == "D"]
            point = m.group(2).find(".")
            frac = 0 if point < 0 else m.group(2).count("D", point)
            exp = [where[first + k] for k in range(m.start(4), m.end(4))] if m.group(4) \
                else []
            lay.fields.append((first if m.group(1) else None, mant, frac,
                               first + m.start(3) if m.group(3) else None, exp,
                               first, first + len(spelled)))
    return lay


#: rows below which a group is parsed on one thread (a second thread then costs more
#: than it saves)
SPLIT_ROWS = 16384


def _parse_rows(rows, lay, head):
    """(species per row, {first Properties column: (R, 3) values}, per-row ok flags: False
    for rows of another layout or with values the careful reader must judge).

    A large group is parsed as two halves on two threads: the work is numpy on byte
    matrices, which runs without the GIL."""
    species = _species(rows[:, :lay.width])
    if species is None:
        return None
    with _one_blas_thread():  # entered once here: threadpoolctl limits are process-wide
        halves = _parse_halves(rows, lay, head) if len(rows) >= SPLIT_ROWS and \
            (os.cpu_count() or 1) > 1 else None
        v, ok = halves if halves is not None else _parse_numbers(rows, lay, head)
    columns = {}
    wanted = [head.pos_col] + ([head.force_col] if head.force_col is not None else [])
    for k, col in enumerate(wanted):
        columns[col[3]] = np.ascontiguousarray(v[:, 3 * k:3 * k + 3])
    return species, columns, ok


def _parse_halves(rows, lay, head):
    """:func:`_parse_numbers` of the two halves of ``rows`` on two threads, joined; None
    when no second thread can be started (the interpreter is exiting)."""
    from concurrent.futures import ThreadPoolExecutor

    half = len(rows) // 2
    with ThreadPoolExecutor(1, thread_name_prefix="workbench-read") as pool:
        try:
            second = pool.submit(_parse_numbers, rows[half:], lay, head)
        except RuntimeError:
            return None
        v1, ok1 = _parse_numbers(rows[:half], lay, head)
        v2, ok2 = second.result()
    return np.concatenate([v1, v2]), np.concatenate([ok1, ok2])


def _parse_numbers(rows, lay, head):
    """((R, 3 per column) values, (R,) ok flags) of the numeric fields of ``rows``."""
    # np.take along an axis is several times faster than fancy indexing here
    digits = np.take(rows, lay.digits, axis=1)
    digits -= np.uint8(48)
    bad = []
    if digits.max(initial=0) >= 10:
        bad.append(np.flatnonzero(digits.ravel() >= 10) // len(lay.digits))
    fixed = np.take(rows, lay.fixed, axis=1)
    differs = fixed != lay.fixed_bytes
    if differs.any():
        bad.append(np.flatnonzero(differs.ravel()) // len(lay.fixed))
    flex = lay.leads + lay.signs
    if flex:  # a lead holds a space or a sign, an exponent sign a sign
        marks = np.take(rows, flex, axis=1)
        sign = (marks == 43) | (marks == 45)
        sign[:, :len(lay.leads)] |= marks[:, :len(lay.leads)] == 32
        if not sign.all():
            bad.append(np.flatnonzero(~sign.ravel()) // len(flex))
    nf = len(lay.fields)
    place = np.zeros((len(lay.digits), 2 * nf))  # mantissa and exponent place values
    frac = np.zeros(nf)
    most = 0
    for f, (_, md, fr, _, ed, _, _) in enumerate(lay.fields):
        place[md, f] = 10.0 ** np.arange(len(md) - 1, -1, -1)
        place[ed, nf + f] = 10.0 ** np.arange(len(ed) - 1, -1, -1)
        frac[f] = fr
        most = max(most, len(md), len(ed))
    # One product gives every mantissa (as an integer) and exponent.  It is exact when
    # every partial sum is an integer the type holds exactly: below 2**24 in float32 (7
    # digits), below 2**53 in float64 (15 digits; longer mantissas go through float()).
    # One BLAS thread: the product is small and waking the pool costs more than it saves.
    dtype = np.float32 if most <= 7 else np.float64
    # (2 nf, R): one C-contiguous row per field (one BLAS thread: the caller's limit)
    both = (place.T.astype(dtype) @ digits.astype(dtype).T).astype(np.float64)
    value, e = both[:nf], both[nf:]
    long_mantissa = most > 15
    sgn = np.ones(value.shape)
    for f, (lead, _, _, sign, _, _, _) in enumerate(lay.fields):
        if sign is not None:
            e[f] *= 1.0 - 2.0 * (rows[:, sign] == 45)
        if lead is not None:
            sgn[f] -= 2.0 * (rows[:, lead] == 45)
    e -= frac[:, None]
    mag = np.abs(e)
    p = _POW10[np.minimum(mag, 22).astype(np.intp)]
    # value * 10**e or value / 10**-e: each one correctly rounded operation
    v = np.where(e >= 0, value * p, value / p)
    v *= sgn  # exact; gives -0.0 for "-0.0"
    ok = np.ones(rows.shape[0], bool)
    if bad:
        ok[np.concatenate(bad)] = False
    slow = (mag > 22) if not long_mantissa else np.ones(v.shape, bool)
    for f, r in np.argwhere(slow & ok[None, :]).tolist():  # outside the exact fast path
        first, stop = lay.fields[f][5:]
        v[f, r] = float(rows[r, first:stop].tobytes())
    finite = np.isfinite(v)
    if not finite.all():
        ok &= finite.all(axis=0)
    return v.T, ok


def _species(sub):
    sub = np.ascontiguousarray(sub)
    if (sub == sub[0]).all():
        sym = sub[0].tobytes().decode().strip()
        return _Uniform(sym) if sym in KNOWN_SPECIES else None
    key = np.zeros(sub.shape[0], np.uint64)
    for j in range(sub.shape[1]):
        key |= sub[:, j].astype(np.uint64) << np.uint64(8 * j)
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
