"""Data layer: configurations, data sets, extended-XYZ I/O, ASE interop, weights, splits."""

from .configuration import Configuration
from .dataset import Dataset, read_config, write_config
from .weight import MagnitudeInverseWeight, Weight, apply_weights_file, read_weights_file

__all__ = ["Configuration", "Dataset", "read_config", "write_config", "Weight",
           "MagnitudeInverseWeight", "read_weights_file", "apply_weights_file"]
