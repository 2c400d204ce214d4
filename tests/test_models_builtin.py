"""Built-in models over the engine: compute, Jacobian chain rule, cutoff changes, save/load."""

import numpy as np
import pytest

from workbench.errors import ModelError, ParameterError
from workbench.models import LogParameterTransform, load_model


@pytest.fixture(scope="module")
def si4(si4_path):
    from workbench.data.dataset import Dataset

    return Dataset(si4_path).get_configs()


def _sw():
    from workbench.models import StillingerWeber

    return StillingerWeber


def test_sw_defaults_and_species():
    SW = _sw()
    m = SW()
    assert m.get_supported_species() == {"Si": 0}
    assert m.get_influence_distance() == pytest.approx(3.77118)
    assert m.cutoff_param_names() == ("cutoff",)
    v = m.get_params_dict()
    assert v["A"][0] == pytest.approx(15.2848479197914) and v["B"][0] == pytest.approx(0.6022245584)
    assert v["lambda"][0] == 45.5322 and v["costheta0"][0] == pytest.approx(-1 / 3)
    two = SW(species=("Si", "C"))
    assert len(two.model_params["A"]) == 3  # (Si,Si), (Si,C), (C,C)
    with pytest.raises(ModelError, match="duplicates"):
        SW(species=("Si", "Si"))


def test_sw_tutorial_rules_on_builtin():
    m = _sw()()
    m.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]], gamma=[[1.5]])
    np.testing.assert_allclose(m.get_opt_params(), [5.0, 0.60222456, 1.5], rtol=1e-8)
    assert m.get_opt_params_bounds() == [(1.0, 20.0), (None, None), (None, None)]


def test_cutoff_change_rebuilds_neighbors(si4):
    SW = _sw()
    m = SW()
    state = m.prepare(si4)
    e0 = m.compute(state, forces=False).energy.copy()
    first_batch = state.batch
    assert state.cutoff == pytest.approx(3.77118)
    for rc in (3.3, 4.2):  # shrink, then grow beyond the original cutoff
        m.set_opt_params(cutoff=[[rc, "fix"]])
        e = m.compute(state, forces=False).energy
        assert state.cutoff == rc and state.batch.cutoff == rc
        fresh = SW()
        fresh.set_param_value("cutoff", [rc])
        np.testing.assert_allclose(e, fresh.compute(fresh.prepare(si4), forces=False).energy,
                                   rtol=1e-13)
        assert not np.allclose(e, e0)
    assert state.batch is not first_batch


def test_jacobian_chain_matches_finite_differences(si4):
    m = _sw()(params_transform=LogParameterTransform(["A", "sigma"]))
    m.set_opt_params(A=[["default"]], B=[["default", 0.1, 2.0]], sigma=[["default"]],
                     gamma=[["default"]])
    state = m.prepare(si4[:2])
    flat, d = m.opt_param_chain()
    assert flat.tolist() == [0, 1, 4, 5]
    res = m.compute(state, forces=True, jacobian=True)
    jx_e = res.d_energy[:, flat] * d
    jx_f = res.d_forces[..., flat] * d
    x0 = m.get_opt_params()
    for k in range(len(x0)):
        h = 1e-6 * max(1.0, abs(x0[k]))
        out = []
        for s in (+1, -1):
            x = x0.copy()
            x[k] += s * h
            m.update_model_params(x)
            r = m.compute(state, forces=True)
            out.append((r.energy, r.forces))
        m.update_model_params(x0)
        fd_e = (out[0][0] - out[1][0]) / (2 * h)
        fd_f = (out[0][1] - out[1][1]) / (2 * h)
        np.testing.assert_allclose(jx_e[:, k], fd_e, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(jx_f[..., k], fd_f, rtol=1e-5, atol=1e-6)
    c = si4[0]
    r0 = m.compute(state, forces=True)
    # columns restrict the Jacobian to the requested flat components
    sub = m.compute(state, forces=True, jacobian=True, columns=flat)
    np.testing.assert_array_equal(sub.d_energy, res.d_energy[:, flat])
    np.testing.assert_array_equal(sub.d_forces, res.d_forces[..., flat])
    with pytest.raises(ParameterError, match="outside the 9 flat parameters"):
        m.compute(state, jacobian=True, columns=[0, 9])
    assert r0.forces.shape == (len(c.species) + len(si4[1].species), 3)


def test_builtin_save_load(tmp_path, si4):
    SW = _sw()
    m = SW(species=["Si"], params_transform=LogParameterTransform(["A"]))
    m.set_opt_params(A=[[np.log(14.0), np.log(1.0), np.log(30.0)]], gamma=[[2.4, "fix"]])
    path = m.save(tmp_path / "sw.yaml")
    loaded = load_model(path)
    assert type(loaded) is SW and loaded.species == ("Si",)
    assert loaded.echo_opt_params(None) == m.echo_opt_params(None)
    state = m.prepare(si4[:1])
    np.testing.assert_array_equal(loaded.compute(loaded.prepare(si4[:1])).energy,
                                  m.compute(state).energy)
    with pytest.raises(ModelError, match="species"):
        SW(species=("Si", "C")).load(path)


def test_lj_echo_matches_kliff_tutorial():
    from workbench.models import LennardJones

    m = LennardJones()
    assert m.echo_model_params(None) == (
        "#" + "=" * 80 + "\n# Available parameters to optimize.\n"
        "# Parameters in `original` space.\n# Model: LJ6-12\n" + "#" + "=" * 80 + "\n\n"
        "name: epsilon\nvalue: [1.]\nsize: 1\n\n"
        "name: sigma\nvalue: [2.]\nsize: 1\n\n"
        "name: cutoff\nvalue: [5.]\nsize: 1\n\n")
    assert m.get_influence_distance() == 5.0
    m.set_opt_params(sigma=[["default"]], epsilon=[["default"]])
    assert m.echo_opt_params(None).endswith(
        "sigma 1\n  2.0000000000000000e+00 \n\nepsilon 1\n  1.0000000000000000e+00 \n\n")
