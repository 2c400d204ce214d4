"""Shared fixtures: paths of the bundled data sets."""

import os
import tempfile

import pytest

from workbench import datasets

# Fits and trainings are recorded in the default run store (./workbench-runs): the tests,
# their subprocesses and notebook kernels record into a scratch store instead.
os.environ.setdefault("WORKBENCH_RUNS", tempfile.mkdtemp(prefix="workbench-runs-tests-"))


@pytest.fixture(scope="session")
def si_path():
    return datasets.path("Si")


@pytest.fixture(scope="session")
def si4_path():
    return datasets.path("Si_4")


@pytest.fixture(scope="session")
def sic_path():
    return datasets.path("SiC")
