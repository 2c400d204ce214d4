"""A network trained in the Workbench and exported from its Export panel: the set-up YAML
reruns with the real ``workbench fit`` command to the same weights, and the KIM model zip
installs into a kim-api collection and evaluates like the network."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import yaml

from workbench.data import Dataset, Weight
from workbench.errors import ConfigFileError
from workbench.ui.model_picker import build_network
from workbench.ui.workbench import Workbench


def flat(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


@pytest.fixture(scope="module")
def exported(si_path, tmp_path_factory):
    """20 Si configurations in a folder of their own (the set-up names the folder), a
    30→5→1 network trained 5 epochs in the Fit tab, and the Export panel's files."""
    root = tmp_path_factory.mktemp("nn-export")
    data = root / "data"
    data.mkdir()
    for f in sorted((si_path / "varying_alat").glob("*.xyz"))[:100:5]:
        shutil.copy(f, data / f.name)
    ds = Dataset(data, Weight(energy_weight=1.0, forces_weight=0.1))
    net = build_network(["Si"], 4.0, [5], "Tanh", "set30")
    wb = Workbench(ds, net)
    mon = wb.monitor
    mon.options_w.value = "{epochs: 5, batch_size: 6, lr: 0.01}"
    mon.start_w.click()
    assert mon.wait(300) and mon.session.state == "finished", mon.session.result.message
    wb.export.prepare()
    assert wb.export.wait(300) and wb.export.error is None, wb.export.error
    return root, wb, net


def test_the_exported_setup_reruns_to_the_same_network(exported):
    root, wb, net = exported
    setup = root / "setup.yaml"
    setup.write_bytes(wb.export.files["setup"][3])
    cfg = yaml.safe_load(setup.read_text())
    assert cfg["model"]["network"] == {"species": ["Si"], "cutoff": 4.0, "descriptor": "set30",
                                       "hidden": [5], "activation": "Tanh", "seed": 35}
    assert cfg["dataset"]["test_fraction"] == 0.1 and cfg["dataset"]["seed"] == 0
    assert cfg["fit"]["method"] == "Adam"
    assert cfg["fit"]["options"] == {"epochs": 5, "batch_size": 6, "lr": 0.01}
    out = root / "out"
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "workbench", "fit", str(setup), "--out",
                           str(out), "--no-store", "--no-progress"], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == ("training NeuralNetwork (161 weights) on 18 configurations "
                        "(2 held out) with Adam for 5 epochs")
    session = wb.state.job.session
    curves = session.curves()
    assert f"best epoch 4: loss {session.best_loss:.10g} (5 epochs, 15 batches)" in lines
    assert f"test loss per configuration after the last epoch: {curves['test'][-1]:.10g}" \
        in lines
    # same seed, same split, same shuffled batches, one torch thread on the CPU: the
    # rerun repeats the page's arithmetic operation for operation, so the weights agree
    # exactly (float32 round-off would show as differences of ~1e-7)
    from workbench.ml.network_setup import network_from_section

    rerun = network_from_section(cfg["model"]["network"])
    rerun.load(out / "model.pkl")
    np.testing.assert_array_equal(flat(rerun), flat(net))
    # the report's table has both splits, with the RMSEs the command printed
    report = (out / "report.html").read_text()
    for label, n in (("train", 18), ("test", 2)):
        line = next(x for x in lines if x.startswith(f"{label} RMSE: energy "))
        e, f = line.split()[3], line.split()[6]
        assert f"<tr><td>{label}</td><td>{n}</td><td>{e}</td><td>{f}</td></tr>" in report


def test_a_bad_network_setup_is_refused_before_training(exported, tmp_path):
    root, wb, _ = exported
    cfg = yaml.safe_load(wb.export.files["setup"][3])
    from workbench.fit.setup_file import build_setup

    bad = dict(cfg, fit=dict(cfg["fit"], method="L-BFGS-B"))
    with pytest.raises(ConfigFileError, match="key 'fit.method': 'L-BFGS-B' does not train "
                                              "a network; expected one of Adam"):
        build_setup(bad)
    bad = dict(cfg, fit=dict(cfg["fit"], options={"epochs": 0}))
    with pytest.raises(ConfigFileError, match=r"key 'fit.options': options: epochs=0; "
                                              "expected a positive integer"):
        build_setup(bad)
    from workbench.cli.fit import run_fit
    from workbench.errors import LossError

    with pytest.raises(LossError, match="--properties is for physics models: for a network, "
                                        "name a KIM model in output.kim_model"):
        run_fit(cfg, out=tmp_path / "out", progress=False, store=None, properties="diamond")
    bad = dict(cfg, model={"name": "NeuralNetwork",
                           "network": dict(cfg["model"]["network"], layers=3)})
    with pytest.raises(ConfigFileError, match=r"key 'model.network': unknown network "
                                              r"key\(s\) \['layers'\]"):
        build_setup(bad)


@pytest.mark.kim
@pytest.mark.skipif(shutil.which("kim-api-collections-management") is None,
                    reason="needs kim-api-collections-management")
def test_the_exported_kim_zip_of_a_network_installs_and_evaluates(exported, monkeypatch):
    from workbench.ml.calculator_torch import CalculatorTorch
    from workbench.models.kim import KIMModel
    from workbench.models.kim_collections import PrivateCollection

    root, wb, net = exported
    monkeypatch.chdir(root)  # kim-api writes kim.log into the working directory
    label, css, name, data = wb.export.files["kim"]
    assert name == "NeuralNetwork_fitted_Si__MO_000000000000_000.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(root / "unzipped")
    model_dir = root / "unzipped" / name[:-4]
    assert {p.name for p in model_dir.iterdir()} >= {"descriptor.params", "NN.params",
                                                     "dropout_binary.params", "CMakeLists.txt"}
    conf = wb.state.test_configs()[0]
    own = CalculatorTorch(net)
    own.create([conf], fingerprints_filename=root / "fp_check.pkl")
    own.compute()
    with PrivateCollection(root / "collection") as col:
        col.install(model_dir)
        kim = KIMModel(name[:-4])
        res = kim.compute(kim.prepare([conf]), forces=True)
    # the network computes in float32; the DUNN driver in double precision
    assert res.energy[0] == pytest.approx(own.get_energy(0), rel=1e-5)
    scale = np.abs(own.get_forces(0)).max()
    np.testing.assert_allclose(res.forces, own.get_forces(0), rtol=1e-4, atol=1e-5 * scale)
