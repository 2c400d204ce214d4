"""KLIFF's ``kliff.calculators.calculator`` path."""

from workbench.fit.calculator import Calculator, ComputeArguments  # noqa: F401
