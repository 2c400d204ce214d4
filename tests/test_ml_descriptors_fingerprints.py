"""Fingerprints: normalization (plain and Welford), state dict round trip, and the hashed
on-disk cache (reused only for identical inputs)."""

import os

import numpy as np
import pytest

from workbench.data.dataset import Dataset
from workbench.ml.descriptors import SymmetryFunction
from workbench.ml.descriptors._base import DescriptorError
from workbench.ml.fingerprints import load_fingerprints, read_fingerprints_header

HP = {"g2": [{"eta": 0.05, "Rs": 0.0}, {"eta": 0.5, "Rs": 2.3}],
      "g4": [{"zeta": 1, "lambda": -1, "eta": 0.01}, {"zeta": 2, "lambda": 1, "eta": 0.02}]}


@pytest.fixture(scope="module")
def configs(si_path):
    return Dataset(si_path / "varying_alat").configs[:12]


def test_normalization_and_shapes(configs, tmp_path):
    sf = SymmetryFunction({"Si-Si": 4.5}, "cos", HP, normalize=True, dtype=np.float64)
    path = sf.generate_fingerprints(configs, fit_forces=True, fit_stress=True,
                                    fingerprints_filename=tmp_path / "fp.pkl",
                                    fingerprints_mean_stdev_filename=tmp_path / "ms.pkl")
    raw = [sf.transform(c, True, True) for c in configs]
    stacked = np.concatenate([r[0] for r in raw])
    np.testing.assert_allclose(sf.get_mean(), stacked.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sf.get_stdev(), stacked.std(axis=0), rtol=1e-12)
    data = load_fingerprints(path)
    assert len(data) == len(configs)
    for entry, (z, dr, ds), conf in zip(data, raw, configs):
        n = len(conf.species)
        np.testing.assert_allclose(entry["zeta"], (z - sf.mean) / sf.stdev, rtol=1e-12)
        np.testing.assert_allclose(entry["dzetadr_forces"], dr / sf.stdev[None, :, None])
        np.testing.assert_allclose(entry["dzetadr_stress"], ds / sf.stdev[None, :, None])
        assert entry["dzetadr_forces"].shape == (n, 4, 3 * n)
        assert entry["energy"] == pytest.approx(conf.energy)
        np.testing.assert_allclose(entry["forces"], conf.forces)
        assert entry["volume"] == pytest.approx(abs(np.linalg.det(conf.cell)))
    # normalized fingerprints over the set have zero mean and unit stdev
    allz = np.concatenate([e["zeta"] for e in data])
    np.testing.assert_allclose(allz.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(allz.std(axis=0), 1.0, rtol=1e-10)
    # mean/stdev file is the descriptor's state dict
    other = SymmetryFunction({"Si-Si": 4.5}, "cos", HP, dtype=np.float64)
    import pickle
    with open(tmp_path / "ms.pkl", "rb") as f:
        other.load_state_dict(pickle.load(f))
    np.testing.assert_array_equal(other.get_mean(), sf.get_mean())


def test_welford_matches_two_pass(configs, tmp_path):
    a = SymmetryFunction({"Si-Si": 4.5}, "cos", HP)
    b = SymmetryFunction({"Si-Si": 4.5}, "cos", HP)
    a.generate_fingerprints(configs, fingerprints_filename=tmp_path / "a.pkl",
                            fingerprints_mean_stdev_filename=tmp_path / "ma.pkl")
    b.generate_fingerprints(configs, fingerprints_filename=tmp_path / "b.pkl",
                            fingerprints_mean_stdev_filename=tmp_path / "mb.pkl",
                            use_welford_method=True)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
    np.testing.assert_allclose(a.stdev, b.stdev, rtol=1e-10)
    assert load_fingerprints(tmp_path / "a.pkl")[0]["zeta"].dtype == np.float32


def test_state_dict_round_trip():
    sf = SymmetryFunction({"Si-Si": 4.5}, "cos", HP)
    sf.mean, sf.stdev = np.arange(4.0), np.linspace(1, 2, 4)
    state = sf.state_dict()
    other = SymmetryFunction({"Si-Si": 4.5}, "cos", HP)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.get_mean(), np.arange(4.0))
    np.testing.assert_array_equal(other.get_stdev(), np.linspace(1, 2, 4))
    assert other.get_size() == 4
    with pytest.raises(DescriptorError, match="shape"):
        other.load_state_dict({"mean": np.zeros(3), "stdev": np.ones(3), "size": 4})
    with pytest.raises(DescriptorError, match="missing"):
        other.load_state_dict({"mean": None})


