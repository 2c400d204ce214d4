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
reader of :mod:`workbench.data._batchread` (same values bit for bit) and hands the files that
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

from workbench.atomic import write_text_atomic
from workbench.errors import DatasetError

from .checks import KNOWN_SPECIES as _KNOWN_SPECIES
from .checks import atoms_problem, header_problem, parse_pbc, stress_to_voigt
_KV = re.compile(
    r"\s*([^\s=\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|\{([^}]*)\}|([^\s\"'{]+)))?"
)
_TYPES = {"S", "R", "I", "L"}
#: Plain decimal notation (ASCII digits, optional sign, point and exponent); NaN and inf
#: spellings are matched separately so that they are reported as such.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
#: Column names read as forces: KLIFF writes ``force`` (1.x also ``for``), ASE ``forces``.
FORCE_NAMES = ("force", "forces", "for")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _err(msg, path, line=None):
    return DatasetError(msg, path=path, line=line)


def _read_text(path) -> str:
    """The text of a file; ``.gz`` files are decompressed."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise _err(f"cannot open file: {exc.strerror}", path) from None
    if str(path).endswith(".gz"):
        import gzip
        import zlib
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise _err(f"cannot decompress it ({exc}); expected a gzip-compressed "
                       "extended-XYZ file", path) from None
    return decode_text(data, path)


def decode_text(data: bytes, path=None) -> str:
    """The file's text, or a DatasetError naming the line of a NUL, BOM or bad byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise _err("the file starts with a UTF-8 byte order mark (BOM); expected the atom "
                   "count as the first characters (save the file as UTF-8 without BOM)",
                   path, 1)
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


def split_lines(text: str) -> list[str]:
    """Lines ended by \\n, \\r\\n or \\r only (unlike str.splitlines, a form feed or
    U+0085 does not end a line, so line numbers match what editors show)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_comment(comment: str, path=None, line: int = 2) -> dict[str, str]:
    """Split the comment line into ``{key: value}`` (keys as written, values unquoted).
    A key given twice (case-insensitively, as keys are matched) is an error."""
    bad = _CONTROL.search(comment)
    if bad:
        raise _err(f"control character U+{ord(bad.group()):04X} in the comment line; "
                   "expected printable key=value text on one line", path, line)
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    twice = None
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
        low = key.lower()
        if low in seen and twice is None:
            twice = (key, seen[low])
        seen[low] = key
        vals = [g for g in m.group(2, 3, 4, 5) if g is not None]
        out[key] = vals[0] if vals else "T"
        pos = m.end()
    if twice:
        raise _err(f"key {twice[0]!r} is given twice on the comment line (also as "
                   f"{twice[1]!r}); expected each key once", path, line)
    return out


def parse_number(token: str) -> float | None:
    """``float(token)`` for plain decimal notation (and NaN/inf spellings, which the
    caller rejects as non-finite); None for anything else, e.g. ``1_0`` or full-width
    digits that Python's float() would accept."""
    if _DECIMAL.fullmatch(token) or _NONFINITE.fullmatch(token):
        return float(token)
    return None


def _floats(text, what, count, path, line):
    parts = text.replace(",", " ").split()
    if count is not None and len(parts) not in (count if isinstance(count, tuple) else (count,)):
        want = " or ".join(map(str, count)) if isinstance(count, tuple) else str(count)
        raise _err(f"{what} has {len(parts)} values; expected {want} numbers", path, line)
    vals = [parse_number(p) for p in parts]
    if None in vals:
        want = "a finite number" if count == 1 else f"{count} finite numbers"
        raise _err(f"{what} value {text.strip()!r} is not numeric; expected {want}",
                   path, line)
    return np.array(vals, dtype=np.float64)  # NaN/inf: see checks.header_problem


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


class Header:
    """What the first two lines of a frame say: atom count, columns and per-frame values."""

    __slots__ = ("natoms", "cols", "ncol", "species_col", "pos_col", "force_col", "cell",
                 "pbc", "energy", "stress", "properties", "first")

    def columns(self, names):
        return _column(self.cols, names)


def _atom_count(text, path, line):
    try:
        natoms = int(text)
    except ValueError:
        natoms = None
    if natoms is None or not _DECIMAL.fullmatch(text.strip()):
        raise _err(f"expected the number of atoms (an integer) on line {line}, found "
                   f"{text.strip()[:40]!r}", path, line)
    if natoms < 1:
        raise _err(f"atom count {natoms} on line {line}; expected a positive integer",
                   path, line)
    return natoms


def _looks_like_atom_line(comment) -> bool:
    toks = comment.split()
    return (len(toks) >= 4 and toks[0] in _KNOWN_SPECIES and "=" not in comment
            and all(_DECIMAL.fullmatch(t) for t in toks[1:]))


