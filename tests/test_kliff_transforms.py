"""KLIFF 1.x's transforms (shared/reference/kliff-1.x-transforms.txt): RadialGraph,
property transforms, LogParameterTransform(base), default_hyperparams and
show_available_descriptors, under KLIFF's module paths."""

import copy

import numpy as np
import pytest
from ase.build import bulk

from workbench.dataset import Configuration, Dataset

DOCUMENTED_SUMMARY = ("PyGGraph(energy=0.0, forces=[2, 3], n_layers=1, coords=[54, 3], "
                      "images=[54], species=[54], z=[54], cell=[9], contributions=[54], "
                      "num_nodes=54, idx=-1, edge_index0=[2, 14])")


def _si_config():
    si = bulk("Si", a=5.44)
    return Configuration(si.cell[:], si.get_chemical_symbols(), si.positions, [True] * 3)


def test_radial_graph_prints_the_documented_summary():
    from workbench.transforms.configuration_transforms.graphs import RadialGraph

    conf = _si_config()
    graph_generator = RadialGraph(species=["Si"], cutoff=3.77, n_layers=1)
    conf.energy = 0.0
    conf.forces = np.zeros_like(conf.coords)
    g = graph_generator.forward(conf)
    assert repr(g) == DOCUMENTED_SUMMARY
    # nodes: the 2 atoms, then their 52 copies; edges sorted by (source, target)
    assert g.contributions.tolist() == [0, 0] + [1] * 52
    assert g.images[:2].tolist() == [0, 1] and set(g.images.tolist()) == {0, 1}
    e = g.edge_index0.numpy()
    assert [tuple(p) for p in e.T] == sorted(tuple(p) for p in e.T)
    assert g.z.tolist() == [14] * 54 and g.species.tolist() == [0] * 54


def test_radial_graph_layers_grow_outwards():
    from workbench.ml.graphs import RadialGraph

    g = RadialGraph(["Si"], 3.77, 3)(_si_config())
    assert [g[f"edge_index{k}"].shape[1] for k in range(3)] == [14, 50, 146]
    assert int(g.num_nodes) == 686
    # layer 0 is the bonds of the two cell atoms, both directions
    e0 = g.edge_index0.numpy()
    assert set(np.concatenate([e0[0][e0[1] >= 2], e0[1][e0[0] >= 2]])) == {0, 1}
    # every layer's sources are the targets of the layer before (and the cell atoms)
    reached = {0, 1}
    for k in range(3):
        e = g[f"edge_index{k}"].numpy()
        assert set(e[0]) | set(e[1]) >= reached
        reached = set(e[1][np.isin(e[0], list(reached))])


def test_property_transforms_with_kliffs_definitions(si4_path):
    from workbench.transforms.property_transforms import (
        NormalizedPropertyTransform, RMSMagnitudeNormalizePropertyTransform,
        RMSNormalizePropertyTransform)

    ds = Dataset(si4_path)
    configs = copy.deepcopy(ds.get_configs())
    e0 = np.array([c.energy for c in configs])
    f0 = np.stack([c.forces for c in configs])
    en = NormalizedPropertyTransform("energy", keep_original=True)
    en(configs)  # total energies
    assert en.mean == pytest.approx(e0.mean(), rel=1e-15)
    assert en.std == pytest.approx(e0.std(), rel=1e-15)
    assert np.allclose([c.energy for c in configs], (e0 - e0.mean()) / e0.std(), rtol=1e-15)
    fm = RMSMagnitudeNormalizePropertyTransform("forces")
    fm.transform(configs)
    assert fm.rms_mean_magnitude == pytest.approx(
        np.sqrt(np.mean(np.sum(f0 ** 2, axis=2))), rel=1e-15)
    assert np.allclose(np.stack([c.forces for c in configs]) * fm.rms_mean_magnitude, f0,
                       rtol=1e-15, atol=0)
    fm.inverse(configs)
    en.inverse(configs)
    assert np.allclose([c.energy for c in configs], e0, rtol=1e-15)
    fr = RMSNormalizePropertyTransform("forces")
    fr(configs)
    assert fr.rms_mean == pytest.approx(np.sqrt(np.mean(f0 ** 2)), rel=1e-15)
    assert np.allclose(np.stack([c.forces for c in configs]) * fr.rms_mean, f0, rtol=1e-14)
    assert len(en.original_values) == 4


