"""The Huber residual plugin: registered, equal to the built-in residual inside delta,
Huber loss outside, exact-enough Jacobian through Loss's per-configuration path, and a
fit that reaches the built-in minimum when delta is large."""

import numpy as np
import pytest

from workbench import datasets
from workbench.calculators import Calculator
from workbench.dataset import Dataset, Weight
from workbench.errors import LossError
from workbench.fit.residuals import energy_forces_residual
from workbench.loss import Loss
from workbench.models import StillingerWeber
from workbench_residuals import huber, huber_energy_forces_residual


@pytest.fixture(scope="module")
def configs():
    ds = Dataset(datasets.path("Si"), Weight(energy_weight=1.0, forces_weight=0.1))
    return ds.get_configs()[:25]


def _calc(configs):
    model = StillingerWeber()
    model.set_opt_params(A=[[12.0]], B=[["default"]], gamma=[[2.0]])
    calc = Calculator(model)
    calc.create(configs)
    return calc


def test_registered():
    from workbench import plugins

    assert plugins.available_residuals()["huber_energy_forces"] is huber_energy_forces_residual
    loss = Loss(_calc_small(), residual_fn="huber_energy_forces")
    assert loss.residual_fn is huber_energy_forces_residual


def _calc_small():
    ds = Dataset(datasets.path("Si_4"), Weight(energy_weight=1.0, forces_weight=0.1))
    return _calc(ds.get_configs())


def test_huber_map_values():
    r = np.array([-3.0, -0.05, 0.0, 0.1, 0.4])
    u = huber(r, 0.1)
    np.testing.assert_array_equal(u[1:4], r[1:4])
    # 1/2 u^2 is the Huber loss delta(|r| - delta/2) outside
    np.testing.assert_allclose(0.5 * u[[0, 4]] ** 2, 0.1 * (np.abs(r[[0, 4]]) - 0.05))
    assert u[0] < 0 < u[4]


def test_same_as_builtin_inside_delta(configs):
    calc = _calc(configs[:5])
    calc.compute()
    data = {"normalize_by_natoms": True, "huber_delta": 1e6}
    for k, c in enumerate(configs[:5]):
        args = (c.identifier, c.get_num_atoms(), c.weight, calc.get_prediction(k),
                calc.get_reference(k), data)
        np.testing.assert_array_equal(huber_energy_forces_residual(*args),
                                      energy_forces_residual(*args))


def test_jacobian_through_per_config_path(configs):
    loss = Loss(_calc(configs[:8]), residual_fn=huber_energy_forces_residual,
                residual_data={"huber_delta": 2e-4})
    x = loss.x0()
    u, J = loss.residual_and_jacobian(x)
    assert 0.1 < np.mean(np.abs(u) > 2e-4) < 0.9  # components on both sides of delta
    for k in range(x.size):
        h = 1e-6 * abs(x[k])
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        fd = (loss.residual(xp) - loss.residual(xm)) / (2 * h)
        np.testing.assert_allclose(J[:, k], fd, rtol=1e-5, atol=1e-8 * np.abs(fd).max())


def test_fit_with_large_delta_matches_builtin(configs):
    opts = {"options": {"ftol": 1e-14, "gtol": 1e-10, "maxiter": 300}}
    plain = Loss(_calc(configs)).minimize("L-BFGS-B", **opts)
    robust = Loss(_calc(configs), residual_fn="huber_energy_forces",
                  residual_data={"huber_delta": 1e6}).minimize("L-BFGS-B", **opts)
    assert robust.fun == pytest.approx(plain.fun, rel=1e-8)
    np.testing.assert_allclose(robust.x, plain.x, rtol=1e-5)


def test_robust_fit_downweights_outliers(configs):
    loss = Loss(_calc(configs), residual_fn="huber_energy_forces",
                residual_data={"huber_delta": 2e-4})
    x0 = loss.x0()
    f0, g0 = loss.loss_and_grad(x0)
    plain = Loss(_calc(configs)).minimize("L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-10})
    res = loss.minimize("L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-10})
    assert res.fun < 0.5 * f0
    g = loss.loss_and_grad(res.x)[1]
    assert np.abs(g).max() < 1e-2 * np.abs(g0).max()
    # the robust optimum differs from the least-squares one and is better for its loss
    assert loss.loss(plain.x) > res.fun * (1 + 1e-6)
    assert np.abs(res.x - plain.x).max() > 1e-4 * np.abs(plain.x).max()


def test_rejects_stress_layout():
    with pytest.raises(LossError, match="energy and forces"):
        huber_energy_forces_residual("c0", 2, Weight(), np.zeros(13), np.zeros(13), {})
