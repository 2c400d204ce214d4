"""KLIFF's ``kliff.parallel`` helpers (``parmap1``, ``parmap2``): the examples of KLIFF
0.4's package reference, order of results, unpicklable functions, errors."""

import os

import pytest

from workbench.parallel import get_context, get_MPI_world_size, parmap1, parmap2


def func(x, y, z=1):
    return x + y + z


def pid_and_square(x):
    return os.getpid(), x * x


def fails_on_three(x):
    if x == 3:
        raise ZeroDivisionError(f"item {x} fails")
    return x


@pytest.mark.parametrize("parmap", [parmap1, parmap2])
def test_documented_examples(parmap):
    X, Y = range(3), range(3)
    assert parmap(func, X, 1, nprocs=2) == [2, 3, 4]
    assert parmap(func, X, 1, 1, nprocs=2) == [2, 3, 4]
    assert parmap(func, zip(X, Y), tuple_X=True, nprocs=2) == [1, 3, 5]
    assert parmap(func, zip(X, Y), 1, tuple_X=True, nprocs=2) == [1, 3, 5]


@pytest.mark.parametrize("parmap", [parmap1, parmap2])
def test_results_in_order_from_worker_processes(parmap):
    out = parmap(pid_and_square, range(23), nprocs=2)
    assert [sq for _, sq in out] == [x * x for x in range(23)]
    pids = {pid for pid, _ in out}
    assert os.getpid() not in pids and len(pids) == 2
    # one process: runs here
    assert {pid for pid, _ in parmap(pid_and_square, range(4), nprocs=1)} == {os.getpid()}


def test_parmap2_takes_an_unpicklable_function():
    import pickle

    offset = 10
    closure = lambda x, k: x * k + offset  # noqa: E731 - unpicklable on purpose
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(closure)
    assert parmap2(closure, range(7), 3, nprocs=3) == [x * 3 + 10 for x in range(7)]


@pytest.mark.parametrize("parmap", [parmap1, parmap2])
def test_worker_errors_reach_the_caller(parmap):
    with pytest.raises(ZeroDivisionError, match="item 3 fails"):
        parmap(fails_on_three, range(6), nprocs=2)
    with pytest.raises(ValueError, match="nprocs=0: expected a positive integer"):
        parmap(func, range(3), nprocs=0)


def test_context_and_mpi_size():
    assert get_context().get_start_method() == "fork"  # Linux
    assert get_MPI_world_size() == 1
