"""Neighbor lists against ASE's neighbor_list on bundled and random configurations."""

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list as ase_nl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_helpers import load_dir, to_atoms
from workbench.engine.neighbors import build_pairs, neighbor_list
from workbench.errors import EngineError


def _keys(i, j, shift, natoms):
    """Encode (i, j, shift) rows as sortable int64 keys (vectorized set comparison)."""
    s = np.asarray(shift, dtype=np.int64) + 64
    k = ((np.asarray(i, np.int64) * natoms + np.asarray(j, np.int64)) * 128 + s[:, 0])
    return np.sort((k * 128 + s[:, 1]) * 128 + s[:, 2])


def _assert_same_as_ase(coords, cell, pbc, cutoff):
    atoms = Atoms("H" * len(coords), positions=coords, cell=cell, pbc=pbc)
    i, j, s = neighbor_list(coords, cell, pbc, cutoff)
    ai, aj, as_ = ase_nl("ijS", atoms, cutoff)
    n = len(coords)
    np.testing.assert_array_equal(_keys(i, j, s, n), _keys(ai, aj, as_, n))
    assert np.all(np.diff(i) >= 0)
    d = coords[j] + s @ np.asarray(cell) - coords[i]
    r = np.linalg.norm(d, axis=1)
    assert np.all(r < cutoff)
    assert np.all(r[i == j] > 0)  # own images only (coincident distinct atoms are kept, as ASE)
    return len(i)


def _assert_batch_same_as_ase(configs, cutoff):
    coords = np.concatenate([c.coords for c in configs])
    offsets = np.concatenate([[0], np.cumsum([len(c.species) for c in configs])])
    cells = np.array([c.cell for c in configs])
    pbc = np.array([c.PBC for c in configs])
    po, pj, ps, pd = build_pairs(coords, cells, pbc, offsets, cutoff)
    pi = np.repeat(np.arange(len(coords)), np.diff(po))
    ours, theirs = [], []
    ntot = len(coords)
    for c, conf in enumerate(configs):
        ai, aj, as_ = ase_nl("ijS", to_atoms(conf), cutoff)
        theirs.append(_keys(ai + offsets[c], aj + offsets[c], as_, ntot))
    ours = _keys(pi, pj, ps, ntot)
    np.testing.assert_array_equal(ours, np.sort(np.concatenate(theirs)))
    owner = np.searchsorted(offsets, pi, side="right") - 1
    d = coords[pj] + np.einsum("pk,pkl->pl", ps, cells[owner]) - coords[pi]
    np.testing.assert_allclose(pd, d, atol=1e-12)
    return len(pj)


def test_si4_and_sic_equal_ase(si4_path, sic_path):
    n = _assert_batch_same_as_ase(load_dir(si4_path), 3.77)
    assert 4 * 64 * 4 <= n < 4 * 64 * 5  # perturbed diamond: about 4 neighbours each
    sic = load_dir(sic_path)
    assert _assert_batch_same_as_ase(sic, 3.0) > 0
    assert _assert_batch_same_as_ase(sic, 7.5) > 0


def test_whole_si_set_equals_ase(si_path):
    configs = load_dir(si_path)
    assert len(configs) == 1000
    npairs = _assert_batch_same_as_ase(configs, 3.77)
    # diamond-like Si (some cells strongly compressed): 4 to ~8 neighbours per atom
    natoms = sum(len(c.species) for c in configs)
    assert 4.0 <= npairs / natoms < 12.0


def test_one_atom_cell_many_images():
    cell = np.array([[2.0, 0.0, 0.0], [0.3, 2.1, 0.0], [0.1, 0.2, 1.9]])
    n = _assert_same_as_ase(np.zeros((1, 3)), cell, [True] * 3, 6.5)
    assert n > 100  # an atom sees its own periodic images


def test_non_periodic_cluster_and_zero_cell():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 6, size=(30, 3))
    _assert_same_as_ase(x, np.zeros((3, 3)), [False] * 3, 2.5)
    _assert_same_as_ase(x, np.eye(3) * 3.0, [False] * 3, 2.5)


def test_slab_with_zero_vacuum_vector():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 4, size=(12, 3))
    x[:, 2] *= 3.0
    cell = np.array([[4.0, 0, 0], [1.0, 4.0, 0], [0, 0, 0]])
    _assert_same_as_ase(x, cell, [True, True, False], 3.0)


def test_per_species_pair_cutoffs_match_brute_force():
    rng = np.random.default_rng(2)
    n = 20
    cell = np.array([[5.0, 0, 0], [0.5, 4.5, 0], [0.3, 0.2, 5.2]])
    x = rng.uniform(0, 1, size=(n, 3)) @ cell
    species = rng.integers(0, 2, size=n)
    table = np.array([[2.5, 3.1], [3.1, 3.8]])
    i, j, s = neighbor_list(x, cell, [True] * 3, None, species, table)
    ai, aj, as_ = ase_nl("ijS", Atoms("H" * n, positions=x, cell=cell, pbc=True), 3.8)
    d = x[aj] + as_ @ cell - x[ai]
    keep = np.linalg.norm(d, axis=1) < table[species[ai], species[aj]]
    np.testing.assert_array_equal(_keys(i, j, s, n), _keys(ai[keep], aj[keep], as_[keep], n))
    assert keep.sum() < len(ai)  # the table really removed pairs


def test_shift_refers_to_unwrapped_input_coordinates():
    cell = np.eye(3) * 4.0
    x = np.array([[-3.9, 0.1, 0.2], [9.0, 0.3, 0.1]])  # far outside the cell
    i, j, s = neighbor_list(x, cell, [True] * 3, 1.5)
    d = x[j] + s @ cell - x[i]
    assert len(i) == 2
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), np.linalg.norm([0.9, 0.2, -0.1]))


def test_degenerate_periodic_cell_raises():
    with pytest.raises(EngineError, match="linearly dependent"):
        neighbor_list(np.zeros((2, 3)), np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 0, 1.0]]),
                      [True] * 3, 1.0)
    with pytest.raises(EngineError, match="cutoff"):
        neighbor_list(np.zeros((2, 3)), np.eye(3), [True] * 3, -1.0)


@st.composite
def random_cells(draw):
    n = draw(st.integers(1, 6))
    diag = [draw(st.floats(1.2, 6.0)) for _ in range(3)]
    off = [draw(st.floats(-0.6, 0.6)) for _ in range(3)]
    cell = np.array([[diag[0], 0, 0], [off[0] * diag[0], diag[1], 0],
                     [off[1] * diag[0], off[2] * diag[1], diag[2]]])
    frac = np.array([[draw(st.floats(-0.5, 1.5)) for _ in range(3)] for _ in range(n)])
    pbc = [draw(st.booleans()) for _ in range(3)]
    cutoff = draw(st.floats(0.8, 7.0))
    return frac @ cell, cell, pbc, cutoff


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_cells())
def test_random_cells_equal_ase(case):
    coords, cell, pbc, cutoff = case
    _assert_same_as_ase(coords, cell, pbc, cutoff)


def test_clustered_atoms_in_large_periodic_cell():
    """Far denser locally than the cell's mean density: the single pass must recount."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 2.0, size=(40, 3)) + 1.0
    n = _assert_same_as_ase(x, np.eye(3) * 30.0, [True] * 3, 3.0)
    assert n > 40 * 30
