"""KLIFF scripts port by changing ``kliff`` to ``workbench`` in their imports: the import
lines of KLIFF's tutorials and how-tos, and the names of its package reference, resolve
onto our own modules (aliases, not second implementations)."""

import logging

import numpy as np
import pytest

# The import lines of KLIFF 0.4's tutorials and how-tos (shared/reference), plus the
# package-reference names the parity issue lists.
KLIFF_IMPORT_LINES = """\
from kliff import nn
from kliff.calculators import Calculator
from kliff.calculators import CalculatorTorch
from kliff.calculators.calculator_torch import CalculatorTorchSeparateSpecies
from kliff.dataset import Dataset
from kliff.dataset.weight import Weight
from kliff.dataset.weight import MagnitudeInverseWeight
from kliff.descriptors import SymmetryFunction
from kliff.loss import Loss
from kliff.models import KIMModel
from kliff.models import LennardJones
from kliff.models import LinearRegression
from kliff.models import NeuralNetwork
from kliff.models.parameter_transform import LogParameterTransform
from kliff.utils import download_dataset
from kliff.log import set_logger
from kliff.dataset import read_config
from kliff.dataset import write_config
from kliff.neighbor import NeighborList
from kliff.models import OptimizingParameters
from kliff.analyzers import EnergyForcesRMSE
""".splitlines()

# module -> names of KLIFF 0.4's package reference
KLIFF_REFERENCE = {
    "analyzers": ["EnergyForcesRMSE", "Fisher"],
    "calculators": ["Calculator", "CalculatorTorch"],
    "dataset": ["Configuration", "Dataset", "read_extxyz", "write_extxyz"],
    "dataset.weight": ["Weight", "MagnitudeInverseWeight"],
    "descriptors": ["SymmetryFunction", "Bispectrum", "Descriptor"],
    "error": ["InputError", "KeyNotFoundError", "report_import_error"],
    "log": ["set_logger", "get_log_level"],
    "loss": ["energy_forces_residual", "energy_residual", "forces_residual", "Loss",
             "LossNeuralNetworkModel", "LossPhysicsMotivatedModel", "LossError"],
    "models": ["OptimizingParameters", "Model", "LennardJones", "KIMModel", "ModelTorch",
               "NeuralNetwork", "LinearRegression", "Parameter"],
    "models.parameter": ["Parameter", "OptimizingParameters"],
    "neighbor": ["NeighborList", "assemble_forces", "assemble_stress"],
    "nn": ["Dropout", "Linear", "Tanh"],
    "parallel": ["parmap1", "parmap2", "get_MPI_world_size", "get_context"],
    "utils": ["length_equal", "torch_available", "split_string", "seed_all", "to_path",
              "download_dataset", "create_directory", "yaml_dump", "yaml_load",
              "pickle_dump", "pickle_load"],
}


def test_the_21_tutorial_import_lines_work_with_workbench():
    assert len(KLIFF_IMPORT_LINES) == 21
    failed = []
    for line in KLIFF_IMPORT_LINES:
        try:
            exec(line.replace("kliff", "workbench"), {})
        except Exception as exc:  # collect them all, then report
            failed.append(f"{line}: {exc!r}")
    assert failed == []


def test_package_reference_names_resolve():
    import importlib

    missing = [f"{mod}.{name}" for mod, names in KLIFF_REFERENCE.items()
               for name in names
               if not hasattr(importlib.import_module(f"workbench.{mod}"), name)]
    assert missing == []


def test_aliases_are_our_classes_not_copies():
    from workbench import nn
    from workbench.calculators import CalculatorTorch
    from workbench.calculators.calculator_torch import CalculatorTorchSeparateSpecies
    from workbench.dataset.weight import MagnitudeInverseWeight, Weight
    from workbench.models import LinearRegression, NeuralNetwork
    from workbench.models.parameter_transform import LogParameterTransform
    from workbench.ml import calculator_torch, linear_regression, neural_network
    from workbench.ml.neural_network import Dropout
    from workbench.data import weight
    from workbench.models import transform

    assert CalculatorTorch is calculator_torch.CalculatorTorch
    assert CalculatorTorchSeparateSpecies is calculator_torch.CalculatorTorchSeparateSpecies
    assert (Weight, MagnitudeInverseWeight) == (weight.Weight, weight.MagnitudeInverseWeight)
    assert NeuralNetwork is neural_network.NeuralNetwork
    assert LinearRegression is linear_regression.LinearRegression
    assert LogParameterTransform is transform.LogParameterTransform
    assert nn.Dropout is Dropout and nn.Linear.__module__ == "torch.nn.modules.linear"


