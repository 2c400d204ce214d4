"""Published symmetry-function hyperparameter sets, stored as data.

``set51``: N. Artrith and J. Behler, Phys. Rev. B 85, 045439 (2012) — 8 radial (G2) and
43 angular (G4) functions.  ``set30``: N. Artrith, B. Hiller and J. Behler, Phys. Status
Solidi B 250, 1191 (2013) — 8 radial and 22 angular functions.

The papers give the width parameters ``eta`` in bohr^-2; they are converted to Å^-2 with
the same bohr length KLIFF uses (0.529177 Å), so descriptor values agree with KLIFF's.
Cutoff distances are given by the user, in Å.
"""

from __future__ import annotations

import copy

BOHR_IN_ANGSTROM = 0.529177

# (eta [bohr^-2], Rs [Å])
_SET51_G2 = [(0.001, 0.0), (0.01, 0.0), (0.02, 0.0), (0.035, 0.0),
             (0.06, 0.0), (0.1, 0.0), (0.2, 0.0), (0.4, 0.0)]

# (zeta, lambda, eta [bohr^-2])
_SET51_G4 = [
    (1, -1, 0.0001), (1, 1, 0.0001), (2, -1, 0.0001), (2, 1, 0.0001),
    (1, -1, 0.003), (1, 1, 0.003), (2, -1, 0.003), (2, 1, 0.003),
    (1, -1, 0.008), (1, 1, 0.008), (2, -1, 0.008), (2, 1, 0.008),
    (1, -1, 0.015), (1, 1, 0.015), (2, -1, 0.015), (2, 1, 0.015),
    (4, -1, 0.015), (4, 1, 0.015), (16, -1, 0.015), (16, 1, 0.015),
    (1, -1, 0.025), (1, 1, 0.025), (2, -1, 0.025), (2, 1, 0.025),
    (4, -1, 0.025), (4, 1, 0.025), (16, -1, 0.025), (16, 1, 0.025),
    (1, -1, 0.045), (1, 1, 0.045), (2, -1, 0.045), (2, 1, 0.045),
    (4, -1, 0.045), (4, 1, 0.045), (16, -1, 0.045), (16, 1, 0.045),
    (1, -1, 0.08), (1, 1, 0.08), (2, -1, 0.08), (2, 1, 0.08),
    (4, -1, 0.08), (4, 1, 0.08), (16, 1, 0.08),
]

_SET30_G2 = [(0.0009, 0.0), (0.01, 0.0), (0.02, 0.0), (0.035, 0.0),
             (0.06, 0.0), (0.1, 0.0), (0.2, 0.0), (0.4, 0.0)]

_SET30_G4 = [
    (1, -1, 0.0001), (1, 1, 0.0001), (2, -1, 0.0001), (2, 1, 0.0001),
    (1, -1, 0.003), (1, 1, 0.003), (2, -1, 0.003), (2, 1, 0.003),
    (1, 1, 0.008), (2, 1, 0.008),
    (1, 1, 0.015), (2, 1, 0.015), (4, 1, 0.015), (16, 1, 0.015),
    (1, 1, 0.025), (2, 1, 0.025), (4, 1, 0.025), (16, 1, 0.025),
    (1, 1, 0.045), (2, 1, 0.045), (4, 1, 0.045), (16, 1, 0.045),
]


def _build(g2, g4) -> dict:
    conv = BOHR_IN_ANGSTROM ** 2
    return {
        "g2": [{"eta": eta / conv, "Rs": rs} for eta, rs in g2],
        "g4": [{"zeta": z, "lambda": lam, "eta": eta / conv} for z, lam, eta in g4],
    }


_SETS = {"set51": _build(_SET51_G2, _SET51_G4), "set30": _build(_SET30_G2, _SET30_G4)}


def get_set51() -> dict:
    """The 51 functions of Artrith & Behler (2012), eta in Å^-2."""
    return copy.deepcopy(_SETS["set51"])


def get_set30() -> dict:
    """The 30 functions of Artrith, Hiller & Behler (2013), eta in Å^-2."""
    return copy.deepcopy(_SETS["set30"])


def named_set(name: str) -> dict:
    try:
        return copy.deepcopy(_SETS[name.lower()])
    except KeyError:
        raise KeyError(name) from None


NAMED_SETS = tuple(_SETS)
