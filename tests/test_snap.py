"""SNAP: an installed OpenKIM SNAP model reproduced through our bispectrum, exact
Jacobians, a weighted linear fit on the DFT Si set, and the fitted model written for the
KIM SNAP driver, run in kimpy and LAMMPS on held-out configurations."""

from __future__ import annotations

import os

import numpy as np
import pytest
from engine_helpers import rel_err
from test_engine_eam import fcc
from test_kim_export_lammps import run_lammps

from workbench.dataset import Dataset, Weight
from workbench.ml.snap import SNAP, fit_linear

CU_SNAP = "SNAP_LiHuChen_2018_Cu__MO_529419924683_000"


@pytest.mark.kim
def test_installed_snap_model_is_reproduced():
    from workbench.models.kim import KIMModel

    model = SNAP.from_kim(CU_SNAP)
    assert model.ncoeff == 31 and model.rcutfac == 3.7 and model.twojmax == 6
    confs = [fcc(3.62, (2, 2, 2), 0.1, 0, "Cu", tilt=0.2), fcc(3.6, (2, 2, 1), 0.15, 1, "Cu")]
    ours = model.compute(model.prepare(confs), forces=True, stress=True)
    kim = KIMModel(CU_SNAP)
    ref = kim.compute(kim.prepare(confs), forces=True, stress=True)
    assert rel_err(ours.energy, ref.energy) < 1e-8
    assert rel_err(ours.forces, ref.forces) < 1e-8
    assert rel_err(ours.stress, ref.stress) < 1e-8
    assert np.abs(ref.forces).max() > 0.5


def si_model(quadratic=False):
    return SNAP(("Si",), rcutfac=4.2, twojmax=4, quadratic=quadratic)


@pytest.fixture(scope="module")
def si_split(si_path):
    configs = Dataset(si_path, Weight(energy_weight=1.0, forces_weight=0.3)).get_configs()
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(configs))
    return [configs[k] for k in pick[:60]], [configs[k] for k in pick[60:66]]


def fitted_loss(train, quadratic):
    from workbench.calculators import Calculator
    from workbench.loss import Loss

    model = si_model(quadratic)
    model.set_opt_params(coeffs_Si=[[0.0]] * model.ncoeff)
    calc = Calculator(model)
    calc.create(train)
    loss = Loss(calc)
    return loss.loss(fit_linear(loss))


def test_quadratic_terms_lower_the_training_loss(si_split):
    linear, quadratic = fitted_loss(si_split[0], False), fitted_loss(si_split[0], True)
    assert quadratic < 0.9 * linear


@pytest.mark.parametrize("quadratic", [False, True])
def test_linear_fit_solves_the_weighted_least_squares_problem(si_split, quadratic):
    from workbench.calculators import Calculator
    from workbench.loss import Loss

    train, _ = si_split
    model = si_model(quadratic)
    n = model.ncoeff
    model.set_opt_params(coeffs_Si=[[0.0]] * n)
    calc = Calculator(model)
    calc.create(train)
    loss = Loss(calc)
    x = fit_linear(loss)
    r, J = loss.residual_and_jacobian(x)
    assert np.abs(J.T @ r).max() < 1e-8 * np.abs(J).max() * np.abs(r).max() * len(r)
    # the Jacobian is exact: a column against a finite difference of the residual
    e = np.zeros_like(x)
    e[3] = 1e-3
    np.testing.assert_allclose((loss.residual(x + e) - loss.residual(x - e)) / 2e-3, J[:, 3],
                               rtol=1e-6, atol=1e-9)
    res = model.compute(model.prepare(train), forces=True)
    E = np.array([c.energy for c in train])
    nat = np.array([len(c.species) for c in train])
    F = np.concatenate([c.forces for c in train])
    e_rmse = np.sqrt(np.mean(((res.energy - E) / nat) ** 2))
    f_rmse = np.sqrt(np.mean((res.forces - F) ** 2))
    assert e_rmse < 0.02 and f_rmse < 0.35
    assert model.model_params["coeffs_Si"].value.size == (1 + 14 + 105 if quadratic else 15)


@pytest.mark.kim
@pytest.mark.lammps
def test_fitted_snap_runs_in_kimpy_and_lammps(si_split, tmp_path):
    from workbench.calculators import Calculator
    from workbench.loss import Loss
    from workbench.models.kim import KIMModel
    from workbench.models.kim_collections import PrivateCollection

    train, held_out = si_split
    model = si_model()
    model.set_opt_params(coeffs_Si=[[0.0]] * model.ncoeff)
    calc = Calculator(model)
    calc.create(train)
    fit_linear(Loss(calc))
    name = "WB_SNAP_Si__MO_000000000000_000"
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        path = model.write_kim_model(tmp_path / name)
        coeff = (path / f"{name}.snapcoeff").read_text().splitlines()
        assert coeff[2] == "1 15" and coeff[3] == "Si 0.5 1.0"
        assert "twojmax 4" in (path / f"{name}.snapparam").read_text()
        with PrivateCollection(tmp_path / "collection") as col:
            col.install(path)
            ours = model.compute(model.prepare(held_out), forces=True)
            kim = KIMModel(name)
            ref = kim.compute(kim.prepare(held_out), forces=True)
            np.testing.assert_allclose(ref.energy, ours.energy, rtol=1e-8)
            np.testing.assert_allclose(ref.forces, ours.forces, rtol=0, atol=1e-8)
            for k in (0, 1):
                e, f = run_lammps(name, held_out[k], col.env, tmp_path / f"lmp{k}")
                lo = sum(len(c.species) for c in held_out[:k])
                assert e == pytest.approx(ours.energy[k], rel=1e-8)
                np.testing.assert_allclose(f, ours.forces[lo:lo + len(held_out[k].species)],
                                           rtol=0, atol=1e-8)
    finally:
        os.chdir(old)


def test_model_list_shows_eam_and_snap(capsys):
    from workbench.cli import main

    assert main(["model", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    builtins = lines[1:lines.index("Plugin models (entry-point group 'workbench.models'):")]
    assert [ln.split()[0] for ln in builtins][-2:] == ["EAM", "SNAP"]
    assert main(["model", "--echo-params", "SNAP", "--species", "Si"]) == 0
    out = capsys.readouterr().out
    assert "name: coeffs_Si" in out and "size: 31" in out


def test_stress_rows_enter_the_linear_fit():
    """Fitted without stress, then with weighted stress rows: the stress-weighted loss of
    the second solution is far below that of the first (the stress Jacobian is used)."""
    from workbench import datasets
    from workbench.calculators import Calculator
    from workbench.loss import Loss

    def loss_for(stress_weight):
        configs = Dataset(datasets.path("Al_EAM"), Weight(
            energy_weight=1.0, forces_weight=1.0, stress_weight=stress_weight)).get_configs()
        model = SNAP(("Al",), rcutfac=5.0, twojmax=4)
        model.set_opt_params(coeffs_Al=[[0.0]] * model.ncoeff)
        calc = Calculator(model)
        calc.create(configs, use_stress=True)
        return Loss(calc)

    without, with_stress = loss_for(0.0), loss_for(1000.0)
    x_without = fit_linear(without)
    x_with = fit_linear(with_stress)
    assert with_stress.loss(x_with) < 0.5 * with_stress.loss(x_without)
    r = with_stress.residual(x_with)
    assert r.size == 43 + 3 * 517 + 6 * 43
