"""The rules every configuration obeys, as functions returning the problem (a sentence
saying what is wrong and what was expected) or None.

One set of rules serves every door data comes in by: the extended-XYZ reader (which adds
file and line), the ASE path (file and frame), ``Configuration(...)`` and its setters, and
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


def nonfinite_problem(what, values) -> str | None:
    """``what`` (energy, forces, ...) holding NaN or inf, naming the first bad entry."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        v = float(arr)
        return None if math.isfinite(v) else f"{what} is {v}; expected a finite number"
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    first = tuple(int(k) for k in np.argwhere(bad)[0])
    where = f"atom {first[0]}" if arr.ndim == 2 else f"entry {first[0]}"
    return f"{what} contain NaN or inf ({where}: {arr[first]}); expected finite numbers"


def species_problem(species) -> str | None:
    bad = [s for s in species if s not in KNOWN_SPECIES]
    if not bad:
        return None
    k = list(species).index(bad[0])
    return (f"unknown element symbol {bad[0]!r} (atom {k}); expected a chemical symbol "
            "such as Si or C")


def configuration_problems(cell, species, coords, pbc, energy, forces, stress) -> list[str]:
    """Every rule broken by these arrays (shapes are checked by the caller)."""
    found = [
        species_problem(species),
        nonfinite_problem("coordinates", coords),
        cell_problem(cell, pbc) if np.isfinite(cell).all() else
        "cell contains NaN or inf; expected finite numbers",
        None if energy is None else nonfinite_problem("energy", energy),
        None if forces is None else nonfinite_problem("forces", forces),
        None if stress is None else nonfinite_problem("stress", stress),
    ]
    return [p for p in found if p is not None]


def stress_to_voigt(stress):
    """6 Voigt values as given, or 9 values converted with :data:`VOIGT_FROM_NINE`."""
    s = np.asarray(stress, dtype=np.float64).ravel()
    return s[list(VOIGT_FROM_NINE)] if s.size == 9 else s
