"""KLIFF-style import path: ``from kliff.dataset import Dataset`` becomes
``from workbench.dataset import Dataset``."""

from workbench.data import (Configuration, Dataset, MagnitudeInverseWeight, Weight,
                            read_config, write_config)

__all__ = ["Configuration", "Dataset", "Weight", "MagnitudeInverseWeight", "read_config",
           "write_config"]
