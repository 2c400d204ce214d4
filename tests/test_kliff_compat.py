"""KLIFF semantics where they used to differ: prediction on unlabeled configurations,
KLIFF's residual vectors with stress, and KLIFF's ``dataset --split`` / ``--avail-params``
command-line forms."""

import copy

import numpy as np
import pytest

from workbench.calculators import Calculator
from workbench.cli import main
from workbench.dataset import Dataset, Weight
from workbench.errors import LossError
from workbench.loss import Loss, energy_forces_residual, energy_residual, forces_residual
from workbench.models import LennardJones


@pytest.fixture(scope="module")
def si4(si4_path):
    return Dataset(si4_path, Weight(config_weight=2.0, energy_weight=1.5,
                                    forces_weight=0.3)).get_configs()


def _unlabeled(conf):
    c = copy.deepcopy(conf)
    c.energy, c.forces, c.stress = None, None, None
    return c


def test_calculator_predicts_unlabeled_configurations(si4):
    model = LennardJones()
    labeled = Calculator(model)
    labeled.create(si4)
    labeled.compute()
    bare = [_unlabeled(c) for c in si4]
    calc = Calculator(model)
    calc.create(bare)
    calc.compute()
    for k in range(len(si4)):
        assert calc.get_energy(k) == labeled.get_energy(k)
        assert np.array_equal(calc.get_forces(k), labeled.get_forces(k))
    # nothing requested but the energy
    calc.create([bare[0]], use_energy=False, use_forces=False)
    calc.compute()
    assert calc.get_energy(0) == labeled.get_energy(0)
    assert calc.get_prediction(0).size == 0


def test_loss_names_the_configuration_without_references(si4):
    bare = _unlabeled(si4[1])
    calc = Calculator(LennardJones())
    calc.create([si4[0], bare])
    with pytest.raises(LossError, match=rf"configuration {bare.identifier!r} has no "
                                        r"reference energy, which the loss needs"):
        Loss(calc)
    calc.create([si4[0]], use_energy=False, use_forces=False)
    with pytest.raises(LossError, match="nothing to fit: the Calculator was created with "
                                        "use_energy, use_forces and use_stress all False"):
        Loss(calc)


def _kliff_residual(conf, natoms, prediction, reference):
    """KLIFF 0.4's ``energy_forces_residual``, written out from its documentation."""
    w = conf.weight
    residual = w.config_weight * (prediction - reference)
    residual[0] *= w.energy_weight
    residual[1:] *= w.forces_weight
    return residual / natoms


@pytest.fixture(scope="module")
def stressed(si4):
    """The Si_4 configurations with a reference stress (a slightly strained prediction)."""
    configs = copy.deepcopy(si4)
    model = LennardJones()
    model.set_param_value("sigma", [2.05])
    calc = Calculator(model)
    calc.create(configs, use_stress=True)
    calc.compute()
    for k, c in enumerate(configs):
        c.stress = calc.get_stress(k) + 0.01 * np.arange(1, 7)
    return configs


def test_kliff_residual_functions_weight_stress_like_kliff(stressed):
    model = LennardJones()
    model.set_opt_params(sigma=[["default"]], epsilon=[["default"]])
    calc = Calculator(model)
    calc.create(stressed, use_stress=True)
    loss = Loss(calc, residual_fn=energy_forces_residual)
    u = loss.residual(loss.x0())
    blocks = []
    for k, c in enumerate(stressed):
        n = c.get_num_atoms()
        pred, ref = calc.get_prediction(k), calc.get_reference(k)
        assert pred.shape == (1 + 3 * n + 6,)
        expect = _kliff_residual(c, n, pred, ref)
        assert np.array_equal(energy_forces_residual(c.identifier, n, c.weight, pred, ref,
                                                     {"normalize_by_natoms": True}), expect)
        blocks.append(expect)
    expect = np.concatenate(blocks)
    assert np.allclose(u, expect, rtol=1e-14, atol=0)
    assert loss.loss(loss.x0()) == pytest.approx(0.5 * expect @ expect, rel=1e-14)
    # the stress rows carry config_weight * forces_weight / N, not zero
    s_rows = u[1 + 3 * 64:1 + 3 * 64 + 6]
    assert np.allclose(s_rows, 2.0 * 0.3 * (calc.get_prediction(0)[-6:]
                                            - stressed[0].stress) / 64, rtol=1e-14)
    # the gradient of that loss is exact (central differences)
    _, g = loss.loss_and_grad(loss.x0())
    for i in range(2):
        h = 1e-6
        xp, xm = loss.x0(), loss.x0()
        xp[i] += h
        xm[i] -= h
        assert g[i] == pytest.approx((loss.loss(xp) - loss.loss(xm)) / (2 * h), rel=1e-6)