def test_cache_reused_only_for_identical_inputs(configs, tmp_path):
    fp = tmp_path / "fp.pkl"
    kw = dict(fingerprints_filename=fp, fingerprints_mean_stdev_filename=tmp_path / "ms.pkl")
    sf = SymmetryFunction({"Si-Si": 4.5}, "cos", HP)
    sf.generate_fingerprints(configs[:6], fit_forces=True, **kw)
    h1 = read_fingerprints_header(fp)["hash"]
    os.utime(fp, (1, 1))
    # same inputs, a fresh descriptor: reused (file untouched) and mean/stdev restored
    sf2 = SymmetryFunction({"Si-Si": 4.5}, "cos", HP)
    sf2.generate_fingerprints(configs[:6], fit_forces=True, **kw)
    assert os.stat(fp).st_mtime == 1
    np.testing.assert_array_equal(sf2.mean, sf.mean)
    # different data: recomputed, never mixed
    sf3 = SymmetryFunction({"Si-Si": 4.5}, "cos", HP)
    sf3.generate_fingerprints(configs[6:12], fit_forces=True, **kw)
    assert os.stat(fp).st_mtime != 1
    h2 = read_fingerprints_header(fp)["hash"]
    assert h2 != h1
    data = load_fingerprints(fp)
    assert [e["configuration"].identifier for e in data] == \
        [c.identifier for c in configs[6:12]]
    assert not np.allclose(sf3.mean, sf.mean)
    # one moved coordinate, other flags or other hyperparameters change the hash too
    os.utime(fp, (1, 1))
    moved = [c for c in configs[6:12]]
    moved[0] = type(moved[0])(cell=moved[0].cell, species=moved[0].species,
                              coords=moved[0].coords + 1e-9, PBC=moved[0].PBC,
                              energy=moved[0].energy, forces=moved[0].forces,
                              identifier=moved[0].identifier)
    SymmetryFunction({"Si-Si": 4.5}, "cos", HP).generate_fingerprints(moved, True, **kw)
    assert os.stat(fp).st_mtime != 1
    os.utime(fp, (1, 1))
    SymmetryFunction({"Si-Si": 4.5}, "cos", HP).generate_fingerprints(moved, False, **kw)
    assert os.stat(fp).st_mtime != 1
    h3 = read_fingerprints_header(fp)["hash"]
    os.utime(fp, (1, 1))
    SymmetryFunction({"Si-Si": 4.4}, "cos", HP).generate_fingerprints(moved, False, **kw)
    assert read_fingerprints_header(fp)["hash"] != h3
    # reuse=False always recomputes
    os.utime(fp, (1, 1))
    SymmetryFunction({"Si-Si": 4.4}, "cos", HP).generate_fingerprints(moved, False,
                                                                      reuse=False, **kw)
    assert os.stat(fp).st_mtime != 1


def test_threads_give_identical_results(configs):
    sf = SymmetryFunction({"Si-Si": 4.5}, "cos", "set51", dtype=np.float64)
    one = list(sf.transform_many(configs, True, True, nprocs=1))
    two = list(sf.transform_many(configs, True, True, nprocs=2))
    for a, b in zip(one, two):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
