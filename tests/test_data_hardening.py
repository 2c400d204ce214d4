"""Hostile input at every door data comes in by: the extended-XYZ reader, the ASE path,
Configuration and its setters, in-place edits caught at pack and fingerprint time,
coincident atoms, neighbor lists that cannot fit, directories with symbolic link loops;
and the file-format points of KLIFF parity (force spellings, 9-value stress, frames)."""

import gzip
import math
import warnings

import numpy as np
import pytest

from workbench.cli import main
from workbench.data import Configuration, Dataset, MagnitudeInverseWeight, read_config
from workbench.data.extxyz import NoForcesWarning, format_extxyz
from workbench.engine.batch import pack
from workbench.errors import DatasetError, DatasetErrors, EngineError

CELL = 'Lattice="5.43 0 0 0 5.43 0 0 0 5.43"'
ATOMS = "Si 0.0 0.0 0.0 0.1 0.2 0.3\nSi 1.3575 1.3575 1.3575 -0.1 -0.2 -0.3\n"
PROPS = "Properties=species:S:1:pos:R:3:force:R:3"


def frame(comment, atoms=ATOMS, n=2):
    return f"{n}\n{comment}\n{atoms}"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def reader_error(path):
    with pytest.raises(DatasetError) as exc:
        read_config(path)
    assert exc.value.path == str(path)
    return exc.value


# -- the extended-XYZ reader ---------------------------------------------------------------
@pytest.mark.parametrize("comment,fragment", [
    (f'{CELL} Energy=-1.0 Energy=-7.0 {PROPS}', "key 'Energy' is given twice"),
    (f'{CELL} {CELL} Energy=-1.0 {PROPS}', "key 'Lattice' is given twice"),
    (f'{CELL} energy=-1.0 Energy=-7.0 {PROPS}', "key 'Energy' is given twice on the "
                                                "comment line (also as 'energy')"),
])
def test_duplicated_keys_are_refused(tmp_path, comment, fragment):
    err = reader_error(write(tmp_path, "dup.xyz", frame(comment)))
    assert err.line == 2 and fragment in str(err)


def test_bom_is_named(tmp_path):
    p = write(tmp_path, "bom.xyz", b"\xef\xbb\xbf" + frame(f"{CELL} {PROPS}").encode())
    err = reader_error(p)
    assert err.line == 1 and "byte order mark (BOM)" in str(err)
    assert "\ufeff" not in str(err)


@pytest.mark.parametrize("token", ["1_0", "1_000.5", "\uff11.5", "0x10", "1.2.3"])
def test_only_plain_decimals_in_atom_lines(tmp_path, token):
    atoms = ATOMS.replace("0.1 0.2", f"{token} 0.2", 1)
    err = reader_error(write(tmp_path, "num.xyz", frame(f"{CELL} {PROPS}", atoms)))
    assert err.line == 3
    assert f"non-numeric value {token!r} in the forces" in str(err)
    assert "plain decimal notation" in str(err)


@pytest.mark.parametrize("value", ["1_0", "\uff12", "1_000.5"])
def test_only_plain_decimals_on_the_comment_line(tmp_path, value):
    err = reader_error(write(tmp_path, "e.xyz", frame(f"{CELL} Energy={value} {PROPS}")))
    assert err.line == 2 and f"Energy value {value!r} is not numeric" in str(err)
    p = write(tmp_path, "n.xyz", frame(f"{CELL} {PROPS}").replace("2\n", "\uff12\n", 1))
    err = reader_error(p)
    assert err.line == 1 and "expected the number of atoms" in str(err)


def test_missing_comment_line_is_reported_on_line_2(tmp_path):
    p = write(tmp_path, "nocomment.xyz", "2\n" + ATOMS)
    err = reader_error(p)
    assert err.line == 2 and "the comment line is missing" in str(err)


