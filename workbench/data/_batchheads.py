"""The first two lines of many extended-XYZ files, read together.

Files of one data set usually differ only in the numbers on their comment line.  The
first line of each *shape* -- its atom-count line and the text between the numbers of its
comment line -- is parsed by the careful reader's :func:`workbench.data.extxyz.
parse_header`.  That line is then turned into a regular expression with a group in place
of each number, and one ``findall`` over the lines of all the files with the same text
picks out every file of that shape with its numbers.  Those numbers are converted by the
careful reader's rules (plain decimals, finite, 0/1 PBC flags), column by column for the
whole shape, so values and outcomes are the same as reading each file on its own.

Why a shape's pattern gives exactly the numbers ``_NUMBER.split`` would: the text between
numbers holds no ``-+.0-9`` (a number starts at the first of those), and the text after a
number starts with none of ``-+.0-9eE`` (numbers are maximal runs), so the greedy number
groups can neither start elsewhere nor stop early.
"""

from __future__ import annotations

import os
import re
from itertools import repeat

import numpy as np

from workbench.errors import DatasetError

from .checks import VOIGT_FROM_NINE
from .extxyz import _KV, parse_header

#: Candidate numbers on a comment line; a candidate Python's float() rejects (``1.2.3``)
#: sends the file to the careful reader, and float() accepts exactly the plain decimals
#: among strings of these characters.
_GROUP = rb"([-+.0-9][-+.0-9eE]*)"
_NUMBER = re.compile(_GROUP.decode())
_NUMBER_START = b"-+.0123456789"
_CHUNK = 1 << 16


def read_heads(paths):
    """(index, bytes, end of the comment line, atom line length, end of the atoms) of each
    file that may be read in batch -- its atom lines could all have the length of its
    first, and nothing but blanks follows them -- grouped by the text of its first two
    lines without number characters (files of one shape share a group; a group may hold
    several shapes)."""
    groups: dict = {}
    get = groups.get
    for k, path in enumerate(paths):
        data = _read_bytes(path)
        if not data:
            continue
        i = data.find(b"\n")
        j = data.find(b"\n", i + 1)
        if i < 0 or j < 0:
            continue
        count = data[:i]
        if not count.strip().isdigit():
            continue
        length = data.find(b"\n", j + 1, j + 200) - j
        end = j + 1 + int(count) * length
        if length <= 1 or len(data) < end or (len(data) > end and data[end:].strip()):
            continue  # ragged lines, another frame...: the careful reader explains
        comment = data[i + 1:j]
        if not comment.isascii() or comment.find(b"\0") >= 0:
            continue  # (other bytes of the atom lines are checked with their layout)
        key = (count, comment.translate(None, _NUMBER_START))
        group = get(key)
        if group is None:
            group = groups[key] = []
        group.append((k, data, j, length, end))
    return groups.values()


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


class Shape:
    """How to read the first two lines of one shape: the Header of its first file, which
    number goes where, and which other files have the same shape (:meth:`numbers`)."""

    __slots__ = ("head", "lattice", "energy", "stress", "pbc", "fixed", "count_line",
                 "literals", "tokens")

    def __init__(self, head, count_line, comment):
        self.count_line = count_line
        self.literals = [p.encode() for p in _NUMBER.split(comment)[0::2]]
        self.head = head
        slots: dict[str, list[int]] = {}
        spans = {}
        for m in _KV.finditer(comment):
            for g in (2, 3, 4, 5):
                if m.group(g) is not None:
                    spans[m.group(1).lower()] = m.span(g)
        tokens = []
        for k, m in enumerate(_NUMBER.finditer(comment)):
            tokens.append(m.group().encode())
            for key, (a, b) in spans.items():
                if a <= m.start() and m.end() <= b:
                    slots.setdefault(key, []).append(k)
        self.tokens = tuple(tokens)  # this line's own numbers
        # the column counts in Properties are part of the shape, not values that vary
        self.fixed = [(k, tokens[k]) for k in slots.get("properties", [])]
        self.lattice = slots.get("lattice", [])
        self.energy = slots.get("energy", [])
        self.stress = slots.get("stress", [])
        self.pbc = slots.get("pbc", [])
        ok = (len(self.lattice) == (9 if "lattice" in spans else 0)
              and len(self.energy) == (head.energy is not None)
              and len(self.stress) in ((0,) if head.stress is None else (6, 9))
              and len(self.pbc) in (0, 3))
        if not ok:  # values spelled otherwise: leave every file of this shape to the reader
            self.head = None

    def numbers(self, records):
        """Per record (count line, newline, comment line: bytes): the numbers on its
        comment line (a tuple of bytes) if it has this shape, else None."""
        text = _GROUP.join(re.escape(p) for p in self.literals)
        # one item per record, each ended by "\0": either this shape (the last group is
        # then "\0") or anything else up to its end
        pattern = re.compile(
            re.escape(self.count_line) + rb"\n" + text + rb"\r*(\0)|[^\0]*\0")
        items = pattern.findall(b"\0".join(records) + b"\0")
        if len(items) != len(records):  # cannot happen: records hold no "\0"
            raise AssertionError("comment-line pattern out of step with its records")
        return [self._same_columns(item[:-1]) if item[-1] else None for item in items]

    def _same_columns(self, numbers):
        """``numbers`` if their Properties column counts are this shape's, else None."""
        for k, token in self.fixed:
            if numbers[k] != token:
                return None
        return numbers


