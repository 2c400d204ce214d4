"""Potential Workbench: fit interatomic potentials interactively, with a KLIFF-shaped API.

The names below are imported lazily so that ``import workbench`` stays fast (numba and torch
load only when a model or descriptor is used).
"""

from __future__ import annotations

import importlib

from workbench._version import __version__

_EXPORTS = {
    # data
    "Configuration": "workbench.data.configuration",
    "Dataset": "workbench.data.dataset",
    "Weight": "workbench.data.weight",
    "MagnitudeInverseWeight": "workbench.data.weight",
    "read_config": "workbench.data.extxyz",
    "write_config": "workbench.data.extxyz",
    "datasets": "workbench.datasets",
    # models
    "Parameter": "workbench.models.parameter",
    "ParameterTransform": "workbench.models.transform",
    "LogParameterTransform": "workbench.models.transform",
    "LennardJones": "workbench.models.builtin",
    "Morse": "workbench.models.builtin",
    "StillingerWeber": "workbench.models.builtin",
    "Tersoff": "workbench.models.builtin",
    "KIMModel": "workbench.models.kim",
    # fitting
    "Calculator": "workbench.fit.calculator",
    "Loss": "workbench.fit.loss",
    "FitSession": "workbench.fit.session",
    # analysis
    "EnergyForcesRMSE": "workbench.analysis.rmse",
    "Fisher": "workbench.analysis.fisher",
    # machine learning
    "SymmetryFunction": "workbench.ml.symmetry_function",
    "Bispectrum": "workbench.ml.bispectrum",
    "NeuralNetwork": "workbench.ml.neural_network",
    "LinearRegression": "workbench.ml.linear_regression",
    "CalculatorTorch": "workbench.ml.calculator_torch",
    # ui
    "Workbench": "workbench.ui.workbench",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    return module if name == "datasets" else getattr(module, name)


def __dir__():
    return sorted(__all__)
