"""Atomic-environment descriptors with analytic derivatives."""

from workbench.ml.descriptors._base import DescriptorError
from workbench.ml.descriptors.bispectrum import Bispectrum, bispectrum_default
from workbench.ml.descriptors.descriptor import (
    Descriptor,
    show_available_descriptors,
    symmetry_functions_set30,
    symmetry_functions_set51,
)
from workbench.ml.descriptors.soap import SOAP
from workbench.ml.descriptors.symmetry_function import SymmetryFunction

__all__ = ["Bispectrum", "Descriptor", "DescriptorError", "SOAP", "SymmetryFunction",
           "bispectrum_default", "generate_fingerprints", "load_fingerprints",
           "show_available_descriptors", "symmetry_functions_set30",
           "symmetry_functions_set51"]


def __getattr__(name):
    # fingerprints imports this package's base module, so it is loaded on first use
    if name in ("generate_fingerprints", "load_fingerprints"):
        from workbench.ml import fingerprints

        return getattr(fingerprints, name)
    raise AttributeError(f"module 'workbench.ml.descriptors' has no attribute {name!r}")
