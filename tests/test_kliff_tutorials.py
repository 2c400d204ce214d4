"""KLIFF 0.4's machine-learning tutorials, ported by changing ``kliff`` to ``workbench`` in
the imports only, print the documented epoch losses (shared/reference/kliff-0.4-docs.txt).
The physics tutorials (SW, log transform, LJ) are in test_fit_published.py."""

import re

import numpy as np
import pytest

# "Train a neural network potential" (Si, 10 epochs, batches of 100, Adam lr 0.001)
NN_SI_DOCUMENTED = [73.307514191, 72.090656281, 71.389846802, 70.744289398, 70.117309570,
                    69.499519348, 68.886824608, 68.277158737, 67.668614388, 67.058616638,
                    66.683934212]

NN_SI_SCRIPT = '''
from kliff import nn
from kliff.calculators import CalculatorTorch
from kliff.dataset import Dataset
from kliff.dataset.weight import Weight
from kliff.descriptors import SymmetryFunction
from kliff.loss import Loss
from kliff.models import NeuralNetwork
from kliff.utils import download_dataset

descriptor = SymmetryFunction(
    cut_name="cos", cut_dists={"Si-Si": 5.0}, hyperparams="set51", normalize=True
)
N1 = 10
N2 = 10
model = NeuralNetwork(descriptor)
model.add_layers(
    # first hidden layer
    nn.Linear(descriptor.get_size(), N1),
    nn.Tanh(),
    # second hidden layer
    nn.Linear(N1, N2),
    nn.Tanh(),
    # output layer
    nn.Linear(N2, 1),
)
model.set_save_metadata(prefix="./kliff_saved_model", start=5, frequency=2)

# training set
dataset_path = download_dataset(dataset_name="Si_training_set")
dataset_path = dataset_path.joinpath("varying_alat")
weight = Weight(forces_weight=0.3)
tset = Dataset(dataset_path, weight)
configs = tset.get_configs()
# calculator
calc = CalculatorTorch(model, gpu=False)
_ = calc.create(configs, reuse=False)

loss = Loss(calc)
result = loss.minimize(method="Adam", num_epochs=10, batch_size=100, lr=0.001)

model.save("final_model.pkl")
loss.save_optimizer_state("optimizer_stat.pkl")
'''

# "Train a neural network potential for SiC": the documentation prints 57.247633 ...
# 56.973577, which KLIFF 0.4.3 itself does not reproduce on the published data set; run
# here (PyPI sdist, torch 2.13 CPU) it prints these, and so do we.  The documented numbers
# are those of a training that updates only the C network: KLIFF 0.4.3 with its optimizer
# given model_c's parameters alone prints them to every digit (KLIFF 0.3.3's
# CalculatorTorchSeparateSpecies sets its model to the last one of the dict, and its Loss
# hands the optimizer that model's parameters; 0.4.3 wraps all models, so both train).
NN_SIC_DOCUMENTED = [57.247632980, 57.215625763, 57.186323166, 57.158138275, 57.130514145,
                     57.103128433, 57.075778961, 57.048318863, 57.020624161, 56.992567062,
                     56.973577499]
NN_SIC_KLIFF_043 = [57.103012085, 56.625793457, 56.168552399, 55.734367371, 55.320205688,
                    54.922414780, 54.534166336, 54.145248413, 53.747819901, 53.339361191,
                    53.061624527]

NN_SIC_SCRIPT = '''
from kliff import nn
from kliff.calculators.calculator_torch import CalculatorTorchSeparateSpecies
from kliff.dataset import Dataset
from kliff.dataset.weight import Weight
from kliff.descriptors import SymmetryFunction
from kliff.loss import Loss
from kliff.models import NeuralNetwork
from kliff.utils import download_dataset

descriptor = SymmetryFunction(
    cut_name="cos",
    cut_dists={"Si-Si": 5.0, "C-C": 5.0, "Si-C": 5.0},
    hyperparams="set51",
    normalize=True,
)
N1 = 10
N2 = 10
model_si = NeuralNetwork(descriptor)
model_si.add_layers(
    nn.Linear(descriptor.get_size(), N1),
    nn.Tanh(),
    nn.Linear(N1, N2),
    nn.Tanh(),
    nn.Linear(N2, 1),
)
model_si.set_save_metadata(prefix="./kliff_saved_model_si", start=5, frequency=2)
N1 = 10
N2 = 10
model_c = NeuralNetwork(descriptor)
model_c.add_layers(
    nn.Linear(descriptor.get_size(), N1),
    nn.Tanh(),
    nn.Linear(N1, N2),
    nn.Tanh(),
    nn.Linear(N2, 1),
)
model_c.set_save_metadata(prefix="./kliff_saved_model_c", start=5, frequency=2)
# training set
dataset_path = download_dataset(dataset_name="SiC_training_set")
weight = Weight(forces_weight=0.3)
tset = Dataset(dataset_path, weight)
configs = tset.get_configs()
# calculator
calc = CalculatorTorchSeparateSpecies({"Si": model_si, "C": model_c}, gpu=False)
_ = calc.create(configs, reuse=False)
# loss
loss = Loss(calc)
result = loss.minimize(method="Adam", num_epochs=10, batch_size=4, lr=0.001)
model_si.save("final_model_si.pkl")
model_c.save("final_model_c.pkl")
loss.save_optimizer_state("optimizer_stat.pkl")
'''