def test_log_parameter_transform_base():
    from workbench.models import LennardJones
    from workbench.models.transform import make_transform
    from workbench.transforms.parameter_transforms import LogParameterTransform

    t = LogParameterTransform(base=10.0)
    assert t.kind == "log:10.0"
    assert t.transform(np.array([1000.0])).tolist() == pytest.approx([3.0], rel=1e-15)
    assert LogParameterTransform(2.0).inverse_transform(np.array([5.0])).tolist() == [32.0]
    model = LennardJones(params_transform=LogParameterTransform(["sigma"], base=10.0))
    model.set_opt_params(sigma=[[np.log10(2.2)]])
    assert model.get_params_dict()["sigma"][0] == pytest.approx(2.2, rel=1e-15)
    flat, deriv = model.opt_param_chain()
    assert deriv[0] == pytest.approx(2.2 * np.log(10.0), rel=1e-14)
    again = make_transform(model.model_params["sigma"].transform.kind, "sigma")
    assert again.base == 10.0
    # the natural log is untouched: exp, exactly
    e = LogParameterTransform(["A"])
    assert e.kind == "log" and e.inverse([0.7])[0] == np.exp(0.7)


def test_default_hyperparams_and_available_descriptors(capsys):
    from workbench.transforms.configuration_transforms import default_hyperparams as dh
    from workbench.transforms.configuration_transforms.descriptors import (
        Descriptor, show_available_descriptors)

    assert len(dh.symmetry_functions_set51()["g2"]) == 8
    assert len(dh.symmetry_functions_set51()["g4"]) == 43
    assert len(dh.symmetry_functions_set30()["g4"]) == 22
    assert dh.bispectrum_default()["jmax"] == 4
    assert dh.soap_default() == {"n_max": 4, "l_max": 4, "cutoff": 4.0,
                                 "radial_basis": "polynomial", "eta": 0.5}
    names = show_available_descriptors()
    out = capsys.readouterr().out
    assert {"SymmetryFunctions", "Bispectrum"} <= set(names)
    assert all(n in out for n in names)
    desc = Descriptor(cutoff=3.77, species=["Si"], descriptor="SymmetryFunctions",
                      hyperparameters=dh.symmetry_functions_set30())
    zeta = desc.forward(_si_config())
    assert zeta.shape == (2, 30)
    # two equivalent atoms of diamond: equal descriptors, forces zero by symmetry
    assert np.allclose(zeta[0], zeta[1], rtol=1e-12)
    forces = -desc.backward(_si_config(), np.random.default_rng(0).random(zeta.shape))
    assert np.abs(forces).max() < 1e-10


KLIFF_1X_EXAMPLE = '''
from kliff.transforms.configuration_transforms.descriptors import show_available_descriptors
show_available_descriptors()
from kliff.transforms.configuration_transforms.descriptors import Descriptor
from kliff.transforms.configuration_transforms.default_hyperparams import symmetry_functions_set30
desc = Descriptor(cutoff=3.77,
species=["Si"],
descriptor="SymmetryFunctions",
hyperparameters=symmetry_functions_set30())
# generate Si configuration
from ase.build import bulk
from kliff.dataset import Configuration
import numpy as np
Si_diamond = bulk("Si", a=5.44)
Si_config = Configuration.from_ase_atoms(Si_diamond)
# FORWARD: generating the descriptor $\\zeta$
zeta = desc.forward(Si_config)
# BACKWARD: vector-jacobian product against arbitrary vector (\\partial L/\\partial \\zeta)
dE_dZeta = np.random.random(zeta.shape)
forces = - desc.backward(Si_config, dE_dZeta=dE_dZeta)
print(forces)
from kliff.transforms.configuration_transforms.graphs import RadialGraph
graph_generator = RadialGraph(species=["Si"], cutoff=3.77, n_layers=1)
# dummy energy, needed for eval
Si_config._energy = 0.0
Si_config._forces = np.zeros_like(Si_config.coords)
print(graph_generator.forward(Si_config))
'''


def test_kliff_1x_transforms_page_ports_by_its_imports(capsys):
    ns = {}
    exec(compile(KLIFF_1X_EXAMPLE.replace("kliff", "workbench"), "transforms.py", "exec"), ns)
    assert np.abs(ns["forces"]).max() < 1e-10  # the documented [[-0. -0. -0.] [-0. ...]]
    assert ns["zeta"].shape == (2, 30)
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == DOCUMENTED_SUMMARY
