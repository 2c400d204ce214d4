"""Every malformed file of tests/data/malformed raises a DatasetError naming file and line."""

from pathlib import Path

import pytest

from workbench.data import Dataset, read_config
from workbench.errors import DatasetError, DatasetErrors

MALFORMED = Path(__file__).parent / "data" / "malformed"

# file -> (line, fragment of the message)
EXPECTED = {
    "bad_atom_count.xyz": (1, "expected the number of atoms (an integer) on line 1"),
    "binary_garbage.xyz": (4, "binary data (NUL byte)"),
    "empty.xyz": (1, "empty file"),
    "energy_non_numeric.xyz": (2, "Energy value 'abc' is not numeric"),
    "extra_column.xyz": (4, "extra columns: found 8 columns; expected 7"),
    "forces_wrong_shape.xyz": (2, "forces of wrong shape"),
    "header_only.xyz": (2, "truncated file: it ends after the comment line"),
    "inf_coord.xyz": (3, "coordinates contain NaN or inf"),
    "lattice_eight_values.xyz": (2, "Lattice has 6 values; expected 9 numbers"),
    "left_handed_cell.xyz": (2, "left-handed cell"),
    "missing_column.xyz": (4, "missing columns: found 6 columns; expected 7"),
    "nan_force.xyz": (4, "forces contain NaN or inf"),
    "non_numeric_coord.xyz": (4, "non-numeric value 'abc' in the coordinates"),
    "pbc_two_flags.xyz": (2, "expected three flags of 1/0 or T/F"),
    "periodic_without_lattice.xyz": (2, "periodic but no Lattice is given"),
    "properties_malformed.xyz": (2, "expected name:type:count triplets"),
    "properties_mismatch.xyz": (3, "declares 4 columns but every atom line has 7"),
    "singular_cell.xyz": (2, "singular cell"),
    "stress_five_values.xyz": (2, "Stress has 5 values; expected 6 or 9 numbers"),
    "too_few_atoms.xyz": (1, "line 1 declares 3 atoms but only 2 atom lines follow"),
    "too_many_atoms.xyz": (4, "line 1 declares 1 atoms but more atom lines follow"),
    "truncated.xyz": (4, "truncated file: line 4 is incomplete (3 of 7 columns)"),
    "two_frames.xyz": (5, "several frames"),
    "unclosed_quote.xyz": (2, "cannot parse the comment line"),
    "undecodable.xyz": (3, "undecodable byte 0xff"),
    "unknown_element.xyz": (4, "unknown element symbol 'Xx'"),
}


def test_corpus_is_complete():
    files = {p.name for p in MALFORMED.glob("*.xyz")}
    assert files == set(EXPECTED) and len(files) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_file_message(name):
    line, fragment = EXPECTED[name]
    path = MALFORMED / name
    with pytest.raises(DatasetError) as exc:
        read_config(path)
    err = exc.value
    assert err.line == line
    assert err.path == str(path)
    assert fragment in str(err)
    assert str(err).startswith(f"{path}, line {line}: ")


def test_directory_lists_all_bad_files():
    # a Dataset reads every frame of two_frames.xyz; read_config wants one configuration
    bad = sorted(set(EXPECTED) - {"two_frames.xyz"})
    with pytest.raises(DatasetErrors) as exc:
        Dataset(MALFORMED)
    errs = exc.value.errors
    assert sorted(Path(e.path).name for e in errs) == bad
    text = str(exc.value)
    assert text.startswith(f"{len(bad)} file(s) could not be read")
    for name in bad:
        assert name in text
    ds = Dataset(MALFORMED, on_error="skip")
    two = str(MALFORMED / "two_frames.xyz")
    assert [c.identifier for c in ds] == [two + "@0", two + "@1"]
    assert ds[1].coords[1].tolist() == [1.3575, 1.3575, 1.3575]


def test_skip_records_bad_files(tmp_path, si4_path, caplog):
    import shutil
    for f in sorted(si4_path.glob("*.xyz")):
        shutil.copy(f, tmp_path / f.name)
    for name in ("nan_force.xyz", "empty.xyz"):
        shutil.copy(MALFORMED / name, tmp_path / name)
    with caplog.at_level("WARNING"):
        ds = Dataset(tmp_path, on_error="skip")
    assert len(ds) == 4
    assert sorted(Path(e.path).name for e in ds.skipped) == ["empty.xyz", "nan_force.xyz"]
    assert "skipped 2 unreadable file(s)" in caplog.text and "nan_force.xyz" in caplog.text
    with pytest.raises(DatasetErrors) as exc:
        Dataset(tmp_path)
    assert len(exc.value.errors) == 2


# (two_frames.xyz is refused by read_config only: a data set reads both frames)
@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"two_frames.xyz"}))
def test_the_ase_path_gives_the_same_message(name):
    """Through ASE (``file_format="extxyz"`` or ``"ase"``) every malformed file is refused
    with the careful reader's exact message: ASE alone would read some of them silently
    (a key given twice, ``1_0``, extra columns) or say less (no line)."""
    path = MALFORMED / name
    messages = {}
    for fmt in ("xyz", "extxyz", "ase"):
        with pytest.raises((DatasetError, DatasetErrors)) as exc:
            Dataset(path, file_format=fmt)
        messages[fmt] = str(exc.value)
    assert messages["extxyz"] == messages["ase"] == messages["xyz"]
    assert messages["xyz"].startswith(f"{path}, line {EXPECTED[name][0]}: ")
