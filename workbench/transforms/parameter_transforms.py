"""KLIFF 1.x's ``kliff.transforms.parameter_transforms`` path."""

from workbench.models.transform import LogParameterTransform, ParameterTransform  # noqa: F401
