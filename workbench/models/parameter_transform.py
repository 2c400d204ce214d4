"""KLIFF's ``kliff.models.parameter_transform`` path."""

from workbench.models.transform import LogParameterTransform, ParameterTransform  # noqa: F401
