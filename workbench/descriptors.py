"""KLIFF-style alias: ``from workbench.descriptors import SymmetryFunction, Bispectrum``."""

from workbench.ml.descriptors import SOAP, Bispectrum, Descriptor, SymmetryFunction  # noqa: F401
from workbench.ml.fingerprints import generate_fingerprints, load_fingerprints  # noqa: F401
