"""KLIFF-style import paths for the calculators.

``from workbench.calculators import Calculator, CalculatorTorch`` and
``from workbench.calculators.calculator_torch import CalculatorTorchSeparateSpecies``
(the torch calculators load torch only when first asked for).
"""

from importlib import import_module

from workbench.fit.calculator import Calculator

_TORCH = {"CalculatorTorch", "CalculatorTorchSeparateSpecies"}

__all__ = ["Calculator", *sorted(_TORCH)]


def __getattr__(name):
    if name in _TORCH:
        return getattr(import_module("workbench.ml.calculator_torch"), name)
    raise AttributeError(f"module 'workbench.calculators' has no attribute {name!r}")