def parse_header(count_line: str, comment: str, path=None, first: int = 1) -> Header:
    """Parse a frame's count line (file line ``first``) and comment line (``first + 1``)."""
    h = Header()
    h.first = first
    cl = first + 1
    h.natoms = _atom_count(count_line, path, first)
    if _looks_like_atom_line(comment):
        raise _err(f"line {cl} looks like an atom line ({comment.strip()[:40]!r}): the "
                   "comment line is missing; expected a line with Lattice/PBC/Properties "
                   "between the atom count and the atoms", path, cl)
    info = parse_comment(comment, path, cl)
    lower = {k.lower(): v for k, v in info.items()}
    h.properties = lower.get("properties")
    cols = h.cols = parse_properties(lower.get("properties", "species:S:1:pos:R:3"), path, cl)
    h.ncol = cols[-1][3] + cols[-1][2]
    species_col = h.species_col = _column(cols, ("species", "symbols", "element"))
    pos_col = h.pos_col = _column(cols, ("pos", "positions"))
    force_col = h.force_col = _column(cols, FORCE_NAMES)
    if species_col is None or pos_col is None:
        raise _err(f"Properties={lower.get('properties')} lacks a species or pos column; "
                   "expected e.g. species:S:1:pos:R:3:force:R:3", path, cl)
    if species_col[2] != 1 or species_col[1] != "S":
        raise _err("the species column must be species:S:1", path, cl)
    if pos_col[2] != 3:
        raise _err(f"positions have {pos_col[2]} components (pos:R:{pos_col[2]}); expected "
                   "pos:R:3", path, cl)
    if force_col is not None and force_col[2] != 3:
        raise _err(f"forces of wrong shape: {force_col[0]}:R:{force_col[2]} gives "
                   f"{force_col[2]} components per atom; expected {force_col[0]}:R:3 "
                   "(an N x 3 array)", path, cl)

    pbc = None
    if "pbc" in lower:
        pbc, problem = parse_pbc(lower["pbc"])
        if problem:
            raise _err(problem, path, cl)
    if "lattice" in lower:
        cell = _floats(lower["lattice"], "Lattice", 9, path, cl).reshape(3, 3)
        if pbc is None:
            pbc = [True, True, True]
    else:
        cell = np.zeros((3, 3))
        if pbc is None:
            pbc = [False, False, False]
        if any(pbc):
            raise _err(f"PBC={lower['pbc']!r} is periodic but no Lattice is given; "
                       'expected Lattice="a1 a2 a3" (9 numbers)', path, cl)
    h.cell, h.pbc = cell, pbc
    h.energy = None
    if "energy" in lower:
        h.energy = float(_floats(lower["energy"], "Energy", 1, path, cl)[0])
    h.stress = None
    stress = None
    if "stress" in lower:
        stress = _floats(lower["stress"], "Stress", (6, 9), path, cl)
        h.stress = stress_to_voigt(stress)
    problem = header_problem(cell, pbc, h.energy, stress)
    if problem:
        raise _err(problem, path, cl)
    return h


def read_extxyz(path) -> dict:
    """Read one configuration; returns a dict with ``cell, species, coords, PBC, energy,
    forces, stress`` (missing properties are None).  Raises :class:`DatasetError` naming the
    file and line for any malformed input, and for a file holding several frames."""
    text = _read_text(path)
    return parse_extxyz(text, path)


def read_extxyz_frames(path) -> list[dict]:
    """Every frame of a (possibly multi-frame) file, as :func:`read_extxyz` dicts."""
    return parse_frames(_read_text(path), path)


def parse_extxyz(text: str, path=None) -> dict:
    lines = split_lines(text)
    frame, end, h = _parse_frame(lines, 0, text, path)
    nxt = _next_frame(lines, end, h, path)
    if nxt is not None:
        raise _err(f"the file holds several frames (the next starts here, after the "
                   f"{h.natoms} atoms declared on line 1); expected one configuration: "
                   "read it with Dataset(path), which reads every frame", path, nxt + 1)
    return frame


def parse_frames(text: str, path=None) -> list[dict]:
    """All frames of a file; errors in frame k > 0 say so ("frame k: ...")."""
    lines = split_lines(text)
    frames, pos = [], 0
    while True:
        try:
            frame, end, h = _parse_frame(lines, pos, text, path)
            frames.append(frame)
            pos = _next_frame(lines, end, h, path)
        except DatasetError as exc:
            if not frames:
                raise
            raise _err(f"frame {len(frames)}: {exc.reason}", path, exc.line) from None
        if pos is None:
            return frames


def _next_frame(lines, end, h, path):
    """Index of the next frame's count line after ``end``, None at the end of the file;
    a non-blank line that is not an atom count means too many atom lines."""
    k = end
    while k < len(lines) and not lines[k].strip():
        k += 1
    if k == len(lines):
        return None
    ln = lines[k]
    if ln.strip().isdigit() and ln.strip().isascii():
        return k
    raise _err(f"wrong atom count: line {h.first} declares {h.natoms} atoms "
               "but more atom lines follow", path, k + 1)


