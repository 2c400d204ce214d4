"""KLIFF's ``kliff.calculators.calculator_torch`` path."""

from workbench.ml.calculator_torch import (  # noqa: F401
    CalculatorTorch,
    CalculatorTorchSeparateSpecies,
)
