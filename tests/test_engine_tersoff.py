"""Tersoff kernels: forces, stress and every parameter-Jacobian column against central
finite differences; invariances; species order; input errors."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_helpers import (Config, evaluate, fd_forces, fd_param_jacobians, fd_stress,
                            load_dir, rattled, rel_err)
from workbench.engine import tersoff
from workbench.engine.batch import pack
from workbench.errors import EngineError, ParameterError

SPEC = tersoff.SPEC
NAMES = ("C", "Si")


@pytest.fixture(scope="module")
def sic_rattled():
    """16-atom zincblende SiC in a sheared cell, rattled."""
    from ase.build import bulk
    at = bulk("SiC", "zincblende", a=4.36, cubic=True).repeat((1, 1, 2))
    cell = np.array(at.cell) + np.array([[0, 0, 0], [0.3, 0, 0], [0, -0.2, 0]])
    rng = np.random.default_rng(7)
    return rattled(Config(at.positions, cell, (True,) * 3, at.get_chemical_symbols()),
                   0.12, rng)


def generic_params(names=NAMES):
    """Erhart-Albe with every parameter moved off its special value (lambda3 = 0, m = 1,
    n = beta = 1) and well-conditioned angular constants, so that each column is exercised
    and central differences are accurate."""
    p = SPEC.default_params(names)
    p["lambda3"] = np.array([0.3, 1.6, 0.5, 1.8, 1.7, 0.9, 1.5, 1.1])
    p["m"] = np.array([1, 3, 1, 3, 3, 1, 3, 1.0])
    p["beta"] = np.array([1.0, 0.9, 1.1, 1.2])
    p["n"] = np.array([1.0, 0.8, 1.3, 0.9])
    p["c"] = np.linspace(1.5, 4.0, 8)
    p["d"] = np.linspace(0.8, 1.6, 8)
    p["gamma"] = np.linspace(0.05, 0.12, 8)
    return p


def test_defaults_follow_the_species_order():
    a = SPEC.default_params(("Si", "C"))
    b = SPEC.default_params(("C", "Si"))
    assert SPEC.param_names[:6] == ("A", "B", "lambda1", "lambda2", "beta", "n")
    assert SPEC.param_names[6:] == ("lambda3", "m", "gamma", "c", "d", "h", "Rc", "Dc")
    assert a["A"][0] == 2145.7128 and b["A"][3] == 2145.7128  # Si-Si
    assert a["Rc"][7] == 2.0 and b["Rc"][0] == 2.0  # C-C-C
    assert a["gamma"][1] == 0.011877  # Si-Si-C
    assert SPEC.influence_distance(a) == pytest.approx(2.96)
    si = SPEC.default_params(("Si",))
    assert si["c"].tolist() == [2.00494] and si["Dc"].tolist() == [0.14]
    with pytest.raises(ParameterError, match="Ge"):
        SPEC.default_params(("Si", "Ge"))


def test_forces_and_stress_match_finite_differences(sic_rattled):
    for p in (SPEC.default_params(NAMES), generic_params()):
        r = evaluate(SPEC, [sic_rattled], p, NAMES, stress=True)
        assert rel_err(r.forces, fd_forces(SPEC, sic_rattled, p, NAMES)) < 1e-6
        assert rel_err(r.stress[0], fd_stress(SPEC, sic_rattled, p, NAMES)) < 1e-6
        assert np.abs(r.forces).max() > 0.5


def test_every_jacobian_column_matches_finite_differences(sic_rattled):
    p = generic_params()
    n2 = 6 * 4
    m_cols = range(n2 + 8, n2 + 16)
    lam3_cols = list(range(n2, n2 + 8))
    others = [k for k in range(88) if k not in m_cols and k not in lam3_cols]
    r = evaluate(SPEC, [sic_rattled], p, NAMES, stress=True, jacobian=True,
                 cutoff=SPEC.influence_distance(p) * 1.05)
    assert r.d_energy.shape == (1, 88) and r.d_forces.shape == (16, 3, 88)
    # lambda3 columns are small: a larger step keeps round-off out of the difference
    for cols, step in ((others, 1e-6), (lam3_cols, 1e-4)):
        dE, dF, dS, _ = fd_param_jacobians(SPEC, [sic_rattled], p, NAMES, columns=cols,
                                           rel_step=step)
        for col in cols:
            if np.all(dF[..., col] == 0):  # parameters of bond types that do not occur
                assert np.all(r.d_forces[..., col] == 0) and r.d_energy[0, col] == 0
                continue
            assert rel_err(r.d_energy[:, col], dE[:, col]) < 1e-6, col
            assert rel_err(r.d_forces[..., col], dF[..., col]) < 1e-6, col
            assert rel_err(r.d_stress[..., col], dS[..., col]) < 1e-6, col
    assert np.all(r.d_energy[:, list(m_cols)] == 0)
    assert np.count_nonzero(np.abs(r.d_energy[0]) > 0) > 40


def test_si_only_and_columns_argument(si_path):
    rng = np.random.default_rng(2)
    c = rattled(load_dir(si_path / "varying_alat", limit=1)[0], 0.1, rng)
    p = SPEC.default_params(("Si",))
    batch = pack([c], SPEC.influence_distance(p), ("Si",))
    full = SPEC.compute(batch, p, forces=True, stress=True, jacobian=True)
    part = SPEC.compute(batch, p, forces=True, stress=True, jacobian=True, columns=[0, 13])
    np.testing.assert_array_equal(part.d_forces[..., [0, 13]], full.d_forces[..., [0, 13]])
    assert np.all(part.d_forces[..., 1:13] == 0)
    assert rel_err(full.forces, fd_forces(SPEC, c, p, ("Si",))) < 1e-6
    dE, dF, dS, _ = fd_param_jacobians(SPEC, [c], p, ("Si",), columns=[0, 1, 2, 3, 12, 13])
    for col in (0, 1, 2, 3, 12, 13):
        assert rel_err(full.d_forces[..., col], dF[..., col]) < 1e-6, col


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_translation_rotation_permutation_invariance(seed):
    from ase.build import bulk
    rng = np.random.default_rng(seed)
    at = bulk("SiC", "zincblende", a=4.36).repeat((2, 2, 2))
    c = rattled(Config(at.positions, np.array(at.cell), (True,) * 3,
                       at.get_chemical_symbols()), 0.15, rng)
    p = SPEC.default_params(NAMES)
    r0 = evaluate(SPEC, [c], p, NAMES, stress=True)
    t = Config(c.coords + rng.normal(size=3) * 3, c.cell, c.PBC, c.species)
    rt = evaluate(SPEC, [t], p, NAMES)
    assert rt.energy[0] == pytest.approx(r0.energy[0], rel=1e-11)
    np.testing.assert_allclose(rt.forces, r0.forces, atol=1e-8)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rr = evaluate(SPEC, [Config(c.coords @ q.T, c.cell @ q.T, c.PBC, c.species)], p, NAMES,
                  stress=True)
    assert rr.energy[0] == pytest.approx(r0.energy[0], rel=1e-11)
    np.testing.assert_allclose(rr.forces, r0.forces @ q.T, atol=1e-8)
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    s = np.zeros((3, 3))
    for k, (a, b) in enumerate(voigt):
        s[a, b] = s[b, a] = r0.stress[0, k]
    srot = q @ s @ q.T
    np.testing.assert_allclose(rr.stress[0], [srot[a, b] for a, b in voigt], atol=1e-9)
    perm = rng.permutation(len(c.species))
    rp = evaluate(SPEC, [Config(c.coords[perm], c.cell, c.PBC,
                                [c.species[k] for k in perm])], p, NAMES)
    assert rp.energy[0] == pytest.approx(r0.energy[0], rel=1e-11)
    np.testing.assert_allclose(rp.forces, r0.forces[perm], atol=1e-8)


def test_species_order_does_not_change_results(sic_rattled):
    a = evaluate(SPEC, [sic_rattled], SPEC.default_params(("C", "Si")), ("C", "Si"))
    b = evaluate(SPEC, [sic_rattled], SPEC.default_params(("Si", "C")), ("Si", "C"))
    assert a.energy[0] == pytest.approx(b.energy[0], rel=1e-13)
    np.testing.assert_allclose(a.forces, b.forces, atol=1e-11)


def test_errors_name_the_problem(sic_rattled):
    p = SPEC.default_params(NAMES)
    with pytest.raises(EngineError, match="Rc"):
        SPEC.compute(pack([sic_rattled], 2.5, NAMES), p)
    batch = pack([sic_rattled], 3.0, NAMES)
    bad = dict(p, m=np.full(8, 2.0))
    with pytest.raises(ParameterError, match="'m' must be 1 or 3"):
        SPEC.compute(batch, bad)
    bad = dict(p, A=np.ones(3))
    with pytest.raises(ParameterError, match="'A'.*expected 4"):
        SPEC.compute(batch, bad)
