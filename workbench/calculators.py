"""KLIFF-style import path: ``from workbench.calculators import Calculator``."""

from workbench.fit.calculator import Calculator

__all__ = ["Calculator"]
