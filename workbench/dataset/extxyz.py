"""KLIFF's ``kliff.dataset.extxyz`` path."""

from workbench.data.extxyz import read_extxyz, write_extxyz  # noqa: F401
