"""KLIFF-style import path: ``from workbench.loss import Loss`` and the residual functions."""

from workbench.fit.loss import Loss
from workbench.fit.residuals import (
    energy_forces_residual,
    energy_forces_stress_residual,
    energy_residual,
    forces_residual,
)

__all__ = ["Loss", "energy_forces_residual", "energy_residual", "forces_residual",
           "energy_forces_stress_residual"]
