"""KLIFF 1.x's ``kliff.transforms.property_transforms`` path."""

from workbench.ml.property_transforms import (  # noqa: F401
    NormalizedPropertyTransform,
    PropertyTransform,
    PropertyTransformError,
    RMSMagnitudeNormalizePropertyTransform,
    RMSNormalizePropertyTransform,
)
