"""KIMModel on the kim-api path (engine="kim"), on Debian's openkim-models collection
(the numba twins of the drivers are tested in test_kim_twin.py)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from workbench.data.configuration import Configuration
from workbench.data.dataset import Dataset
from workbench.errors import KIMError

pytestmark = pytest.mark.kim


SW = "SW_StillingerWeber_1985_Si__MO_405512056662_005"
TERSOFF = "Tersoff_LAMMPS_ErhartAlbe_2005_SiC__MO_903987585848_004"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    # kim-api writes kim.log into the working directory
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def si4(si4_path):
    return Dataset(si4_path).get_configs()


@pytest.fixture
def sw():
    from workbench.models.kim import KIMModel

    return KIMModel(SW, engine="kim")


def small_si(si4, natoms=8):
    """A periodic 8-atom diamond cell cut from the first Si_4 configuration's lattice."""
    c = si4[0]
    a = float(np.linalg.norm(c.cell[0])) / 2.0  # the 64-atom cell is 2x2x2 cubic cells
    basis = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0],
                      [.25, .25, .25], [.25, .75, .75], [.75, .25, .75], [.75, .75, .25]])
    rng = np.random.default_rng(3)
    coords = basis[:natoms] * a + rng.normal(scale=0.05, size=(natoms, 3))
    cell = np.eye(3) * a + rng.normal(scale=0.02, size=(3, 3))
    return Configuration(cell, ["Si"] * natoms, coords, [True] * 3, identifier="si8")


def energy_of(model, conf):
    return model.compute(model.prepare([conf]), forces=False).energy[0]


# -------------------------------------------------------------------- parameters
def test_lists_sw_parameters_with_kim_values(sw):
    assert list(sw.model_params) == ["A", "B", "p", "q", "sigma", "gamma", "cutoff",
                                     "lambda", "costheta0"]
    expected = {"A": 15.2848479197914, "B": 0.6022245584, "p": 4.0, "q": 0.0,
                "sigma": 2.0951, "gamma": 2.51412, "cutoff": 3.77118, "lambda": 45.5322,
                "costheta0": -1.0 / 3.0}
    for name, value in expected.items():
        p = sw.model_params[name]
        assert p.size == 1
        assert p.value[0] == pytest.approx(value, rel=1e-15)
    meta = {m["name"]: m for m in sw.get_kim_parameter_metadata()}
    assert meta["A"]["dtype"] == "double" and meta["A"]["size"] == 1
    assert "two-body" in sw.model_params["A"].description
    assert sw.get_supported_species() == {"Si": 0}
    assert sw.get_influence_distance() == pytest.approx(3.77118)
    assert sw.cutoff_param_names() == ("cutoff",)
    text = sw.echo_model_params(filename=None)
    assert "name: A" in text and "15.28484792" in text


def test_multi_species_sizes_and_integer_parameter():
    from workbench.models.kim import KIMModel

    m = KIMModel(TERSOFF, engine="kim")
    sizes = {n: p.size for n, p in m.model_params.items()}
    assert sizes["A"] == 4 and sizes["gamma"] == 8 and sizes["m"] == 8
    assert m.model_params["A"].value.tolist() == [2145.7128, 1779.36144, 1779.36144, 2019.8449]
    meta = {d["name"]: d for d in m.get_kim_parameter_metadata()}
    assert meta["m"]["dtype"] == "int"
    assert set(m.get_supported_species()) == {"Si", "C"}


