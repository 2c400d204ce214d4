"""KLIFF's ``kliff.dataset.weight`` path."""

from workbench.data.weight import MagnitudeInverseWeight, Weight  # noqa: F401