def test_our_default_weights_stress_by_stress_weight(stressed):
    configs = copy.deepcopy(stressed)
    for c in configs:
        c.weight = Weight(config_weight=2.0, energy_weight=1.5, forces_weight=0.3,
                          stress_weight=0.7)
    calc = Calculator(LennardJones())
    calc.create(configs, use_stress=True)
    model = calc.model
    model.set_opt_params(sigma=[["default"]])
    loss = Loss(calc)
    u = loss.residual(loss.x0())
    stress_rows = u[1 + 3 * 64:1 + 3 * 64 + 6]
    assert np.allclose(stress_rows, 2.0 * 0.7 * (calc.get_prediction(0)[-6:]
                                                 - configs[0].stress) / 64, rtol=1e-14)
    kliff = Loss(calc, residual_fn=energy_forces_residual).residual(loss.x0())
    assert np.allclose(kliff[1 + 3 * 64:1 + 3 * 64 + 6], stress_rows * 0.3 / 0.7,
                       rtol=1e-14)


def test_energy_and_forces_residuals_follow_kliff_on_every_row(si4):
    c = si4[0]
    n = c.get_num_atoms()
    rng = np.random.default_rng(1)
    pred, ref = rng.normal(size=1 + 3 * n), rng.normal(size=1 + 3 * n)
    data = {"normalize_by_natoms": False}
    assert np.array_equal(energy_residual(c.identifier, n, c.weight, pred, ref, data),
                          2.0 * 1.5 * (pred - ref))
    assert np.array_equal(forces_residual(c.identifier, n, c.weight, pred, ref, data),
                          2.0 * 0.3 * (pred - ref))


def test_per_atom_forces_weight_with_stress_is_refused_by_kliff_residual(stressed):
    configs = copy.deepcopy(stressed[:1])
    configs[0].weight = Weight(forces_weight=np.linspace(0.1, 1.0, 64))
    calc = Calculator(LennardJones())
    calc.create(configs, use_stress=True)
    calc.model.set_opt_params(sigma=[["default"]])
    with pytest.raises(LossError, match=r"energy_forces_residual multiplies 198 residual "
                                        r"rows by forces_weight, which is per-atom \(192 "
                                        r"components\)"):
        Loss(calc, residual_fn=energy_forces_residual)


def test_cli_avail_params_is_echo_params(capsys):
    assert main(["model", "--avail-params", "LennardJones"]) == 0
    kliff_form = capsys.readouterr().out
    assert main(["model", "--echo-params", "LennardJones"]) == 0
    assert capsys.readouterr().out == kliff_form
    assert "name: sigma" in kliff_form and "Model: LJ6-12" in kliff_form


def test_cli_dataset_split_into_n_folds_kliff_form(si_path, tmp_path, capsys):
    src = si_path / "varying_alat"
    assert main(["dataset", "--split", str(src), str(tmp_path / "folds"), "3"]) == 0
    assert capsys.readouterr().out.startswith("wrote 3 folds of 134, 133, 133 configurations")
    folds = [sorted(p.name for p in (tmp_path / "folds" / f"subset{k}").glob("*.xyz"))
             for k in range(3)]
    assert [len(f) for f in folds] == [134, 133, 133]
    assert sorted(sum(folds, [])) == sorted(p.name for p in src.glob("*.xyz"))
    # ours: --nfold with --out, same seed gives the same folds
    assert main(["dataset", "--split", str(src), "--nfold", "3",
                 "--out", str(tmp_path / "ours")]) == 0
    assert sorted(p.name for p in (tmp_path / "ours" / "subset1").glob("*.xyz")) == folds[1]
    assert main(["dataset", "--split", str(src), str(tmp_path / "bad"), "x"]) != 0
    assert "N must be an integer, got 'x'" in capsys.readouterr().err