def test_setting_parameters_changes_energy_as_the_sw_form_says(sw, si4):
    conf = si4[0]
    e0 = energy_of(sw, conf)
    assert e0 == pytest.approx(-277.01565323, abs=1e-7)
    # the energy is linear in lambda: E(2 lambda) - E(lambda) = E(lambda) - E(0)
    sw.set_opt_params(**{"lambda": [[0.0]]})
    e_lam0 = energy_of(sw, conf)
    sw.set_opt_params(**{"lambda": [[2 * 45.5322]]})
    e_lam2 = energy_of(sw, conf)
    assert e_lam2 - e0 == pytest.approx(e0 - e_lam0, rel=1e-10)
    # with lambda = 0 only the two-body term is left, which is proportional to A
    sw.set_opt_params(**{"lambda": [[0.0]]}, A=[[2 * 15.2848479197914]])
    assert energy_of(sw, conf) == pytest.approx(2 * e_lam0, rel=1e-12)
    # the value reached kim-api
    assert sw.kim_model.get_parameter_double(0, 0) == 2 * 15.2848479197914


def test_update_model_params_in_log_space_reaches_kim(si4):
    from workbench.models.kim import KIMModel
    from workbench.models.transform import LogParameterTransform

    m = KIMModel(SW, params_transform=LogParameterTransform(["A"]), engine="kim")
    m.set_opt_params(A=[[np.log(16.0)]], sigma=[[2.0951]])
    x = m.get_opt_params()
    assert x[0] == pytest.approx(np.log(16.0))
    m.update_model_params([np.log(17.0), 2.1])
    assert m.kim_model.get_parameter_double(0, 0) == pytest.approx(17.0, rel=1e-14)
    assert m.kim_model.get_parameter_double(4, 0) == 2.1


# -------------------------------------------------------------- energies, forces
def test_forces_match_finite_differences_of_the_energy(sw, si4):
    conf = small_si(si4)
    res = sw.compute(sw.prepare([conf]), forces=True)
    h = 1e-5
    fd = np.zeros_like(conf.coords)
    for a in range(len(conf.species)):
        for d in range(3):
            cp, cm = copy.deepcopy(conf), copy.deepcopy(conf)
            cp.coords[a, d] += h
            cm.coords[a, d] -= h
            fd[a, d] = -(energy_of(sw, cp) - energy_of(sw, cm)) / (2 * h)
    assert np.abs(fd).max() > 0.1
    np.testing.assert_allclose(res.forces, fd, atol=1e-7)


def test_stress_is_strain_derivative_over_volume(sw, si4):
    conf = small_si(si4)
    res = sw.compute(sw.prepare([conf]), forces=False, stress=True)
    volume = abs(np.linalg.det(conf.cell))
    h = 1e-6
    fd = []
    for a, b in [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]:
        vals = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[a, b] += sign * h / (1 if a == b else 2)
            eps[b, a] += 0 if a == b else sign * h / 2
            strained = copy.deepcopy(conf)
            strained.cell = conf.cell @ (np.eye(3) + eps).T
            strained.coords = conf.coords @ (np.eye(3) + eps).T
            vals.append(energy_of(sw, strained))
        fd.append((vals[0] - vals[1]) / (2 * h) / volume)
    assert np.abs(fd).max() > 1e-3
    np.testing.assert_allclose(res.stress[0], fd, atol=1e-9)


def test_padding_free_cluster_and_stacked_results(sw, si4):
    cluster = Configuration(np.eye(3) * 20, ["Si"] * 5, si4[0].coords[:5] + 5.0,
                            [False] * 3, identifier="cluster")
    state = sw.prepare([si4[0], cluster, si4[1]])
    res = sw.compute(state, forces=True, stress=True)
    assert res.energy.shape == (3,) and res.forces.shape == (64 + 5 + 64, 3)
    assert np.isnan(res.stress[1]).all() and np.isfinite(res.stress[[0, 2]]).all()
    alone = sw.compute(sw.prepare([cluster]), forces=True)
    assert res.energy[1] == alone.energy[0]
    np.testing.assert_array_equal(res.forces[64:69], alone.forces)
    # Newton's third law for an isolated cluster
    np.testing.assert_allclose(alone.forces.sum(axis=0), 0.0, atol=1e-10)


