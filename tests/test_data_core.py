"""Configuration, Dataset and the extended-XYZ reader/writer on the bundled data."""

import numpy as np
import pytest

from workbench.data import Dataset, Weight, read_config, write_config
from workbench.errors import DatasetError, DatasetErrors


def test_read_first_si4_file(si4_path):
    f = sorted(si4_path.glob("*.xyz"))[0]
    c = read_config(f)
    assert c.get_num_atoms() == 64
    assert c.species == ["Si"] * 64
    assert c.PBC == [True, True, True]
    text = f.read_text().splitlines()
    assert c.energy == float(text[1].split('Energy="')[1].split('"')[0])
    first = text[2].split()
    assert c.coords[0].tolist() == [float(v) for v in first[1:4]]
    assert c.forces[0].tolist() == [float(v) for v in first[4:7]]
    a = c.cell[0, 0]
    assert np.array_equal(c.cell, np.diag([a, a, a]))
    assert c.get_volume() == pytest.approx(a ** 3, rel=1e-14)
    assert c.identifier == str(f) and c.path == f


def test_dataset_si_counts_and_order(si_path):
    ds = Dataset(si_path, Weight(energy_weight=1.0, forces_weight=0.1))
    assert len(ds) == ds.get_num_configs() == 1000
    ids = [c.identifier for c in ds]
    assert ids == sorted(ids)
    n = [c.get_num_atoms() for c in ds]
    assert n.count(64) == 900 and n.count(8) == 100
    assert all(c.forces_weight == 0.1 and c.energy_weight == 1.0 for c in ds)
    # each configuration owns its weight
    assert ds[0].weight is not ds[1].weight
    assert isinstance(ds[3:7], Dataset) and len(ds[3:7]) == 4


def test_write_read_roundtrip_bit_exact(tmp_path, sic_path):
    for f in sorted(sic_path.glob("*.xyz"))[:3]:
        c = read_config(f)
        rng = np.random.default_rng(1)
        c.coords = c.coords + rng.normal(size=c.coords.shape) * 1e-3  # full-precision floats
        c.stress = rng.normal(size=6)
        out = tmp_path / f.name
        write_config(out, c)
        d = read_config(out)
        for name in ("cell", "coords", "forces", "stress"):
            assert np.array_equal(getattr(c, name), getattr(d, name)), name
        assert d.energy == c.energy and d.species == c.species and d.PBC == c.PBC


def test_single_bad_file_raises_dataset_error(tmp_path):
    p = tmp_path / "x.xyz"
    p.write_text("2\nPBC=\"0 0 0\"\nSi 0 0 0\n")
    with pytest.raises(DatasetError) as exc:
        Dataset(p)
    assert not isinstance(exc.value, DatasetErrors)
    assert exc.value.line == 1 and "declares 2 atoms" in str(exc.value)
