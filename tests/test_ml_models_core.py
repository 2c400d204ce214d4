"""Torch models on symmetry-function fingerprints: forces and stress against finite
differences of the energy, per-configuration dropout, per-species networks, the analytic
linear fit against numpy's lstsq, training (loss falls, best epoch kept, stop, events,
saving) and the property / graph transforms."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.data.configuration import Configuration
from workbench.data.dataset import Dataset
from workbench.data.weight import Weight
from workbench.errors import LossError, ModelError, ParameterError
from workbench.fit.loss import Loss
from workbench.ml import nn
from workbench.ml.calculator_torch import (
    CalculatorTorch,
    CalculatorTorchSeparateSpecies,
)
from workbench.ml.descriptors import SymmetryFunction
from workbench.ml.linear_regression import LinearRegression
from workbench.ml.neural_network import NeuralNetwork


@pytest.fixture(scope="module")
def si8(si_path):
    confs = [c for c in Dataset(si_path / "varying_alat", Weight(forces_weight=0.3))
             .get_configs() if c.get_num_atoms() == 8]
    return confs[::40][:8]


def small_net(desc, seed=7, hidden=6, dropout=None):
    model = NeuralNetwork(desc, seed=seed)
    layers = [nn.Linear(desc.get_size(), hidden), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(hidden, 1)]
    model.add_layers(*layers)
    return model


def desc64(cut=4.0, species=("Si",), hp="set30"):
    pairs = {f"{a}-{b}": cut for k, a in enumerate(species) for b in species[k:]}
    return SymmetryFunction(pairs, "cos", hp, normalize=True, dtype=np.float64)


def energy_of(model, conf, tmp_path):
    calc = CalculatorTorch(model)
    calc.create([conf], use_forces=False, fingerprints_filename=tmp_path / "one.pkl")
    return calc.get_energy(0)


def test_forces_are_minus_energy_gradient(si8, tmp_path):
    desc = desc64()
    model = small_net(desc)
    calc = CalculatorTorch(model)
    calc.create(si8[:3], fingerprints_filename=tmp_path / "fp.pkl",
                fingerprints_mean_stdev_filename=tmp_path / "ms.pkl")
    conf = copy.deepcopy(si8[2])
    conf.coords = conf.coords + np.random.default_rng(1).normal(scale=0.05, size=(8, 3))
    calc2 = CalculatorTorch(model)
    calc2.create([conf], fingerprints_filename=tmp_path / "fp2.pkl")
    forces = calc2.get_forces(0)
    h = 1e-5
    fd = np.zeros((3, 3))
    for a in range(3):
        for x in range(3):
            cp, cm = copy.deepcopy(conf), copy.deepcopy(conf)
            cp.coords[a, x] += h
            cm.coords[a, x] -= h
            fd[a, x] = -(energy_of(model, cp, tmp_path) - energy_of(model, cm, tmp_path)) / (2 * h)
    assert np.abs(forces).max() > 1e-3
    np.testing.assert_allclose(forces[:3], fd, rtol=1e-6, atol=1e-8)


def test_stress_is_strain_derivative_over_volume(si8, tmp_path):
    desc = desc64()
    model = small_net(desc)
    conf = copy.deepcopy(si8[1])
    conf.coords = conf.coords + np.random.default_rng(2).normal(scale=0.05, size=(8, 3))
    conf.stress = np.zeros(6)
    calc = CalculatorTorch(model)
    calc.create([conf], use_stress=True, fingerprints_filename=tmp_path / "fp.pkl")
    stress = calc.get_stress(0)
    vol = abs(np.linalg.det(conf.cell))
    h = 1e-6
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    fd = np.zeros(6)
    for k, (a, b) in enumerate(voigt):
        es = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[a, b] += sign * h
            if a != b:
                eps[b, a] += sign * h
                eps *= 0.5
            c = copy.deepcopy(conf)
            c.cell = conf.cell @ (np.eye(3) + eps)
            c.coords = conf.coords @ (np.eye(3) + eps)
            es.append(energy_of(model, c, tmp_path))
        fd[k] = (es[0] - es[1]) / (2 * h) / vol
    assert np.abs(stress).max() > 1e-4
    np.testing.assert_allclose(stress, fd, rtol=1e-5, atol=1e-8 * np.abs(fd).max())


def test_dropout_drops_the_same_components_for_all_atoms_of_a_configuration():
    layer = nn.Dropout(0.5)
    layer.train()
    torch.manual_seed(0)
    x = torch.ones(40, 30, dtype=torch.float64)
    seg = torch.repeat_interleave(torch.arange(4), 10)
    layer.segments = seg
    y = layer(x)
    zero = (y == 0)
    for c in range(4):
        rows = zero[seg == c]
        assert torch.all(rows == rows[0])  # one mask per configuration
    assert not torch.all(zero[seg == 0][0] == zero[seg == 1][0])
    assert set(torch.unique(y).tolist()) <= {0.0, 2.0}  # kept entries scaled by 1/(1-p)
    layer.eval()
    assert torch.equal(layer(x), x)
    with pytest.raises(ParameterError):
        nn.Dropout(1.0)


def test_separate_species_networks(sic_path, tmp_path):
    confs = Dataset(sic_path).get_configs()[:2]
    desc = desc64(cut=3.5, species=("Si", "C"))
    m_si, m_c = small_net(desc, seed=1), small_net(desc, seed=2, hidden=4)
    calc = CalculatorTorchSeparateSpecies({"Si": m_si, "C": m_c})
    calc.create(confs, fingerprints_filename=tmp_path / "fp.pkl",
                fingerprints_mean_stdev_filename=tmp_path / "ms.pkl")
    calc.compute()
    for k, conf in enumerate(confs):
        a, b = calc.atom_offsets[k], calc.atom_offsets[k + 1]
        zeta = calc.zeta[a:b]
        is_si = torch.as_tensor([s == "Si" for s in conf.species])
        assert 0 < int(is_si.sum()) < len(conf.species)
        with torch.no_grad():
            expect = float(m_si(zeta[is_si]).sum() + m_c(zeta[~is_si]).sum())
        assert calc.get_energy(k) == pytest.approx(expect, rel=1e-12)
    n_si = sum(p.numel() for p in m_si.parameters())
    assert calc.get_num_opt_params() == n_si + sum(p.numel() for p in m_c.parameters())
    with pytest.raises(ModelError):
        CalculatorTorchSeparateSpecies({"Si": m_si})
    loss = Loss(calc)
    before = loss.get_loss()
    res = loss.minimize("Adam", batch_size=1, num_epochs=3, lr=0.01, verbose=False)
    assert res.fun < res.history[0][1] and loss.get_loss() < before


@pytest.mark.parametrize("use_forces", [False, True])
def test_linear_regression_fit_equals_numpy_lstsq(si8, tmp_path, use_forces):
    desc = desc64()
    model = LinearRegression(desc)
    calc = CalculatorTorch(model)
    calc.create(si8, use_forces=use_forces, fingerprints_filename=tmp_path / "fp.pkl",
                fingerprints_mean_stdev_filename=tmp_path / "ms.pkl")
    calc.fit(use_forces=use_forces)
    # independent design matrix from the descriptor's raw output, normalized here
    rows, y = [], []
    for conf in si8:
        zeta, dzdr, _ = desc.transform(conf, fit_forces=use_forces)
        z = (zeta - desc.get_mean()) / desc.get_stdev()
        rows.append(np.concatenate([[len(z)], z.sum(axis=0)]))
        y.append(conf.energy)
        if use_forces:
            n = len(z)
            d = (dzdr / desc.get_stdev()[None, :, None]).sum(axis=0).T
            for r, f in zip(-d, np.asarray(conf.forces).ravel()):
                rows.append(np.concatenate([[0.0], r]))
                y.append(f)
            assert d.shape == (3 * n, desc.get_size())
    beta = np.linalg.lstsq(np.array(rows), np.array(y), rcond=None)[0]
    A = np.array(rows)
    # same least-squares optimum (the minimizer is unique up to the null space)
    np.testing.assert_allclose(A @ model.get_params(), A @ beta, rtol=1e-7, atol=1e-7)
    resid = np.linalg.norm(A @ model.get_params() - np.array(y))
    assert resid <= np.linalg.norm(A @ beta - np.array(y)) * (1 + 1e-9) + 1e-12
    calc.compute()
    np.testing.assert_allclose([calc.get_energy(k) for k in range(len(si8))],
                               (A @ beta)[[i for i, r in enumerate(rows) if r[0] > 0]],
                               rtol=1e-7)


def test_training_session_loss_falls_keeps_best_and_saves(si8, tmp_path):
    desc = desc64()
    model = small_net(desc, hidden=8)
    model.set_save_metadata(tmp_path / "saved", start=2, frequency=2)
    calc = CalculatorTorch(model)
    calc.create(si8, fingerprints_filename=tmp_path / "fp.pkl",
                fingerprints_mean_stdev_filename=tmp_path / "ms.pkl")
    loss = Loss(calc, residual_data={"normalize_by_natoms": True}, convention="workbench")
    start = loss.get_loss()
    session = loss.training_session("Adam", batch_size=3, num_epochs=12, lr=0.05)
    assert (session.keep_best, session.shuffle, session.final_eval) == (True, True, False)
    events = []
    session.subscribe(events.append)
    session.run()
    assert session.state == "finished"
    losses = [f for _, f in session.history]
    assert [e for e, _ in session.history] == list(range(12))
    assert losses[-1] < 0.7 * losses[0]
    assert session.best_loss == min(losses)
    best_epoch = session.best_epoch
    assert losses[best_epoch] == session.best_loss
    np.testing.assert_allclose(loss.x0(), session.best_params)
    assert loss.get_loss() < start
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished" and "iteration" in kinds
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == \
        ["model_epoch10.pkl", "model_epoch2.pkl", "model_epoch4.pkl", "model_epoch6.pkl", "model_epoch8.pkl"]
    # a saved epoch loads back into a fresh network
    other = small_net(desc, seed=99, hidden=8)
    other.load(tmp_path / "saved" / "model_epoch6.pkl", mode="eval")
    assert not other.training
    # save / load round trip and optimizer state round trip
    model.save(tmp_path / "final.pkl")
    fresh = small_net(desc, seed=5, hidden=8)
    fresh.load(tmp_path / "final.pkl")
    np.testing.assert_array_equal(fresh.get_flat_params(), model.get_flat_params())
    loss.save_optimizer_state(tmp_path / "opt.pkl")
    loss2 = Loss(calc)
    loss2.load_optimizer_state(tmp_path / "opt.pkl")
    opt = loss2.make_optimizer("Adam", lr=0.02)
    st1, st2 = loss.optimizer.state_dict()["state"], opt.state_dict()["state"]
    assert st1.keys() == st2.keys()
    assert torch.equal(st1[0]["exp_avg"], st2[0]["exp_avg"])
    with pytest.raises(LossError):
        loss2.make_optimizer("NoSuchOptimizer")
    with pytest.raises(ModelError):
        small_net(desc, hidden=3).load(tmp_path / "final.pkl")


def test_training_session_stops_and_restores_best(si8, tmp_path):
    desc = desc64()
    model = small_net(desc)
    calc = CalculatorTorch(model)
    calc.create(si8, fingerprints_filename=tmp_path / "fp.pkl",
                fingerprints_mean_stdev_filename=tmp_path / "ms.pkl")
    session = Loss(calc, convention="workbench").training_session(
        "SGD", batch_size=1, num_epochs=10000, lr=1e-3)
    seen = []

    def on_event(ev):
        seen.append(ev)
        if ev.kind == "iteration" and ev.iteration >= 2:
            session.stop("enough")

    session.subscribe(on_event)
    session.start()
    assert session.wait(60)
    assert session.state == "stopped" and session.result.message == "enough"
    assert 2 <= session.iteration < 10000
    np.testing.assert_allclose(model.get_flat_params(), session.best_params)
    assert seen[-1].kind == "stopped"


def test_network_shape_errors():
    desc = desc64()
    model = NeuralNetwork(desc)
    with pytest.raises(ParameterError):
        model.add_layers(nn.Linear(desc.get_size() + 1, 4), nn.Tanh(), nn.Linear(4, 1))
    with pytest.raises(ParameterError):
        model.add_layers(nn.Linear(desc.get_size(), 4), nn.Tanh(), nn.Linear(4, 2))


def test_property_transforms_and_their_inverses(si8):
    from workbench.ml.transforms import EnergyNormalization, ForceRMSNormalization

    confs = copy.deepcopy(si8)
    e0 = np.array([c.energy for c in confs])
    f0 = [np.array(c.forces) for c in confs]
    en = EnergyNormalization().fit(confs)
    per_atom = e0 / 8
    assert en.mean == pytest.approx(per_atom.mean()) and en.std == pytest.approx(per_atom.std())
    en.transform(confs)
    e1 = np.array([c.energy for c in confs])
    assert abs(np.mean(e1 / 8)) < 1e-12 and np.std(e1 / 8) == pytest.approx(1.0)
    fr = ForceRMSNormalization().fit(confs)
    fr.transform(confs)
    allf = np.concatenate([c.forces.ravel() for c in confs])
    assert np.sqrt(np.mean(allf ** 2)) == pytest.approx(1.0)
    fr.inverse(confs)
    en.inverse(confs)
    np.testing.assert_allclose([c.energy for c in confs], e0, rtol=1e-14)
    for c, f in zip(confs, f0):
        np.testing.assert_allclose(c.forces, f, rtol=1e-14, atol=1e-15)


def test_radial_graph_edges_and_images():
    from ase.build import bulk

    from workbench.ml.transforms import RadialGraph

    atoms = bulk("Si", a=5.44)
    conf = Configuration(np.array(atoms.get_cell()), atoms.get_chemical_symbols(),
                         atoms.get_positions(), [True] * 3)
    g = RadialGraph(["Si"], 3.77, 1)(conf)
    # each atom of diamond Si has 4 neighbors within 3.77 Å: 7 distinct bonds, 14 edges
    assert tuple(g["edge_index0"].shape) == (2, 14)
    assert int(g["num_nodes"]) == 54 and int((g["contributions"] == 0).sum()) == 2
    e = g["edge_index0"]
    d = (g["coords"][e[0]] - g["coords"][e[1]]).norm(dim=1)
    assert torch.allclose(d, torch.full_like(d, 5.44 * np.sqrt(3) / 4))
    # every image sits at a lattice translation of its cell atom
    cell = g["cell"].reshape(3, 3).numpy()
    frac = np.linalg.solve(cell.T, (g["coords"] - g["coords"][g["images"]]).numpy().T).T
    np.testing.assert_allclose(frac, np.round(frac), atol=1e-10)
    g2 = RadialGraph(["Si"], 3.77, 2)(conf)
    assert g2["edge_index0"].shape == g["edge_index0"].shape  # layer 0 starts at the cell
    assert g2["edge_index1"].shape[1] > g2["edge_index0"].shape[1]
    assert int(g2["num_nodes"]) > int(g["num_nodes"])


def test_training_session_pause_and_resume(si8, tmp_path):
    import threading

    desc = desc64()
    calc = CalculatorTorch(small_net(desc))
    calc.create(si8, fingerprints_filename=tmp_path / "fp.pkl",
                fingerprints_mean_stdev_filename=tmp_path / "ms.pkl")
    loss = Loss(calc)
    session = loss.training_session("Adam", batch_size=2, num_epochs=6, lr=0.01)
    paused = threading.Event()
    kinds = []
    calls = []
    batch_loss = loss.batch_loss

    def counting(batch, create_graph=True):  # the worker asks for a pause at batch 3
        calls.append(batch)
        if len(calls) == 3:
            session.pause()
        return batch_loss(batch, create_graph)

    loss.batch_loss = counting

    def on_event(ev):
        kinds.append(ev.kind)
        if ev.kind == "paused":
            paused.set()

    session.subscribe(on_event)
    session.start()
    assert paused.wait(60)
    n = session.iteration
    assert session.state == "paused" and n == 1 and len(calls) == 3
    session.resume()
    assert session.wait(60) and session.state == "finished"
    assert session.iteration == 6 and len(session.history) == 6
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("finished")