LINEAR_REGRESSION_SCRIPT = '''
from kliff.calculators import CalculatorTorch
from kliff.dataset import Dataset
from kliff.descriptors import SymmetryFunction
from kliff.models import LinearRegression
from kliff.utils import download_dataset

descriptor = SymmetryFunction(
    cut_name="cos", cut_dists={"Si-Si": 5.0}, hyperparams="set30", normalize=True
)
model = LinearRegression(descriptor)
# training set
dataset_path = download_dataset(dataset_name="Si_training_set")
dataset_path = dataset_path.joinpath("varying_alat")
tset = Dataset(dataset_path)
configs = tset.get_configs()
# calculator
calc = CalculatorTorch(model)
calc.create(configs, reuse=False)
# fit the model
calc.fit()
# save model
model.save("linear_model.pkl")
'''


def _port(script):
    """Change the imports only."""
    return re.sub(r"\bkliff\b(?=[ .])", "workbench", script)


def _epoch_lines(text):
    return [(int(m.group(1)), float(m.group(2)))
            for m in re.finditer(r"^Epoch = (\d+)\s+loss = (\S+)$", text, re.M)]


@pytest.mark.slow
def test_nn_si_tutorial_prints_the_documented_losses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    script = _port(NN_SI_SCRIPT)
    assert "kliff" not in script.replace("kliff_saved_model", "")
    exec(compile(script, "example_nn_Si.py", "exec"), {})
    lines = _epoch_lines(capsys.readouterr().out)
    assert [e for e, _ in lines] == list(range(11))
    # float32 training: the documented numbers to ~1e-7 relative, every epoch
    assert np.allclose([v for _, v in lines], NN_SI_DOCUMENTED, rtol=1e-6, atol=0)
    # KLIFF's saving: epochs 5, 7, 9 by the metadata and the final epoch 10
    saved = sorted(p.name for p in (tmp_path / "kliff_saved_model").iterdir())
    assert saved == ["model_epoch10.pkl", "model_epoch5.pkl", "model_epoch7.pkl",
                     "model_epoch9.pkl"]
    assert (tmp_path / "final_model.pkl").stat().st_size > 0
    assert (tmp_path / "optimizer_stat.pkl").stat().st_size > 0


@pytest.mark.slow
def test_nn_sic_tutorial_prints_kliff_043s_losses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_port(NN_SIC_SCRIPT), "example_nn_SiC.py", "exec"), {})
    lines = _epoch_lines(capsys.readouterr().out)
    assert [e for e, _ in lines] == list(range(11))
    assert np.allclose([v for _, v in lines], NN_SIC_KLIFF_043, rtol=1e-6, atol=0)
    assert sorted(p.name for p in (tmp_path / "kliff_saved_model_c").iterdir()) == [
        "model_epoch10.pkl", "model_epoch5.pkl", "model_epoch7.pkl", "model_epoch9.pkl"]


@pytest.mark.slow
def test_nn_sic_documented_losses_are_those_of_training_the_c_network_only(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    script = _port(NN_SIC_SCRIPT).replace(
        "_ = calc.create(configs, reuse=False)\n",
        "_ = calc.create(configs, reuse=False)\n"
        "calc.parameters = lambda: list(model_c.parameters())  # the optimizer's view\n")
    ns = {}
    exec(compile(script, "example_nn_SiC.py", "exec"), ns)
    lines = _epoch_lines(capsys.readouterr().out)
    assert [e for e, _ in lines] == list(range(11))
    assert np.allclose([v for _, v in lines], NN_SIC_DOCUMENTED, rtol=1e-6, atol=0)
    # the Si network kept its initial weights (KLIFF seeds every NeuralNetwork with 35,
    # so both start alike), the C network moved
    import torch
    si, c = list(ns["model_si"].parameters()), list(ns["model_c"].parameters())
    torch.manual_seed(35)
    fresh = torch.nn.Linear(ns["descriptor"].get_size(), 10)
    assert torch.equal(si[0], fresh.weight.to(si[0].dtype))
    assert not torch.equal(c[0], fresh.weight.to(c[0].dtype))


@pytest.mark.slow
def test_linear_regression_tutorial_fits_the_least_squares_solution(tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(_port(LINEAR_REGRESSION_SCRIPT), "example_linear_regression.py", "exec"), ns)
    calc, configs = ns["calc"], ns["configs"]
    # the fit solves the energy normal equations: sum over atoms of [zeta, 1] . beta = E
    X = np.stack([np.append(calc.zeta[calc.atom_offsets[k]:calc.atom_offsets[k + 1]]
                            .double().sum(0).numpy(), calc.natoms[k])
                  for k in range(len(configs))])
    E = np.array([c.energy for c in configs])
    beta, *_ = np.linalg.lstsq(X, E, rcond=None)
    calc.compute()
    pred = np.array([calc.get_energy(k) for k in range(len(configs))])
    rmse = np.sqrt(np.mean((pred - E) ** 2))
    best = np.sqrt(np.mean((X @ beta - E) ** 2))  # 0.0069 eV in float64
    # X is ill-conditioned (cond ~ 2e9): ours solves by lstsq in float64 and then rounds
    # the coefficients to the model's float32 (RMSE 0.026 eV); KLIFF's normal equations
    # in float32 (cond² ~ 3e18) do not resolve it at all.
    assert best < 0.01 and rmse < 4 * best
    # a per-atom constant alone is far worse
    e_atom = (E / calc.natoms).mean()
    assert np.sqrt(np.mean((E - e_atom * calc.natoms) ** 2)) > 10 * rmse
    loaded = type(ns["model"])(ns["descriptor"])
    loaded.load("linear_model.pkl")
    x = torch.ones(3, ns["descriptor"].get_size(), dtype=loaded.dtype)
    assert torch.equal(loaded(x), ns["model"](x))
