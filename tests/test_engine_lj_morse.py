"""Lennard-Jones and Morse: finite-difference checks, invariances, OpenKIM agreement."""

import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list as ase_nl
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from engine_helpers import (Config, evaluate, fd_forces, fd_param_jacobians, fd_stress,
                            from_atoms, load_dir, rattled, rel_err)
from workbench.engine.batch import pack
from workbench.engine.registry import get_spec, list_potentials
from workbench.errors import ModelError, ParameterError

SPECIES = ("C", "Si")


def _params(name):
    spec = get_spec(name)
    p = spec.default_params(SPECIES)  # pairs C-C, C-Si, Si-Si
    if name.startswith("LJ"):
        p.update(epsilon=np.array([0.8, 1.1, 1.4]), sigma=np.array([1.7, 1.9, 2.2]),
                 cutoff=np.array([3.6, 4.1, 4.6]))
    elif name == "Morse":
        p.update(D=np.array([0.6, 0.45, 0.35]), alpha=np.array([1.9, 1.6, 1.3]),
                 r0=np.array([1.6, 1.9, 2.4]), cutoff=np.array([4.0, 4.4, 4.8]))
    else:
        p.update(epsilon=np.array([-0.6, -0.45, -0.35]), C=np.array([1.9, 1.6, 1.3]),
                 Rzero=np.array([1.6, 1.9, 2.4]), cutoff=np.array([4.0, 4.4, 4.8]))
    return spec, p


@pytest.fixture(scope="module")
def sic_small():
    """Two perturbed 16-atom skewed SiC cells and a non-periodic 10-atom cluster."""
    rng = np.random.default_rng(7)
    atoms = bulk("SiC", "zincblende", 4.36, cubic=True) * (2, 1, 1)
    skew = np.array([[1.0, 0.0, 0.0], [0.12, 0.97, 0.0], [-0.08, 0.05, 1.03]])
    atoms.set_cell(atoms.cell[:] @ skew, scale_atoms=True)
    c1 = from_atoms(atoms)
    cluster = Config(rng.uniform(0, 4.5, (10, 3)) + [0, 0, 0], np.zeros((3, 3)),
                     (False,) * 3, ["Si", "C"] * 5)
    cluster.coords[:, 0] += np.arange(10) * 0.9  # spread out: no overlapping atoms
    return [rattled(c1, 0.12, rng), rattled(c1, 0.2, rng), cluster]


def test_registry_lists_pair_potentials():
    names = list_potentials()
    assert {"LJ", "LJ_shifted", "Morse", "Morse_Shifted"} <= set(names)
    assert get_spec("LJ").param_names == ("epsilon", "sigma", "cutoff")
    assert get_spec("Morse_Shifted").kim_driver == "Morse_Shifted__MD_552566534109_004"
    with pytest.raises(ModelError, match="unknown built-in potential 'nope'"):
        get_spec("nope")


@pytest.mark.parametrize("name", ["LJ", "LJ_shifted", "Morse", "Morse_Shifted"])
def test_forces_and_stress_equal_finite_differences(name, sic_small):
    spec, p = _params(name)
    res = evaluate(spec, sic_small, p, SPECIES, stress=True)
    offsets = np.cumsum([0] + [len(c.species) for c in sic_small])
    for c, conf in enumerate(sic_small):
        f = res.forces[offsets[c]:offsets[c + 1]]
        assert np.abs(f).max() > 0.05
        assert rel_err(f, fd_forces(spec, conf, p, SPECIES)) < 1e-6
    for c in (0, 1):
        assert rel_err(res.stress[c], fd_stress(spec, sic_small[c], p, SPECIES)) < 1e-6
    assert np.isnan(res.stress[2]).all()  # non-periodic: no stress


@pytest.mark.parametrize("name", ["LJ", "LJ_shifted", "Morse", "Morse_Shifted"])
def test_parameter_jacobians_equal_finite_differences(name, sic_small):
    spec, p = _params(name)
    batch = pack(sic_small, spec.influence_distance(p), SPECIES)
    res = spec.compute(batch, p, forces=True, stress=True, jacobian=True)
    de, df, ds, _ = fd_param_jacobians(spec, sic_small, p, SPECIES)
    npt = 3
    assert res.d_energy.shape == (3, len(spec.params) * npt)
    assert rel_err(res.d_energy, de) < 1e-6
    assert rel_err(res.d_forces, df) < 1e-6
    assert rel_err(res.d_stress[:2], ds[:2]) < 1e-6
    assert np.isnan(res.d_stress[2]).all()
    # every shape-parameter column is really exercised
    assert np.all(np.abs(res.d_energy[:, : -npt]).max(axis=0) > 1e-3)
    cut = res.d_energy[:, -npt:]
    if name in ("LJ", "Morse"):
        assert np.all(cut == 0.0)  # truncated: the cutoff derivative is a delta, reported 0
    else:
        assert np.abs(cut).max() > 1e-4


def test_plain_lj_matches_brute_force_kliff_defaults(si4_path):
    """KLIFF's tutorial LJ (epsilon 1, sigma 2, cutoff 5, not shifted) on Si_4."""
    configs = load_dir(si4_path)
    spec = get_spec("LJ")
    p = spec.default_params(("Si",))
    np.testing.assert_array_equal(np.concatenate(list(p.values())), [1.0, 2.0, 5.0])
    res = evaluate(spec, configs, p, ("Si",))
    for c, conf in enumerate(configs):
        d = ase_nl("d", _atoms(conf), 5.0)
        ref = 0.5 * np.sum(4 * ((2.0 / d) ** 12 - (2.0 / d) ** 6))
        assert res.energy[c] == pytest.approx(ref, rel=1e-12)
    assert np.all(res.energy < 0)


