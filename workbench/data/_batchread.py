"""Read many extended-XYZ files at once with numpy (no compilation, no per-number Python).

Comment lines (:mod:`workbench.data._batchheads`): parsed once per shape by the careful
reader, then only their numbers are converted, a shape at a time.  Atom blocks
(:mod:`workbench.data._batchrows`): files whose atom lines all have one length are
stacked as the rows of one byte matrix per (line length, Properties) group and parsed
column by column.

Anything else (ragged lines, other layouts, several frames, unusual characters, a
missing final newline...) is answered with None: the careful reader reads that file and
names any problem.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import DatasetError

from ._batchheads import read_heads, shapes
from ._batchrows import layout, parse_rows
from .configuration import Configuration
from .extxyz import warn_if_no_forces


def read_configs(paths, weight=None) -> list:
    """Per path (a string): a Configuration, a DatasetError raised by ``weight`` for it, or
    None when the careful reader must read the file."""
    out: list = [None] * len(paths)
    groups: dict = {}
    for group in read_heads(paths):
        for shape, members, values in shapes(group, paths):
            _atom_blocks(shape, members, values, groups)
    for (length, _), blocks in groups.items():
        _read_group(blocks, length, paths, weight, out)
    return out


def _atom_blocks(shape, members, values, groups):
    """Add the files of a shape to the group of their atom line length: (index, shape,
    cell, pbc, energy, stress, atom-block bytes)."""
    props = shape.head.properties
    cells, pbcs, energies, stresses, fine = values
    for (k, data, j, length, end), cell, pbc, energy, stress, ok in zip(
            members, cells, pbcs, energies, stresses, fine.tolist()):
        if ok:
            groups.setdefault((length, props), []).append(
                (k, shape, cell, pbc, energy, stress, memoryview(data)[j + 1:end]))


def _read_group(blocks, length, paths, weight, out):
    head = blocks[0][1].head
    if head.species_col[3] != 0:
        return
    rows = np.frombuffer(b"".join(b[6] for b in blocks), np.uint8).reshape(-1, length)
    lay = layout(rows, head)
    if lay is None:
        return
    got = parse_rows(rows, lay, head)
    if got is None:
        return
    species, columns, ok = got
    pos = columns[head.pos_col[3]]
    frc = None if head.force_col is None else columns[head.force_col[3]]
    starts = np.cumsum([0] + [b[1].head.natoms for b in blocks])
    good = np.minimum.reduceat(ok, starts[:-1]).tolist()
    trusted = Configuration._trusted
    for (k, shape, cell, pbc, energy, stress, _), a, b, fine in zip(
            blocks, starts[:-1].tolist(), starts[1:].tolist(), good):
        if not fine:
            continue
        warn_if_no_forces(shape.head, paths[k])
        try:
            out[k] = trusted(cell, species[a:b], pos[a:b], pbc, energy,
                             None if frc is None else frc[a:b], stress, paths[k], weight)
        except DatasetError as exc:
            out[k] = exc
