"""KLIFF-style names: ``from workbench.analyzers import EnergyForcesRMSE, Fisher``."""

from workbench.analysis import EnergyForcesRMSE, Fisher

__all__ = ["EnergyForcesRMSE", "Fisher"]
