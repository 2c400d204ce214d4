"""KIMModel on the numba twin of its driver (workbench/models/kim_twin.py): equal to
kim-api on held-out geometries for every registered driver, exact Jacobians, the
fallback on a mismatched twin, the user-facing API unchanged, the SW tutorial's minimum
and a written model that kim-api runs to the twin's numbers."""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pytest

from workbench.data.dataset import Dataset
from workbench.errors import KIMError

pytest.importorskip("kimpy")
pytestmark = pytest.mark.kim

SW = "SW_StillingerWeber_1985_Si__MO_405512056662_005"
SW_CDTE = "SW_WangStroudMarkworth_1989_CdTe__MO_786496821446_000"
TERSOFF = "Tersoff_LAMMPS_ErhartAlbe_2005_SiC__MO_903987585848_004"
LJ612 = "LennardJones612_UniversalShifted__MO_959249795837_003"
MORSE = "Morse_Shifted_GirifalcoWeizer_1959HighCutoff_Cu__MO_151002396060_004"
LJ_SHIFTED = "LJ_Shifted_Bernardes_1958MedCutoff_Kr__MO_984281096460_004"
LJ_TRUNCATED = "LJ_Truncated_Nguyen_2005_Ar__MO_398194508715_001"
LJ_NEWNAME = "LJ_ElliottAkerson_2015_Universal__MO_959249795837_003"
#: one installed model per registered driver (two for SW: one and two species)
BY_DRIVER = {SW: "SW", SW_CDTE: "SW", TERSOFF: "Tersoff", LJ612: "LJ_shifted",
             MORSE: "Morse_Shifted", LJ_SHIFTED: "LJ_shifted", LJ_TRUNCATED: "LJ",
             LJ_NEWNAME: "LJ_shifted"}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # kim-api writes kim.log into the working directory


def kim_model(name, **kw):
    from workbench.models.kim import KIMModel

    return KIMModel(name, **kw)


def held_out(model, seed):
    """Geometries the creation check did not use (it uses seed 0)."""
    from workbench.models.kim_twin import check_configurations, pick_species

    ev = model._twin
    subset = ev.species_subset(pick_species(model.get_supported_species(), seed=seed))
    values = model._values()
    cutoff = ev.spec(values).influence_distance(ev.spec_params(values, subset))
    return check_configurations(subset, cutoff, seed=seed, count=4)


def assert_same(configs, a, b, rtol=1e-10):
    from workbench.models.kim_twin import deviation

    de, df = deviation(configs, a, b)
    assert de <= rtol and df <= rtol, (de, df)
    periodic = [c.PBC[0] for c in configs]
    s_a, s_b = a.stress[periodic], b.stress[periodic]
    assert np.abs(s_a - s_b).max() <= rtol * np.abs(s_b).max()


@pytest.mark.parametrize("name", list(BY_DRIVER))
def test_twin_equals_kim_on_held_out_geometries(name):
    twin = kim_model(name)
    kim = kim_model(name, engine="kim")
    assert twin.engine == "twin" and kim.engine == "kim"
    assert twin._twin.spec(twin._values()).name == BY_DRIVER[name]
    assert max(twin.twin_deviation) < 1e-13
    for seed in (1, 2):
        configs = held_out(twin, seed)
        assert {c.identifier.split("-")[2] for c in configs} == {str(seed)}
        a = twin.compute(twin.prepare(configs), forces=True, stress=True)
        b = kim.compute(kim.prepare(configs), forces=True, stress=True)
        assert_same(configs, a, b)


def test_every_installed_model_of_a_registered_driver_runs_on_its_twin():
    from workbench.models.kim_collections import list_items, model_driver
    from workbench.models.kim_twin import twin_for

    counts = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning for any of them
        for name in list_items():
            driver = model_driver(name)
            if twin_for(driver) is not None:
                model = kim_model(name)
                assert model.engine == "twin" and max(model.twin_deviation) < 1e-12, name
                counts[driver] = counts.get(driver, 0) + 1
    assert counts["SW__MD_335816936951_004"] >= 10
    assert counts["Tersoff_LAMMPS__MD_077075034781_004"] >= 10
    assert counts["Morse_Shifted__MD_552566534109_004"] >= 40
    assert counts["LJ_Shifted__MD_498634107543_004"] >= 10
    assert sum(counts.values()) >= 80


