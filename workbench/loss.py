"""KLIFF-style import path: ``from workbench.loss import Loss`` and the residual functions."""

from importlib import import_module

from workbench.errors import LossError
from workbench.fit.loss import Loss
from workbench.fit.residuals import (
    energy_forces_residual,
    energy_forces_stress_residual,
    energy_residual,
    forces_residual,
)

#: KLIFF's name of the loss of physics-based models (``Loss`` picks it for a Calculator)
LossPhysicsMotivatedModel = Loss

__all__ = ["Loss", "LossError", "LossNeuralNetworkModel", "LossPhysicsMotivatedModel",
           "energy_forces_residual", "energy_residual", "forces_residual",
           "energy_forces_stress_residual"]


def __getattr__(name):
    if name == "LossNeuralNetworkModel":  # loads torch
        return import_module("workbench.ml.loss_torch").LossNeuralNetworkModel
    raise AttributeError(f"module 'workbench.loss' has no attribute {name!r}")
