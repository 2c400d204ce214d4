"""Stillinger-Weber kernels: forces, stress and every parameter-Jacobian column against
central finite differences; invariances; multi-species; input errors."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_helpers import (Config, evaluate, fd_forces, fd_param_jacobians, fd_stress,
                            load_dir, rattled, rel_err)
from workbench.engine import sw
from workbench.engine.batch import pack
from workbench.errors import EngineError, ParameterError

SPEC = sw.SPEC


@pytest.fixture(scope="module")
def si_configs(si_path):
    # one 8-atom compressed/stretched crystal and one 64-atom MD snapshot, rattled
    rng = np.random.default_rng(3)
    small = load_dir(si_path / "varying_alat", limit=1)[0]
    big = load_dir(si_path / "NVT_runs", limit=1)[0]
    return [rattled(small, 0.15, rng), rattled(big, 0.1, rng)]


def si_params():
    return SPEC.default_params(("Si",))


def sic_params():
    """Distinct values for each of the pairs (C,C), (C,Si), (Si,Si)."""
    p = SPEC.default_params(("C", "Si"))
    p["A"] = np.array([12.0, 14.0, 15.28484792])
    p["B"] = np.array([0.55, 0.58, 0.60222456])
    p["p"] = np.array([4.0, 4.2, 4.0])
    p["q"] = np.array([0.0, 0.3, 0.0])
    p["sigma"] = np.array([1.6, 1.8, 2.0951])
    p["gamma"] = np.array([2.0, 2.2, 2.51412])
    p["cutoff"] = np.array([3.0, 3.3, 3.77118])
    p["lambda"] = np.array([30.0, 38.0, 45.5322])
    p["costheta0"] = np.array([-1 / 3, -0.3, -0.35])
    return p


def sic_like(rng, n=16, box=6.0, pbc=(True, True, True)):
    """Random SiC-like configuration with no pair closer than 1.4 A."""
    pts = []
    while len(pts) < n:
        x = rng.uniform(0, box, 3)
        d = np.array(pts) - x if pts else np.zeros((0, 3))
        if pbc[0]:
            d -= box * np.round(d / box)
        if not pts or np.min(np.linalg.norm(d, axis=1)) > 1.4:
            pts.append(x)
    cell = np.diag([box, box, box]) + np.array([[0, 0, 0], [0.4, 0, 0], [0.2, -0.3, 0]])
    species = ["Si" if k % 2 else "C" for k in range(n)]
    return Config(np.array(pts), cell, tuple(pbc), species)


def test_default_parameters_are_the_kim_si_model():
    p = si_params()
    assert SPEC.param_names == ("A", "B", "p", "q", "sigma", "gamma", "cutoff", "lambda",
                                "costheta0")
    assert p["A"][0] == pytest.approx(15.28484792, rel=1e-9)
    assert p["lambda"][0] == 45.5322 and p["cutoff"][0] == 3.77118
    assert SPEC.influence_distance(p) == 3.77118
    assert SPEC.default_params(("C", "Si"))["sigma"].shape == (3,)


def test_perfect_diamond_energy_per_atom():
    # SW Si: cohesive energy -2 epsilon = -4.3366 eV/atom near a = 5.431 A; zero forces;
    # equilibrium lattice constant gives (nearly) zero pressure.
    from ase.build import bulk
    at = bulk("Si", "diamond", a=5.431)
    c = Config(at.positions, np.array(at.cell), (True, True, True), ["Si"] * 2)
    r = evaluate(SPEC, [c], si_params(), ("Si",), stress=True)
    assert r.energy[0] / 2 == pytest.approx(-4.3366, abs=1e-3)
    assert np.abs(r.forces).max() < 1e-12
    assert np.abs(r.stress[0, :3]).max() < 2e-3 and np.abs(r.stress[0, 3:]).max() < 1e-12


def test_forces_are_minus_energy_gradient(si_configs):
    # the 8-atom crystal and a 16-atom sheared, strongly rattled diamond cell
    from ase.build import bulk
    at = bulk("Si", "diamond", a=5.3, cubic=True).repeat((1, 1, 2))
    cell = np.array(at.cell) + np.array([[0, 0, 0], [0.4, 0, 0], [0, -0.3, 0]])
    sheared = rattled(Config(at.positions, cell, (True,) * 3, ["Si"] * 16), 0.25,
                      np.random.default_rng(9))
    for c in (si_configs[0], sheared):
        r = evaluate(SPEC, [c], si_params(), ("Si",))
        assert rel_err(r.forces, fd_forces(SPEC, c, si_params(), ("Si",))) < 1e-6


def test_stress_is_strain_derivative(si_configs):
    for c in si_configs:
        r = evaluate(SPEC, [c], si_params(), ("Si",), stress=True)
        assert rel_err(r.stress[0], fd_stress(SPEC, c, si_params(), ("Si",))) < 1e-6


def test_every_jacobian_column_matches_finite_differences(si_configs):
    p = si_params()
    # q = 0 in the default; move it so its column is generic
    p["q"] = np.array([0.2])
    dE, dF, dS, batch = fd_param_jacobians(SPEC, si_configs, p, ("Si",))
    r = SPEC.compute(batch, p, forces=True, stress=True, jacobian=True)
    assert r.d_energy.shape == (2, 9) and r.d_forces.shape == (72, 3, 9)
    for col in range(9):
        name = SPEC.param_names[col]
        assert rel_err(r.d_energy[:, col], dE[:, col]) < 1e-6, name
        assert rel_err(r.d_forces[..., col], dF[..., col]) < 1e-6, name
        assert rel_err(r.d_stress[..., col], dS[..., col]) < 1e-6, name
        assert np.abs(r.d_forces[..., col]).max() > 0, name


def test_energy_forces_mode_equals_full_mode(si_configs):
    batch = pack(si_configs, 3.77118, ("Si",))
    a = SPEC.compute(batch, si_params(), forces=True)
    b = SPEC.compute(batch, si_params(), forces=True, stress=True, jacobian=True)
    np.testing.assert_array_equal(a.energy, b.energy)
    np.testing.assert_array_equal(a.forces, b.forces)
    assert a.stress is None and a.d_energy is None
    # the energy is linear in A for the two-body part: dE/dA * A = E_2body
    assert b.d_energy[0, 0] != 0


def test_columns_restrict_force_and_stress_jacobians(si_configs):
    batch = pack(si_configs, 3.77118, ("Si",))
    full = SPEC.compute(batch, si_params(), stress=True, jacobian=True)
    part = SPEC.compute(batch, si_params(), stress=True, jacobian=True, columns=[0, 5])
    np.testing.assert_array_equal(part.d_forces[..., [0, 5]], full.d_forces[..., [0, 5]])
    np.testing.assert_array_equal(part.d_stress[..., [0, 5]], full.d_stress[..., [0, 5]])
    assert np.all(part.d_forces[..., [1, 2, 3, 4, 6, 7, 8]] == 0)
    np.testing.assert_array_equal(part.d_energy, full.d_energy)
    with pytest.raises(ParameterError, match="columns"):
        SPEC.compute(batch, si_params(), jacobian=True, columns=[9])


def test_multispecies_forces_stress_and_jacobian():
    rng = np.random.default_rng(11)
    p = sic_params()
    names = ("C", "Si")
    configs = [sic_like(rng), sic_like(rng, n=12, box=7.0, pbc=(True, False, True))]
    for c in configs:
        r = evaluate(SPEC, [c], p, names, stress=True)
        assert rel_err(r.forces, fd_forces(SPEC, c, p, names)) < 1e-6
        assert np.abs(r.forces).max() > 0.1
    r = evaluate(SPEC, [configs[0]], p, names, stress=True)
    assert rel_err(r.stress[0], fd_stress(SPEC, configs[0], p, names)) < 1e-6
    assert np.all(np.isnan(evaluate(SPEC, [configs[1]], p, names, stress=True).stress))
    dE, dF, dS, batch = fd_param_jacobians(SPEC, configs, p, names)
    r = SPEC.compute(batch, p, forces=True, stress=True, jacobian=True)
    assert r.d_energy.shape == (2, 27)
    for col in range(27):
        assert rel_err(r.d_energy[:, col], dE[:, col]) < 1e-6, col
        assert rel_err(r.d_forces[..., col], dF[..., col]) < 1e-6, col
        assert rel_err(r.d_stress[:1, :, col], dS[:1, :, col]) < 1e-6, col
    assert np.all(np.isnan(r.d_stress[1]))


def test_species_pair_parameters_act_on_their_pair_only():
    # a C-C dimer does not depend on Si-Si or C-Si parameters
    c = Config(np.array([[0.0, 0, 0], [1.5, 0.1, 0]]), np.eye(3) * 20, (False,) * 3,
               ["C", "C"])
    r = evaluate(SPEC, [c], sic_params(), ("C", "Si"), jacobian=True)
    nonzero = np.nonzero(r.d_energy[0])[0]
    assert set(nonzero % 3) == {0}


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_translation_rotation_permutation_invariance(seed):
    rng = np.random.default_rng(seed)
    c = sic_like(rng, n=12, box=6.5)
    p = sic_params()
    names = ("C", "Si")
    r0 = evaluate(SPEC, [c], p, names, stress=True)
    # translation
    t = Config(c.coords + rng.normal(size=3) * 3, c.cell, c.PBC, c.species)
    rt = evaluate(SPEC, [t], p, names)
    assert rt.energy[0] == pytest.approx(r0.energy[0], rel=1e-11, abs=1e-11)
    np.testing.assert_allclose(rt.forces, r0.forces, atol=1e-9)
    # rotation of atoms and cell together
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = Config(c.coords @ q.T, c.cell @ q.T, c.PBC, c.species)
    rr = evaluate(SPEC, [rot], p, names, stress=True)
    assert rr.energy[0] == pytest.approx(r0.energy[0], rel=1e-11, abs=1e-11)
    np.testing.assert_allclose(rr.forces, r0.forces @ q.T, atol=1e-9)
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    s = np.zeros((3, 3))
    for k, (a, b) in enumerate(voigt):
        s[a, b] = s[b, a] = r0.stress[0, k]
    srot = q @ s @ q.T
    np.testing.assert_allclose(rr.stress[0], [srot[a, b] for a, b in voigt], atol=1e-9)
    # permutation of atoms
    perm = rng.permutation(len(c.species))
    pc = Config(c.coords[perm], c.cell, c.PBC, [c.species[k] for k in perm])
    rp = evaluate(SPEC, [pc], p, names)
    assert rp.energy[0] == pytest.approx(r0.energy[0], rel=1e-11, abs=1e-11)
    np.testing.assert_allclose(rp.forces, r0.forces[perm], atol=1e-9)


def test_cluster_forces_and_no_stress():
    rng = np.random.default_rng(5)
    c = sic_like(rng, n=10, box=5.0, pbc=(False, False, False))
    c.species = ["Si"] * 10
    r = evaluate(SPEC, [c], si_params(), ("Si",), stress=True)
    assert np.all(np.isnan(r.stress))
    assert rel_err(r.forces, fd_forces(SPEC, c, si_params(), ("Si",))) < 1e-6
    np.testing.assert_allclose(r.forces.sum(axis=0), 0, atol=1e-10)


def test_errors_name_the_problem(si_configs):
    batch = pack(si_configs[:1], 3.0, ("Si",))
    with pytest.raises(EngineError, match="cutoff"):
        SPEC.compute(batch, si_params())
    bad = si_params()
    bad["sigma"] = np.array([1.0, 2.0])
    batch = pack(si_configs[:1], 3.8, ("Si",))
    with pytest.raises(ParameterError, match="'sigma'.*expected 1"):
        SPEC.compute(batch, bad)
