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


def test_chunks_on_two_threads_read_like_one(tmp_path, monkeypatch):
    """A group parsed in chunks shared by two threads (every group, with SPLIT_ROWS = 1
    and chunks of 5 rows) gives the same configurations and leaves the same doubtful rows,
    whichever chunk they fall in, to the careful reader."""
    from workbench.data import _batchrows

    rows = "".join(f"Si {k:.6f} {0.5 * k:.6f} {-0.25 * k:.6f}\n" for k in range(6))
    good = "6\n" + HEAD + "Properties=species:S:1:pos:R:3\n" + rows
    paths = []
    for k in range(8):  # a doubtful number in the first file's rows and in the last one's
        text = good
        if k in (0, 7):
            text = text.replace("Si 3.000000", "Si 3.0000e0")
        (tmp_path / f"f{k}.xyz").write_text(text)
        paths.append(str(tmp_path / f"f{k}.xyz"))
    monkeypatch.setattr(_batchrows, "SPLIT_ROWS", 10 ** 9)
    whole = read_configs(paths)
    monkeypatch.setattr(_batchrows, "SPLIT_ROWS", 1)
    monkeypatch.setattr(_batchrows, "CHUNK_ROWS", 5)
    shared = read_configs(paths)  # the bad rows fall in chunk 0 (this thread) and 45 (helper)
    assert [c is None for c in shared] == [True] + [False] * 6 + [True]
    assert [c is None for c in whole] == [c is None for c in shared]
    for a, b in zip(whole, shared):
        if a is not None:
            assert bits(a.coords) == bits(b.coords) and a.species == b.species


SPELLINGS = [lambda x: repr(x), lambda x: f"{x:.3e}", lambda x: f"{x:.4E}",
             lambda x: f"{x:+.5f}", lambda x: f"{x:.2f}"]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 14))
def test_many_comment_shapes_read_like_the_careful_reader(tmp_path_factory, seed, files):
    """Files of one set whose comment lines differ in key order, number spellings, flags,
    stress, extra keys, atom counts and line ends, some with a value the careful reader
    refuses: each is read by the batch reader with the careful reader's values bit for
    bit, and each file the careful reader refuses is left to it -- also when an earlier
    file of the same shape was read."""
    from workbench.errors import DatasetError

    rng = np.random.default_rng(seed)
    folder = tmp_path_factory.mktemp("shapes")
    # files of one set mostly share shapes: each varies from the set's habits now and then
    spellings = rng.choice(len(SPELLINGS), 2)
    order, with_stress, flags = rng.permutation(3), rng.random() < 0.5, rng.random() < 0.5
    paths, defects = [], []
    for k in range(files):
        n = int(rng.integers(1, 3))
        spell = SPELLINGS[spellings[int(rng.random() < 0.2)]]
        a = float(rng.uniform(3, 6))
        cell = [a, 0.0, 0.0, 0.0, a, 0.0, 0.0, 0.0, a]
        keys = [f'Lattice="{" ".join(spell(v) for v in cell)}"',
                f"Energy={spell(float(rng.standard_normal()))}",
                'PBC="' + str(rng.choice(["1 1 1", "1 0 1"] if flags != (rng.random() < 0.2)
                                         else ["T T F"])) + '"']
        defect = k > 0 and rng.random() < 0.25  # a value the careful reader refuses
        if defect:
            at = int(rng.integers(3))
            keys[at] = ['Lattice="1 0 0 2 0 0 0 0 1"', "Energy=1.2.3", 'PBC="1 2 1"'][at]
        keys = [keys[i] for i in (order if rng.random() < 0.8 else rng.permutation(3))]
        if with_stress != (rng.random() < 0.2):
            keys.append('Stress="' + " ".join(
                spell(float(v)) for v in rng.standard_normal(int(rng.choice([6, 9])))) + '"')
        if rng.random() < 0.2:
            keys.append(f"step={int(rng.integers(100))} note=run{int(rng.integers(9))}")
        if rng.random() < 0.2:
            keys.append("Energy2=1.2.3")  # an unknown key: its value is not read
        comment = " ".join(keys) + " Properties=species:S:1:pos:R:3:force:R:3"
        rows = "".join(" ".join([str(rng.choice(["Si", "C "]))] + [
            f"{v: .8e}" for v in rng.standard_normal(6)]) + "\n" for _ in range(n))
        text = f"{n}\n{comment}\n{rows}"
        if rng.random() < 0.1:
            text = text.replace("\n", "\r\n")
        path = folder / f"f{k:02d}.xyz"
        path.write_bytes(text.encode())
        paths.append(str(path))
        defects.append(defect)
    got = read_configs(paths)
    for path, c, bad in zip(paths, got, defects):
        try:
            want = read_extxyz(path)
        except DatasetError:
            assert bad and c is None, path
            continue
        assert c is not None, Path(path).read_text()
        assert_same(c, want)