def _parse_frame(lines, start, text, path):
    """The frame whose count line is ``lines[start]``: (dict, index after its atoms,
    its Header)."""
    first = start + 1
    if start == 0 and text.strip() == "":
        raise _err("empty file; expected an atom count on line 1", path, 1)
    if len(lines) < start + 2:
        _atom_count(lines[start], path, first)
        raise _err(f"truncated file: it ends after line {first}; expected a comment line "
                   "with Lattice/PBC/Properties and the atom lines", path, first)
    h = parse_header(lines[start], lines[start + 1], path, first)
    natoms, ncol = h.natoms, h.ncol
    body = lines[start + 2:start + 2 + natoms]
    if len(body) < natoms:
        last = body[-1] if body else lines[start + 1]
        nfound = len(body)
        if nfound == 0:
            raise _err(f"truncated file: it ends after the comment line; expected {natoms} "
                       "atom lines", path, first + 1)
        if body and len(last.split()) < ncol and not text.endswith(("\n", "\r")):
            raise _err(f"truncated file: line {first + 1 + nfound} is incomplete "
                       f"({len(last.split())} of {ncol} columns) and the file ends there; "
                       f"expected {natoms} atom lines", path, first + 1 + nfound)
        raise _err(f"wrong atom count: line {first} declares {natoms} atoms but only "
                   f"{nfound} atom lines follow (file ends at line {first + 1 + nfound})",
                   path, first)
    frame = {"cell": h.cell, "PBC": h.pbc, "energy": h.energy, "stress": h.stress}
    flat = " ".join(body).split()
    if len(flat) == natoms * ncol:
        species = flat[h.species_col[3]::ncol]
        if not set(species) - _KNOWN_SPECIES:
            got = _fast_block(flat, natoms, ncol, h.species_col, h.pos_col, h.force_col)
            if got is not None:
                frame["species"], (frame["coords"], frame["forces"]) = species, got
                warn_if_no_forces(h, path)
                return frame, start + 2 + natoms, h
    _diagnose(body, ncol, h.properties, text, path, h.species_col, h.pos_col, h.force_col,
              first + 2)
    raise _err("malformed atom block", path, first + 2)  # pragma: no cover - _diagnose raises


def warn_if_no_forces(h, path):
    """Warn when a frame has per-atom columns besides species and positions but none of
    them is forces (e.g. velocities): they are not read as forces."""
    if h.force_col is None and len(h.cols) > 2:
        names = ", ".join(c[0] for c in h.cols if c not in (h.species_col, h.pos_col))
        warnings.warn(f"{path}, line {h.first + 1}: per-atom columns ({names}) but no "
                      f"forces; forces are read only from a column named "
                      f"{', '.join(FORCE_NAMES)}", NoForcesWarning, stacklevel=5)


class NoForcesWarning(UserWarning):
    """A file has per-atom columns besides species and positions, but none is forces."""


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
            cols = [flat[c[3] + j::ncol] for c in wanted for j in range(3)]
            if not all(_DECIMAL.fullmatch(t) for col in cols for t in col):
                return None
            vals = np.array([list(map(float, col)) for col in cols], dtype=np.float64).T
    except (ValueError, DeprecationWarning):
        return None
    if not np.isfinite(vals).all():
        return None
    coords = np.ascontiguousarray(vals[:, :3])
    forces = np.ascontiguousarray(vals[:, 3:6]) if force_col is not None else None
    return coords, forces


def _diagnose(body, ncol, prop, text, path, species_col, pos_col, force_col, first=3):
    """Slow per-line pass that names the first offending line (atom lines start at file
    line ``first``)."""
    rows = [ln.split() for ln in body]
    lens = {len(r) for r in rows}
    if lens != {ncol}:
        _column_error(rows, ncol, lens, prop, text, path, first)
    arr = np.array(rows)
    species = arr[:, species_col[3]].tolist()
    coords = forces = None
    if not set(species) - _KNOWN_SPECIES:  # else atoms_problem names the species first
        coords = _numeric(arr, pos_col, "coordinates", path, first)
        if force_col is not None:
            forces = _numeric(arr, force_col, "forces", path, first)
    got = atoms_problem(species, coords, forces)
    if got:
        raise _err(got[1], path, first + got[0])


def _column_error(rows, ncol, lens, prop, text, path, first=3):
    if len(lens) == 1:
        (n,) = lens
        raise _err(f"Properties={prop} declares {ncol} columns but every atom line has {n}; "
                   "expected the Properties string to match the columns", path, first)
    for k, r in enumerate(rows):
        if len(r) != ncol:
            if k == len(rows) - 1 and len(r) < ncol and not text.endswith(("\n", "\r")):
                raise _err(f"truncated file: line {first + k} is incomplete ({len(r)} of "
                           f"{ncol} columns) and the file ends there", path, first + k)
            word = "missing" if len(r) < ncol else "extra"
            raise _err(f"{word} columns: found {len(r)} columns; expected {ncol} "
                       f"(Properties={prop})", path, first + k)


def _numeric(arr, col, what, path, first=3):
    """The column block as floats (NaN/inf included: see checks.atoms_problem); a token
    that is not a plain decimal number names its line."""
    _, _, cnt, start = col
    block = arr[:, start:start + cnt]
    for k in range(block.shape[0]):
        for tok in block[k]:
            if parse_number(str(tok)) is None:
                raise _err(f"non-numeric value {str(tok)!r} in the {what}; expected {cnt} "
                           "numbers in plain decimal notation", path, first + k)
    return block.astype(np.float64)


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
