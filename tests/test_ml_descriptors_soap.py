"""SOAP power spectrum (featomic) behind the Descriptor interface: derivatives against
finite differences, invariances, fingerprints with normalization, and use by
NeuralNetwork and LinearRegression."""

import copy

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from workbench.dataset import Dataset
from workbench.errors import ParameterError
from workbench.ml.descriptors import SOAP, Descriptor, show_available_descriptors


@pytest.fixture(scope="module")
def si4(si4_path):
    return Dataset(si4_path).get_configs()


@pytest.fixture(scope="module")
def sic(sic_path):
    return Dataset(sic_path).get_configs()


def soap64(cut=4.0, **hp):
    return SOAP({"Si-Si": cut}, hyperparams={"n_max": 3, "l_max": 3, **hp}, dtype=np.float64)


def test_position_and_strain_derivatives_match_finite_differences(si4):
    conf = si4[0]
    d = soap64()
    z, dr, ds = d.transform(conf, fit_forces=True, fit_stress=True)
    n = conf.get_num_atoms()
    assert z.shape == (n, 36) and dr.shape == (n, 36, 3 * n) and ds.shape == (n, 36, 6)
    h = 1e-5
    for k in (0, 17, 63):
        for x in range(3):
            cp, cm = copy.deepcopy(conf), copy.deepcopy(conf)
            cp.coords[k, x] += h
            cm.coords[k, x] -= h
            fd = (d.transform(cp)[0] - d.transform(cm)[0]) / (2 * h)
            assert np.abs(fd - dr[:, :, 3 * k + x]).max() < 1e-8 * np.abs(dr).max()
    # homogeneous deformation r -> (I + e) r, Voigt xx yy zz yz zx xy (the descriptors'
    # convention: stress = dE/dzeta . dzeta/dstrain / volume)
    for v, (a, b) in enumerate([(0, 0), (1, 1), (2, 2), (1, 2), (2, 0), (0, 1)]):
        e = np.zeros((3, 3))
        e[a, b] = h
        cp, cm = copy.deepcopy(conf), copy.deepcopy(conf)
        cp.coords, cp.cell = conf.coords @ (np.eye(3) + e).T, conf.cell @ (np.eye(3) + e).T
        cm.coords, cm.cell = conf.coords @ (np.eye(3) - e).T, conf.cell @ (np.eye(3) - e).T
        fd = (d.transform(cp)[0] - d.transform(cm)[0]) / (2 * h)
        assert np.abs(fd - ds[:, :, v]).max() < 1e-8 * np.abs(ds).max()


def test_invariant_under_rotation_and_permutation(si4):
    conf = copy.deepcopy(si4[1])
    d = soap64()
    z = d.transform(conf)[0]
    rot = Rotation.from_euler("zyx", [0.3, -1.1, 0.7]).as_matrix()
    turned = copy.deepcopy(conf)
    turned.coords, turned.cell = conf.coords @ rot.T, conf.cell @ rot.T
    assert np.allclose(d.transform(turned)[0], z, rtol=1e-10, atol=1e-12)
    perm = np.random.default_rng(3).permutation(conf.get_num_atoms())
    shuffled = copy.deepcopy(conf)
    shuffled.coords = conf.coords[perm]
    assert np.allclose(d.transform(shuffled)[0], z[perm], rtol=1e-12, atol=1e-14)


def test_two_species_blocks(sic):
    d = SOAP({"Si-Si": 4.0, "Si-C": 4.0, "C-C": 4.0},
             hyperparams={"n_max": 2, "l_max": 2}, dtype=np.float64)
    assert d.species == ["Si", "C"] and d.pairs == [("Si", "Si"), ("Si", "C"), ("C", "C")]
    z = d.transform(sic[0])[0]
    assert z.shape == (sic[0].get_num_atoms(), 3 * 12)
    assert all(np.abs(z[:, k * 12:(k + 1) * 12]).max() > 0 for k in range(3))
    with pytest.raises(ParameterError, match="SOAP takes one cutoff for all species pairs"):
        SOAP({"Si-Si": 4.0, "Si-C": 3.0, "C-C": 4.0})
    with pytest.raises(ParameterError, match=r"unknown key\(s\) \['nmax'\]"):
        SOAP({"Si-Si": 4.0}, hyperparams={"nmax": 3})


def test_function_style_descriptor_lists_and_runs_soap(si4, capsys):
    assert "SOAP" in show_available_descriptors()
    assert "SOAP power spectrum" in capsys.readouterr().out
    desc = Descriptor(cutoff=4.0, species=["Si"], descriptor="SOAP")
    zeta = desc.forward(si4[0])
    assert zeta.shape == (64, 4 * 4 * 5)
    g = np.random.default_rng(0).random(zeta.shape)
    forces = -desc.backward(si4[0], g)
    _, dzdr = desc.forward_and_jacobian(si4[0])
    assert np.allclose(forces, -np.einsum("iq,iqkx->kx", g, dzdr), rtol=1e-12, atol=1e-14)


def test_neural_network_and_linear_regression_on_soap(si4, tmp_path):
    import torch

    from workbench import nn
    from workbench.calculators import CalculatorTorch
    from workbench.loss import Loss
    from workbench.models import LinearRegression, NeuralNetwork

    d = SOAP({"Si-Si": 4.0}, hyperparams={"n_max": 3, "l_max": 2}, normalize=True,
             dtype=np.float64)
    model = NeuralNetwork(d)
    model.add_layers(nn.Linear(d.get_size(), 6), nn.Tanh(), nn.Linear(6, 1))
    calc = CalculatorTorch(model)
    calc.create(si4, use_stress=False, fingerprints_filename=tmp_path / "fp.pkl")
    # normalized fingerprints: zero mean, unit stdev per feature over the atoms
    assert np.allclose(calc.zeta.mean(0).numpy(), 0, atol=1e-10)
    assert np.allclose(calc.zeta.std(0, unbiased=False).numpy(), 1, rtol=1e-8)
    # forces of the network = -dE/dr, checked by central differences of the energy
    calc.compute()
    f = calc.get_forces(0)
    h = 1e-5
    for k, x in ((3, 0), (40, 2)):
        e = []
        for sign in (1, -1):
            c = copy.deepcopy(si4[0])
            c.coords[k, x] += sign * h
            zc = (d.transform(c)[0] - d.mean) / d.stdev
            with torch.no_grad():
                e.append(float(model(torch.as_tensor(zc)).sum()))
        assert f[k, x] == pytest.approx(-(e[0] - e[1]) / (2 * h), rel=1e-6, abs=1e-9)
    result = Loss(calc).minimize("Adam", batch_size=2, num_epochs=3, lr=0.01, verbose=False)
    assert result.final_loss < result.history[0][1]
    lr = LinearRegression(d)
    calc2 = CalculatorTorch(lr)
    calc2.create(si4, use_forces=False, fingerprints_filename=tmp_path / "fp2.pkl")
    calc2.fit()
    calc2.compute()
    E = np.array([c.energy for c in si4])
    assert np.allclose([calc2.get_energy(k) for k in range(4)], E, rtol=0, atol=1e-6)
