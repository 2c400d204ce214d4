"""SW Jacobian restricted to requested columns, and the one-pass gradient ``Jᵀu``."""

import numpy as np
import pytest
from engine_helpers import Config, rel_err
from test_engine_sw import sic_like, sic_params

from workbench.engine import sw
from workbench.engine.batch import pack
from workbench.errors import ParameterError

SPEC = sw.SPEC
NAMES = ("C", "Si")


@pytest.fixture(scope="module")
def sic_batch():
    rng = np.random.default_rng(5)
    configs = [sic_like(rng), sic_like(rng, n=12, box=7.0, pbc=(True, False, True)),
               sic_like(rng, n=10, box=6.5)]
    p = sic_params()
    return pack(configs, sw.influence_distance(p) + 0.1, NAMES), p


def weighted_error(res, ew, eref, fw, fref):
    out = 0.5 * np.sum(ew * (res.energy - eref) ** 2)
    if fw is not None:
        out += 0.5 * np.sum(fw * (res.forces - fref) ** 2)
    return out


def problem(batch, rng):
    C, N = len(batch.config_offsets) - 1, len(batch.species)
    return (rng.uniform(0.5, 2.0, C), rng.normal(-40.0, 5.0, C),
            rng.uniform(0.5, 2.0, (N, 3)), rng.normal(0.0, 1.0, (N, 3)))


# columns of 27: unsorted, a duplicate, one parameter type of all three pairs, cutoffs
COLUMN_SETS = [[0, 1, 15], [17, 2, 9, 2], [21, 22, 23], [18, 19, 20, 24, 26, 12]]


@pytest.mark.parametrize("cols", COLUMN_SETS)
def test_compact_columns_equal_the_full_jacobian(sic_batch, cols):
    batch, p = sic_batch
    full = SPEC.compute(batch, p, forces=True, stress=True, jacobian=True)
    part = SPEC.compute(batch, p, forces=True, stress=True, jacobian=True, columns=cols,
                        compact=True)
    assert part.d_forces.shape == (len(batch.species), 3, len(cols))
    np.testing.assert_array_equal(part.d_energy, full.d_energy[:, cols])
    np.testing.assert_array_equal(part.d_forces, full.d_forces[..., cols])
    np.testing.assert_array_equal(part.d_stress, full.d_stress[..., cols])
    np.testing.assert_array_equal(part.forces, full.forces)
    assert np.abs(part.d_forces).max() > 1e-3


@pytest.mark.parametrize("cols", COLUMN_SETS)
def test_gradient_is_the_contracted_jacobian(sic_batch, cols):
    batch, p = sic_batch
    ew, eref, fw, fref = problem(batch, np.random.default_rng(len(cols)))
    full = SPEC.compute(batch, p, forces=True, jacobian=True)
    want = ((ew * (full.energy - eref)) @ full.d_energy[:, cols]
            + (fw * (full.forces - fref)).reshape(-1) @ full.d_forces.reshape(-1, 27)[:, cols])
    res, g = sw.gradient(batch, p, cols, ew, eref, fw, fref)
    assert rel_err(g, want) < 1e-12
    np.testing.assert_array_equal(res.forces, full.forces)
    np.testing.assert_array_equal(res.energy, full.energy)
    # energy term only: forces are not computed
    res, g = sw.gradient(batch, p, cols, ew, eref)
    assert res.forces is None
    assert rel_err(g, (ew * (full.energy - eref)) @ full.d_energy[:, cols]) < 1e-12


def test_gradient_against_finite_differences(sic_batch):
    batch, p = sic_batch
    ew, eref, fw, fref = problem(batch, np.random.default_rng(2))
    cols = list(range(27))
    _, g = sw.gradient(batch, p, cols, ew, eref, fw, fref)
    names = sw.PARAM_NAMES
    for col in cols:
        name, k = names[col // 3], col % 3
        h = 1e-6 * max(abs(p[name][k]), 1.0)
        vals = []
        for sgn in (1, -1):
            q = {n: v.copy() for n, v in p.items()}
            q[name][k] += sgn * h
            vals.append(weighted_error(SPEC.compute(batch, q, forces=True), ew, eref, fw, fref))
        fd = (vals[0] - vals[1]) / (2 * h)
        assert abs(g[col] - fd) <= 1e-6 * max(abs(fd), 1.0), (name, k, g[col], fd)


def test_gradient_rejects_bad_columns(sic_batch):
    batch, p = sic_batch
    C = len(batch.config_offsets) - 1
    with pytest.raises(ParameterError, match="outside the 27"):
        sw.gradient(batch, p, [27], np.ones(C), np.zeros(C))


def test_gradient_of_a_lone_dimer_pair_only():
    c = Config(np.array([[0.0, 0, 0], [1.5, 0.1, 0]]), np.eye(3) * 20, (False,) * 3,
               ["C", "C"])
    batch = pack([c], 3.77118, NAMES)
    res, g = sw.gradient(batch, sic_params(), list(range(27)), [1.0], [0.0],
                         np.ones((2, 3)), np.zeros((2, 3)))
    assert set(np.nonzero(g)[0] % 3) == {0}
    assert res.energy[0] != 0


def test_loss_gradient_uses_the_one_pass_and_matches_jacobian(si_path):
    from workbench.dataset import Dataset, Weight
    from workbench.fit.calculator import Calculator
    from workbench.fit.loss import Loss
    from workbench.models import StillingerWeber

    configs = Dataset(si_path, Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()
    configs = configs[::50]
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], gamma=[[1.5]],
                         costheta0=[[-0.3]])
    calc = Calculator(model)
    calc.create(configs)
    loss = Loss(calc)
    x = loss.x0()
    f, g = loss.loss_and_grad(x)
    assert calc.result_.d_forces is None  # the force Jacobian was never formed
    assert calc.get_energy(0) == calc.result_.energy[0]
    u, J = Loss(calc).residual_and_jacobian(x)
    assert f == pytest.approx(0.5 * u @ u, rel=1e-13)
    assert rel_err(g, J.T @ u) < 1e-12
    assert np.all(np.abs(g) > 1e-6)
