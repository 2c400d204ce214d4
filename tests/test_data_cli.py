"""``workbench dataset`` / ``workbench demo`` and the split functions."""

import pytest

from workbench.cli import main
from workbench.data import Dataset
from workbench.data.split import random_split, split_by_pattern
from workbench.errors import DatasetError


def test_count_tree(si_path, capsys):
    assert main(["dataset", "--count", str(si_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == 'Notation: "-dir_name (a/b)"'
    assert out[-3:] == ["-Si_training_set (0/1000)", "  -NVT_runs (600/600)",
                        "  -varying_alat (400/400)"]


def test_count_nested(tmp_path, capsys):
    (tmp_path / "top" / "a" / "b").mkdir(parents=True)
    for rel in ("top/x.xyz", "top/a/y.xyz", "top/a/b/z.xyz", "top/a/b/w.xyz", "top/a/n.txt"):
        (tmp_path / rel).write_text("")
    assert main(["dataset", "--count", str(tmp_path / "top")]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "-top (1/4)", "  -a (1/3)", "    -b (2/2)"]


def test_split_cli(tmp_path, sic_path, capsys):
    out = tmp_path / "split"
    assert main(["dataset", "--split", str(sic_path), "--fraction", "0.8", "--seed", "0",
                 "--out", str(out)]) == 0
    assert "wrote 8 configurations" in capsys.readouterr().out
    train = sorted(p.name for p in (out / "train").glob("*.xyz"))
    test = sorted(p.name for p in (out / "test").glob("*.xyz"))
    assert len(train) == 8 and len(test) == 2
    assert sorted(train + test) == sorted(p.name for p in sic_path.glob("*.xyz"))
    for name in test:
        assert (out / "test" / name).read_bytes() == (sic_path / name).read_bytes()
    # deterministic for a seed; refuses to overwrite without --force
    assert main(["dataset", "--split", str(sic_path), "--out", str(out)]) == 2
    assert "output exists and is not empty" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "test").glob("*.xyz")) == test
    assert main(["dataset", "--split", str(sic_path), "--seed", "0", "--fraction", "0.8",
                 "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in (out / "test").glob("*.xyz")) == test
    assert [p.name for p in tmp_path.iterdir()] == ["split"]  # no staging left behind


def test_split_cli_keeps_subdirectories(tmp_path, si_path):
    out = tmp_path / "s"
    assert main(["dataset", "--split", str(si_path), "--pattern", "*varying_alat*",
                 "--out", str(out)]) == 0
    assert len(list((out / "test" / "varying_alat").glob("*.xyz"))) == 400
    assert len(list((out / "train" / "NVT_runs").glob("*.xyz"))) == 600
    assert not (out / "train" / "varying_alat").exists()


def test_random_and_pattern_split(sic_path):
    ds = Dataset(sic_path)
    a_train, a_test = random_split(ds, 0.7, seed=5)
    b_train, b_test = random_split(ds, 0.7, seed=5)
    assert [c.identifier for c in a_test] == [c.identifier for c in b_test]
    assert len(a_train) == 7 and len(a_test) == 3
    assert {c.identifier for c in a_train} | {c.identifier for c in a_test} == \
        {c.identifier for c in ds}
    seeds = {tuple(c.identifier for c in random_split(ds, 0.7, seed=s)[1]) for s in range(6)}
    assert len(seeds) > 1
    hit, rest = split_by_pattern(ds, r"step5[4-7]00\.xyz$", regex=True)
    assert sorted(c.path.name for c in hit) == ["T300_step5400.xyz", "T300_step5500.xyz",
                                                "T300_step5600.xyz", "T300_step5700.xyz"]
    assert len(rest) == 6
    with pytest.raises(DatasetError, match="fraction=1.5"):
        random_split(ds, 1.5)


def test_demo_summary(capsys):
    assert main(["demo", "--summary-only", "--data", "SiC"]) == 0
    out = capsys.readouterr().out
    assert "10 configurations" in out
    assert "atoms: 640 total, 64-64 per configuration" in out
    assert "species: C 41, Si 599" in out  # counted with awk over the files
    assert "max |force|:" in out


def test_demo_summarises_the_data_it_fits_and_reaches_the_published_minimum(tmp_path, capsys):
    import re

    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    summary, fitting = out.index("1000 configurations in "), out.index("fitting 3 parameters")
    assert summary < fitting
    assert "  NVT_runs: 600\n  varying_alat: 400\n" in out
    assert "atoms: 58400 total, 8-64 per configuration" in out
    final = float(re.search(r"final loss = (\S+)", out).group(1))
    assert final == pytest.approx(0.6940780, abs=5e-8)  # the published minimum
    for name in ("model.yaml", "report.html"):
        assert (tmp_path / "demo" / name).is_file()


def test_bad_data_exit_code(tmp_path, capsys):
    (tmp_path / "a.xyz").write_text("x\n")
    (tmp_path / "b.xyz").write_text("")
    assert main(["dataset", "--split", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "2 file(s) could not be read" in err and "a.xyz, line 1" in err
