"""KLIFF 1.x's ``...configuration_transforms.default_hyperparams`` path."""

from workbench.ml.descriptors.default_hyperparams import (  # noqa: F401
    bispectrum_default,
    soap_default,
    symmetry_functions_set30,
    symmetry_functions_set51,
)
