"""EAM written as KIM models: the EAM_CubicNaturalSpline model reproduces our energies and
forces exactly (kimpy and LAMMPS to 1e-8), the EAM_Dynamo table within its reported
tabulation error; the setfl file layout."""

from __future__ import annotations

import os

import numpy as np
import pytest
from test_engine_eam import AL_KIM, fcc
from test_kim_export_lammps import LMP, run_lammps

from workbench.models.eam import EAM
from workbench.models.kim_export_eam import dynamo_interpolate

kimpy = pytest.importorskip("kimpy")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("eam-export")
    old = os.getcwd()
    os.chdir(path)
    yield path
    os.chdir(old)


@pytest.fixture(scope="module")
def collection(workdir):
    from workbench.models.kim_collections import PrivateCollection

    with PrivateCollection(workdir / "collection") as col:
        yield col


def coarse_al():
    """Al EAM on 30 radial and 25 density knots fitted to the Ercolessi-Adams tables,
    then moved off them (so nothing of the KIM model is reused)."""
    rc = 5.558054418218096
    knots = {"F_Al": np.linspace(0.0, 1.2, 25), "rho_Al": np.linspace(0.0, rc, 30),
             "rphi_Al_Al": np.linspace(0.0, rc, 30)}
    model = EAM.from_kim(AL_KIM, knots=knots)
    rng = np.random.default_rng(4)
    for name, p in model.model_params.items():
        model.set_param_value(name, p.value * (1 + 0.02 * rng.normal(size=len(p))))
    return model


@pytest.fixture(scope="module")
def configs():
    return [fcc(4.05, (2, 2, 2), 0.1, 5, "Al", tilt=0.3), fcc(4.0, (3, 2, 2), 0.05, 6, "Al")]


@pytest.mark.kim
@pytest.mark.lammps
def test_spline_driver_model_is_exact_in_kimpy_and_lammps(collection, configs, workdir):
    from workbench.models.kim import KIMModel

    model = coarse_al()
    name = "WB_EAM_Al__MO_000000000000_000"
    path = model.write_kim_model(workdir / name)
    assert model.export_report["exact"] and model.export_report["Nr"] == 30
    setfl = (path / f"{name}.eam.alloy").read_text().splitlines()
    assert setfl[3] == "1 Al"
    assert setfl[4].split()[:4] == ["25", repr(1.2 / 24), "30", repr(5.558054418218096 / 29)]
    assert 'DRIVER_NAME "EAM_CubicNaturalSpline__MD_853402641673_002"' in (
        path / "CMakeLists.txt").read_text()
    collection.install(path)
    ours = model.compute(model.prepare(configs), forces=True)
    kim = KIMModel(name)
    ref = kim.compute(kim.prepare(configs), forces=True)
    np.testing.assert_allclose(ref.energy, ours.energy, rtol=1e-8)
    np.testing.assert_allclose(ref.forces, ours.forces, rtol=0, atol=1e-8)
    assert np.abs(ours.forces).max() > 0.1
    offsets = np.cumsum([0] + [len(c.species) for c in configs])
    for k, conf in enumerate(configs):
        e, f = run_lammps(name, conf, collection.env, workdir / "lmp" / f"s{k}")
        assert e == pytest.approx(ours.energy[k], rel=1e-8)
        np.testing.assert_allclose(f, ours.forces[offsets[k]:offsets[k + 1]], rtol=0,
                                   atol=1e-8)


@pytest.mark.kim
@pytest.mark.lammps
def test_dynamo_table_reports_its_tabulation_error(collection, configs, workdir):
    from workbench.models.kim import KIMModel

    model = coarse_al()
    name = "WB_EAMDynamo_Al__MO_000000000000_000"
    path = model.write_kim_model(workdir / name, driver="dynamo", n_table=3001)
    report = model.export_report
    assert not report["exact"] and report["Nr"] == 3001
    errs = report["max_error"]
    assert set(errs) == {"F_Al", "rho_Al", "rphi_Al_Al"}
    assert 0 < max(errs.values()) < 1e-5
    assert f"max tabulation error {max(errs.values()):.3e}" in (
        path / f"{name}.eam.alloy").read_text()
    collection.install(path)
    ours = model.compute(model.prepare(configs), forces=True)
    kim = KIMModel(name)
    ref = kim.compute(kim.prepare(configs), forces=True)
    np.testing.assert_allclose(ref.energy, ours.energy, rtol=1e-6)
    np.testing.assert_allclose(ref.forces, ours.forces, rtol=0, atol=1e-4)
    e, f = run_lammps(name, configs[0], collection.env, workdir / "lmp" / "dyn")
    assert e == pytest.approx(ref.energy[0], rel=1e-10)


def test_non_uniform_knots_are_resampled_with_their_error(tmp_path):
    model = EAM(("Cu",), knots={"rho_Cu": [0.0, 1.0, 2.5, 3.0, 3.6, 4.21188154213767]})
    path = model.write_kim_model(tmp_path / "Cu__MO_000000000000_000", n_table=801)
    report = model.export_report
    assert report["Nr"] == 801 and report["max_error"]["F_Cu"] == 0.0
    assert 0 < report["max_error"]["rho_Cu"] < 1e-3
    lines = (path / "Cu__MO_000000000000_000.eam.alloy").read_text().splitlines()
    assert lines[3] == "1 Cu" and lines[5].split()[0] == "29"


def test_dynamo_interpolation_reproduces_cubics():
    h = 0.1
    x = np.arange(40) * h
    f = 0.3 * x ** 3 - x ** 2 + 2 * x - 1
    t = np.linspace(0.5, 3.2, 57)
    np.testing.assert_allclose(dynamo_interpolate(f, h, t),
                               0.3 * t ** 3 - t ** 2 + 2 * t - 1, atol=1e-12)
    assert os.path.exists(LMP)
