"""A trained network written for the DUNN driver, installed into a private KIM collection
and run through kimpy and LAMMPS, reproduces the workbench's energies and forces."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

import torch

LMP = "/usr/bin/lmp"
NAME = "WB_DUNN_Si__MO_000000000000_000"
needs_lammps = pytest.mark.skipif(not os.path.exists(LMP), reason="needs Debian's lmp")
needs_tool = pytest.mark.skipif(shutil.which("kim-api-collections-management") is None,
                                reason="needs kim-api-collections-management")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("dunn")
    old = os.getcwd()
    os.chdir(path)  # kim-api writes kim.log into the working directory
    yield path
    os.chdir(old)


@pytest.fixture(scope="module")
def trained(workdir, si_path):
    from workbench.data.dataset import Dataset
    from workbench.fit.loss import Loss
    from workbench.ml.calculator_torch import CalculatorTorch
    from workbench.ml.descriptors import SymmetryFunction
    from workbench.ml.neural_network import NeuralNetwork

    configs = [c for c in Dataset(si_path / "varying_alat").get_configs()
               if c.get_num_atoms() == 8][:6]
    desc = SymmetryFunction({"Si-Si": 4.5}, "cos", "set30", normalize=True,
                            dtype=np.float64)
    model = NeuralNetwork(desc, seed=3)
    model.add_layers(torch.nn.Linear(desc.get_size(), 8), torch.nn.Tanh(),
                     torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    calc = CalculatorTorch(model)
    calc.create(configs, fingerprints_filename=workdir / "fp.pkl",
                fingerprints_mean_stdev_filename=workdir / "ms.pkl")
    Loss(calc).minimize("Adam", batch_size=3, num_epochs=5, lr=0.01, verbose=False)
    # a perturbed, non-symmetric copy of the first cell: forces are not all zero
    conf = configs[0]
    rng = np.random.default_rng(5)
    conf.coords = conf.coords + rng.normal(scale=0.08, size=conf.coords.shape)
    check = CalculatorTorch(model)
    check.create([conf], fingerprints_filename=workdir / "fp_check.pkl")
    check.compute()
    return model, conf, check.get_energy(0), check.get_forces(0)


def _lammps(conf, env, where):
    where.mkdir(parents=True, exist_ok=True)
    cell = np.asarray(conf.cell, float)
    assert np.allclose(cell, np.diag(np.diag(cell)))  # the varying_alat cells are cubic
    lines = ["dunn test", "", f"{len(conf.species)} atoms", "1 atom types", ""]
    lines += [f"0.0 {float(cell[k, k])!r} {a}lo {a}hi" for k, a in enumerate("xyz")]
    lines += ["", "Masses", "", "1 28.0855", "", "Atoms # atomic", ""]
    lines += [f"{i + 1} 1 {float(x)!r} {float(y)!r} {float(z)!r}"
              for i, (x, y, z) in enumerate(np.asarray(conf.coords, float) % np.diag(cell))]
    (where / "data.lmp").write_text("\n".join(lines) + "\n")
    (where / "in.lmp").write_text(f"""
