"""EnergyForcesRMSE against a hand computation, its report, difference files and table."""

import os

import numpy as np
import pytest

from workbench.analysis import EnergyForcesRMSE
from workbench.data import read_config
from workbench.fit.calculator import Calculator
from workbench.models import StillingerWeber


@pytest.fixture(scope="module")
def calc(si_path):
    files = sorted((si_path / "varying_alat").glob("*.xyz"))[:3]
    files += sorted((si_path / "NVT_runs").rglob("*.xyz"))[:2]
    configs = [read_config(f) for f in files]
    model = StillingerWeber(["Si"])
    model.set_opt_params(A=[[14.9386]], B=[[0.5874]], gamma=[[2.20146]])
    c = Calculator(model)
    c.create(configs)
    return c


def hand(calc, normalize):
    en, fn, fmax = [], [], []
    for k, conf in enumerate(calc.configs):
        n = conf.get_num_atoms() if normalize else 1
        e = calc.get_energy(k)
        f = calc.get_forces(k)
        en.append(abs(e - conf.energy) / n)
        d = f - conf.forces
        fn.append(np.sqrt(np.sum(d * d)) / n)
        fmax.append(max(np.sqrt(np.sum(d * d, axis=1))))
    return np.array(en), np.array(fn), np.array(fmax)


@pytest.mark.parametrize("normalize", [True, False])
def test_rmse_matches_hand_computation(calc, normalize, capsys):
    r = EnergyForcesRMSE(calc)
    e_rmse, f_rmse = r.run(normalize=normalize, verbose=0)
    en, fn, fmax = hand(calc, normalize)
    np.testing.assert_allclose(r.energy_norm, en, rtol=1e-12)
    np.testing.assert_allclose(r.forces_norm, fn, rtol=1e-12)
    np.testing.assert_allclose(r.max_atom_force_error, fmax, rtol=1e-12)
    assert e_rmse == pytest.approx(np.sqrt(np.mean(en ** 2)), rel=1e-12)
    assert f_rmse == pytest.approx(np.sqrt(np.mean(fn ** 2)), rel=1e-12)
    out = capsys.readouterr().out
    assert f"{e_rmse:.10e}    # energy RMSE" in out
    assert "Per configuration" not in out
    # the 64-atom MD snapshots and the 8-atom crystals differ in size
    assert sorted(set(r.natoms.tolist())) == [8, 64]


def test_sorted_table_and_file(calc, tmp_path):
    r = EnergyForcesRMSE(calc)
    out = tmp_path / "rmse.txt"
    r.run(sort="forces", path=out, verbose=1)
    text = out.read_text()
    rows = [ln for ln in text.splitlines() if ln[:1].isdigit() and "#" not in ln]
    assert len(rows) == 5
    fvals = [float(ln.split()[2]) for ln in rows]
    assert fvals == sorted(fvals)
    ids = [ln.split()[3] for ln in rows]
    order = np.argsort(r.forces_norm)
    assert ids == [r.identifiers[k] for k in order]


def test_verbose2_writes_differences(calc, tmp_path):
    r = EnergyForcesRMSE(calc)
    r.run(path=tmp_path / "report.txt", verbose=2)
    files = sorted((tmp_path / "analysis_energy_forces_RMSE-difference").rglob("*.xyz"))
    assert len(files) == 5
    assert {f.parent.name for f in files} >= {"varying_alat"}
    common = os.path.commonpath([str(c.path.resolve()) for c in calc.configs])
    for k, conf in enumerate(calc.configs):
        rel = conf.path.resolve().relative_to(common)
        d = read_config(tmp_path / "analysis_energy_forces_RMSE-difference" / rel)
        np.testing.assert_allclose(d.forces, calc.get_forces(k) - conf.forces, atol=1e-14)
        assert d.energy == pytest.approx(calc.get_energy(k) - conf.energy, abs=1e-12)
        np.testing.assert_allclose(d.coords, conf.coords)


def test_dataframe_and_errors(calc):
    r = EnergyForcesRMSE(calc)
    df = r.to_dataframe()
    assert list(df.columns) == ["identifier", "natoms", "energy_error", "force_error",
                                "max_atom_force_error", "weight"]
    en, fn, fmax = hand(calc, True)
    np.testing.assert_allclose(df["force_error"], fn, rtol=1e-12)
    np.testing.assert_allclose(df["energy_error"], en, rtol=1e-12)
    assert df["weight"].tolist() == [1.0] * 5
    with pytest.raises(ValueError, match="sort must be"):
        r.run(sort="stress", verbose=1)
    with pytest.raises(ValueError, match="both False"):
        EnergyForcesRMSE(calc, energy=False, forces=False)


def test_kliff_alias_module():
    import workbench.analyzers as A

    assert A.EnergyForcesRMSE is EnergyForcesRMSE
    from workbench.analysis import Fisher

    assert A.Fisher is Fisher


def test_missing_reference_named(si_path):
    conf = read_config(sorted((si_path / "varying_alat").glob("*.xyz"))[0])
    conf.energy = None
    calc = Calculator(StillingerWeber(["Si"]))
    calc.create([conf], use_energy=False)
    with pytest.raises(ValueError, match="no reference energy"):
        EnergyForcesRMSE(calc).run(verbose=0)
    e, f = EnergyForcesRMSE(calc, energy=False).run(verbose=0)
    assert e is None and f > 0
