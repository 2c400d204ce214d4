"""Calculator layout, vectorized residuals vs KLIFF's per-configuration functions, exact
Jacobians vs finite differences, user residual functions, errors."""

import numpy as np
import pytest

from workbench.calculators import Calculator
from workbench.dataset import Dataset, Weight
from workbench.errors import LossError
from workbench.fit import residuals as R
from workbench.loss import Loss
from workbench.models import LogParameterTransform, StillingerWeber


@pytest.fixture(scope="module")
def configs(si_path):
    ds = Dataset(si_path / "varying_alat", Weight(energy_weight=1.0, forces_weight=0.1))
    picked = ds.get_configs()[::40]  # 10 configurations of 8 and 64 atoms
    picked[1].weight = Weight(config_weight=2.0, energy_weight=3.0, forces_weight=0.5)
    return picked


def sw_model(transform=None):
    """SW with A, B, gamma free; values and bounds of log-space parameters given as logs."""
    model = StillingerWeber(params_transform=transform)
    a = [14.0, 1.0, 20]
    if transform is not None:
        a = [float(np.log(v)) for v in a]
    model.set_opt_params(A=[a], B=[["default"]], sigma=[[2.0951, "fix"]], gamma=[[2.1]])
    return model


def test_prediction_and_reference_layout(configs):
    calc = Calculator(sw_model())
    cas = calc.create(configs, use_energy=True, use_forces=True)
    calc.compute()
    ca = cas[3]
    n = ca.conf.get_num_atoms()
    pred, ref = calc.get_prediction(ca), calc.get_reference(ca)
    assert pred.shape == ref.shape == (1 + 3 * n,)
    assert pred[0] == calc.get_energy(ca)
    assert np.array_equal(pred[1:], calc.get_forces(ca).ravel())
    assert ref[0] == ca.conf.energy
    assert np.array_equal(ref[1:], np.asarray(ca.conf.forces).ravel())


def test_vectorized_residual_equals_kliff_per_configuration_functions(configs):
    calc = Calculator(sw_model())
    calc.create(configs)
    loss = Loss(calc)
    u = loss.residual(loss.x0())
    blocks = [R.energy_forces_residual(c.identifier, c.get_num_atoms(), c.weight,
                                       calc.get_prediction(k), calc.get_reference(k),
                                       {"normalize_by_natoms": True})
              for k, c in enumerate(configs)]
    assert np.allclose(u, np.concatenate(blocks), rtol=1e-14, atol=0)
    # weights act as written: block 1 has config weight 2 and energy weight 3, /natoms
    c1 = configs[1]
    start = 1 + 3 * configs[0].get_num_atoms()
    expected = 2.0 * 3.0 * (calc.get_energy(1) - c1.energy) / c1.get_num_atoms()
    assert u[start] == pytest.approx(expected, rel=1e-14)
    assert loss.loss(loss.x0()) == pytest.approx(0.5 * u @ u, rel=1e-14)


def test_user_residual_function_matches_builtin_path(configs):
    def my_residual(identifier, natoms, weight, prediction, reference, data):
        return R.energy_forces_residual(identifier, natoms, weight, prediction, reference,
                                        data)

    calc = Calculator(sw_model())
    calc.create(configs)
    builtin, user = Loss(calc), Loss(calc, residual_fn=my_residual)
    x = builtin.x0() * 1.01
    u1, J1 = builtin.residual_and_jacobian(x)
    u2, J2 = user.residual_and_jacobian(x)
    assert np.allclose(u1, u2, rtol=1e-13, atol=1e-15)
    assert np.allclose(J1, J2, rtol=1e-6, atol=1e-9 * np.abs(J1).max())


@pytest.mark.parametrize("transform", [None, LogParameterTransform(["A", "B"])])
def test_residual_jacobian_and_gradient_match_finite_differences(configs, transform):
    calc = Calculator(sw_model(transform))
    calc.create(configs)
    loss = Loss(calc)
    x = loss.x0()
    u, J = loss.residual_and_jacobian(x)
    f, g = loss.loss_and_grad(x)
    assert np.allclose(g, J.T @ u)
    for k in range(len(x)):
        h = 1e-6 * max(1.0, abs(x[k]))
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        fd = (loss.residual(xp) - loss.residual(xm)) / (2 * h)
        assert np.allclose(J[:, k], fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())
        gfd = (loss.loss(xp) - loss.loss(xm)) / (2 * h)
        assert g[k] == pytest.approx(gfd, rel=1e-6)


def test_missing_reference_is_named_by_the_loss(configs):
    calc = Calculator(sw_model())
    calc.create(configs, use_stress=True)  # predicting needs no reference
    with pytest.raises(LossError, match=r"configuration '.*Si_alat.*' has no reference "
                                        r"stress, which the loss needs"):
        Loss(calc)


def test_loss_requires_created_calculator_and_known_residual(configs):
    with pytest.raises(LossError, match="call calc.create"):
        Loss(Calculator(sw_model()))
    calc = Calculator(sw_model())
    calc.create(configs)
    with pytest.raises(LossError, match="unknown residual 'bogus'"):
        Loss(calc, residual_fn="bogus")
    with pytest.raises(LossError, match="needs stress"):
        Loss(calc, residual_fn=R.energy_forces_stress_residual)


def test_bounds_refused_by_methods_that_cannot_take_them(configs):
    calc = Calculator(sw_model())
    calc.create(configs)
    with pytest.raises(LossError, match="cannot take bounds"):
        Loss(calc).minimize(method="BFGS")


def test_forces_only_and_energy_only_residuals(configs):
    model = sw_model()
    calc = Calculator(model)
    calc.create(configs)
    both = Loss(calc).residual(model.get_opt_params())
    calc_f = Calculator(model)
    calc_f.create(configs, use_energy=False)
    uf = Loss(calc_f, residual_fn="forces_residual").residual(model.get_opt_params())
    calc_e = Calculator(model)
    calc_e.create(configs, use_forces=False)
    ue = Loss(calc_e, residual_fn=R.energy_residual).residual(model.get_opt_params())
    first = np.cumsum([0] + [1 + 3 * c.get_num_atoms() for c in configs])[:-1]
    assert np.array_equal(ue, both[first])
    assert np.array_equal(uf, np.delete(both, first))
    assert len(ue) == len(configs)