kim init {NAME} metal
boundary p p p
read_data data.lmp
kim interactions Si
dump d all custom 1 forces.dump id fx fy fz
dump_modify d sort id format float %.17g
run 0
print "WB_ENERGY $(pe:%.17g)"
""")
    proc = subprocess.run([LMP, "-in", "in.lmp", "-log", "log.lammps"], cwd=where,
                          env=dict(env, OMP_NUM_THREADS="1"), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    energy = [float(l.split()[1]) for l in proc.stdout.splitlines()
              if l.startswith("WB_ENERGY")]
    dump = (where / "forces.dump").read_text().splitlines()
    start = next(k for k, l in enumerate(dump) if l.startswith("ITEM: ATOMS")) + 1
    return energy[0], np.array([[float(v) for v in l.split()[1:]] for l in dump[start:]])


def test_parameter_files(trained, workdir):
    model, _, _, _ = trained
    path = model.write_kim_model(workdir / "files" / NAME)
    desc = (path / "descriptor.params").read_text().splitlines()
    assert desc[2].startswith("cos") and desc[4].startswith("1 ")
    assert desc[7].split()[:2] == ["Si", "Si"] and float(desc[7].split()[2]) == 4.5
    g2 = next(k for k, l in enumerate(desc) if l.startswith("g2"))
    assert desc[g2].split() == ["g2", "8", "2"]
    assert float(desc[g2 + 1].split()[0]) == pytest.approx(0.0009 / 0.529177 ** 2)
    nnp = [l for l in (path / "NN.params").read_text().splitlines() if l.strip()]
    assert nnp[1].split()[0] == "3" and nnp[2].split()[:3] == ["8", "8", "1"]
    assert nnp[3].split()[0] == "tanh"
    w1 = np.array([[float(v) for v in l.split()] for l in nnp[6:6 + 30]])
    np.testing.assert_allclose(w1, model.layers[0].weight.detach().numpy().T, rtol=1e-15)
    drop = (path / "dropout_binary.params").read_text()
    assert "0  # number of repeat" in drop
    cm = (path / "CMakeLists.txt").read_text()
    assert "DUNN__MD_292677547454_000" in cm and '"descriptor.params"' in cm


@pytest.mark.kim
@pytest.mark.lammps
@needs_lammps
@needs_tool
def test_dunn_model_in_kimpy_and_lammps(trained, workdir):
    from workbench.models.kim import KIMModel
    from workbench.models.kim_collections import PrivateCollection

    model, conf, energy, forces = trained
    with PrivateCollection(workdir / "collection") as col:
        path = model.write_kim_model(workdir / "written" / NAME)
        col.install(path)
        assert NAME in col.installed()
        kim = KIMModel(NAME)
        res = kim.compute(kim.prepare([conf]), forces=True)
        scale = np.abs(forces).max()
        assert scale > 1e-3
        assert res.energy[0] == pytest.approx(energy, rel=1e-6)
        np.testing.assert_allclose(res.forces, forces, rtol=1e-6, atol=1e-6 * scale)
        e, f = _lammps(conf, col.env, workdir / "lmp")
        assert e == pytest.approx(energy, rel=1e-6)
        np.testing.assert_allclose(f, forces, rtol=1e-6, atol=1e-6 * scale)


def test_dropout_network_writes_an_ensemble(workdir):
    from workbench.ml import nn
    from workbench.ml.descriptors import SymmetryFunction
    from workbench.ml.neural_network import NeuralNetwork

    desc = SymmetryFunction({"Si-Si": 4.5}, "cos", "set30", normalize=False)
    model = NeuralNetwork(desc, seed=1)
    model.add_layers(nn.Dropout(0.2), nn.Linear(30, 6), nn.Tanh(), nn.Dropout(0.5),
                     nn.Linear(6, 1))
    path = model.write_kim_model(workdir / "drop" / "WB_Drop__MO_000000000000_000",
                                 dropout_ensemble_size=7)
    nnp = [l for l in (path / "NN.params").read_text().splitlines() if l.strip()]
    assert [float(v) for v in nnp[4].split()[:2]] == [0.8, 0.5]
    drop = (path / "dropout_binary.params").read_text().splitlines()
    assert drop[2].startswith("7 ")
    masks = [l for l in drop if l and l[0] in "01"]
    assert len(masks) == 14 and all(len(m.split()) in (30, 6) for m in masks)
    assert "center_and_normalize  False" in (path / "descriptor.params").read_text()
    bad = NeuralNetwork(desc)
    bad.add_layers(nn.Linear(30, 6), nn.ReLU(), nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 1))
    with pytest.raises(Exception, match="same activation"):
        bad.write_kim_model(workdir / "bad" / "WB_Bad__MO_000000000000_000")
