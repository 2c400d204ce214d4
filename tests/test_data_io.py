"""ASE interop, random round-trips (hypothesis), atomic writes, Configuration helpers."""

import os

import numpy as np
import pytest
from ase.data import chemical_symbols
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import datasets
from workbench.data import Configuration, Dataset, read_config, write_config
from workbench.data.extxyz import format_extxyz, parse_extxyz


@pytest.mark.parametrize("name", ["Si", "Si_4", "SiC"])
def test_reader_matches_ase_on_bundled_data(name):
    import ase.io
    ds = Dataset(datasets.path(name))
    assert len(ds) == {"Si": 1000, "Si_4": 4, "SiC": 10}[name]
    for c in ds:
        a = ase.io.read(c.path, format="extxyz")
        assert np.array_equal(a.positions, c.coords)
        assert np.array_equal(a.cell[:], c.cell)
        assert list(a.pbc) == c.PBC
        assert a.get_chemical_symbols() == c.species
        assert a.info["Energy"] == c.energy
        assert np.array_equal(a.arrays["force"], c.forces)


def _ase_config():
    from ase.build import bulk
    from ase.calculators.singlepoint import SinglePointCalculator
    a = bulk("SiC", "zincblende", a=4.36).repeat((2, 1, 1))
    a.rattle(0.05, seed=3)
    rng = np.random.default_rng(0)
    a.calc = SinglePointCalculator(a, energy=-12.345678901234567,
                                   forces=rng.normal(size=(len(a), 3)),
                                   stress=rng.normal(size=6))
    return a


def test_files_written_by_ase(tmp_path):
    import ase.io
    a = _ase_config()
    f = tmp_path / "ase.xyz"
    ase.io.write(f, a, format="extxyz")
    assert "energy=" in f.read_text() and ":forces:R:3" in f.read_text()
    c = read_config(f)
    a = ase.io.read(f)   # ASE writes rounded values: compare with what ASE reads back
    assert c.energy == a.get_potential_energy()
    assert np.array_equal(c.forces, a.get_forces())
    assert np.array_equal(c.stress, a.get_stress())
    assert np.array_equal(c.coords, a.positions) and np.array_equal(c.cell, a.cell[:])
    # ...and ASE reads what we write
    g = tmp_path / "ours.xyz"
    c.to_file(g)
    b = ase.io.read(g)
    assert np.array_equal(b.positions, a.positions) and b.info["Energy"] == c.energy
    assert np.array_equal(b.arrays["force"], a.get_forces())


def test_from_ase_to_ase_and_ase_formats(tmp_path):
    import ase.io
    a = _ase_config()
    c = Configuration.from_ase_atoms(a, identifier="x")
    b = c.to_ase()
    assert b.get_potential_energy() == a.get_potential_energy()
    assert np.array_equal(b.get_forces(), a.get_forces())
    assert np.array_equal(b.get_stress(), a.get_stress())
    ds = Dataset.from_ase([a, b])
    assert [x.identifier for x in ds] == ["atoms_0", "x"]
    frames = tmp_path / "frames.xyz"
    ase.io.write(frames, [a, a], format="extxyz")
    for fmt in ("extxyz", "ase"):
        d = Dataset(frames, file_format=fmt)
        assert len(d) == 2 and d[1].identifier == f"{frames}@1"
        assert np.array_equal(d[0].stress, a.get_stress())
    traj = tmp_path / "t.traj"
    ase.io.write(traj, a)
    assert Dataset(tmp_path, file_format="traj")[0].energy == a.get_potential_energy()


def test_configuration_helpers():
    c = Configuration(np.diag([2.0, 3.0, 4.0]), ["Si", "C", "Si", "C", "Si"],
                      np.arange(15.0).reshape(5, 3), [1, 1, 0],
                      forces=-np.arange(15.0).reshape(5, 3))
    assert c.get_volume() == 24.0
    assert c.get_num_atoms_by_species() == {"Si": 3, "C": 2}
    assert c.count_atoms_by_species(["C", "O"]) == {"C": 2, "O": 0}
    c.order_by_species()
    assert c.species == ["C", "C", "Si", "Si", "Si"]
    assert c.coords[:, 0].tolist() == [3.0, 9.0, 0.0, 6.0, 12.0]
    assert np.array_equal(c.forces, -c.coords)


def test_failed_write_leaves_old_file(tmp_path, si4_path, monkeypatch):
    f = sorted(si4_path.glob("*.xyz"))[0]
    c = read_config(f)
    target = tmp_path / "out.xyz"
    target.write_text("old content\n")

    def boom(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_config(target, c)
    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xyz"]   # no temp left
    monkeypatch.undo()
    write_config(target, c)
    assert np.array_equal(read_config(target).coords, c.coords)


_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def configurations(draw):
    n = draw(st.integers(1, 6))
    species = draw(st.lists(st.sampled_from(chemical_symbols[1:]), min_size=n, max_size=n))
    pbc = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    if any(pbc) or draw(st.booleans()):
        diag = draw(st.lists(st.floats(1.0, 100.0), min_size=3, max_size=3))
        off = draw(st.lists(st.floats(-0.3, 0.3), min_size=9, max_size=9))
        cell = np.diag(diag) + np.array(off).reshape(3, 3) * min(diag)
    else:
        cell = np.zeros((3, 3))
    coords = np.array(draw(st.lists(_floats, min_size=3 * n, max_size=3 * n))).reshape(n, 3)
    energy = draw(st.none() | _floats)
    forces = draw(st.none() | st.lists(_floats, min_size=3 * n, max_size=3 * n))
    stress = draw(st.none() | st.lists(_floats, min_size=6, max_size=6))
    return Configuration(cell, species, coords, pbc, energy,
                         None if forces is None else np.reshape(forces, (n, 3)), stress)


@settings(max_examples=150, deadline=None)
@given(configurations())
def test_random_roundtrip_bit_exact(c):
    d = parse_extxyz(format_extxyz(c.cell, c.species, c.coords, c.PBC, c.energy, c.forces,
                                   c.stress))
    assert d["species"] == c.species and d["PBC"] == c.PBC
    assert d["cell"].tobytes() == c.cell.tobytes()
    assert d["coords"].tobytes() == c.coords.tobytes()
    assert d["energy"] == c.energy or (d["energy"] is None and c.energy is None)
    for name in ("forces", "stress"):
        mine = getattr(c, name)
        assert (d[name] is None) == (mine is None)
        if mine is not None:
            assert d[name].tobytes() == mine.tobytes()
