"""KLIFF's ``kliff.dataset.dataset`` path."""

from workbench.data.configuration import Configuration  # noqa: F401
from workbench.data.dataset import Dataset, read_config, write_config  # noqa: F401
