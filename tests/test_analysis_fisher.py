"""Fisher information: exact Jacobian vs finite differences, Ridders, KIM, singular case."""

import numpy as np
import pytest

from workbench.analysis import Fisher, ridders_derivative
from workbench.data import read_config
from workbench.fit.calculator import Calculator
from workbench.models import LogParameterTransform, StillingerWeber

SW_KIM = "SW_StillingerWeber_1985_Si__MO_405512056662_005"
FIT = dict(A=[[14.9386]], B=[[0.5874]], sigma=[[2.0951]], gamma=[[2.20146]])


@pytest.fixture(scope="module")
def configs(si_path):
    files = sorted((si_path / "varying_alat").glob("*.xyz"))[::80][:4]
    files += sorted((si_path / "NVT_runs").rglob("*.xyz"))[:1]
    return [read_config(f) for f in files]


def make_calc(configs, model):
    calc = Calculator(model)
    calc.create(configs, use_energy=False, use_forces=True)
    return calc


def fd_fisher(calc):
    """Mean over configurations of J_mᵀJ_m with J from 4th-order central differences."""
    model = calc.model
    x0 = model.get_opt_params().copy()

    def forces(x):
        model.update_model_params(x)
        return model.compute(calc.state_, forces=True).forces.copy()

    cols = []
    for i in range(x0.size):
        h = 1e-3 * max(abs(x0[i]), 1.0)
        f = {}
        for k in (-2, -1, 1, 2):
            x = x0.copy()
            x[i] += k * h
            f[k] = forces(x)
        cols.append((f[-2] - 8 * f[-1] + 8 * f[1] - f[2]) / (12 * h))
    model.update_model_params(x0)
    J = np.stack(cols, axis=-1)
    off = calc.atom_offsets
    I = [np.einsum("aci,acj->ij", J[off[k]:off[k + 1]], J[off[k]:off[k + 1]])
         for k in range(len(off) - 1)]
    return np.mean(I, axis=0), np.std(I, axis=0)


@pytest.mark.parametrize("log_A", [False, True])
def test_exact_fisher_equals_finite_difference(configs, log_A):
    model = StillingerWeber(["Si"], params_transform=(LogParameterTransform(["A"])
                                                       if log_A else None))
    fit = dict(FIT)
    if log_A:
        fit["A"] = [[np.log(14.9386)]]
    model.set_opt_params(**fit)
    calc = make_calc(configs, model)
    F, F_std = Fisher(calc).run(verbose=0)
    F_fd, std_fd = fd_fisher(calc)
    assert F.shape == (4, 4)
    np.testing.assert_allclose(F, F_fd, rtol=1e-5, atol=1e-7 * np.abs(F_fd).max())
    np.testing.assert_allclose(F_std, std_fd, rtol=1e-5, atol=1e-7 * np.abs(std_fd).max())
    np.testing.assert_allclose(F, F.T, rtol=1e-13)


def test_summary_fields(configs, tmp_path):
    model = StillingerWeber(["Si"])
    model.set_opt_params(**FIT)
    calc = make_calc(configs, model)
    fisher = Fisher(calc)
    F, F_std = fisher.run(verbose=1, path=tmp_path / "analysis_Fisher_info_matrix.txt")
    M = len(configs)
    np.testing.assert_allclose(fisher.F_total, M * F, rtol=1e-12)
    cov = np.linalg.inv(M * F)
    np.testing.assert_allclose(fisher.param_std, np.sqrt(np.diag(cov)), rtol=1e-10)
    w = np.linalg.eigvalsh(M * F)
    np.testing.assert_allclose(fisher.eigenvalues, w, rtol=1e-10)
    assert fisher.condition_number == pytest.approx(w[-1] / w[0], rel=1e-8)
    assert not fisher.singular and fisher.message == ""
    # KLIFF's file layout: header with the parameters, then the two matrices
    text = (tmp_path / "analysis_Fisher_info_matrix.txt").read_text()
    assert "# Fisher information matrix, shape(4, 4)" in text
    assert "# Standard deviation in Fisher information matrix, shape(4, 4)" in text
    assert "1    B      5.874000000000000e-01    0" in text
    body = text.split("# Fisher information matrix, shape(4, 4)\n")[1]
    mat, std = body.split("# Standard deviation in Fisher information matrix, shape(4, 4)\n")
    np.testing.assert_allclose(np.loadtxt(mat.strip().splitlines()), F, rtol=1e-14)
    np.testing.assert_allclose(np.loadtxt(std.strip().splitlines()), F_std, rtol=1e-14)


def test_ridders_on_analytic_function():
    x = np.linspace(0.1, 3.0, 7)
    d, err = ridders_derivative(lambda t: np.sin(t * x) * np.exp(t), 0.7, 0.3)
    exact = (x * np.cos(0.7 * x) + np.sin(0.7 * x)) * np.exp(0.7)
    np.testing.assert_allclose(d, exact, rtol=1e-10)
    assert np.all(err < 1e-8)
    with pytest.raises(ValueError, match="positive"):
        ridders_derivative(np.sin, 0.0, 0.0)


def test_ridders_fisher_equals_exact(configs):
    model = StillingerWeber(["Si"])
    model.set_opt_params(**FIT)
    calc = make_calc(configs, model)
    F, _ = Fisher(calc).run(verbose=0)
    F_r, _ = Fisher(calc, method="ridders").run(verbose=0)
    np.testing.assert_allclose(F_r, F, rtol=1e-7)
    np.testing.assert_allclose(model.get_opt_params(), [14.9386, 0.5874, 2.0951, 2.20146])


def test_singular_fisher_message(configs):
    """With lambda = 0 the three-body term vanishes: gamma does not change any force."""
    model = StillingerWeber(["Si"])
    model.set_opt_params(A=[[14.9386]], gamma=[[2.2]], **{"lambda": [[0.0, "fix"]]})
    calc = make_calc(configs, model)
    fisher = Fisher(calc)
    with pytest.warns(RuntimeWarning, match="singular") as rec:
        fisher.run(verbose=0)
    msg = str(rec[0].message)
    assert "gamma" in msg and "pseudo-inverse" in msg
    assert fisher.singular and fisher.condition_number == np.inf
    assert fisher.F[1, 1] == 0.0
    assert fisher.param_std[1] == 0.0
    assert fisher.param_std[0] == pytest.approx(1 / np.sqrt(fisher.F_total[0, 0]), rel=1e-10)


@pytest.mark.kim
def test_kim_model_fisher_matches_builtin(configs):
    from workbench.models.kim import KIMModel

    kim = KIMModel(SW_KIM)
    kim.set_opt_params(**FIT)
    F_kim, std_kim = Fisher(make_calc(configs, kim)).run(verbose=0)
    sw = StillingerWeber(["Si"])
    sw.set_opt_params(**FIT)
    F_sw, std_sw = Fisher(make_calc(configs, sw)).run(verbose=0)
    np.testing.assert_allclose(F_kim, F_sw, rtol=1e-4, atol=1e-6 * np.abs(F_sw).max())
    np.testing.assert_allclose(std_kim, std_sw, rtol=1e-4, atol=1e-6 * np.abs(std_sw).max())
    np.testing.assert_allclose(kim.get_opt_params(), [14.9386, 0.5874, 2.0951, 2.20146])