@pytest.mark.parametrize("second_row, fast", [
    ("Si -1.50e+00  2.25e-01  0.00e+00", True),
    ("Si ,1.50e+00  2.25e-01  0.00e+00", False),  # a comma where a sign or space leads
    ("Si *1.50e+00  2.25e-01  0.00e+00", False),  # another byte between ' ' and '-'
    ("Si  1.50e,00  2.25e-01  0.00e+00", False),  # a comma as the exponent's sign
    ("Si  1.50e+00  2.25e-0x  0.00e+00", False),  # not a digit
    ("Si  1.50e+00  2.25x-01  0.00e+00", False),  # not the exponent mark
    ("Si  1.50e+00 +2.25e-01  0.00e+00", True),
    ("Si  1.50e+00 #2.25e-01  0.00e+00", False),
])
def test_rows_of_another_layout_go_to_the_careful_reader(tmp_path, second_row, fast):
    """Each byte of a later row is checked against the first row's layout: a sign, space,
    digit or mark where the layout has one; anything else sends the file to the careful
    reader (which reads or refuses it), whatever chunk or thread the row is in."""
    text = ("2\n" + HEAD + "Properties=species:S:1:pos:R:3\n"
            "Si  1.00e+00 -2.00e-01  3.00e+00\n" + second_row + "\n")
    path = tmp_path / "f.xyz"
    path.write_text(text)
    (c,) = read_configs([str(path)])
    assert (c is not None) == fast
    if fast:
        assert_same(c, read_extxyz(path))


@pytest.mark.parametrize("row", [b"\xc3\x85  0.0  0.0  0.0", b"\xff\xfe 0.0  0.0  0.0",
                                 b"Si  0.0  0.\xb5  0.0", b"Si  0.0  0.0  0.0 \xa0"])
def test_bytes_outside_ascii_in_atom_lines_go_to_the_careful_reader(tmp_path, row):
    """Only the comment line is checked for ASCII up front; a byte outside ASCII in the
    atom lines fails the species or the layout check instead (no decoding error)."""
    text = b"2\n" + HEAD.encode() + b"Properties=species:S:1:pos:R:3\n" + \
        b"Si  1.0  0.0  0.0\n" + row + b"\n"
    (tmp_path / "first.xyz").write_bytes(text)
    (tmp_path / "alone.xyz").write_bytes(text.replace(b"Si  1.0  0.0  0.0\n", b"", 1)
                                         .replace(b"2\n", b"1\n", 1))
    assert read_configs([str(tmp_path / "first.xyz"), str(tmp_path / "alone.xyz")]) == \
        [None, None]


def test_properties_that_differ_only_in_numbers_are_different_shapes(tmp_path):
    """Two files whose comment lines differ only in the numbers of Properties (column
    counts) have different columns: the second is not read with the first one's."""
    rows = "".join("Si " + " ".join(f"{0.1 * (k + c): .4e}" for c in range(9)) + "\n"
                   for k in range(2))
    paths = []
    for name, props in (("a", "species:S:1:pos:R:3:aux:R:1:force:R:3:w:R:2"),
                        ("b", "species:S:1:pos:R:3:aux:R:2:force:R:3:w:R:1")):
        (tmp_path / f"{name}.xyz").write_text(f"2\n{HEAD}Properties={props}\n{rows}")
        paths.append(str(tmp_path / f"{name}.xyz"))
    got = read_configs(paths)
    for path, c in zip(paths, got):
        assert_same(c, read_extxyz(path))
    # the first force value: value 5 of b's row (after pos and two aux), value 4 of a's
    assert got[1].forces[0, 0] == 0.5 and got[0].forces[0, 0] == 0.4
