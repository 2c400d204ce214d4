"""KLIFF 1.x's ``...configuration_transforms.descriptors`` path."""

from workbench.ml.descriptors.descriptor import (  # noqa: F401
    Descriptor,
    show_available_descriptors,
)
