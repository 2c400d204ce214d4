"""Models layer: parameters (fix / bounds / transforms), the Model base class, built-in
potentials over the numba engine, OpenKIM models through kimpy, YAML save/load and KIM
export.  The names mirror KLIFF's ``kliff.models``.
"""

from __future__ import annotations

import importlib

from workbench.models.io import load_model
from workbench.models.model import Model, ModelState
from workbench.models.parameter import Parameter
from workbench.models.transform import LogParameterTransform, ParameterTransform

_LAZY = {
    "BuiltinModel": "workbench.models.builtin",
    "LennardJones": "workbench.models.builtin",
    "Morse": "workbench.models.builtin",
    "StillingerWeber": "workbench.models.builtin",
    "Tersoff": "workbench.models.builtin",
    "EAM": "workbench.models.eam",
    "KIMModel": "workbench.models.kim",
    "write_kim_model": "workbench.models.kim_export",
    "OptimizingParameters": "workbench.models.optimizing_parameters",
    # torch models (KLIFF keeps them in kliff.models too)
    "ModelTorch": "workbench.ml.neural_network",
    "NeuralNetwork": "workbench.ml.neural_network",
    "LinearRegression": "workbench.ml.linear_regression",
}

__all__ = ["Model", "ModelState", "Parameter", "ParameterTransform", "LogParameterTransform",
           "load_model", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
