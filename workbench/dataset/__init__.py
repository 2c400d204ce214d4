"""KLIFF-style import paths for the data layer: ``from kliff.dataset import Dataset``
becomes ``from workbench.dataset import Dataset``; ``workbench.dataset.weight``,
``.dataset`` and ``.extxyz`` mirror KLIFF's submodules."""

from workbench.data import (Configuration, Dataset, MagnitudeInverseWeight, Weight,
                            read_config, write_config)
from workbench.data.extxyz import read_extxyz, write_extxyz

__all__ = ["Configuration", "Dataset", "Weight", "MagnitudeInverseWeight", "read_config",
           "write_config", "read_extxyz", "write_extxyz"]