@pytest.mark.parametrize("char,name", [("\x0c", "U+000C"), ("\x85", "U+0085")])
def test_control_character_in_comment_is_on_line_2(tmp_path, char, name):
    p = write(tmp_path, "ff.xyz", frame(f"{CELL}{char}{PROPS}"))
    err = reader_error(p)
    assert err.line == 2 and f"control character {name} in the comment line" in str(err)
    # the atom lines keep their numbers: an error further down is still on its own line
    p = write(tmp_path, "ff2.xyz", frame(f"{PROPS}\x0c", ATOMS.replace("0.1", "abc", 1)))
    assert reader_error(p).line == 2


def test_species_x_is_refused_everywhere(tmp_path):
    p = write(tmp_path, "x.xyz", frame(f"{CELL} {PROPS}", ATOMS.replace("Si", "X", 1)))
    err = reader_error(p)
    assert err.line == 3 and "unknown element symbol 'X'" in str(err)
    with pytest.raises(DatasetError, match="configuration dummy: unknown element symbol 'X'"):
        Configuration(np.eye(3) * 5, ["X"], [[0, 0, 0]], [1, 1, 1], identifier="dummy")


def test_gzip_files_are_read(tmp_path):
    text = frame(f"{CELL} Energy=-3.5 {PROPS}")
    (tmp_path / "a.xyz.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "b.xyz").write_text(text)
    ds = Dataset(tmp_path)
    assert [c.identifier for c in ds] == [str(tmp_path / "a.xyz.gz"), str(tmp_path / "b.xyz")]
    assert ds[0].energy == -3.5 and np.array_equal(ds[0].forces, ds[1].forces)
    (tmp_path / "c.xyz.gz").write_bytes(b"not gzip")
    with pytest.raises(DatasetErrors) as exc:
        Dataset(tmp_path)
    assert "c.xyz.gz: cannot decompress it" in str(exc.value)


# -- the ASE path applies the same rules, in the same words ---------------------------------
BAD_ATOM = "Si 0.0 0.0 0.0 0.1 inf 0.3\nSi 1.3575 1.3575 1.3575 -0.1 -0.2 -0.3\n"
# name -> (comment line, atom lines, line of the defect, the message after "file, line N: ")
SAME_MESSAGE_CASES = {
    "nan_energy": (f"{CELL} energy=nan {PROPS}", ATOMS, 2,
                   "energy is nan; expected a finite number"),
    "inf_energy": (f'{CELL} PBC="T T T" Energy=-inf {PROPS}', ATOMS, 2,
                   "energy is -inf; expected a finite number"),
    "inf_forces": (f"{CELL} {PROPS}", BAD_ATOM, 3, "forces contain NaN or inf (atom 0: "
                   "0.1 inf 0.3); expected finite numbers"),
    "nan_coordinates": (f"{CELL} {PROPS}", ATOMS.replace("1.3575 -0.1", "nan -0.1"), 4,
                        "coordinates contain NaN or inf (atom 1: 1.3575 1.3575 nan); "
                        "expected finite numbers"),
    "pbc_112": (f'{CELL} PBC="1 1 2" {PROPS}', ATOMS, 2,
                "PBC='1 1 2'; expected three flags of 1/0 or T/F"),
    "pbc_two_flags": (f'{CELL} PBC="T T" {PROPS}', ATOMS, 2,
                      "PBC='T T'; expected three flags of 1/0 or T/F"),
    "singular": ('Lattice="1 0 0 2 0 0 0 0 1" ' + PROPS, ATOMS, 2,
                 "singular cell (determinant 0); expected three linearly independent "
                 "lattice vectors"),
    "left_handed": ('Lattice="5 0 0 0 5 0 0 0 -5" PBC="1 1 1" ' + PROPS, ATOMS, 2,
                    "left-handed cell (determinant -125 < 0); expected a1, a2, a3 to follow "
                    "the right-hand rule"),
    "nan_cell": ('Lattice="5 0 0 0 nan 0 0 0 5" ' + PROPS, ATOMS, 2,
                 "cell contains NaN or inf (5.0 0.0 0.0 0.0 nan 0.0 0.0 0.0 5.0); expected "
                 "finite numbers"),
    "nan_stress": (f'{CELL} stress="1 2 3 4 5 6 7 nan 9" {PROPS}', ATOMS, 2,
                   "stress contains NaN or inf (1.0 5.0 9.0 nan 7.0 4.0); expected finite "
                   "numbers"),
    "key_twice": (f"{CELL} Energy=-1.0 Energy=-7.0 {PROPS}", ATOMS, 2,
                  "key 'Energy' is given twice on the comment line (also as 'Energy'); "
                  "expected each key once"),
    "underscore_digits": (f"{CELL} Energy=1_0 {PROPS}", ATOMS, 2,
                          "Energy value '1_0' is not numeric; expected a finite number"),
    "dummy_species": (f"{CELL} {PROPS}", ATOMS.replace("Si 1.3575", "X 1.3575"), 4,
                      "unknown element symbol 'X' (atom 1); expected a chemical symbol such "
                      "as Si or C"),
}


@pytest.mark.parametrize("name", sorted(SAME_MESSAGE_CASES))
def test_both_paths_give_the_same_message(tmp_path, name):
    comment, atoms, line, message = SAME_MESSAGE_CASES[name]
    p = write(tmp_path, f"{name}.xyz", frame(comment.replace(":force:", ":forces:"), atoms))
    got = {}
    for fmt in ("xyz", "extxyz", "ase"):
        with pytest.raises(DatasetError) as exc:
            Dataset(p, file_format=fmt)
        err = exc.value
        assert (err.path, err.line) == (str(p), line), fmt
        got[fmt] = str(err)
    assert got == dict.fromkeys(got, f"{p}, line {line}: {message}")


def test_both_paths_locate_a_bad_frame_alike(tmp_path):
    good = frame(f'{CELL} PBC="1 1 1" Energy=-1.0 {PROPS}')
    bad = frame(f"{CELL} Energy=-2.0 {PROPS}", BAD_ATOM)
    p = write(tmp_path, "frames.xyz", good + good + bad)
    messages = set()
    for fmt in ("xyz", "extxyz", "ase"):
        with pytest.raises(DatasetError) as exc:
            Dataset(p, file_format=fmt)
        assert exc.value.line == 11, fmt
        messages.add(str(exc.value))
    assert messages == {f"{p}, line 11: frame 2: forces contain NaN or inf (atom 0: 0.1 inf "
                        "0.3); expected finite numbers"}
    # ASE alone would stop at the blank line (two configurations, silently): refused
    messages = set()
    for fmt in ("extxyz", "ase"):
        with pytest.raises(DatasetError) as exc:
            Dataset(write(tmp_path, "fine.xyz", good + "\n" + good), file_format=fmt)
        messages.add(str(exc.value))
    assert messages == {f"{tmp_path / 'fine.xyz'}, line 6: ASE read 1 frame(s) of the 2 this "
                        "file holds (it stops at a blank line between frames); expected "
                        "frames back to back, or read it with file_format='xyz'"}
    assert len(Dataset(tmp_path / "fine.xyz")) == 2
    # KLIFF writes PBC="1 1 1": both paths read it (ASE alone would keep it as info)
    ok = write(tmp_path, "ok.xyz", good + good.replace('"1 1 1"', '"1 1 0"'))
    for fmt in ("xyz", "extxyz", "ase"):
        assert [c.PBC for c in Dataset(ok, file_format=fmt)] == [[True] * 3,
                                                                  [True, True, False]], fmt


def test_files_without_lines_are_located_by_frame(tmp_path):
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = [read_config(write(tmp_path, "a.xyz", frame(f"{CELL} Energy=-1 {PROPS}"))
                          ).to_ase() for _ in range(2)]
    frames[1].calc = SinglePointCalculator(frames[1], energy=float("nan"),
                                           forces=frames[1].calc.results["forces"])
    p = tmp_path / "run.traj"
    ase.io.write(p, frames)
    with pytest.raises(DatasetError) as exc:
        Dataset(p, file_format="ase")
    assert exc.value.line is None
    assert str(exc.value) == f"{p}: frame 1: energy is nan; expected a finite number"
    # one ase.Atoms: the configuration is named, as its constructor names it
    with pytest.raises(DatasetError, match=r"^configuration c3: energy is nan; expected a "
                                           r"finite number$"):
        Configuration.from_ase(frames[1], identifier="c3")


# -- KLIFF parity: force spellings, 9-value stress, frames, columns that are not forces --
@pytest.mark.parametrize("name", ["force", "forces", "for", "FOR"])
def test_force_column_spellings(tmp_path, name):
    import ase.io
    p = write(tmp_path, "f.xyz", frame(f"{CELL} Energy=-1 {PROPS.replace('force', name)}"))
    want = [[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]]
    for fmt in ("xyz", "extxyz"):
        assert Dataset(p, file_format=fmt)[0].forces.tolist() == want, fmt
    if name == "for":  # what KLIFF writes: ASE keeps it as a plain array
        assert ase.io.read(p).arrays["for"].tolist() == want


def test_nine_value_stress_one_convention_checked_against_ase(tmp_path):
    import ase.io
    nine = "1.1 2.2 3.3 4.4 5.5 6.6 7.7 8.8 9.9"
    p = write(tmp_path, "s.xyz", frame(f'{CELL} energy=-1 stress="{nine}" {PROPS}'))
    expected = ase.io.read(p).get_stress().tolist()
    assert expected == [1.1, 5.5, 9.9, 8.8, 7.7, 4.4]
    for fmt in ("xyz", "extxyz", "ase"):
        assert Dataset(p, file_format=fmt)[0].stress.tolist() == expected, fmt
    # a symmetric tensor gives the upper triangle whichever way it is read
    c = Configuration(np.eye(3) * 5, ["Si"], [[0, 0, 0]], [1, 1, 1],
                      stress=[[1, 6, 5], [6, 2, 4], [5, 4, 3]])
    assert c.stress.tolist() == [1, 2, 3, 4, 5, 6]


def test_multi_frame_files_by_both_paths(tmp_path):
    body = frame(f"{CELL} Energy=-1.0 {PROPS}") + frame(f"{CELL} Energy=-2.0 {PROPS}") + \
        frame(f"{CELL} Energy=-3.0 {PROPS}")
    p = write(tmp_path, "frames.xyz", body)
    for fmt in ("xyz", "extxyz"):
        ds = Dataset(p, file_format=fmt)
        assert [c.identifier for c in ds] == [f"{p}@0", f"{p}@1", f"{p}@2"], fmt
        assert [c.energy for c in ds] == [-1.0, -2.0, -3.0]
        assert ds[2].forces.tolist() == [[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]]
    # blank lines between frames are tolerated by our reader
    blank = write(tmp_path, "blank.xyz", body.replace("-0.3\n2\n", "-0.3\n\n2\n"))
    assert [c.energy for c in Dataset(blank)] == [-1.0, -2.0, -3.0]
    bad = body.replace("Energy=-2.0", "Energy=abc")
    p = write(tmp_path, "bad.xyz", bad)
    with pytest.raises(DatasetError) as exc:
        Dataset(p)
    assert exc.value.line == 6 and "frame 1: Energy value 'abc' is not numeric" in str(exc.value)
    p = write(tmp_path, "badase.xyz", body.replace("Energy=-3.0", "energy=nan"))
    with pytest.raises(DatasetError, match=r"frame 2: energy is nan"):
        Dataset(p, file_format="extxyz")
    with pytest.raises(DatasetError, match="several frames") as exc:
        read_config(write(tmp_path, "two.xyz", body))
    assert exc.value.line == 5


def test_velocities_are_not_forces_and_say_so(tmp_path):
    props = "Properties=species:S:1:pos:R:3:velo:R:3"
    p = write(tmp_path, "v.xyz", frame(f"{CELL} Energy=-1 {props}"))
    for fmt in ("xyz", "extxyz"):
        with pytest.warns(NoForcesWarning, match=r"per-atom columns \(velo\) but no forces"):
            c = Dataset(p, file_format=fmt)[0] if fmt == "xyz" else read_config(p)
        assert c.forces is None
    p = write(tmp_path, "plain.xyz", frame(f"{CELL} Properties=species:S:1:pos:R:3",
                                           "Si 0 0 0\nSi 1 1 1\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_config(p).forces is None


# -- Configuration and its setters; in-place edits caught before use -----------------------
def si2(**kw):
    return Configuration(np.eye(3) * 5.43, ["Si", "Si"], [[0, 0, 0], [1.3, 1.3, 1.3]],
                         [1, 1, 1], **kw)


@pytest.mark.parametrize("attr,value,fragment", [
    ("energy", math.nan, "energy is nan"),
    ("forces", [[0, 0, 0], [0, math.inf, 0]],
     "forces contain NaN or inf (atom 1: 0.0 inf 0.0)"),
    ("stress", [0, 0, 0, 0, math.nan, 0], "stress contains NaN or inf (0.0 0.0 0.0 0.0 nan "
                                          "0.0)"),
    ("coords", [[0, 0, 0], [math.nan, 0, 0]], "coordinates contain NaN or inf"),
    ("cell", np.diag([5.0, 5.0, -5.0]), "left-handed cell"),
    ("cell", np.zeros((3, 3)), "singular cell"),
    ("species", ["Si", "Xx"], "unknown element symbol 'Xx' (atom 1)"),
])
def test_constructor_and_setters_validate(attr, value, fragment):
    args = {"cell": np.eye(3) * 5.43, "species": ["Si", "Si"],
            "coords": [[0, 0, 0], [1.3, 1.3, 1.3]], "PBC": [1, 1, 1]}
    args[attr] = value
    with pytest.raises(DatasetError) as exc:
        Configuration(identifier="c7", **args)
    assert str(exc.value).startswith("configuration c7: ") and fragment in str(exc.value)
    c = si2(identifier="c7")
    with pytest.raises(DatasetError) as exc:
        setattr(c, attr, value)
    assert str(exc.value).startswith("configuration c7: ") and fragment in str(exc.value)
    assert c.validate() is c and c.energy is None and np.isfinite(c.coords).all()


def test_in_place_edits_are_caught_at_pack_and_fingerprints(tmp_path):
    from workbench.descriptors import SymmetryFunction
    from workbench.ml.fingerprints import generate_fingerprints
    good, bad = si2(identifier="good"), si2()
    bad.coords[1, 0] = np.nan          # no setter sees this
    with pytest.raises(DatasetError, match=r"configuration 1 \(unnamed\): coordinates "
                                           r"contain NaN or inf \(atom 1: nan 1.3 1.3\)"):
        pack([good, bad], 3.0)
    bad.coords[1, 0] = 1.3
    bad.forces = np.zeros((2, 3))
    bad.forces[0, 2] = np.inf
    desc = SymmetryFunction(cut_name="cos", cut_dists={"Si-Si": 3.0}, hyperparams="set30")
    with pytest.raises(DatasetError, match=r"configuration 1 \(unnamed\): forces contain"):
        generate_fingerprints(desc, [good, bad], fingerprints_filename=tmp_path / "fp.pkl")
    assert not (tmp_path / "fp.pkl").exists()


def test_coincident_atoms_are_refused_at_pack():
    c = si2(identifier="dup")
    c.coords = [[0, 0, 0], [0, 0, 0.001]]
    with pytest.raises(EngineError) as exc:
        pack([si2(identifier="ok"), c], 3.0)
    assert str(exc.value).startswith("configuration 1 dup: atoms 0 and 1 are 0.001 apart")
    c.coords = [[0, 0, 0], [5.43, 0, 5.4299]]   # an atom on another's periodic image
    with pytest.raises(EngineError, match=r"atoms 0 and 1 \(periodic image \[-1, 0, -1\]\)"):
        pack([c], 3.0)


@pytest.mark.parametrize("cell,cutoff", [(np.eye(3) * 0.01, 3.0), (np.eye(3) * 5.43, 1e4)])
def test_hopeless_neighbor_lists_are_refused_before_allocating(cell, cutoff):
    c = Configuration(cell, ["Si"], [[0, 0, 0]], [1, 1, 1], identifier="tiny")
    with pytest.raises(EngineError) as exc:
        pack([c], cutoff)
    msg = str(exc.value)
    assert msg.startswith("configuration 0 (tiny): the neighbor-list cutoff ")
    assert f"cutoff {cutoff:g}" in msg and "check the model's cutoff parameter" in msg


def test_lj_cutoff_1e4_names_configuration_and_cutoff():
    from workbench.calculators import Calculator
    from workbench.models import LennardJones
    model = LennardJones(species=["Si"])
    model.set_param_value("cutoff", [1e4])
    calc = Calculator(model)
    with pytest.raises(EngineError, match=r"configuration 0 \(si\): the neighbor-list "
                                          r"cutoff 10000 would give about [0-9.e+]+ neighbors"):
        calc.create([si2(identifier="si", energy=-1.0, forces=np.zeros((2, 3)))])


def test_magnitude_inverse_weight_without_stress_is_zero():
    w = MagnitudeInverseWeight(weight_params={"stress_weight_params": [2.0, 0.5]})
    assert si2(weight=w).stress_weight == 0.0
    assert si2(weight=w, stress=np.zeros(6)).stress_weight == 0.5


# -- directories ---------------------------------------------------------------------------
def test_symlink_loops(tmp_path, capsys):
    good = write(tmp_path, "good.xyz", frame(f"{CELL} {PROPS}"))
    (tmp_path / "loop.xyz").symlink_to("loop.xyz")
    (tmp_path / "d1").symlink_to("d2")
    (tmp_path / "d2").symlink_to("d1")
    with pytest.raises(DatasetErrors) as exc:
        Dataset(tmp_path)
    text = str(exc.value)
    assert "loop.xyz: cannot resolve the symbolic link" in text and "d1" in text
    ds = Dataset(tmp_path, on_error="skip")
    assert [c.identifier for c in ds] == [str(good)]
    assert len(ds.skipped) == 3
    assert main(["dataset", "--count", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "cannot resolve the symbolic link" in err


def test_writer_output_reads_back_through_dataset(tmp_path):
    text = format_extxyz(np.eye(3) * 4, ["Si", "C"], [[0, 0, 0], [1, 1, 1]], [1, 1, 1],
                         -2.0, [[0.1, 0, 0], [-0.1, 0, 0]], [1, 2, 3, 4, 5, 6])
    p = write(tmp_path, "w.xyz", text)
    c = Dataset(p)[0]
    assert c.stress.tolist() == [1, 2, 3, 4, 5, 6] and c.species == ["Si", "C"]


def test_unnamed_configurations_are_named_by_index():
    named, unnamed = si2(identifier="mine"), si2()
    assert unnamed.describe() == "configuration" and unnamed.describe(4) == \
        "configuration 4 (unnamed)"
    ds = Dataset.from_configs([named, unnamed])
    assert [c.identifier for c in ds] == ["mine", "config_1"]
    assert repr(ds[1]).startswith("Configuration('config_1'")
    from workbench.data import Weight
    with pytest.raises(DatasetError, match=r"^configuration config_1: stress_weight has shape"):
        ds[1].weight = Weight(stress_weight=np.ones(4))


def test_pickles_round_trip_including_the_old_attribute_layout():
    import pickle
    c = si2(identifier="p", energy=-2.0)
    d = pickle.loads(pickle.dumps(c))
    assert d.identifier == "p" and d.energy == -2.0 and np.array_equal(d.coords, c.coords)
    old = Configuration.__new__(Configuration)
    old.__setstate__({"coords": np.zeros((1, 3)), "species": ["Si"], "cell": np.eye(3),
                      "PBC": [True] * 3, "energy": None, "forces": None, "stress": None,
                      "_path": None, "identifier": "old", "_weight": None})
    assert old.coords.shape == (1, 3) and old.species == ["Si"] and old.validate() is old