# KLIFF 0.4.3 itself (built from PyPI's sdist), LennardJones on Si_training_set_4_configs
# with Weight(config_weight=2.0, energy_weight=1.5, forces_weight=0.3), stress of
# configuration k set to (k + 1) * [0.1, -0.2, 0.3, 0.01, -0.02, 0.03], use_stress=True,
# residual_fn=energy_forces_residual: ½‖u‖² and the stress rows of the first block.
KLIFF_STRESS_LOSS = 57.64861256849346
KLIFF_STRESS_ROWS0 = [0.0003354030690962311, 0.003147581882632166, -0.0015404088805602023,
                      -8.351272497722364e-05, 0.0001991656772081859, -0.00027185920654016344]


def test_stress_residual_equals_kliffs_own_numbers(si4):
    configs = copy.deepcopy(si4)
    for k, c in enumerate(configs):
        c.stress = np.array([0.1, -0.2, 0.3, 0.01, -0.02, 0.03]) * (k + 1)
    model = LennardJones()
    model.set_opt_params(sigma=[["default"]], epsilon=[["default"]])
    calc = Calculator(model)
    calc.create(configs, use_energy=True, use_forces=True, use_stress=True)
    loss = Loss(calc, residual_fn=energy_forces_residual)
    u = loss.residual(loss.x0())
    assert len(u) == 4 * (1 + 3 * 64 + 6)
    assert 0.5 * u @ u == pytest.approx(KLIFF_STRESS_LOSS, rel=1e-14)
    assert np.allclose(u[193:199], KLIFF_STRESS_ROWS0, rtol=1e-12, atol=0)


def test_torch_loss_conventions_differ_by_two_over_the_batch_size(si4, tmp_path):
    from workbench.calculators import CalculatorTorch
    from workbench.descriptors import SymmetryFunction
    from workbench.models import NeuralNetwork
    from workbench import nn

    desc = SymmetryFunction({"Si-Si": 4.0}, "cos", "set30", normalize=True,
                            dtype=np.float64)
    model = NeuralNetwork(desc)
    model.add_layers(nn.Linear(desc.get_size(), 4), nn.Tanh(), nn.Linear(4, 1))
    calc = CalculatorTorch(model)
    calc.create(si4, fingerprints_filename=tmp_path / "fp.pkl")
    kliff, ours = Loss(calc), Loss(calc, convention="workbench")
    assert kliff.convention == "kliff"
    u = kliff.batch_residual([0, 1, 2]).detach().numpy()
    assert float(ours.batch_loss([0, 1, 2]).detach()) == pytest.approx(0.5 * u @ u, rel=1e-12)
    assert float(kliff.batch_loss([0, 1, 2]).detach()) == pytest.approx(u @ u / 3, rel=1e-12)
    session = kliff.training_session("Adam", batch_size=2, num_epochs=1)
    assert (session.keep_best, session.shuffle, session.final_eval) == (False, False, True)
    with pytest.raises(LossError, match="convention='mine': expected one of kliff, "
                                        "workbench"):
        Loss(calc, convention="mine")
    # unlabeled configurations: the calculator predicts, the loss refuses
    bare = [_unlabeled(c) for c in si4[:2]]
    calc2 = CalculatorTorch(model)
    calc2.create(bare, fingerprints_filename=tmp_path / "fp2.pkl")
    calc2.compute()
    assert calc2.get_energy(0) == pytest.approx(calc.get_energy(0), rel=1e-12)
    with pytest.raises(LossError, match=rf"configuration {bare[0].identifier!r} has no "
                                        r"reference energy.*the CalculatorTorch"):
        Loss(calc2)


@pytest.mark.kim
def test_cli_avail_params_of_a_kim_model(capsys):
    # KLIFF 1.x's use: the parameters of an installed KIM model, values as KLIFF's SW
    # tutorial prints them
    assert main(["model", "--avail-params",
                 "SW_StillingerWeber_1985_Si__MO_405512056662_005"]) == 0
    out = capsys.readouterr().out
    for line in ("name: A\nvalue: [15.28484792]", "name: B\nvalue: [0.60222456]",
                 "name: sigma\nvalue: [2.0951]", "name: gamma\nvalue: [2.51412]",
                 "name: lambda\nvalue: [45.5322]"):
        assert line in out
