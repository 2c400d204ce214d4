"""KLIFF 1.x's ``...configuration_transforms.graphs`` path."""

from workbench.ml.graphs import PyGGraph, RadialGraph  # noqa: F401
