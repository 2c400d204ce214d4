"""The ASE calculators of neural-network and SNAP models keep the descriptor's neighbor
list while atoms move less than half the skin, with results equal to a calculator that
builds everything afresh."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk


def crystal(seed=0):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.05, seed=seed)
    return atoms


def fresh_results(model, atoms):
    other = atoms.copy()
    other.calc = model.ase_calculator()
    return (other.get_potential_energy(), other.get_forces(), other.get_stress(),
            other.calc.rebuilds)


def check_reuse(model, per_atom):
    atoms = crystal()
    atoms.calc = model.ase_calculator(skin=0.5)
    rng = np.random.default_rng(2)
    for step in range(4):
        if step:
            atoms.positions += rng.uniform(-0.04, 0.04, atoms.positions.shape)
        e, f, s, fresh_builds = fresh_results(model, atoms)
        assert fresh_builds == 1
        assert atoms.get_potential_energy() == pytest.approx(e, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(atoms.get_forces(), f, rtol=0, atol=1e-11)
        np.testing.assert_allclose(atoms.get_stress(), s, rtol=0, atol=1e-12)
        if per_atom:
            assert atoms.get_potential_energies().sum() == pytest.approx(e, rel=1e-12)
    assert atoms.calc.rebuilds == 1  # one list for all four positions
    assert np.abs(atoms.get_forces()).max() > 1e-3  # forces are not trivially zero
    atoms.positions[1] += [0.4, 0.0, 0.0]  # beyond half the skin: rebuilt
    e, f, _, _ = fresh_results(model, atoms)
    assert atoms.get_potential_energy() == pytest.approx(e, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), f, rtol=0, atol=1e-11)
    assert atoms.calc.rebuilds == 2
    atoms.set_cell(atoms.cell * 1.01, scale_atoms=True)
    atoms.get_potential_energy()
    assert atoms.calc.rebuilds == 3


def test_snap_calculator_reuses_its_neighbor_list():
    from workbench.data.configuration import Configuration
    from workbench.ml.snap import SNAP

    model = SNAP(("Si",), rcutfac=4.2, twojmax=4)
    model.set_param_value("coeffs_Si", np.random.default_rng(5).normal(0, 0.1, model.ncoeff))
    check_reuse(model, per_atom=True)
    # and the calculator equals the model's own compute
    atoms = crystal(seed=3)
    atoms.calc = model.ase_calculator()
    conf = Configuration(np.array(atoms.cell), atoms.get_chemical_symbols(),
                         atoms.positions.copy(), [True] * 3)
    ref = model.compute(model.prepare([conf]), forces=True, stress=True)
    assert atoms.get_potential_energy() == pytest.approx(ref.energy[0], rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), ref.forces, rtol=0, atol=1e-11)
    # energies per atom: in a 3x1x1 supercell every atom has the environment it has in
    # the cell, so the first eight atoms have the cell's per-atom energies
    e = atoms.get_potential_energies()
    assert e.sum() == pytest.approx(ref.energy[0], rel=1e-12) and np.ptp(e) > 1e-6
    big = atoms.repeat((3, 1, 1))
    big.calc = model.ase_calculator()
    e_big = big.get_potential_energies()
    np.testing.assert_allclose(e_big[:len(atoms)], e, rtol=0, atol=1e-11)


def test_neural_network_calculator_reuses_its_neighbor_list():
    pytest.importorskip("torch")
    from workbench.ml import nn
    from workbench.ml.descriptors import SymmetryFunction
    from workbench.ml.neural_network import NeuralNetwork

    desc = SymmetryFunction({"Si-Si": 4.0}, "cos", "set30", normalize=False,
                            dtype=np.float64)
    model = NeuralNetwork(desc, seed=1)
    model.add_layers(nn.Linear(desc.get_size(), 6), nn.Tanh(), nn.Linear(6, 1))
    check_reuse(model, per_atom=True)