def _scaled_values(model, factor_step):
    """Every non-integer parameter scaled by its own factor (distinct per component),
    inside what the twin reproduces: Tersoff's A and lambda1 symmetric in the pair, SW's
    costheta0 one value for all pairs (see test_values_outside_the_twin_switch_to_kim)."""
    out = {}
    for meta in model.get_kim_parameter_metadata():
        name = meta["name"]
        if meta["dtype"] == "int" or name in ("cutoff", "cutoffs", "Rc", "Dc", "q", "p"):
            continue
        v = model.model_params[name].value.copy()
        k = np.arange(v.size)
        if name in ("A", "lambda1") and v.size == 4:  # Tersoff ordered pairs: keep (i,j)=(j,i)
            k = np.array([0, 1, 1, 3])
        if name == "costheta0":
            k = np.zeros(v.size, dtype=int)
        out[name] = v * (1 + factor_step * (1 + (k % 5)))
    return out


@pytest.mark.parametrize("name", [SW_CDTE, TERSOFF, MORSE])
def test_changed_parameters_reach_both_engines(name):
    twin = kim_model(name)
    kim = kim_model(name, engine="kim")
    for pname, v in _scaled_values(twin, 0.01).items():
        twin.set_param_value(pname, v)
        kim.set_param_value(pname, v)
    configs = held_out(twin, 3)
    a = twin.compute(twin.prepare(configs), forces=True, stress=True)
    b = kim.compute(kim.prepare(configs), forces=True, stress=True)
    assert_same(configs, a, b)


@pytest.mark.parametrize("name, pname, values", [
    (SW_CDTE, "costheta0", [-1 / 3, -0.3, -1 / 3]),
    (TERSOFF, "A", [2145.7128, 1779.36144, 1800.0, 2019.8449])])
def test_values_outside_the_twin_switch_to_kim(name, pname, values):
    """Values for which the driver depends on the neighbour order (SW: costheta0 per
    pair; Tersoff: asymmetric A) are not the twin's: the model warns once and computes
    on kim-api from then on, equal to an engine="kim" model."""
    twin = kim_model(name)
    kim = kim_model(name, engine="kim")
    configs = held_out(twin, 6)
    state = twin.prepare(configs)
    twin.compute(state)
    twin.set_param_value(pname, values)
    kim.set_param_value(pname, values)
    with pytest.warns(UserWarning, match=f"KIM model {name}: with the current parameter "
                                         "values .*; it runs on kim-api from now on"):
        a = twin.compute(state, forces=True, stress=True)
    assert twin.engine == "kim"
    b = kim.compute(kim.prepare(configs), forces=True, stress=True)
    np.testing.assert_array_equal(a.energy, b.energy)
    np.testing.assert_array_equal(a.forces, b.forces)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = twin.compute(state, forces=True)
    np.testing.assert_array_equal(again.energy, b.energy)
    assert twin.compute_gradient(state, [0], np.ones(len(configs)),
                                 np.zeros(len(configs))) is None