def test_neighbor_lists_built_once_and_rebuilt_for_a_new_cutoff(sw, si4):
    state = sw.prepare(si4[:2])
    neighs = [kc.neigh for kc in state.extra["kim"]]
    coords = [kc.coords for kc in state.extra["kim"]]
    e0 = sw.compute(state).energy
    sw.compute(state)
    assert all(kc.coords is c for kc, c in zip(state.extra["kim"], coords))
    sw.set_opt_params(cutoff=[[4.2]])
    e1 = sw.compute(state).energy
    assert state.cutoff == pytest.approx(4.2)
    assert all(kc.coords is not c for kc, c in zip(state.extra["kim"], coords))
    assert all(kc.neigh is n for kc, n in zip(state.extra["kim"], neighs))
    fresh = sw.compute(sw.prepare(si4[:2])).energy
    np.testing.assert_array_equal(e1, fresh)
    assert np.all(np.abs(e1 - e0) > 1e-3)


# ---------------------------------------------------------------------- Jacobian
def test_fd_jacobian_against_a_larger_step_difference(sw, si4):
    conf = small_si(si4)
    state = sw.prepare([conf])
    res = sw.compute(state, forces=True, stress=True, jacobian=True)
    assert res.d_energy.shape == (1, 9) and res.d_forces.shape == (8, 3, 9)
    assert res.d_stress.shape == (1, 6, 9)
    names = list(sw.model_params)
    for k, name in enumerate(names):
        v = float(sw.model_params[name].value[0])
        h = 1e-4 * max(abs(v), 1.0)
        sw.set_param_value(name, [v + h])
        rp = sw.compute(state, forces=True, stress=True)
        sw.set_param_value(name, [v - h])
        rm = sw.compute(state, forces=True, stress=True)
        sw.set_param_value(name, [v])
        de = (rp.energy - rm.energy) / (2 * h)
        df = (rp.forces - rm.forces) / (2 * h)
        scale = max(abs(de[0]), 1e-3)
        assert res.d_energy[0, k] == pytest.approx(de[0], rel=2e-5, abs=1e-6 * scale), name
        np.testing.assert_allclose(res.d_forces[..., k], df, rtol=1e-4,
                                   atol=1e-5 * max(np.abs(df).max(), 1e-2), err_msg=name)
    # the Jacobian left the parameters where they were
    assert sw.kim_model.get_parameter_double(6, 0) == 3.77118
    assert state.cutoff == 3.77118


def test_jacobian_columns_select_and_order(sw, si4):
    state = sw.prepare(si4[:2])
    full = sw.compute(state, forces=True, jacobian=True)
    some = sw.compute(state, forces=True, jacobian=True, columns=[7, 0])
    assert some.d_energy.shape == (2, 2) and some.d_forces.shape == (128, 3, 2)
    np.testing.assert_array_equal(some.d_energy, full.d_energy[:, [7, 0]])
    np.testing.assert_array_equal(some.d_forces, full.d_forces[..., [7, 0]])
    with pytest.raises(KIMError, match="outside"):
        sw.compute(state, jacobian=True, columns=[9])


def test_integer_parameter_columns_are_zero(sic_path):
    from workbench.models.kim import KIMModel

    m = KIMModel(TERSOFF, engine="kim")
    conf = Dataset(sic_path).get_configs()[0]
    flat = m.flat_param_names()
    cols = [flat.index("m[0]"), flat.index("gamma[0]")]
    res = m.compute(m.prepare([conf]), forces=False, jacobian=True, columns=cols)
    assert res.d_energy[0, 0] == 0.0 and abs(res.d_energy[0, 1]) > 1e-3