def _atoms(conf):
    import ase

    return ase.Atoms(conf.species, positions=conf.coords, cell=conf.cell, pbc=conf.PBC)


@settings(max_examples=15, deadline=None)
@given(shift=st.lists(st.floats(-20, 20), min_size=3, max_size=3),
       angles=st.lists(st.floats(-np.pi, np.pi), min_size=3, max_size=3),
       seed=st.integers(0, 2 ** 31), name=st.sampled_from(["LJ_shifted", "Morse"]))
def test_translation_rotation_permutation_invariance(shift, angles, seed, name):
    rng = np.random.default_rng(seed)
    atoms = bulk("SiC", "zincblende", 4.36) * (2, 1, 1)
    atoms.rattle(0.1, seed=seed % 1000)
    conf = from_atoms(atoms)
    spec, p = _params(name)
    ref = evaluate(spec, [conf], p, SPECIES, stress=True)
    rot = Rotation.from_euler("xyz", angles).as_matrix()
    perm = rng.permutation(len(conf.species))
    moved = Config((conf.coords @ rot.T + shift)[perm], conf.cell @ rot.T, conf.PBC,
                   [conf.species[k] for k in perm])
    res = evaluate(spec, [moved], p, SPECIES, stress=True)
    assert res.energy[0] == pytest.approx(ref.energy[0], rel=1e-10, abs=1e-10)
    assert rel_err(res.forces, (ref.forces @ rot.T)[perm]) < 1e-9
    s = ref.stress[0]
    sm = np.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])
    sr = rot @ sm @ rot.T
    expect = [sr[0, 0], sr[1, 1], sr[2, 2], sr[1, 2], sr[0, 2], sr[0, 1]]
    assert rel_err(res.stress[0], expect) < 1e-9


def test_bad_parameters_are_reported(sic_small):
    spec, p = _params("LJ")
    batch = pack(sic_small, 4.6, SPECIES)
    with pytest.raises(ParameterError, match="'sigma' needs 3 value"):
        spec.compute(batch, dict(p, sigma=np.array([2.0])))
    with pytest.raises(ParameterError, match="exceeds the neighbor-list cutoff"):
        spec.compute(batch, dict(p, cutoff=np.array([3.6, 4.1, 5.0])))


# ---------------------------------------------------------------- OpenKIM agreement
LJ_KIM = "LennardJones612_UniversalShifted__MO_959249795837_003"
MORSE_KIM = "Morse_Shifted_GirifalcoWeizer_1959HighCutoff_Cu__MO_151002396060_004"


def _lj_kim_index(model, a, b, nspecies=139):
    from kim_helpers import kim_species_code

    i, j = kim_species_code(model, a), kim_species_code(model, b)
    i, j = max(i, j), min(i, j)
    return j * nspecies + i - (j * j + j) // 2


@pytest.mark.kim
@pytest.mark.parametrize("name,shift", [("LJ_shifted", 1), ("LJ", 0)])
def test_lj_equals_kim_lennard_jones612(name, shift, sic_path):
    from kim_helpers import kim_compute, kim_model, set_kim_params

    spec, p = _params(name)
    model = kim_model(LJ_KIM)
    values = {"shift": {0: shift}, "epsilons": {}, "sigmas": {}, "cutoffs": {}}
    for k, (a, b) in enumerate([(0, 0), (0, 1), (1, 1)]):
        idx = _lj_kim_index(model, SPECIES[a], SPECIES[b])
        values["epsilons"][idx] = p["epsilon"][k]
        values["sigmas"][idx] = p["sigma"][k]
        values["cutoffs"][idx] = p["cutoff"][k]
    set_kim_params(model, values)
    configs = load_dir(sic_path, limit=3)
    res = evaluate(spec, configs, p, SPECIES, stress=True)
    for c, conf in enumerate(configs):
        e, f, vir = kim_compute(model, conf.coords, conf.cell, conf.PBC, conf.species)
        assert res.energy[c] == pytest.approx(e, rel=1e-8)
        assert rel_err(res.forces[64 * c:64 * (c + 1)], f) < 1e-8
        assert rel_err(res.stress[c] * abs(np.linalg.det(conf.cell)), vir) < 1e-8


@pytest.mark.kim
def test_morse_shifted_equals_kim_girifalco_weizer_cu():
    from kim_helpers import kim_compute, kim_model, kim_param_index

    model = kim_model(MORSE_KIM)
    spec = get_spec("Morse_Shifted")
    p = {n: np.array([model.get_parameter_double(kim_param_index(model, n), 0)])
         for n in spec.param_names}
    assert p["epsilon"][0] == pytest.approx(-0.3429)
    atoms = bulk("Cu", "fcc", 3.615, cubic=True) * (2, 2, 2)
    atoms.rattle(0.08, seed=11)
    atoms.set_cell(atoms.cell[:] @ np.array([[1, 0, 0], [0.05, 1, 0], [0, 0.03, 0.98]]),
                   scale_atoms=True)
    conf = from_atoms(atoms)
    cluster = Config(conf.coords[:20], np.zeros((3, 3)), (False,) * 3, ["Cu"] * 20)
    res = evaluate(spec, [conf, cluster], p, ("Cu",), stress=True)
    e, f, vir = kim_compute(model, conf.coords, conf.cell, conf.PBC, conf.species)
    assert res.energy[0] == pytest.approx(e, rel=1e-8)
    assert rel_err(res.forces[:32], f) < 1e-8
    assert rel_err(res.stress[0] * atoms.get_volume(), vir) < 1e-8
    e2, f2, _ = kim_compute(model, cluster.coords, cluster.cell, cluster.PBC, cluster.species)
    assert res.energy[1] == pytest.approx(e2, rel=1e-8)
    assert rel_err(res.forces[32:], f2) < 1e-8
