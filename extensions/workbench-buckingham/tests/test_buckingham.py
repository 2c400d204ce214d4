"""Buckingham plugin: forces and stress vs finite differences of the energy, the exact
parameter Jacobian vs finite differences, registration, and a fit through Loss."""

import numpy as np
import pytest

from workbench import datasets
from workbench.calculators import Calculator
from workbench.dataset import Dataset, Weight
from workbench.engine.batch import pack
from workbench.engine.fd import central_difference_jacobian, flatten_params, unflatten_params
from workbench.loss import Loss
from workbench_buckingham import SPEC, Buckingham
from workbench_buckingham.engine import PARAM_NAMES


@pytest.fixture(scope="module")
def si_configs():
    return Dataset(datasets.path("Si"), Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()


def _two_species(config, rng):
    """A copy of ``config`` with some atoms relabelled C and small displacements."""
    import copy

    c = copy.deepcopy(config)
    species = list(c.species)
    for k in rng.choice(len(species), size=len(species) // 3, replace=False):
        species[k] = "C"
    c.species = species
    c.coords = np.asarray(c.coords) + rng.normal(scale=0.05, size=np.shape(c.coords))
    return c


def _params(species):
    p = SPEC.default_params(species)
    n = len(p["A"])
    rng = np.random.default_rng(3)
    p["A"] = p["A"] * (1 + 0.2 * rng.random(n))
    p["rho"] = p["rho"] * (1 + 0.1 * rng.random(n))
    p["C"] = p["C"] * (1 + 0.3 * rng.random(n))
    p["cutoff"] = np.linspace(4.0, 4.5, n)
    return p


def _energy(config, species, params, coords=None, cell=None):
    import copy

    c = copy.copy(config)
    if coords is not None:
        c.coords = coords
    if cell is not None:
        c.cell = cell
    batch = pack([c], SPEC.influence_distance(params), species)
    return SPEC.compute(batch, params, forces=False).energy[0]


@pytest.fixture(scope="module")
def mixed(si_configs):
    rng = np.random.default_rng(7)
    return [_two_species(si_configs[k], rng) for k in (0, 5)]


def test_forces_match_finite_differences_of_energy(mixed):
    species = ("Si", "C")
    params = _params(species)
    conf = mixed[0]
    batch = pack([conf], SPEC.influence_distance(params), species)
    res = SPEC.compute(batch, params, forces=True)
    x0 = np.asarray(conf.coords, float)
    fd = central_difference_jacobian(
        lambda x: np.atleast_1d(_energy(conf, species, params, coords=x.reshape(-1, 3))),
        x0.ravel(), rel_step=0.0, abs_step=1e-5)[0].reshape(-1, 3)
    assert np.abs(res.forces).max() > 0.1
    np.testing.assert_allclose(res.forces, -fd, rtol=1e-6, atol=1e-7)


def test_stress_matches_strain_derivative(mixed):
    species = ("Si", "C")
    params = _params(species)
    conf = mixed[1]
    batch = pack([conf], SPEC.influence_distance(params), species)
    res = SPEC.compute(batch, params, forces=True, stress=True)
    cell = np.asarray(conf.cell, float)
    x = np.asarray(conf.coords, float)
    vol = abs(np.linalg.det(cell))
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    h = 1e-6
    for k, (a, b) in enumerate(voigt):
        eps = np.zeros((3, 3))
        eps[a, b] = eps[b, a] = h if a != b else h
        if a != b:
            eps *= 0.5
        ep = _energy(conf, species, params, coords=x @ (np.eye(3) + eps).T,
                     cell=cell @ (np.eye(3) + eps).T)
        em = _energy(conf, species, params, coords=x @ (np.eye(3) - eps).T,
                     cell=cell @ (np.eye(3) - eps).T)
        dedeps = (ep - em) / (2 * h) * (1.0 if a == b else 1.0)
        assert res.stress[0, k] == pytest.approx(dedeps / vol, rel=1e-5, abs=1e-8), k


def test_parameter_jacobian_matches_finite_differences(mixed):
    species = ("Si", "C")
    params = _params(species)
    names = PARAM_NAMES
    sizes = [len(params[n]) for n in names]
    flat0 = flatten_params(params, names)
    rc = SPEC.influence_distance(params)
    batch = pack(mixed, rc + 0.5, species)  # room for the cutoff to move
    res = SPEC.compute(batch, params, forces=True, stress=True, jacobian=True)
    assert res.d_energy.shape == (2, 12)

    def quantities(flat):
        r = SPEC.compute(batch, unflatten_params(flat, names, sizes), forces=True, stress=True)
        return np.concatenate([r.energy, r.forces.ravel(), r.stress.ravel()])

    fd = central_difference_jacobian(quantities, flat0, rel_step=1e-6)
    exact = np.concatenate([res.d_energy, res.d_forces.reshape(-1, 12),
                            res.d_stress.reshape(-1, 12)])
    scale = np.abs(exact).max(axis=0)
    assert np.all(scale > 0)  # every column (incl. the cutoff) does something
    np.testing.assert_allclose(exact / scale, fd / scale, atol=2e-6)


def test_registered_and_listed_by_cli(capsys):
    from workbench import plugins
    from workbench.cli import main

    assert plugins.available_models()["Buckingham"] is Buckingham
    assert main(["model", "--list"]) == 0
    out = capsys.readouterr().out
    line = [ln for ln in out.splitlines() if ln.strip().startswith("Buckingham")]
    assert line and "workbench_buckingham.model:Buckingham" in line[0]
    assert main(["model", "--echo-params", "Buckingham", "--species", "Si", "C"]) == 0
    out = capsys.readouterr().out
    assert "name: rho" in out and "size: 3" in out


def test_save_load_round_trip(tmp_path):
    from workbench.models.io import load_model

    m = Buckingham(species=["Si"])
    m.set_opt_params(A=[[1234.5]], rho=[[0.31, 0.1, 1.0]])
    m.save(tmp_path / "b.yaml")
    back = load_model(tmp_path / "b.yaml")
    assert type(back) is Buckingham
    assert back.get_params_dict()["A"][0] == 1234.5
    assert back.get_opt_params_bounds() == [(None, None), (0.1, 1.0)]


@pytest.mark.slow
def test_fits_through_loss(si_configs):
    model = Buckingham(species=["Si"])
    model.set_opt_params(A=[[1500.0, 100.0, 5000.0]], rho=[[0.35, 0.2, 0.6]],
                         C=[[150.0, 0.0, 1000.0]], cutoff=[[4.5, "fix"]])
    calc = Calculator(model)
    calc.create(si_configs[:60])
    loss = Loss(calc)
    x0 = loss.x0()
    f0, g0 = loss.loss_and_grad(x0)
    # the gradient Jᵀu is exact: compare with a central difference of the loss
    for k in range(3):
        h = 1e-6 * abs(x0[k])
        xp, xm = x0.copy(), x0.copy()
        xp[k] += h
        xm[k] -= h
        assert g0[k] == pytest.approx((loss.loss(xp) - loss.loss(xm)) / (2 * h), rel=1e-5)
    result = loss.minimize(method="trf", xtol=1e-12, ftol=1e-12)
    assert result.fun < 0.2 * f0
    f1, g1 = loss.loss_and_grad(result.x)
    assert f1 == pytest.approx(result.fun, rel=1e-12)
    assert np.abs(g1 * result.x).max() < 1e-5 * np.abs(g0 * x0).max()
    # a quasi-Newton run started at the trf minimum finds nothing lower
    polish = loss.minimize(method="L-BFGS-B", options={"maxiter": 50})
    assert polish.fun == pytest.approx(result.fun, rel=1e-6)