def test_sw_kim_and_builtin_agree(si4):
    from workbench.models.builtin import StillingerWeber
    from workbench.models.kim import KIMModel

    kim = KIMModel(SW, engine="kim")
    kim.set_opt_params(A=[[14.0]], sigma=[[2.05]], gamma=[[2.4]])
    ours = StillingerWeber(species=["Si"])
    for name, p in kim.model_params.items():
        ours.set_param_value(name, p.value)
    configs = si4 + [small_si(si4)]
    rk = kim.compute(kim.prepare(configs), forces=True, stress=True, jacobian=True)
    ro = ours.compute(ours.prepare(configs), forces=True, stress=True, jacobian=True)
    np.testing.assert_allclose(ro.energy, rk.energy, rtol=1e-12)
    np.testing.assert_allclose(ro.forces, rk.forces, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ro.stress, rk.stress, rtol=1e-9, atol=1e-12)
    # the exact Jacobian of the built-in model vs kim's finite differences
    np.testing.assert_allclose(rk.d_energy, ro.d_energy, rtol=1e-6,
                               atol=1e-7 * np.abs(ro.d_energy).max())
    np.testing.assert_allclose(rk.d_forces, ro.d_forces, rtol=1e-5,
                               atol=1e-6 * np.abs(ro.d_forces).max())


# ------------------------------------------------------------------------ errors
def test_missing_model_says_how_to_list_and_install():
    from workbench.models.kim import KIMModel

    with pytest.raises(KIMError) as err:
        KIMModel("SW_NoSuchModel_2024_Si__MO_000000000000_000")
    msg = str(err.value)
    assert "SW_NoSuchModel_2024_Si__MO_000000000000_000" in msg
    for hint in ("workbench model --list", "kim-api-collections-management list",
                 "kim-api-collections-management install user NAME", "openkim-models"):
        assert hint in msg


def test_model_without_parameters_cannot_be_fitted():
    from workbench.models.kim import KIMModel

    m = KIMModel("LennardJones_Ar")
    assert not m.mutable and len(m.model_params) == 0
    with pytest.raises(KIMError, match="publishes no parameters"):
        m.set_opt_params(epsilon=[[1.0]])


def test_non_mutable_parameters_are_refused_and_restored(sw):
    sw.mutable = False  # as for a model without a kim-api Refresh routine
    with pytest.raises(KIMError, match="cannot be changed.*Refresh"):
        sw.set_opt_params(A=[[20.0]])
    assert sw.model_params["A"].value[0] == 15.2848479197914
    assert sw.kim_model.get_parameter_double(0, 0) == 15.2848479197914


def test_unsupported_species_names_the_configuration(sw):
    conf = Configuration(np.eye(3) * 5, ["Si", "C"], [[0, 0, 0], [1, 1, 1]], [True] * 3,
                         identifier="mixed-7")
    with pytest.raises(KIMError, match="mixed-7.*'C'"):
        sw.prepare([conf])


def test_save_and_load_push_values_into_kim(tmp_path):
    from workbench.models import load_model
    from workbench.models.kim import KIMModel

    m = KIMModel(SW, engine="kim")
    m.set_opt_params(A=[[16.0, 10, 20]], sigma=[[2.1, "fix"]])
    m.set_param_transform("A", "log")
    m.save(tmp_path / "sw.yaml")
    loaded = load_model(tmp_path / "sw.yaml")
    assert isinstance(loaded, KIMModel)
    assert loaded.get_opt_params() == pytest.approx([np.log(16.0)])
    assert loaded.get_influence_distance() == pytest.approx(3.77118)
    assert loaded.kim_model.get_parameter_double(0, 0) == 16.0
    assert loaded.kim_model.get_parameter_double(4, 0) == 2.1


def test_installed_items_and_drivers():
    from workbench.models.kim_collections import (_list_items_cli, list_drivers,
                                                  list_models, model_driver)

    models = list_models()
    assert SW in models and TERSOFF in models and "LennardJones_Ar" in models
    assert _list_items_cli("portableModel") == models
    assert "SW__MD_335816936951_004" in list_drivers()
    assert model_driver(SW) == "SW__MD_335816936951_004"
    assert model_driver(TERSOFF) == "Tersoff_LAMMPS__MD_077075034781_004"
    assert model_driver("LennardJones_Ar") is None
