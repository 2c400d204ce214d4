"""Energies per atom from ``model.ase_calculator()`` for the built-in engine models: they
add up to the energy, equal the per-atom split that the OpenKIM SW model computes
(partialParticleEnergy through kim-api: the model's own C++ driver), follow the atom-centred definition of
each potential, and the neighbor lists stay reused while atoms move within the skin."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from workbench.models import builtin

SW_KIM = "SW_StillingerWeber_1985_Si__MO_405512056662_005"


def crystal(seed=0, repeat=(2, 1, 1), amp=0.08):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * repeat
    atoms.rattle(amp, seed=seed)
    return atoms


@pytest.mark.kim
def test_sw_energies_per_atom_equal_the_kim_models_particle_energies():
    from workbench.models import KIMModel

    atoms = crystal()
    ours = atoms.copy()
    ours.calc = builtin.StillingerWeber().ase_calculator()
    theirs = atoms.copy()
    # ASE's KIM calculator offers no per-atom energies; the workbench's KIM calculator
    # asks kim-api for partialParticleEnergy, computed by the SW driver itself
    theirs.calc = KIMModel(SW_KIM).ase_calculator()
    assert type(theirs.calc.backend).__name__ == "_KIMBackend"
    e_kim = theirs.get_potential_energies()
    e = ours.get_potential_energies()
    assert np.ptp(e) > 0.05  # the rattle makes the atoms differ
    np.testing.assert_allclose(e, e_kim, rtol=0, atol=1e-10)
    assert e.sum() == pytest.approx(ours.get_potential_energy(), rel=1e-12, abs=0)
    # the atoms move (less than half the skin): lists kept, energies still exact
    calc = ours.calc
    for step in range(3):
        ours.positions += np.random.default_rng(step).uniform(-0.03, 0.03, (len(ours), 3))
        theirs.positions[:] = ours.positions
        np.testing.assert_allclose(ours.get_potential_energies(),
                                   theirs.get_potential_energies(), rtol=0, atol=1e-10)
    assert calc.rebuilds == 1


def test_pair_potential_energies_are_half_the_pair_sums():
    """LJ: E_i = 1/2 sum_j phi(r_ij), computed here from ASE's own neighbor list."""
    from ase.neighborlist import neighbor_list

    model = builtin.LennardJones(shifted=False)
    model.set_param_value("sigma", [2.2])
    model.set_param_value("epsilon", [0.4])
    atoms = crystal(seed=3)
    atoms.calc = model.ase_calculator()
    e = atoms.get_potential_energies()
    rc = model.get_influence_distance()
    i, d = neighbor_list("id", atoms, rc)
    phi = 4 * 0.4 * ((2.2 / d) ** 12 - (2.2 / d) ** 6)
    expected = 0.5 * np.bincount(i, weights=phi, minlength=len(atoms))
    np.testing.assert_allclose(e, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["Tersoff", "Morse", "EAM"])
def test_energies_add_up_to_the_energy(name):
    from workbench.models.eam import EAM

    model = EAM(("Si",)) if name == "EAM" else getattr(builtin, name)()
    atoms = crystal(seed=5)
    atoms.calc = model.ase_calculator()
    e = atoms.get_potential_energies()
    assert e.shape == (len(atoms),) and np.ptp(e) > 1e-4
    assert e.sum() == pytest.approx(atoms.get_potential_energy(), rel=1e-12, abs=0)
