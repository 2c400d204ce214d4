"""Shared fixtures: paths of the bundled data sets."""

import pytest

from workbench import datasets


@pytest.fixture(scope="session")
def si_path():
    return datasets.path("Si")


@pytest.fixture(scope="session")
def si4_path():
    return datasets.path("Si_4")


@pytest.fixture(scope="session")
def sic_path():
    return datasets.path("SiC")
