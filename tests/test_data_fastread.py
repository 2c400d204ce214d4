"""The numpy batch reader (workbench.data._batchread) against the careful reader and
Python's float(): the same values bit for bit, and every doubtful file left to the careful
reader."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from workbench.data import Dataset
from workbench.errors import DatasetErrors
from workbench.data._batchread import read_configs
from workbench.data.dataset import _find_file_names
from workbench.data.extxyz import format_extxyz, read_extxyz

MALFORMED = Path(__file__).parent / "data" / "malformed"


def bits(x):
    return np.asarray(x, np.float64).view(np.uint64).tolist()


def assert_same(c, d):
    assert bits(c.cell) == bits(d["cell"]) and bits(c.coords) == bits(d["coords"])
    for key in ("forces", "stress"):
        got = getattr(c, key)
        assert (got is None and d[key] is None) or bits(got) == bits(d[key])
    assert c.species == d["species"] and c.PBC == d["PBC"]
    assert (c.energy is None and d["energy"] is None) or bits(c.energy) == bits(d["energy"])


def test_bundled_sets_match_careful_reader(si_path, si4_path, sic_path):
    files = _find_file_names(si_path) + _find_file_names(si4_path) + \
        _find_file_names(sic_path)
    got = read_configs(files)
    # the Si set is written with one fixed format; one file has a 3-digit exponent in one
    # row ("9.54668e-153") and SiC's lines differ in length: the careful reader takes those
    assert sum(c is None for c in got) == 11
    for f, c in zip(files, got):
        if c is not None:
            assert_same(c, read_extxyz(f))
            assert c.identifier == f and c.path == Path(f)
    assert got[0].coords.flags.c_contiguous and got[0].cell.shape == (3, 3)
    assert got[0].forces.flags.c_contiguous and got[1].cell is not got[0].cell


def test_malformed_corpus_left_to_careful_reader():
    files = sorted(str(p) for p in MALFORMED.glob("*.xyz"))
    assert len(files) >= 15
    assert read_configs(files) == [None] * len(files)


HEAD = 'Lattice="4 0 0 0 4 0 0 0 4" PBC="1 1 1" Energy=-1.5 '
ROWS = "Si  0.0  0.0  0.0  1e-30  0.5  0.25\nC   2.0  2.0  2.0 -1e-30 -0.5 -0.25\n"
DIALECTS = {  # name: (text, read by the batch reader?)
    "plain": ("2\n" + HEAD + "Properties=species:S:1:pos:R:3:force:R:3\n" + ROWS, True),
    "crlf": (("2\n" + HEAD + "Properties=species:S:1:pos:R:3:force:R:3\n" + ROWS)
             .replace("\n", "\r\n"), True),
    "ase_columns": ('2\nLattice="4 0 0 0 4 0 0 0 4" energy=2.0 stress="1 2 3 4 5 6 7 8 9" '
                    'pbc="T F T" Properties=species:S:1:pos:R:3:tags:I:1:forces:R:3\n'
                    "Si 0 0 0 7 1 2 3\nC  1 1 1 8 4 5 6\n", True),
    "kliff_for": ("2\n" + HEAD + "Properties=species:S:1:pos:R:3:for:R:3\n" + ROWS, True),
    "no_lattice": ("2\nProperties=species:S:1:pos:R:3\nSi 0 0 0\nC 1.5 0 0\n\n  \n", False),
    "ragged": ("2\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 0.1 1e-320 3\nC 1 2 3\n",
               False),
    "duplicate_key": ("2\n" + HEAD + "energy=1 Properties=species:S:1:pos:R:3:force:R:3\n"
                      + ROWS, False),
    "nan_in_unused_column": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3:q:R:1\n"
                             "Si 0 0 0 nan\n", False),
    "unicode_comment": ("1\n" + HEAD + 'note="Å" Properties=species:S:1:pos:R:3\nSi 0 0 0\n',
                        False),
    "no_final_newline": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 0 0 0.5", False),
    "glued_token": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 0 0 0.5x\n", False),
    "comma_in_row": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 0,0 0 0.5\n", False),
    "long_symbol": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSiCa 0 0 0\n", False),
    "lone_cr": ("1\r" + HEAD + "Properties=species:S:1:pos:R:3\nSi 0 0 0\n", False),
    "overflow_to_inf": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 1e400 0 0\n", False),
    "underscore": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 1_0 0 0\n", False),
}


def test_dialects(tmp_path):
    files = []
    for name, (text, _) in DIALECTS.items():
        (tmp_path / f"{name}.xyz").write_bytes(text.encode())
        files.append(str(tmp_path / f"{name}.xyz"))
    got = read_configs(files)
    for (name, (_, fast)), f, c in zip(DIALECTS.items(), files, got):
        assert (c is not None) == fast, name
        if c is not None:
            assert_same(c, read_extxyz(f))
    assert got[2].stress.tolist() == [1.0, 5.0, 9.0, 8.0, 7.0, 4.0]  # ASE's 9 -> Voigt
    assert got[2].PBC == [True, False, True] and got[0].forces[0, 0] == 1e-30
    assert got[3].forces[1].tolist() == [-1e-30, -0.5, -0.25]  # KLIFF's "for" column


FORMATS = ["%.5e", "%+.6e", "%12.5E", "%.16e", "%.3f", "%10.4f", "%.0e", "%.8g"]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**32 - 1), st.sampled_from(FORMATS),
       st.sampled_from(FORMATS), st.integers(0, 2))
def test_fixed_formats_match_float(tmp_path_factory, n, seed, fpos, fforce, files):
    """Files written with C formats: batch values equal float() of each token."""
    rng = np.random.default_rng(seed)
    paths, tokens = [], []
    folder = tmp_path_factory.mktemp("fmt")
    for k in range(files + 1):
        vals = rng.standard_normal((n, 6)) * 10.0 ** rng.integers(-30, 30, size=(n, 6))
        vals[rng.random((n, 6)) < 0.1] = 0.0
        rows = [["Si"] + [fpos % v for v in r[:3]] + [fforce % v for v in r[3:]] for r in vals]
        tokens.append([[float(t) for t in r[1:]] for r in rows])
        text = f"{n}\n{HEAD}Properties=species:S:1:pos:R:3:force:R:3\n" + \
            "".join(" ".join(r) + "\n" for r in rows)
        p = folder / f"c{k}.xyz"
        p.write_text(text)
        paths.append(str(p))
    for p, c, want in zip(paths, read_configs(paths), tokens):
        if c is None:  # a ragged layout: the careful reader's turn
            c = Dataset(p)[0]
        want = np.array(want)
        assert bits(c.coords) == bits(want[:, :3]) and bits(c.forces) == bits(want[:, 3:])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1), st.booleans())
def test_written_files_round_trip(tmp_path_factory, n, seed, with_stress):
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.integers(-25, 5, size=(n, 6))
    vals = rng.standard_normal((n, 6)) * scale
    text = format_extxyz(np.diag(rng.uniform(2, 9, 3)), rng.choice(["Si", "C", "H"], n),
                         vals[:, :3], [True, True, False], float(rng.standard_normal()),
                         vals[:, 3:], rng.standard_normal(6) if with_stress else None)
    path = tmp_path_factory.mktemp("rt") / "c.xyz"
    path.write_text(text)
    (c,) = Dataset(path)
    assert_same(c, read_extxyz(path))
    assert bits(c.coords) == bits(vals[:, :3]) and bits(c.forces) == bits(vals[:, 3:])


def test_one_bad_file_does_not_send_its_shape_to_the_careful_reader(tmp_path):
    good = "2\n" + HEAD + "Properties=species:S:1:pos:R:3:force:R:3\n" + ROWS
    bad = good.replace('Lattice="4 0 0 0 4 0 0 0 4"', 'Lattice="4 0 0 8 0 0 0 0 4"')
    big = "2\n" + HEAD + 'note="' + "x" * 70000 + '" Properties=species:S:1:pos:R:3\n' + \
        "Si 0 0 0\nSi 1 1 1\n"
    paths = []
    for name, text in (("a_bad", bad), ("b", good), ("c", good), ("d_big", big)):
        (tmp_path / f"{name}.xyz").write_text(text)
        paths.append(str(tmp_path / f"{name}.xyz"))
    got = read_configs(paths)
    assert got[0] is None and got[1] is not None and got[2] is not None
    assert got[3] is not None and got[3].coords[1].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(DatasetErrors, match="a_bad.xyz, line 2: singular cell"):
        Dataset(tmp_path)


def test_two_halves_on_two_threads_read_like_one(tmp_path, monkeypatch):
    """A group parsed as two halves on two threads (every group, with SPLIT_ROWS = 1)
    gives the same configurations and leaves the same doubtful rows, whichever half they
    fall in, to the careful reader."""
    from workbench.data import _batchread

    rows = "".join(f"Si {k:.6f} {0.5 * k:.6f} {-0.25 * k:.6f}\n" for k in range(6))
    good = "6\n" + HEAD + "Properties=species:S:1:pos:R:3\n" + rows
    paths = []
    for k in range(8):  # a doubtful number in the first file's rows and in the last one's
        text = good
        if k in (0, 7):
            text = text.replace("Si 3.000000", "Si 3.0000e0")
        (tmp_path / f"f{k}.xyz").write_text(text)
        paths.append(str(tmp_path / f"f{k}.xyz"))
    monkeypatch.setattr(_batchread, "SPLIT_ROWS", 10 ** 9)
    whole = read_configs(paths)
    monkeypatch.setattr(_batchread, "SPLIT_ROWS", 1)
    halves = read_configs(paths)
    assert [c is None for c in halves] == [True] + [False] * 6 + [True]
    assert [c is None for c in whole] == [c is None for c in halves]
    for a, b in zip(whole, halves):
        if a is not None:
            assert bits(a.coords) == bits(b.coords) and a.species == b.species