def test_download_dataset_returns_the_bundled_copy(si_path, sic_path):
    from workbench.utils import download_dataset

    path = download_dataset(dataset_name="Si_training_set")
    assert path == si_path
    assert len(list(path.joinpath("varying_alat").glob("*.xyz"))) == 400
    assert download_dataset("SiC_training_set") == sic_path
    with pytest.raises(KeyError, match="no bundled data set 'Ge_training_set'; available: "
                                       "Si_training_set, Si_training_set_4_configs"):
        download_dataset("Ge_training_set")


def test_set_logger_sets_level_and_one_stderr_handler():
    from workbench.log import get_log_level, set_logger

    logger = logging.getLogger("workbench")
    before = list(logger.handlers), logger.level
    try:
        set_logger("debug")
        set_logger(level="WARNING")
        assert get_log_level() == "WARNING"
        assert sum(type(h).__name__ == "_StderrHandler" for h in logger.handlers) == 1
        set_logger("INFO", stderr=False)
        assert get_log_level() == "INFO"
        assert not any(type(h).__name__ == "_StderrHandler" for h in logger.handlers)
        with pytest.raises(ValueError, match="log level 'LOUD'"):
            set_logger("LOUD")
    finally:
        logger.handlers[:], logger.level = before


def test_optimizing_parameters_uses_the_model_rules():
    from workbench.errors import ParameterError
    from workbench.models import LennardJones, OptimizingParameters

    params = LennardJones().get_model_params()
    opt = OptimizingParameters(params)
    opt.set(sigma=[[2.1, 1.0, 3.0]], epsilon=[["default", "fix"]])
    assert opt.get_num_opt_params() == 1
    assert opt.get_opt_params().tolist() == [2.1]
    assert opt.get_opt_params_bounds() == [(1.0, 3.0)]
    assert opt.has_opt_params_bounds()
    opt.update_opt_params([2.5])
    assert params["sigma"].value.tolist() == [2.5]
    assert opt.get_opt_param_name_value_and_indices(0) == ("sigma", 2.5, 1, 0)
    with pytest.raises(ParameterError, match="'rho' is not a parameter of model "
                                             "OptimizingParameters"):
        opt.set(rho=[[1.0]])


def _si_diamond():
    from ase.build import bulk

    from workbench.data.configuration import Configuration

    atoms = bulk("Si", a=5.44)
    return Configuration(cell=atoms.cell[:], species=["Si", "Si"], coords=atoms.positions,
                         PBC=[True, True, True], identifier="si2")


def test_neighbor_list_matches_the_engine_and_kliff_padding():
    from workbench.engine.neighbors import neighbor_list
    from workbench.neighbor import NeighborList, assemble_forces

    conf = _si_diamond()
    nl = NeighborList(conf, 3.77)
    # KLIFF's padding for this cell and distance: 52 copies (54 atoms in all)
    assert len(nl.get_coords()) == 54 and len(nl.get_padding_image()) == 52
    assert nl.get_image()[:2].tolist() == [0, 1]
    i, j, shift = neighbor_list(conf.coords, conf.cell, conf.PBC, 3.77)
    numneigh, flat = nl.get_numneigh_and_neighlist_1D()
    assert numneigh.tolist() == np.bincount(i, minlength=2).tolist() == [4, 4]
    for a in range(2):
        idx, xyz, species = nl.get_neigh(a)
        d = np.sort(np.linalg.norm(xyz - conf.coords[a], axis=1))
        sel = i == a
        ref = np.sort(np.linalg.norm(conf.coords[j[sel]] + shift[sel] @ conf.cell
                                     - conf.coords[a], axis=1))
        assert np.allclose(d, ref, rtol=0, atol=1e-12)
        assert set(species) == {"Si"}
    # forces on copies go back to the atoms they copy
    forces = np.arange(54 * 3, dtype=float).reshape(54, 3)
    total = assemble_forces(forces, 2, nl.get_padding_image())
    expect = forces[:2].copy()
    for k, img in enumerate(nl.get_padding_image()):
        expect[img] += forces[2 + k]
    assert np.array_equal(total, expect)


def test_utils_helpers(tmp_path):
    from workbench import utils

    utils.yaml_dump({"a": [1, 2]}, tmp_path / "sub" / "x.yaml")
    assert utils.yaml_load(tmp_path / "sub" / "x.yaml") == {"a": [1, 2]}
    utils.pickle_dump({"b": 3}, tmp_path / "p" / "x.pkl")
    assert utils.pickle_load(tmp_path / "p" / "x.pkl") == {"b": 3}
    assert utils.split_string("abcdef", 4, starter="# ") == "# abcd\n# ef\n"
    assert utils.length_equal([1, 2], (3, 4)) and not utils.length_equal([1], [1, 2])
    assert utils.torch_available()
    utils.seed_all(7)
    a = np.random.rand()
    utils.seed_all(7)
    assert np.random.rand() == a
