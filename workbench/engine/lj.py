"""Lennard-Jones 6-12 per species pair.

``phi(r) = 4 epsilon [(sigma/r)^12 - (sigma/r)^6]`` for ``r < cutoff``, parameters per
unordered species pair in ``spec.species_pairs`` order, as in the OpenKIM driver
LennardJones612__MD_414112407348_003 (its ``epsilons``, ``sigmas``, ``cutoffs`` and
``shift`` flag).  Two specs:

* ``LJ``: truncated, not shifted (the convention of KLIFF's built-in LennardJones model);
  the cutoff derivative of the energy is a delta at r = cutoff and is reported as 0.
* ``LJ_shifted``: each pair energy shifted to zero at its cutoff (driver ``shift = 1``);
  the cutoff column of the energy Jacobian is ``-1/2 sum phi'(cutoff)`` over pairs.
"""

from __future__ import annotations

import numpy as np

from workbench.engine.pair import LJ, evaluate_pair
from workbench.engine.spec import ParamSpec, PotentialSpec

DRIVER = "LennardJones612__MD_414112407348_003"


def _per_pair(value):
    return lambda species: np.full(len(species) * (len(species) + 1) // 2, value, float)


PARAMS = (
    ParamSpec("epsilon", "well depth per species pair", _per_pair(1.0), "eV", lower=0.0),
    ParamSpec("sigma", "zero-crossing distance per species pair", _per_pair(2.0), "Angstrom",
              lower=0.0),
    ParamSpec("cutoff", "cutoff distance per species pair", _per_pair(5.0), "Angstrom",
              lower=0.0, is_cutoff=True),
)


def _influence(params) -> float:
    return float(np.max(params["cutoff"]))


def _compute(shift):
    name = "LJ_shifted" if shift else "LJ"

    def compute(batch, params, forces=True, stress=False, jacobian=False):
        return evaluate_pair(LJ, ("epsilon", "sigma"), batch, params, shift, forces, stress,
                             jacobian, name)

    compute.__doc__ = f"Evaluate {name} on a packed batch (see workbench.engine.spec)."
    return compute


LJ_SPEC = PotentialSpec(
    name="LJ", params=PARAMS, compute=_compute(False), influence_distance=_influence,
    kim_driver=DRIVER,
    description="Lennard-Jones 6-12 per species pair, truncated at the cutoff (not shifted)",
    extra={"shift": 0, "kim_param_names": {"epsilon": "epsilons", "sigma": "sigmas",
                                           "cutoff": "cutoffs"}})

LJ_SHIFTED_SPEC = PotentialSpec(
    name="LJ_shifted", params=PARAMS, compute=_compute(True), influence_distance=_influence,
    kim_driver=DRIVER,
    description="Lennard-Jones 6-12 per species pair, energy shifted to zero at the cutoff",
    extra={"shift": 1, "kim_param_names": {"epsilon": "epsilons", "sigma": "sigmas",
                                           "cutoff": "cutoffs"}})

SPECS = (LJ_SPEC, LJ_SHIFTED_SPEC)
