"""Read many extended-XYZ files into :class:`Configuration` objects in batches.

Files are read with plain ``os`` calls into one growing byte buffer (no per-file Python
file objects), parsed together by :func:`workbench.data._fastparse.parse_batch`, and
turned into configurations whose arrays are views of the batch arrays.  A file the batch
parser does not accept is reported as ``None``, for the careful reader to handle.
"""

from __future__ import annotations

import os

import numpy as np
from ase.data import chemical_symbols

from workbench.errors import DatasetError

from ._fastparse import F_ENERGY, F_FORCE, F_LATTICE, F_UNIFORM, K_CELL, K_COORD, K_ENERGY, \
    K_FORCE, K_STRESS, parse_batch
from .configuration import Configuration

_KNOWN = frozenset(chemical_symbols)
_BATCH_BYTES = 64 << 20
_VOIGT_FROM_FULL = [0, 4, 8, 5, 2, 1]
_symbols: dict[int, str | None] = {}


def _symbol(code: int):
    """The element symbol whose ASCII bytes are packed in ``code`` (None if unknown)."""
    try:
        return _symbols[code]
    except KeyError:
        text = code.to_bytes(3, "little").rstrip(b"\0").decode("ascii")
        sym = _symbols[code] = text if text in _KNOWN else None
        return sym


def _read_batch(paths, start):
    """Bytes of paths[start:stop] back to back (about _BATCH_BYTES at most, at least one
    file); an unreadable file gets no bytes (the careful reader reports it)."""
    cap = 1 << 20
    buf = np.empty(cap, np.uint8)
    view = memoryview(buf)
    bounds = [0]
    pos = 0
    stop = len(paths)
    for k in range(start, len(paths)):
        if pos >= _BATCH_BYTES:
            stop = k
            break
        begin = pos
        try:
            fd = os.open(paths[k], os.O_RDONLY)
        except OSError:
            bounds.append(pos)
            continue
        try:
            while True:
                if cap - pos < 65536:
                    cap *= 2
                    new = np.empty(cap, np.uint8)
                    new[:pos] = buf[:pos]
                    buf, view = new, memoryview(new)
                got = os.readv(fd, [view[pos:]])
                if got == 0:
                    break
                pos += got
        except OSError:
            pos = begin
        finally:
            os.close(fd)
        bounds.append(pos)
    return buf[:pos], np.array(bounds, np.int64), stop


def _cells_ok(status, flags, cell, pbc):
    """Clear status for files whose cell the careful reader would reject, or that lie too
    close to its singularity threshold to decide here."""
    a, b, c, d, e, f, g, h, i = cell.T
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    scale = np.sqrt((a * a + b * b + c * c) * (d * d + e * e + f * f) * (g * g + h * h + i * i))
    with np.errstate(all="ignore"):
        ok = (det > 1e-10 * scale * (1 + 1e-6)) & (scale > 0) & np.isfinite(scale)
    checked = ((flags & F_LATTICE) != 0) & (pbc.any(axis=1) | (cell != 0).any(axis=1))
    status[checked & ~ok] = 1


def _apply_slow(buf, slow, status, arrays):
    """Set the values of tokens outside the exact fast path with Python's float()."""
    for f, kind, idx, s, e in slow.tolist():
        v = float(buf[s:e].tobytes())
        if v - v != 0.0:  # inf: the careful reader names the line
            status[f] = 1
        arrays[kind][idx] = v


def read_configs(paths, weight=None) -> list:
    """Per path (a string): a Configuration, a DatasetError raised by ``weight`` for it, or
    None when the careful reader must read the file."""
    out = []
    start = 0
    while start < len(paths):
        buf, bounds, stop = _read_batch(paths, start)
        out.extend(_build(buf, bounds, paths[start:stop], weight))
        start = stop
    return out


def _build(buf, bounds, paths, weight):
    (status, natoms, aoff, flags, nstress, cell, pbc, energy, stress, coords, forces, spc,
     slow) = parse_batch(buf, bounds)
    if len(slow):
        arrays = {K_COORD: coords.reshape(-1), K_FORCE: forces.reshape(-1),
                  K_CELL: cell.reshape(-1), K_ENERGY: energy, K_STRESS: stress.reshape(-1)}
        _apply_slow(buf, slow, status, arrays)
    _cells_ok(status, flags, cell, pbc)
    cells = cell.reshape(-1, 3, 3)
    trusted = Configuration._trusted
    out = []
    for k, (bad, n, a, fl, ns, pb, en) in enumerate(zip(
            status.tolist(), natoms.tolist(), aoff.tolist(), flags.tolist(),
            nstress.tolist(), (pbc != 0).tolist(), energy.tolist())):
        if bad:
            out.append(None)
            continue
        if fl & F_UNIFORM:
            sym = _symbol(int(spc[a]))
            species = None if sym is None else [sym] * n
        else:
            species = [_symbol(c) for c in spc[a:a + n].tolist()]
            if None in species:
                species = None
        if species is None:
            out.append(None)
            continue
        if ns == 0:
            st = None
        elif ns == 6:
            st = stress[k, :6]
        else:
            st = stress[k, _VOIGT_FROM_FULL]
        try:
            out.append(trusted(cells[k], species, coords[a:a + n], pb,
                               en if fl & F_ENERGY else None,
                               forces[a:a + n] if fl & F_FORCE else None, st, paths[k],
                               weight))
        except DatasetError as exc:
            out.append(exc)
    return out
