"""``model.ase_calculator()``: the model's own numbers for any ase.Atoms, neighbor lists
kept while atoms move less than half the skin, forces as minus the energy gradient, the
exported KIM model through ASE's KIM calculator, and ASE's optimizer, MD and phonon tools
running on it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from workbench.data.configuration import Configuration
from workbench.models import builtin

SW_KIM = "SW_StillingerWeber_1985_Si__MO_405512056662_005"


def rattled(a=5.43, seed=0, amp=0.05, repeat=1):
    atoms = bulk("Si", "diamond", a=a, cubic=True).repeat(repeat)
    atoms.rattle(amp, seed=seed)
    return atoms


def own_compute(model, atoms, stress=True):
    conf = Configuration(np.array(atoms.cell), atoms.get_chemical_symbols(),
                         atoms.positions.copy(), list(atoms.pbc))
    return model.compute(model.prepare([conf]), forces=True, stress=stress)


def assert_matches(atoms, model, tol=1e-12):
    ref = own_compute(model, atoms, stress=bool(atoms.pbc.all()))
    e = atoms.get_potential_energy()
    assert abs(e - ref.energy[0]) <= tol * max(1.0, abs(ref.energy[0]))
    np.testing.assert_allclose(atoms.get_forces(), ref.forces, rtol=0, atol=tol * 10)
    if atoms.pbc.all():
        np.testing.assert_allclose(atoms.get_stress(), ref.stress[0], rtol=0, atol=tol)


def models():
    sw = builtin.StillingerWeber()
    sw.set_opt_params(A=[[16.1]], sigma=[[2.08]])
    lj = builtin.LennardJones(shifted=True)
    lj.set_param_value("sigma", [2.2])
    lj.set_param_value("epsilon", [0.4])
    from workbench.models.eam import EAM

    return {"SW": sw, "Tersoff": builtin.Tersoff(), "LJ": lj, "Morse": builtin.Morse(),
            "EAM": EAM(("Si",))}


@pytest.mark.parametrize("name", ["SW", "Tersoff", "LJ", "Morse", "EAM"])
def test_builtin_models_equal_their_own_compute_while_atoms_move(name):
    model = models()[name]
    atoms = rattled()
    calc = model.ase_calculator(skin=0.5)
    atoms.calc = calc
    assert_matches(atoms, model)
    assert calc.rebuilds == 1
    rng = np.random.default_rng(1)
    for _ in range(3):  # each move < skin/2 from where the lists were built
        atoms.positions += rng.uniform(-0.04, 0.04, atoms.positions.shape)
        assert_matches(atoms, model)
    assert calc.rebuilds == 1
    atoms.positions[3] += [0.3, 0.0, 0.0]  # beyond skin/2: lists rebuilt
    assert_matches(atoms, model)
    assert calc.rebuilds == 2
    atoms.set_cell(atoms.cell * 1.01, scale_atoms=True)  # new cell: rebuilt
    assert_matches(atoms, model)
    assert calc.rebuilds == 3


def test_plugin_model_through_the_same_calculator():
    from workbench import plugins

    cls = plugins.available_models()["Buckingham"]
    model = cls(species=("Si",))
    atoms = rattled()
    atoms.calc = model.ase_calculator()
    assert_matches(atoms, model)
    atoms.positions[0] += 0.05
    assert_matches(atoms, model)


def test_model_with_its_own_prepare_snap():
    from workbench.ml.snap import SNAP

    model = SNAP(("Si",), rcutfac=4.2, twojmax=4)
    rng = np.random.default_rng(5)
    model.set_param_value("coeffs_Si", rng.normal(0, 0.1, model.ncoeff))
    atoms = rattled(seed=7)
    atoms.calc = model.ase_calculator()
    assert_matches(atoms, model)
    atoms.positions[2] += 0.03
    assert_matches(atoms, model)
    assert atoms.calc.rebuilds == 1  # the bispectrum neighbor list is kept (skin)


def test_forces_and_stress_are_energy_derivatives():
    model = builtin.StillingerWeber()
    atoms = rattled(amp=0.1)
    atoms.calc = model.ase_calculator()
    f = atoms.get_forces()
    h = 1e-5
    for i, k in [(0, 0), (3, 1), (5, 2)]:
        ep, em = [], []
        for sign, out in ((1, ep), (-1, em)):
            a = atoms.copy()
            a.calc = model.ase_calculator()
            a.positions[i, k] += sign * h
            out.append(a.get_potential_energy())
        assert f[i, k] == pytest.approx(-(ep[0] - em[0]) / (2 * h), abs=1e-7)
    s = atoms.get_stress()
    cell0 = np.array(atoms.cell)
    vals = []
    for sign in (1, -1):
        a = atoms.copy()
        a.calc = model.ase_calculator()
        eps = np.eye(3)
        eps[0, 1] = eps[1, 0] = sign * h / 2
        a.set_cell(cell0 @ eps, scale_atoms=True)
        vals.append(a.get_potential_energy())
    assert s[5] == pytest.approx((vals[0] - vals[1]) / (2 * h) / atoms.get_volume(), abs=1e-8)


def test_non_periodic_cluster_has_no_stress_and_isolated_atoms_zero():
    model = builtin.StillingerWeber()
    trimer = Atoms("Si3", positions=[[0, 0, 0], [2.35, 0, 0], [0, 2.35, 0]], pbc=False)
    trimer.calc = model.ase_calculator()
    assert_matches(trimer, model)
    with pytest.raises(Exception, match="periodic"):
        trimer.get_stress()
    one = Atoms("Si", pbc=False)
    one.calc = model.ase_calculator()
    assert one.get_potential_energy() == 0.0


@pytest.mark.kim
def test_kim_model_calculator_equals_its_compute_and_the_builtin_twin():
    from workbench.models.kim import KIMModel

    kim = KIMModel(SW_KIM)
    atoms = rattled(repeat=2)
    calc = kim.ase_calculator()
    atoms.calc = calc
    assert_matches(atoms, kim)
    twin = rattled(repeat=2)
    twin.calc = builtin.StillingerWeber().ase_calculator()
    assert abs(atoms.get_potential_energy() - twin.get_potential_energy()) < 1e-10
    np.testing.assert_allclose(atoms.get_forces(), twin.get_forces(), atol=1e-10)
    for _ in range(2):
        atoms.positions[::3] += 0.05
        assert_matches(atoms, kim)
    assert calc.rebuilds == 1
    from ase.calculators.kim import KIM

    ase_kim = atoms.copy()
    ase_kim.calc = KIM(SW_KIM)
    assert ase_kim.get_potential_energy() == pytest.approx(atoms.get_potential_energy(),
                                                           rel=1e-10)
    np.testing.assert_allclose(ase_kim.get_forces(), atoms.get_forces(), atol=1e-10)
    np.testing.assert_allclose(ase_kim.get_stress(), atoms.get_stress(), atol=1e-10)
    energies = atoms.get_potential_energies()  # the SW driver computes them
    assert energies.shape == (len(atoms),)
    assert energies.sum() == pytest.approx(atoms.get_potential_energy(), rel=1e-12)


@pytest.mark.kim
@pytest.mark.skipif(shutil.which("kim-api-collections-management") is None,
                    reason="needs kim-api-collections-management")
@pytest.mark.parametrize("kind", ["SW", "Tersoff"])
def test_exported_kim_model_through_ase_kim_calculator(kind, tmp_path):
    from ase.calculators.kim import KIM

    from workbench.models.kim_collections import PrivateCollection

    model = models()[kind]
    name = f"WB_ASE_{kind}_Si__MO_000000000000_000"
    with PrivateCollection(tmp_path / "collection") as col:
        col.install(model.write_kim_model(tmp_path / name))
        for atoms in (rattled(seed=3), rattled(seed=4, repeat=2)):
            ours = atoms.copy()
            ours.calc = model.ase_calculator()
            theirs = atoms.copy()
            theirs.calc = KIM(name)
            e = ours.get_potential_energy()
            assert theirs.get_potential_energy() == pytest.approx(e, abs=1e-10 * abs(e))
            np.testing.assert_allclose(theirs.get_forces(), ours.get_forces(), atol=1e-10)
            np.testing.assert_allclose(theirs.get_stress(), ours.get_stress(), atol=1e-10)


def _torch_model(kind, tmp_path, si_path):
    from workbench.data.dataset import Dataset
    from workbench.ml import nn
    from workbench.ml.calculator_torch import CalculatorTorch
    from workbench.ml.descriptors import SymmetryFunction
    from workbench.ml.linear_regression import LinearRegression
    from workbench.ml.neural_network import NeuralNetwork

    desc = SymmetryFunction({"Si-Si": 4.0}, "cos", "set30", normalize=True,
                            dtype=np.float64)
    if kind == "nn":
        model = NeuralNetwork(desc, seed=3)
        model.add_layers(nn.Linear(desc.get_size(), 6), nn.Tanh(), nn.Linear(6, 1))
    else:
        model = LinearRegression(desc, seed=3)
    configs = Dataset(si_path / "varying_alat").get_configs()[::100]
    for c in configs:  # CalculatorTorch computes stress only for configurations with one
        c.stress = np.zeros(6)
    calc = CalculatorTorch(model)
    calc.create(configs, use_stress=True, fingerprints_filename=tmp_path / "fp.pkl")
    return model, calc, configs


@pytest.mark.parametrize("kind", ["nn", "linear"])
def test_torch_models_equal_calculator_torch(kind, tmp_path, si_path):
    from workbench.models.ase_calculator import WorkbenchCalculator

    model, calc, configs = _torch_model(kind, tmp_path, si_path)
    res = calc.compute()
    for k, conf in enumerate(configs):
        atoms = conf.to_ase()
        atoms.calc = model.ase_calculator()
        assert isinstance(atoms.calc, WorkbenchCalculator)
        e = atoms.get_potential_energy()
        assert e == pytest.approx(res["energy"][k], rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(atoms.get_forces(), res["forces"][k], atol=1e-12)
        np.testing.assert_allclose(atoms.get_stress(), res["stress"][k], atol=1e-12)
        assert atoms.get_potential_energies().sum() == pytest.approx(e, rel=1e-12)


def test_ase_optimizer_md_and_phonons_run_on_it(tmp_path):
    from ase import units
    from ase.md.verlet import VelocityVerlet
    from ase.optimize import BFGS
    from ase.phonons import Phonons

    from workbench.validation import ValidationSettings
    from workbench.validation.phonons import phonons as phonopy_phonons

    model = builtin.StillingerWeber()
    atoms = rattled(a=5.431, amp=0.08)
    atoms.calc = model.ase_calculator()
    BFGS(atoms, logfile=None).run(fmax=1e-6, steps=200)
    assert np.abs(atoms.get_forces()).max() < 1e-6
    assert atoms.get_potential_energy() / len(atoms) == pytest.approx(-4.3364, abs=2e-3)

    md = rattled(a=5.431, amp=0.05, repeat=2)
    md.calc = model.ase_calculator()
    md.set_momenta(np.zeros((len(md), 3)))
    e0 = md.get_total_energy()
    VelocityVerlet(md, timestep=1.0 * units.fs).run(200)
    assert abs(md.get_total_energy() - e0) / len(md) < 1e-4
    assert md.calc.rebuilds < 10

    prim = bulk("Si", "diamond", a=5.430949729)
    ph = Phonons(prim, model.ase_calculator(), supercell=(4, 4, 4), delta=0.01,
                 name=str(tmp_path / "phonon"))
    ph.run()
    ph.read(acoustic=True)
    gamma = np.sort(ph.band_structure([[0, 0, 0]])[0]) / units._hbar / 1e12 / (2 * np.pi) \
        * units._e
    conv = bulk("Si", "diamond", a=5.430949729, cubic=True)
    conv.calc = model.ase_calculator()
    ours = phonopy_phonons(model, conv, ValidationSettings())
    assert gamma[-1] == pytest.approx(max(ours["special_frequencies"]["G"]), rel=2e-3)


@pytest.mark.kim
@pytest.mark.skipif(shutil.which("kim-api-collections-management") is None,
                    reason="needs kim-api-collections-management")
def test_exported_network_through_ase_kim_calculator(tmp_path, si_path, monkeypatch):
    """The network written for the DUNN driver, run by ASE's KIM calculator."""
    from ase.calculators.kim import KIM

    from workbench.models.kim_collections import PrivateCollection

    monkeypatch.chdir(tmp_path)  # kim-api writes kim.log into the working directory
    model, _, _ = _torch_model("nn", tmp_path, si_path)
    name = "WB_ASE_NN_Si__MO_000000000000_000"
    with PrivateCollection(tmp_path / "collection") as col:
        col.install(model.write_kim_model(tmp_path / name))
        atoms = rattled(seed=8, amp=0.08)
        ours = atoms.copy()
        ours.calc = model.ase_calculator()
        theirs = atoms.copy()
        theirs.calc = KIM(name)
        e = ours.get_potential_energy()
        f = ours.get_forces()
        assert np.abs(f).max() > 1e-3
        assert theirs.get_potential_energy() == pytest.approx(e, rel=1e-10)
        np.testing.assert_allclose(theirs.get_forces(), f, atol=1e-10 * np.abs(f).max())
        np.testing.assert_allclose(theirs.get_stress(), ours.get_stress(), atol=1e-10)