def shapes(group, paths):
    """(Shape, members, values) for the files of one :func:`read_heads` group: members as
    :func:`read_heads` gives them, values as :func:`_values` does.  A file whose first
    lines the careful reader refuses, or whose shape or values it must judge, is left
    out."""
    pending, start = group, 0
    while start < len(pending):
        k, data, j = pending[start][:3]
        i = data.find(b"\n")
        count_line, comment = data[:i], data[i + 1:j].decode().rstrip("\r")
        try:
            head = parse_header(count_line.decode().rstrip("\r"), comment, paths[k])
        except DatasetError:  # maybe this file's values only: the next file may do
            start += 1
            continue
        shape = Shape(head, count_line, comment)
        pending = pending[start:]
        # a file alone in its group needs no pattern: its numbers are the shape's own
        found = [shape.tokens] if len(pending) == 1 else \
            shape.numbers([m[1][:m[2]] for m in pending])
        members, numbers, rest = [], [], []
        for member, got in zip(pending, found):
            if got is not None:
                members.append(member)
                numbers.append(got)
            else:
                rest.append(member)
        pending, start = rest, 0
        if shape.head is not None:
            yield shape, members, _values(shape, numbers)


def _values(shape, numbers):
    """(cells (F, 3, 3), pbc (F lists of 3 bools), energies (F floats or Nones), stresses
    ((F, 6) array or Nones), fine (F,) bool) of a shape's files from their comment-line
    numbers (F tuples of bytes); not fine where the careful reader would object."""
    head = shape.head
    count = len(numbers)
    columns = list(zip(*numbers))
    fine = np.ones(count, bool)
    if shape.pbc:
        pbc = np.empty((count, 3), bool)
        for c, k in enumerate(shape.pbc):
            flags = np.array(columns[k])
            pbc[:, c] = flags == b"1"
            fine &= pbc[:, c] | (flags == b"0")
    else:
        pbc = np.tile(np.array(head.pbc, bool), (count, 1))
    if shape.lattice:
        cells = _floats(columns, shape.lattice)
    else:
        cells = np.tile(np.asarray(head.cell, np.float64).ravel(), (count, 1))
        fine &= ~pbc.any(axis=1)
    energies = repeat(None)
    if shape.energy:
        e = _floats(columns, shape.energy)[:, 0]
        fine &= np.isfinite(e)
        energies = e.tolist()
    stresses = repeat(None)
    if shape.stress:
        s = _floats(columns, shape.stress)
        fine &= np.isfinite(s).all(axis=1)
        stresses = s if s.shape[1] == 6 else np.ascontiguousarray(s[:, VOIGT_FROM_NINE])
    fine &= np.isfinite(cells).all(axis=1)
    cells = cells.reshape(-1, 3, 3)
    fine &= ~_bad_cells(cells, pbc)
    return cells, pbc.tolist(), energies, stresses, fine


def _floats(columns, which):
    """(F, len(which)) float() of the given number columns; NaN where float() refuses.
    Each distinct spelling is converted once (a data set's cells repeat)."""
    out = np.empty((len(columns[which[0]]), len(which)))
    for c, k in enumerate(which):
        value = {text: _float_or_nan(text) for text in set(columns[k])}
        out[:, c] = list(map(value.__getitem__, columns[k]))
    return out


def _float_or_nan(text):
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _bad_cells(cells, pbcs):
    """(F,) True where :func:`workbench.data.checks.cell_problem` would object, or the
    cell is too close to its singularity threshold to decide here."""
    a, b, c = cells[:, 0], cells[:, 1], cells[:, 2]
    with np.errstate(all="ignore"):  # non-finite cells are refused by the caller
        det = np.einsum("ij,ij->i", a, np.cross(b, c))
        scale = np.sqrt((a * a).sum(1) * (b * b).sum(1) * (c * c).sum(1))
        fine = (det > 1e-10 * scale * (1 + 1e-6)) & (scale > 0) & np.isfinite(scale)
    checked = pbcs.any(axis=1) | (cells != 0).any(axis=(1, 2))
    return checked & ~fine
