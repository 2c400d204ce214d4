"""Fast extended-XYZ reader and writer (KLIFF dialect, plus files written by ASE).

One configuration per file::

    8
    Lattice="a1x a1y a1z a2x ... a3z" PBC="1 1 1" Energy=-29.3 Stress="xx yy zz yz xz xy" Properties=species:S:1:pos:R:3:force:R:3
    Si 0.0 0.0 0.0 0.1 0.2 0.3
    ...

* ``Lattice`` rows are the lattice vectors; it may be left out for non-periodic systems
  (the cell is then all zeros).  ``PBC`` is ``1 0 1`` or ``T F T``; without it the system is
  periodic when a Lattice is given (ASE's rule).
* Key names are matched case-insensitively, so ASE's ``energy``, ``stress`` (6 Voigt or 9
  full-tensor values) and ``pbc`` are read as well; the force column may be called
  ``force`` (KLIFF) or ``forces`` (ASE).  Other columns and keys are ignored.
* Stress is stored as it appears in the file, Voigt order xx yy zz yz xz xy.  The
  project's convention (that of the engine and of ASE) is sigma = (1/V) dE/d(strain), in
  energy/length^3 units of the data (eV/A^3 for the bundled sets); no sign or unit change
  is applied anywhere in the data layer.

This is the careful reader: it accepts the whole dialect and names the file and line of
every problem.  ``Dataset`` first parses all files of a directory together with the batch
parser of :mod:`workbench.data._fastread` (same values bit for bit) and hands the files that
parser does not accept to :func:`read_extxyz`.  Here the file is read once, the atom block
split into a string array, and numeric columns converted and validated with vectorized
numpy operations; only when that finds something wrong does a slower per-line pass run to
name the offending line.

The writer uses ``repr`` formatting (shortest string that round-trips), so
``read_extxyz(write_extxyz(x))`` gives back the same float64 values bit for bit.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
from ase.data import chemical_symbols

from workbench.atomic import write_text_atomic
from workbench.errors import DatasetError

_KNOWN_SPECIES = frozenset(chemical_symbols)
_TRUE = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}
_KV = re.compile(
    r"\s*([^\s=\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|\{([^}]*)\}|([^\s\"'{]+)))?"
)
_TYPES = {"S", "R", "I", "L"}
_VOIGT_FROM_FULL = (0, 4, 8, 5, 2, 1)


def _err(msg, path, line=None):
    return DatasetError(msg, path=path, line=line)


def _read_text(path) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise _err(f"cannot open file: {exc.strerror}", path) from None
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise _err("binary data (NUL byte) found; expected a text extended-XYZ file", path, line)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _err(
            f"undecodable byte 0x{data[exc.start]:02x}; expected a UTF-8/ASCII text "
            "extended-XYZ file", path, line) from None


def parse_comment(comment: str, path=None, line: int = 2) -> dict[str, str]:
    """Split the comment line into ``{key: value}`` (keys as written, values unquoted)."""
    out: dict[str, str] = {}
    pos, end = 0, len(comment)
    while pos < end:
        if comment[pos:].strip() == "":
            break
        m = _KV.match(comment, pos)
        if m is None or m.end() == pos:
            rest = comment[pos:].strip()
            raise _err(f"cannot parse the comment line near {rest[:40]!r}; expected "
                       'key=value pairs (quote values with spaces: Lattice="...")', path, line)
        key = m.group(1)
        vals = [g for g in m.group(2, 3, 4, 5) if g is not None]
        out[key] = vals[0] if vals else "T"
        pos = m.end()
    return out


def _floats(text, what, count, path, line):
    parts = text.replace(",", " ").split()
    if count is not None and len(parts) not in (count if isinstance(count, tuple) else (count,)):
        want = " or ".join(map(str, count)) if isinstance(count, tuple) else str(count)
        raise _err(f"{what} has {len(parts)} values; expected {want} numbers", path, line)
    try:
        vals = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        want = "a finite number" if count == 1 else f"{count} finite numbers"
        raise _err(f"{what} value {text.strip()!r} is not numeric; expected {want}",
                   path, line) from None
    if not np.all(np.isfinite(vals)):
        raise _err(f"{what} contains NaN or inf ({text.strip()!r}); expected finite numbers",
                   path, line)
    return vals


def parse_properties(prop: str, path=None, line: int = 2):
    """``species:S:1:pos:R:3`` -> list of (name, type, count, first_column)."""
    parts = prop.split(":")
    if len(parts) % 3:
        raise _err(f"Properties string {prop!r} is malformed; expected name:type:count "
                   "triplets such as species:S:1:pos:R:3:force:R:3", path, line)
    cols, start = [], 0
    for k in range(0, len(parts), 3):
        name, typ, cnt = parts[k], parts[k + 1], parts[k + 2]
        if typ.upper() not in _TYPES or not cnt.isdigit() or int(cnt) < 1:
            raise _err(f"Properties entry {name}:{typ}:{cnt} is malformed; expected a type "
                       "of S, R, I or L and a positive column count", path, line)
        cols.append((name, typ.upper(), int(cnt), start))
        start += int(cnt)
    return cols


def _column(cols, names):
    for c in cols:
        if c[0].lower() in names:
            return c
    return None


def read_extxyz(path) -> dict:
    """Read one configuration; returns a dict with ``cell, species, coords, PBC, energy,
    forces, stress`` (missing properties are None).  Raises :class:`DatasetError` naming the
    file and line for any malformed input."""
    text = _read_text(path)
    return parse_extxyz(text, path)


def parse_extxyz(text: str, path=None) -> dict:
    if text.strip() == "":
        raise _err("empty file; expected an atom count on line 1", path, 1)
    lines = text.splitlines()
    try:
        natoms = int(lines[0])
    except ValueError:
        raise _err(f"expected the number of atoms (an integer) on line 1, found "
                   f"{lines[0].strip()[:40]!r}", path, 1) from None
    if natoms < 1:
        raise _err(f"atom count {natoms} on line 1; expected a positive integer", path, 1)
    if len(lines) < 2:
        raise _err("truncated file: it ends after line 1; expected a comment line with "
                   "Lattice/PBC/Properties and the atom lines", path, 1)
    info = parse_comment(lines[1], path, 2)
    lower = {k.lower(): v for k, v in info.items()}
    cols = parse_properties(lower.get("properties", "species:S:1:pos:R:3"), path, 2)
    ncol = cols[-1][3] + cols[-1][2]
    species_col = _column(cols, ("species", "symbols", "element"))
    pos_col = _column(cols, ("pos", "positions"))
    force_col = _column(cols, ("force", "forces"))
    if species_col is None or pos_col is None:
        raise _err(f"Properties={lower.get('properties')} lacks a species or pos column; "
                   "expected e.g. species:S:1:pos:R:3:force:R:3", path, 2)
    if species_col[2] != 1 or species_col[1] != "S":
        raise _err("the species column must be species:S:1", path, 2)
    if pos_col[2] != 3:
        raise _err(f"positions have {pos_col[2]} components (pos:R:{pos_col[2]}); expected "
                   "pos:R:3", path, 2)
    if force_col is not None and force_col[2] != 3:
        raise _err(f"forces of wrong shape: {force_col[0]}:R:{force_col[2]} gives "
                   f"{force_col[2]} components per atom; expected {force_col[0]}:R:3 "
                   "(an N x 3 array)", path, 2)

    # --- per-frame values ---------------------------------------------------------------
    pbc = None
    if "pbc" in lower:
        toks = lower["pbc"].split()
        try:
            pbc = [_TRUE[t.lower()] for t in toks]
        except KeyError:
            pbc = []
        if len(pbc) != 3:
            raise _err(f"PBC={lower['pbc']!r}; expected three flags of 1/0 or T/F", path, 2)
    if "lattice" in lower:
        cell = _floats(lower["lattice"], "Lattice", 9, path, 2).reshape(3, 3)
        if pbc is None:
            pbc = [True, True, True]
    else:
        cell = np.zeros((3, 3))
        if pbc is None:
            pbc = [False, False, False]
        if any(pbc):
            raise _err(f"PBC={lower['pbc']!r} is periodic but no Lattice is given; "
                       'expected Lattice="a1 a2 a3" (9 numbers)', path, 2)
    if any(pbc) or "lattice" in lower and np.any(cell):
        a, b, c, d, e, f, g, h, i = cell.ravel().tolist()
        det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
        scale = ((a * a + b * b + c * c) * (d * d + e * e + f * f)
                 * (g * g + h * h + i * i)) ** 0.5
        if scale == 0.0 or abs(det) <= 1e-10 * scale:
            raise _err(f"singular cell (determinant {det:.6g}); expected three linearly "
                       "independent lattice vectors", path, 2)
        if det < 0:
            raise _err(f"left-handed cell (determinant {det:.6g} < 0); expected a1, a2, a3 "
                       "to follow the right-hand rule", path, 2)
    energy = None
    if "energy" in lower:
        energy = float(_floats(lower["energy"], "Energy", 1, path, 2)[0])
    stress = None
    if "stress" in lower:
        s = _floats(lower["stress"], "Stress", (6, 9), path, 2)
        stress = s if s.size == 6 else s[list(_VOIGT_FROM_FULL)]

    # --- atom block ---------------------------------------------------------------------
    body = lines[2:2 + natoms]
    extra = lines[2 + natoms:]
    for k, ln in enumerate(extra):
        if ln.strip():
            lineno = 3 + natoms + k
            hint = ""
            if ln.strip().isdigit():
                hint = ("; the file seems to hold several frames: read it with "
                        "file_format='extxyz' (ASE)")
            raise _err(f"wrong atom count: line 1 declares {natoms} atoms but more atom "
                       f"lines follow{hint}", path, lineno)
    if len(body) < natoms:
        last = body[-1] if body else lines[1]
        nfound = len(body)
        if nfound == 0:
            raise _err(f"truncated file: it ends after the comment line; expected {natoms} "
                       "atom lines", path, 2)
        if body and len(last.split()) < ncol and not text.endswith(("\n", "\r")):
            raise _err(f"truncated file: line {2 + nfound} is incomplete "
                       f"({len(last.split())} of {ncol} columns) and the file ends there; "
                       f"expected {natoms} atom lines", path, 2 + nfound)
        raise _err(f"wrong atom count: line 1 declares {natoms} atoms but only {nfound} "
                   f"atom lines follow (file ends at line {2 + nfound})", path, 1)
    flat = " ".join(body).split()
    if len(flat) == natoms * ncol:
        species = flat[species_col[3]::ncol]
        if not set(species) - _KNOWN_SPECIES:
            got = _fast_block(flat, natoms, ncol, species_col, pos_col, force_col)
            if got is not None:
                coords, forces = got
                return {"cell": cell, "species": species, "coords": coords, "PBC": pbc,
                        "energy": energy, "forces": forces, "stress": stress}
    _diagnose(body, ncol, lower.get("properties"), text, path, species_col, pos_col, force_col)
    raise _err("malformed atom block", path, 3)  # pragma: no cover - _diagnose raises


def _fast_block(flat, natoms, ncol, species_col, pos_col, force_col):
    """Coordinates and forces from the flat token list, or None if anything is off."""
    wanted = [pos_col] + ([force_col] if force_col is not None else [])
    nnum = 3 * len(wanted)
    try:
        if species_col[3] == 0 and ncol == 1 + nnum and all(
                c[3] == 1 + 3 * k for k, c in enumerate(wanted)):
            del flat[0::ncol]
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                vals = np.fromstring(" ".join(flat), dtype=np.float64, sep=" ")
            if vals.size != natoms * nnum:
                return None
            vals = vals.reshape(natoms, nnum)
        else:
            vals = np.array([list(map(float, flat[c[3] + j::ncol])) for c in wanted
                             for j in range(3)], dtype=np.float64).T
    except (ValueError, DeprecationWarning):
        return None
    if not np.isfinite(vals).all():
        return None
    coords = np.ascontiguousarray(vals[:, :3])
    forces = np.ascontiguousarray(vals[:, 3:6]) if force_col is not None else None
    return coords, forces


def _diagnose(body, ncol, prop, text, path, species_col, pos_col, force_col):
    """Slow per-line pass that names the first offending line."""
    rows = [ln.split() for ln in body]
    lens = {len(r) for r in rows}
    if lens != {ncol}:
        _column_error(rows, ncol, lens, prop, text, path)
    arr = np.array(rows)
    species = arr[:, species_col[3]].tolist()
    bad = set(species) - _KNOWN_SPECIES
    if bad:
        k = next(i for i, s in enumerate(species) if s in bad)
        raise _err(f"unknown element symbol {species[k]!r}; expected a chemical symbol such "
                   "as Si or C", path, 3 + k)
    _numeric(arr, rows, pos_col, "coordinates", path)
    if force_col is not None:
        _numeric(arr, rows, force_col, "forces", path)


def _column_error(rows, ncol, lens, prop, text, path):
    if len(lens) == 1:
        (n,) = lens
        raise _err(f"Properties={prop} declares {ncol} columns but every atom line has {n}; "
                   "expected the Properties string to match the columns", path, 3)
    for k, r in enumerate(rows):
        if len(r) != ncol:
            if k == len(rows) - 1 and len(r) < ncol and not text.endswith(("\n", "\r")):
                raise _err(f"truncated file: line {3 + k} is incomplete ({len(r)} of {ncol} "
                           "columns) and the file ends there", path, 3 + k)
            word = "missing" if len(r) < ncol else "extra"
            raise _err(f"{word} columns: found {len(r)} columns; expected {ncol} "
                       f"(Properties={prop})", path, 3 + k)


def _numeric(arr, rows, col, what, path):
    _, _, cnt, start = col
    block = arr[:, start:start + cnt]
    try:
        vals = block.astype(np.float64)
    except ValueError:
        for k in range(block.shape[0]):
            for tok in block[k]:
                try:
                    float(tok)
                except ValueError:
                    raise _err(f"non-numeric value {str(tok)!r} in the {what}; expected {cnt} "
                               "numbers", path, 3 + k) from None
        raise
    if not np.isfinite(vals).all():
        k = int(np.argwhere(~np.isfinite(vals))[0, 0])
        raise _err(f"NaN or inf in the {what} ({' '.join(block[k])}); expected finite numbers",
                   path, 3 + k)
    return vals


# ---------------------------------------------------------------------------------------
def format_extxyz(cell, species, coords, PBC, energy=None, forces=None, stress=None) -> str:
    """The text of one configuration in the KLIFF dialect, with round-trip exact floats."""
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    n = coords.shape[0]
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    head = []
    if any(PBC) or np.any(cell):
        head.append('Lattice="' + " ".join(map(repr, cell.ravel().tolist())) + '"')
    head.append('PBC="' + " ".join("1" if p else "0" for p in PBC) + '"')
    if energy is not None:
        head.append(f"Energy={float(energy)!r}")
    if stress is not None:
        s = np.asarray(stress, dtype=np.float64).ravel()
        head.append('Stress="' + " ".join(map(repr, s.tolist())) + '"')
    props = "species:S:1:pos:R:3"
    cols = [coords]
    if forces is not None:
        props += ":force:R:3"
        cols.append(np.asarray(forces, dtype=np.float64).reshape(n, 3))
    head.append("Properties=" + props)
    data = np.hstack(cols).tolist()
    out = [str(n), " ".join(head)]
    for sp, row in zip(species, data):
        out.append(sp + " " + " ".join(map(repr, row)))
    return "\n".join(out) + "\n"


def write_extxyz(path, cell, species, coords, PBC, energy=None, forces=None, stress=None):
    """Write one configuration atomically (see :func:`format_extxyz`)."""
    write_text_atomic(path, format_extxyz(cell, species, coords, PBC, energy, forces, stress))
