"""The rules every configuration obeys, as functions returning the problem (a sentence
saying what is wrong and what was expected) or None.

One set of rules serves every door data comes in by: the extended-XYZ reader and the ASE
path both report through :func:`frame_problem` (and :func:`parse_pbc`), adding the file and
the line (or, for files without lines, the frame) of the defect, ``Configuration(...)`` and its setters, and
:meth:`Configuration.validate` which packing and fingerprinting call before using data
that may have been edited in place (the configuration's identifier is then added).
"""

from __future__ import annotations

import math

import numpy as np
from ase.data import chemical_symbols

#: Element symbols a configuration may hold (ASE's list without the dummy atom ``X``).
KNOWN_SPECIES = frozenset(chemical_symbols) - {"X"}

#: Indices of xx yy zz yz xz xy in a 9-value stress.  ASE reads the nine values of an
#: extended-XYZ ``stress`` column by column, so the off-diagonal entries come from
#: positions 7, 6 and 3; for a symmetric tensor this is the same as rows.
VOIGT_FROM_NINE = (0, 4, 8, 7, 6, 3)


def cell_problem(cell, pbc) -> str | None:
    """A periodic (or given, non-zero) cell must be right-handed and not singular."""
    if not (any(pbc) or np.any(cell)):
        return None
    a, b, c, d, e, f, g, h, i = np.asarray(cell, dtype=np.float64).ravel().tolist()
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    scale = ((a * a + b * b + c * c) * (d * d + e * e + f * f)
             * (g * g + h * h + i * i)) ** 0.5
    if not math.isfinite(scale):
        return "cell contains NaN or inf; expected finite numbers"
    if scale == 0.0 or abs(det) <= 1e-10 * scale:
        return (f"singular cell (determinant {det:.6g}); expected three linearly "
                "independent lattice vectors")
    if det < 0:
        return (f"left-handed cell (determinant {det:.6g} < 0); expected a1, a2, a3 "
                "to follow the right-hand rule")
    return None


#: Values of a PBC flag (case-insensitive), as files spell them.
PBC_FLAGS = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}
_PER_ATOM = ("coordinates", "forces")


def format_values(values) -> str:
    """Numbers as a message shows them, the same whichever reader parsed them."""
    return " ".join(repr(float(v)) for v in np.ravel(values))


def nonfinite_problem(what, values) -> str | None:
    """``what`` (energy, cell, stress, coordinates, forces) holding NaN or inf; per-atom
    arrays name the first bad atom and show its values."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        v = float(arr)
        return None if math.isfinite(v) else f"{what} is {v}; expected a finite number"
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    if what in _PER_ATOM and arr.ndim == 2:
        k = int(np.argwhere(bad)[0, 0])
        return (f"{what} contain NaN or inf (atom {k}: {format_values(arr[k])}); expected "
                "finite numbers")
    return f"{what} contains NaN or inf ({format_values(arr)}); expected finite numbers"


def species_problem(species) -> str | None:
    bad = [s for s in species if s not in KNOWN_SPECIES]
    if not bad:
        return None
    k = list(species).index(bad[0])
    return (f"unknown element symbol {bad[0]!r} (atom {k}); expected a chemical symbol "
            "such as Si or C")


def parse_pbc(value) -> tuple[list[bool] | None, str | None]:
    """Three periodicity flags from a file's ``PBC`` text (``"T T F"``, ``"1 1 0"``) or
    from what a library made of it (booleans or integers): ``(flags, None)`` or
    ``(None, problem)``."""
    if isinstance(value, str):
        toks = value.split()
    else:
        toks = [("T" if v else "F") if isinstance(v, (bool, np.bool_)) else str(v)
                for v in np.ravel(value)]
    flags = [PBC_FLAGS.get(t.lower()) for t in toks]
    if len(flags) != 3 or None in flags:
        text = value if isinstance(value, str) else " ".join(toks)
        return None, f"PBC={text!r}; expected three flags of 1/0 or T/F"
    return flags, None


def header_problem(cell, pbc, energy, stress) -> str | None:
    """The first rule broken by a frame's own values (what an extended-XYZ comment line
    holds): cell finite, right-handed, not singular; energy and stress finite.  ``stress``
    as given (6 Voigt values, or 9 whose Voigt part is checked first)."""
    cell = np.asarray(cell, dtype=np.float64)
    problem = nonfinite_problem("cell", cell.ravel()) or cell_problem(cell, pbc)
    if problem is None and energy is not None:
        problem = nonfinite_problem("energy", energy)
    if problem is None and stress is not None:
        problem = (nonfinite_problem("stress", stress_to_voigt(stress))
                   or nonfinite_problem("stress", np.ravel(stress)))
    return problem


def atoms_problem(species, coords, forces) -> tuple[int, str] | None:
    """``(atom index, problem)`` for the first rule broken by per-atom data (known element
    symbols, finite coordinates, finite forces), None if all hold."""
    problem = species_problem(species)
    if problem:
        return next(k for k, s in enumerate(species) if s not in KNOWN_SPECIES), problem
    for what, values in (("coordinates", coords), ("forces", forces)):
        if values is None:
            continue
        arr = np.asarray(values, dtype=np.float64)
        problem = nonfinite_problem(what, arr)
        if problem:
            return int(np.argwhere(~np.isfinite(arr))[0, 0]), problem
    return None


def frame_problem(cell, pbc, species, coords, energy, forces, stress):
    """The first problem of a frame, in the order the extended-XYZ reader meets them:
    ``(None, problem)`` for a frame value, ``(k, problem)`` for atom k; None if none.
    Both readers (the built-in one and the ASE path) report through this function, so the
    same defect gives the same words."""
    problem = header_problem(cell, pbc, energy, stress)
    if problem:
        return None, problem
    return atoms_problem(species, coords, forces)


def configuration_problems(cell, species, coords, pbc, energy, forces, stress) -> list[str]:
    """Every rule broken by these arrays (shapes are checked by the caller)."""
    found = [
        species_problem(species),
        nonfinite_problem("coordinates", coords),
        nonfinite_problem("cell", np.ravel(cell)) or cell_problem(cell, pbc),
        None if energy is None else nonfinite_problem("energy", energy),
        None if forces is None else nonfinite_problem("forces", forces),
        None if stress is None else nonfinite_problem("stress", stress),
    ]
    return [p for p in found if p is not None]


def stress_to_voigt(stress):
    """6 Voigt values as given, or 9 values converted with :data:`VOIGT_FROM_NINE`."""
    s = np.asarray(stress, dtype=np.float64).ravel()
    return s[list(VOIGT_FROM_NINE)] if s.size == 9 else s