@pytest.mark.parametrize("name", [SW_CDTE, TERSOFF, LJ612])
def test_twin_jacobian_is_exact(name):
    """The twin's Jacobian columns (in the KIM flat order) against central differences
    of the twin and against kim-api's finite-difference Jacobian."""
    twin = kim_model(name)
    kim = kim_model(name, engine="kim")
    configs = held_out(twin, 4)[:2]
    st, sk = twin.prepare(configs), kim.prepare(configs)
    offsets = twin.flat_offsets()
    names = {SW_CDTE: ["A", "sigma", "lambda"], TERSOFF: ["B", "gamma", "h"],
             LJ612: ["epsilons", "sigmas"]}[name]
    subset = st.extra["twin_species"]
    codes = [twin.get_supported_species()[s] for s in subset]
    n = len(twin.get_supported_species())
    cols = []
    for pname in names:
        size = twin.model_params[pname].value.size
        if size == n * (n + 1) // 2 and n > 2:  # LJ612: the pair of the first two species
            a, b = sorted(codes[:2])
            cols.append(offsets[pname] + a * n + b - a * (a + 1) // 2)
        else:
            cols += [offsets[pname] + j for j in range(min(size, 3))]
    cols.append(offsets[names[0]] + twin.model_params[names[0]].value.size - 1)
    r = twin.compute(st, forces=True, jacobian=True, columns=cols)
    rk = kim.compute(sk, forces=True, jacobian=True, columns=cols)
    assert r.d_energy.shape == (len(configs), len(cols))
    flat = np.concatenate([p.value for p in twin.model_params.values()])
    for k, col in enumerate(cols):
        pname = next(p for p in reversed(list(offsets)) if offsets[p] <= col)
        j = col - offsets[pname]
        h = 1e-6 * max(abs(flat[col]), 1e-3)
        vals = []
        for step in (h, -h):
            v = twin.model_params[pname].value.copy()
            v[j] = flat[col] + step
            twin.set_param_value(pname, v)
            vals.append(twin.compute(st, forces=True))
        v = twin.model_params[pname].value.copy()
        v[j] = flat[col]
        twin.set_param_value(pname, v)
        fd_e = (vals[0].energy - vals[1].energy) / (2 * h)
        fd_f = (vals[0].forces - vals[1].forces) / (2 * h)
        scale_e = max(np.abs(fd_e).max(), 1e-8)
        assert np.abs(r.d_energy[:, k] - fd_e).max() <= 1e-5 * scale_e, (pname, j)
        assert np.abs(r.d_energy[:, k] - rk.d_energy[:, k]).max() <= 1e-5 * scale_e
        scale_f = max(np.abs(fd_f).max(), 1e-8)
        assert np.abs(r.d_forces[..., k] - fd_f).max() <= 1e-5 * scale_f, (pname, j)
    # a column of a species pair absent from the data is exactly zero on both paths
    assert np.all(r.d_energy[:, -1] == 0.0) == np.all(rk.d_energy[:, -1] == 0.0)


def test_mismatched_twin_falls_back_with_a_warning(monkeypatch):
    """A twin whose mapping is wrong (SW's p and q swapped) is caught by the creation
    check: the model warns, names itself and the discrepancy, and runs on kim-api."""
    from workbench.models import kim_twin

    good = kim_twin.twin_for("SW__MD_335816936951_004")
    params = dict(good.params, p=("q", "pair_sym"), q=("p", "pair_sym"))
    monkeypatch.setitem(kim_twin.TWINS, "SW__MD_335816936951",
                        kim_twin.DriverTwin(driver=good.driver, spec="SW", params=params))
    with pytest.warns(UserWarning) as record:
        model = kim_model(SW)
    msg = str(record[0].message)
    assert msg.startswith(f"KIM model {SW}: its numba twin (SW) differs from kim-api by ")
    assert "relative; allowed 1e-10) on rattled Si configurations; it runs on kim-api" in msg
    de, df = model.twin_deviation
    assert de > 1e-3 and f"{de:.1e} in energy" in msg and f"{df:.1e} in forces" in msg
    assert model.engine == "kim"
    kim = kim_model(SW, engine="kim")
    from workbench.models.kim_twin import check_configurations

    configs = check_configurations(["Si"], 3.77118, seed=5)
    a = model.compute(model.prepare(configs), forces=True, stress=True)
    b = kim.compute(kim.prepare(configs), forces=True, stress=True)
    np.testing.assert_array_equal(a.energy, b.energy)
    np.testing.assert_array_equal(a.forces, b.forces)
    model.set_opt_params(A=[[15.0]])
    kim.set_opt_params(A=[[15.0]])
    ja = model.compute(model.prepare(configs), jacobian=True, columns=[0])
    jb = kim.compute(kim.prepare(configs), jacobian=True, columns=[0])
    np.testing.assert_array_equal(ja.d_energy, jb.d_energy)
    with pytest.raises(KIMError, match=f"KIM model {SW} cannot run on a numba twin: its "
                                       "numba twin \\(SW\\) differs from kim-api"):
        kim_model(SW, engine="twin")


def test_engine_choices():
    eam = "EAM_Dynamo_ErcolessiAdams_1994_Al__MO_123629422045_005"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no twin for the driver: no warning either
        m = kim_model(eam)
    assert m.engine == "kim" and m.twin_deviation is None
    with pytest.raises(KIMError, match=f"KIM model {eam} cannot run on a numba twin: its "
                                       "driver EAM_Dynamo__MD_120291908751_005 has no "
                                       "numba twin"):
        kim_model(eam, engine="twin")
    with pytest.raises(KIMError, match="engine must be one of \\('auto', 'kim', 'twin'\\)"):
        kim_model(SW, engine="numba")
    assert kim_model(SW, engine="twin").engine == "twin"


def test_user_api_unchanged_on_the_twin(tmp_path, si4_path):
    """Names, echo, opt params, read_opt_params, YAML round trip: as on kim-api."""
    from workbench.models.kim import KIMModel

    twin, kim = kim_model(SW), kim_model(SW, engine="kim")
    assert list(twin.model_params) == list(kim.model_params)
    assert twin.echo_model_params(filename=None) == kim.echo_model_params(filename=None)
    for m in (twin, kim):
        m.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    assert twin.echo_opt_params(filename=None) == kim.echo_opt_params(filename=None)
    np.testing.assert_array_equal(twin.get_opt_params(), kim.get_opt_params())
    np.testing.assert_allclose(twin.get_opt_params(), [5.0, 0.6022245584, 1.5], rtol=1e-10)
    assert twin.kim_model.get_parameter_double(0, 0) == 5.0  # pushed into kim-api too
    opt = tmp_path / "opt.txt"
    opt.write_text("A\n  14.5  1.0  20.0\ngamma\n  2.25\n")
    twin.read_opt_params(opt)
    assert twin.get_params_dict()["A"][0] == 14.5 and twin.get_params_dict()["gamma"][0] == 2.25
    path = twin.save(tmp_path / "m.yaml")
    assert "engine" not in path.read_text()
    back = KIMModel.load(path)
    assert back.engine == "twin" and back.get_params_dict()["A"][0] == 14.5
    forced = kim_model(SW, engine="kim")
    back = KIMModel.load(forced.save(tmp_path / "k.yaml"))
    assert back.engine == "kim"
    configs = Dataset(si4_path).get_configs()
    e_back = back.compute(back.prepare(configs)).energy
    e_twin = kim_model(SW).compute(kim_model(SW).prepare(configs)).energy
    assert np.abs(e_back - e_twin).max() <= 1e-10 * np.abs(e_twin).max()


# ------------------------------------------------------------- the SW tutorial
@pytest.fixture(scope="module")
def si_configs(si_path):
    from workbench.dataset import Weight

    return Dataset(si_path, Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()


def test_sw_tutorial_with_kimmodel_reaches_the_published_minimum(si_configs):
    from workbench.calculators import Calculator
    from workbench.loss import Loss

    model = kim_model(SW)
    assert model.engine == "twin"
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(si_configs)
    loss = Loss(calc)
    x = loss.x0()
    f0, g0 = loss.loss_and_grad(x)
    fd = np.empty_like(x)
    for k in range(x.size):
        h = 1e-5 * abs(x[k])
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        fd[k] = (loss.loss(xp) - loss.loss(xm)) / (2 * h)
    np.testing.assert_allclose(g0, fd, rtol=1e-6, atol=1e-9 * abs(f0))
    result = loss.minimize(method="L-BFGS-B", options={"maxiter": 400, "ftol": 1e-12,
                                                       "gtol": 1e-8})
    assert result.fun == pytest.approx(0.6940780, rel=1e-6)
    params = model.get_params_dict()
    assert params["A"][0] == pytest.approx(14.9386, rel=1e-4)
    assert params["B"][0] == pytest.approx(0.58740, rel=1e-4)
    assert params["gamma"][0] == pytest.approx(2.20146, rel=1e-4)
    assert loss.n_jac < 80  # exact gradients: no finite-difference sweeps


@pytest.mark.skipif(shutil.which("kim-api-collections-management") is None,
                    reason="needs kim-api-collections-management")
def test_written_fitted_model_computes_what_the_twin_computes(tmp_path, si4_path):
    """write_kim_model of a KIMModel fitted on its twin: kim-api, through kimpy, runs the
    installed result to the twin's energies and forces."""
    from workbench.models.kim_collections import PrivateCollection

    model = kim_model(SW)
    model.set_opt_params(A=[[14.9386363]], B=[[0.5874012]], gamma=[[2.2014618]])
    configs = Dataset(si4_path).get_configs()
    ours = model.compute(model.prepare(configs), forces=True, stress=True)
    name = "SW_Fitted_Si__MO_000000000000_000"
    with PrivateCollection(tmp_path / "collection") as col:
        col.install(model.write_kim_model(tmp_path / name))
        installed = kim_model(name, engine="kim")
        got = installed.compute(installed.prepare(configs), forces=True, stress=True)
        assert installed.get_params_dict()["A"][0] == 14.9386363
    assert os.environ.get("KIM_API_PORTABLE_MODELS_DIR", "") != str(tmp_path / "collection")
    assert_same(configs, ours, got)


def test_warmup_compiles_the_twin_kernels():
    from workbench.warmup import tasks_for

    assert tasks_for(kim_model(SW)) == ["read", "SW"]
    assert tasks_for(kim_model(MORSE)) == ["read", "Morse"]
    assert tasks_for(kim_model(LJ612)) == ["read", "LJ"]
    assert tasks_for(kim_model(SW, engine="kim")) == ["read"]
