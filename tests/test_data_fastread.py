"""The batch reader (workbench.data._fastread/_fastparse/_fastnum) against the careful reader and
Python's float(): same values bit for bit, and every doubtful file left to the careful one."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from workbench.data._fastnum import _number
from workbench.data._fastread import read_configs
from workbench.data.dataset import _find_file_names
from workbench.data.extxyz import format_extxyz, read_extxyz

MALFORMED = Path(__file__).parent / "data" / "malformed"


def number(text):
    b = np.frombuffer(text.encode(), np.uint8)
    return _number(b, 0, b.size)


def bits(x):
    return np.asarray(x, np.float64).view(np.uint64).tolist()


@pytest.mark.parametrize("text,kind", [
    ("1.17092e+01", 0), ("-0.00000e+00", 0), ("-0.0", 0), ("0e999", 0), ("1.", 0), (".5", 0),
    ("+.5e+3", 0), ("-8.65974e-15", 0), ("9007199254740992", 0), ("1e22", 0), ("1e-22", 0),
    ("1e-23", 1), ("6.93889e-18", 1), ("9007199254740993", 1), ("0.1234567890123456789", 1),
    ("1e1000000", 1), ("1e", 2), ("e5", 2), ("1.2.3", 2), ("nan", 2), ("inf", 2), ("1_0", 2),
    ("--1", 2), ("1e+", 2), (".", 2), ("0x10", 2)])
def test_number_kinds(text, kind):
    v, k = number(text)
    assert k == kind
    if k == 0:
        assert bits(v) == bits(float(text))
    if k == 1:
        float(text)  # a plain decimal Python reads


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(0, 17),
       st.sampled_from(["r", "e", "f"]))
def test_number_matches_float(x, prec, style):
    text = repr(x) if style == "r" else f"{x:.{prec}{style}}"
    v, k = number(text)
    assert k in (0, 1)
    if k == 0:
        assert bits(v) == bits(float(text))


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[+-]?[0-9]{0,12}(\.[0-9]{0,12})?([eE][+-]?[0-9]{1,3})?", fullmatch=True))
def test_number_on_random_decimals(text):
    v, k = number(text) if text else (0.0, 2)
    try:
        ref = float(text)
    except ValueError:
        assert k == 2
        return
    assert k in (0, 1)
    if k == 0:
        assert bits(v) == bits(ref)


def assert_same(c, d):
    assert bits(c.cell) == bits(d["cell"]) and bits(c.coords) == bits(d["coords"])
    for key in ("forces", "stress"):
        got = getattr(c, key)
        assert (got is None and d[key] is None) or bits(got) == bits(d[key])
    assert c.species == d["species"] and c.PBC == d["PBC"]
    assert (c.energy is None and d["energy"] is None) or bits(c.energy) == bits(d["energy"])


def test_bundled_sets_match_careful_reader(si_path, si4_path, sic_path):
    files = _find_file_names(si_path)[::20] + _find_file_names(si4_path) + \
        _find_file_names(sic_path)
    got = read_configs(files)
    assert None not in got
    for f, c in zip(files, got):
        assert_same(c, read_extxyz(f))
        assert c.identifier == f and c.path == Path(f)
    assert got[0].coords.flags.c_contiguous and got[0].cell.shape == (3, 3)


def test_malformed_corpus_left_to_careful_reader():
    files = sorted(str(p) for p in MALFORMED.glob("*.xyz"))
    assert len(files) >= 15
    assert read_configs(files) == [None] * len(files)


HEAD = 'Lattice="4 0 0 0 4 0 0 0 4" PBC="1 1 1" Energy=-1.5 '
ROWS = "Si 0.0 0.0 0.0 1e-30 0.5 0.25\nC 2.0 2.0 2.0 -1e-30 -0.5 -0.25\n"
DIALECTS = {  # name: (text, read by the batch reader?)
    "plain": ("2\n" + HEAD + "Properties=species:S:1:pos:R:3:force:R:3\n" + ROWS, True),
    "crlf": (("2\n" + HEAD + "Properties=species:S:1:pos:R:3:force:R:3\n" + ROWS)
             .replace("\n", "\r\n"), True),
    "ase_columns": ('2\nLattice="4 0 0 0 4 0 0 0 4" energy=2.0 stress="1 2 3 4 5 6 7 8 9" '
                    'pbc="T F T" Properties=species:S:1:pos:R:3:tags:I:1:forces:R:3\n'
                    "Si 0 0 0 7 1 2 3\nC 1 1 1 8 4 5 6\n", True),
    "no_lattice": ("2\nProperties=species:S:1:pos:R:3\nSi 0 0 0\nC 1.5 0 0\n\n  \n", True),
    "long_mantissas": ("2\n" + HEAD + "Properties=species:S:1:pos:R:3\n"
                       "Si 0.1234567890123456789 1e-320 3\nC 1 2 3\n", True),
    "duplicate_key": ("2\n" + HEAD + "energy=1 Properties=species:S:1:pos:R:3:force:R:3\n"
                      + ROWS, False),
    "bare_flag": ("2\n" + HEAD + "is_ok Properties=species:S:1:pos:R:3:force:R:3\n" + ROWS,
                  False),
    "nan_in_unused_column": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3:q:R:1\n"
                             "Si 0 0 0 nan\n", True),
    "unicode_comment": ("1\n" + HEAD + 'note="Å" Properties=species:S:1:pos:R:3\nSi 0 0 0\n',
                        False),
    "no_final_newline": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 0 0 0.5", True),
    "glued_token": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 0 0 0.5x\n", False),
    "comma_in_row": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 0,0 0 0.5\n", False),
    "long_symbol": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSiCa 0 0 0\n", False),
    "lone_cr": ("1\r" + HEAD + "Properties=species:S:1:pos:R:3\nSi 0 0 0\n", False),
    "overflow_to_inf": ("1\n" + HEAD + "Properties=species:S:1:pos:R:3\nSi 1e400 0 0\n", False),
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
    assert got[2].stress.tolist() == [1.0, 5.0, 9.0, 6.0, 3.0, 2.0]
    assert got[2].PBC == [True, False, True] and got[0].forces[0, 0] == 1e-30


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
    (c,) = read_configs([str(path)])
    assert c is not None
    assert_same(c, read_extxyz(path))
    assert bits(c.coords) == bits(vals[:, :3]) and bits(c.forces) == bits(vals[:, 3:])
