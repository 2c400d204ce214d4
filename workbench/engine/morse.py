"""Morse pair potential per species pair.

* ``Morse``: ``phi(r) = D [exp(-2 alpha (r - r0)) - 2 exp(-alpha (r - r0))]`` for
  ``r < cutoff`` (D > 0 is the well depth), truncated, not shifted; its cutoff derivative
  (a delta at the cutoff) is reported as 0.
* ``Morse_Shifted``: the convention of the OpenKIM driver Morse_Shifted__MD_552566534109_004,
  parameters ``epsilon``, ``C``, ``Rzero``, ``cutoff`` with
  ``phi(r) = epsilon [-exp(-2 C (r - Rzero)) + 2 exp(-C (r - Rzero))] - phi(cutoff)``
  (epsilon < 0 for a bound pair), i.e. D = -epsilon.

Parameters are per unordered species pair in ``spec.species_pairs`` order.
"""

from __future__ import annotations

import numpy as np

from workbench.engine.pair import MORSE, evaluate_pair
from workbench.engine.spec import ParamSpec, PotentialSpec

DRIVER = "Morse_Shifted__MD_552566534109_004"


def _per_pair(value):
    return lambda species: np.full(len(species) * (len(species) + 1) // 2, value, float)


# Defaults: Girifalco-Weizer (1959) copper.
MORSE_PARAMS = (
    ParamSpec("D", "well depth per species pair", _per_pair(0.3429), "eV", lower=0.0),
    ParamSpec("alpha", "inverse width per species pair", _per_pair(1.3588), "1/Angstrom",
              lower=0.0),
    ParamSpec("r0", "equilibrium distance per species pair", _per_pair(2.866), "Angstrom",
              lower=0.0),
    ParamSpec("cutoff", "cutoff distance per species pair", _per_pair(7.0), "Angstrom",
              lower=0.0, is_cutoff=True),
)

SHIFTED_PARAMS = (
    ParamSpec("epsilon", "Morse prefactor (minus the well depth) per species pair",
              _per_pair(-0.3429), "eV", upper=0.0),
    ParamSpec("C", "exponent factor per species pair", _per_pair(1.3588), "1/Angstrom",
              lower=0.0),
    ParamSpec("Rzero", "equilibrium distance per species pair", _per_pair(2.866), "Angstrom",
              lower=0.0),
    ParamSpec("cutoff", "cutoff distance per species pair", _per_pair(7.0), "Angstrom",
              lower=0.0, is_cutoff=True),
)


def _influence(params) -> float:
    return float(np.max(params["cutoff"]))


def _morse(batch, params, forces=True, stress=False, jacobian=False):
    """Evaluate the truncated Morse potential on a packed batch."""
    return evaluate_pair(MORSE, ("D", "alpha", "r0"), batch, params, False, forces, stress,
                         jacobian, "Morse")


def _morse_shifted(batch, params, forces=True, stress=False, jacobian=False):
    """Evaluate the shifted Morse potential (KIM driver convention) on a packed batch."""
    return evaluate_pair(MORSE, ("epsilon", "C", "Rzero"), batch, params, True, forces,
                         stress, jacobian, "Morse_Shifted", sign=(-1.0, 1.0, 1.0))


MORSE_SPEC = PotentialSpec(
    name="Morse", params=MORSE_PARAMS, compute=_morse, influence_distance=_influence,
    description="Morse pair potential per species pair, truncated at the cutoff")

MORSE_SHIFTED_SPEC = PotentialSpec(
    name="Morse_Shifted", params=SHIFTED_PARAMS, compute=_morse_shifted,
    influence_distance=_influence, kim_driver=DRIVER,
    description="Morse pair potential shifted to zero at the cutoff (OpenKIM driver "
                "Morse_Shifted convention)")

SPECS = (MORSE_SPEC, MORSE_SHIFTED_SPEC)
