"""Packed batches: layout, species codes, subsets, caching."""

import numpy as np
import pytest
from ase.build import bulk

from engine_helpers import Config, from_atoms, load_dir
from workbench.engine.batch import clear_cache, get_batch, pack, pack_arrays
from workbench.engine.neighbors import neighbor_list
from workbench.errors import EngineError


@pytest.fixture(scope="module")
def sic(sic_path):
    return load_dir(sic_path)


def test_pack_layout_matches_single_config_lists(sic):
    configs = sic[:3]
    b = pack(configs, 3.2)
    assert b.species_names == ("C", "Si")
    assert b.nconfigs == 3 and b.natoms == 192
    np.testing.assert_array_equal(b.config_offsets, [0, 64, 128, 192])
    np.testing.assert_array_equal(b.atom_config, np.repeat([0, 1, 2], 64))
    for c, conf in enumerate(configs):
        a0, a1 = b.config_offsets[c], b.config_offsets[c + 1]
        np.testing.assert_array_equal(b.species[a0:a1],
                                      [b.species_names.index(s) for s in conf.species])
        i, j, s = neighbor_list(conf.coords, conf.cell, conf.PBC, 3.2)
        p0, p1 = b.pair_offsets[a0], b.pair_offsets[a1]
        np.testing.assert_array_equal(b.pair_j[p0:p1], j + a0)
        np.testing.assert_array_equal(b.pair_shift[p0:p1], s)
        np.testing.assert_array_equal(b.pair_i[p0:p1], i + a0)
        d = conf.coords[j] + s @ conf.cell - conf.coords[i]
        np.testing.assert_allclose(b.pair_d[p0:p1], d, atol=1e-12)
        assert b.volumes[c] == pytest.approx(abs(np.linalg.det(conf.cell)))
    assert b.periodic3.all()


def test_species_names_order_and_unknown_species(sic):
    b = pack(sic[:1], 3.0, species_names=["Si", "C"])
    is_si = np.array(sic[0].species) == "Si"
    assert 0 < is_si.sum() < 64
    np.testing.assert_array_equal(b.species, np.where(is_si, 0, 1))
    with pytest.raises(EngineError, match="'C' is not among the model's species"):
        pack(sic[:1], 3.0, species_names=["Si"])


def test_per_species_pair_cutoff_table(sic):
    table = np.array([[2.0, 2.2], [2.2, 2.6]])  # codes: C=0, Si=1
    b = pack(sic[:2], None, cutoff_table=table)
    assert b.cutoff == 2.6
    r = np.linalg.norm(b.pair_d, axis=1)
    si, sj = b.species[b.pair_i], b.species[b.pair_j]
    assert np.all(r < table[si, sj])
    full = pack(sic[:2], 2.6)
    rf = np.linalg.norm(full.pair_d, axis=1)
    keep = rf < table[full.species[full.pair_i], full.species[full.pair_j]]
    assert keep.sum() == b.npairs < full.npairs


def test_subset_equals_packing_the_subset(sic):
    b = pack(sic, 3.0)
    idx = [7, 2, 5]
    s = b.subset(idx)
    ref = pack([sic[k] for k in idx], 3.0, species_names=b.species_names)
    for name in ("coords", "species", "atom_config", "config_offsets", "cells", "pbc",
                 "volumes", "pair_offsets", "pair_j", "pair_shift"):
        np.testing.assert_array_equal(getattr(s, name), getattr(ref, name), err_msg=name)
    np.testing.assert_allclose(s.pair_d, ref.pair_d, atol=1e-12)
    with pytest.raises(EngineError):
        b.subset([10])


def test_get_batch_caches_and_notices_moved_atoms(sic):
    clear_cache()
    configs = sic[:4]
    b1 = get_batch(configs, 3.0)
    assert get_batch(list(configs), 3.0) is b1
    assert get_batch(configs, 3.1) is not b1
    configs[1].coords = configs[1].coords + 0.01
    b2 = get_batch(configs, 3.0)
    assert b2 is not b1
    np.testing.assert_allclose(b2.coords[64:128], configs[1].coords)


def test_pack_arrays_mixed_pbc_and_ase_objects():
    slab = bulk("Si", "diamond", 5.43, cubic=True)
    slab.pbc = [True, True, False]
    slab.cell[2] = [0, 0, 0]
    mol = Config(np.array([[0, 0, 0], [0, 0, 1.1]], float), np.zeros((3, 3)),
                 (False,) * 3, ["C", "O"])
    b = pack([from_atoms(slab), mol], 3.0)
    assert b.species_names == ("C", "O", "Si")
    assert b.periodic3.tolist() == [False, False]
    assert b.pair_offsets[-1] - b.pair_offsets[8] == 2  # the molecule: one bond each way
    b2 = pack_arrays([slab.positions], [slab.cell[:]], [slab.pbc], [["Si"] * 8], 3.0)
    np.testing.assert_array_equal(b2.pair_j, b.pair_j[: b.pair_offsets[8]])


def test_pack_workbench_configurations_equals_plain_reader(si4_path):
    from workbench.data.dataset import Dataset

    configs = Dataset(si4_path).configs
    ours = load_dir(si4_path)
    a, b = pack(configs, 3.77), pack(ours, 3.77)
    assert a.labels[0].endswith(".xyz")
    np.testing.assert_array_equal(a.pair_j, b.pair_j)
    np.testing.assert_array_equal(a.pair_shift, b.pair_shift)
    np.testing.assert_allclose(a.coords, b.coords)
    assert get_batch(configs, 3.77) is get_batch(configs, 3.77)
