"""write_kim_model end to end: written models are built and installed into a private KIM
collection, then run in LAMMPS (Debian's lmp, KIM package) and through kimpy, and must
reproduce the workbench's own predictions."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from workbench.data.configuration import Configuration
from workbench.data.dataset import Dataset
from workbench.errors import ModelError

kimpy = pytest.importorskip("kimpy")

LMP = "/usr/bin/lmp"
SW_KIM = "SW_StillingerWeber_1985_Si__MO_405512056662_005"
TERSOFF_KIM = "Tersoff_LAMMPS_ErhartAlbe_2005_SiC__MO_903987585848_004"
# a driver without a writer of ours: exported through kim-api's WriteParameterizedModel
KP_KIM = "ThreeBodyCluster_KP_KaxirasPandey_1988_Si__MO_072486242437_000"
needs_lammps = pytest.mark.skipif(not os.path.exists(LMP), reason="needs Debian's lmp")
needs_tool = pytest.mark.skipif(shutil.which("kim-api-collections-management") is None,
                                reason="needs kim-api-collections-management")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    # kim-api writes kim.log into the working directory
    path = tmp_path_factory.mktemp("kim-export")
    old = os.getcwd()
    os.chdir(path)
    yield path
    os.chdir(old)


@pytest.fixture(scope="module")
def collection(workdir):
    from workbench.models.kim_collections import PrivateCollection

    with PrivateCollection(workdir / "collection") as col:
        yield col


@pytest.fixture(scope="module")
def si_configs(si4_path):
    confs = Dataset(si4_path).get_configs()[:2]
    rng = np.random.default_rng(11)
    a = float(np.linalg.norm(confs[0].cell[0])) / 2.0
    basis = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0],
                      [.25, .25, .25], [.25, .75, .75], [.75, .25, .75], [.75, .75, .25]])
    cell = np.eye(3) * a + rng.normal(scale=0.05, size=(3, 3))  # triclinic, rotated
    coords = (basis + rng.normal(scale=0.01, size=basis.shape)) @ cell
    confs.append(Configuration(cell, ["Si"] * 8, coords, [True] * 3, identifier="si8"))
    return confs


# ------------------------------------------------------------------ LAMMPS harness
def lammps_cell(cell):
    """LAMMPS' lower-triangular cell with the same lengths and angles as ``cell``."""
    a, b, c = np.asarray(cell, float)
    ax = np.linalg.norm(a)
    ahat = a / ax
    bx = b @ ahat
    by = np.linalg.norm(np.cross(ahat, b))
    cx = c @ ahat
    cy = (b @ c - bx * cx) / by
    cz = np.sqrt(c @ c - cx ** 2 - cy ** 2)
    return np.array([[ax, 0, 0], [bx, by, 0], [cx, cy, cz]])


def run_lammps(model_name: str, conf, env: dict, where: Path):
    """Energy and forces (in the configuration's own frame) from ``lmp``."""
    where.mkdir(parents=True, exist_ok=True)
    cell = np.asarray(conf.cell, float)
    assert np.linalg.det(cell) > 0
    L = lammps_cell(cell)
    rot = np.linalg.solve(cell, L)  # coords_lammps = coords @ rot (a rotation)
    frac = np.linalg.solve(cell.T, np.asarray(conf.coords, float).T).T % 1.0
    xyz = frac @ L
    species = sorted(set(conf.species))
    types = {s: k + 1 for k, s in enumerate(species)}
    from ase.data import atomic_masses, atomic_numbers

    masses = {s: float(atomic_masses[atomic_numbers[s]]) for s in species}
    lines = ["workbench test configuration", "", f"{len(xyz)} atoms",
             f"{len(species)} atom types", "",
             f"0.0 {float(L[0, 0])!r} xlo xhi", f"0.0 {float(L[1, 1])!r} ylo yhi",
             f"0.0 {float(L[2, 2])!r} zlo zhi",
             f"{float(L[1, 0])!r} {float(L[2, 0])!r} {float(L[2, 1])!r} xy xz yz",
             "", "Masses", ""]
    lines += [f"{types[s]} {masses[s]}" for s in species]
    lines += ["", "Atoms # atomic", ""]
    lines += [f"{i + 1} {types[s]} {float(x)!r} {float(y)!r} {float(z)!r}"
              for i, (s, (x, y, z)) in enumerate(zip(conf.species, xyz))]
    (where / "data.lmp").write_text("\n".join(lines) + "\n")
    (where / "in.lmp").write_text(f"""
kim init {model_name} metal
boundary p p p
box tilt large
read_data data.lmp
kim interactions {' '.join(species)}
thermo_style custom step pe
dump d all custom 1 forces.dump id fx fy fz
dump_modify d sort id format float %.17g
run 0
print "WB_ENERGY $(pe:%.17g)"
""")
    env = dict(env, OMP_NUM_THREADS="1")
    proc = subprocess.run([LMP, "-in", "in.lmp", "-log", "log.lammps"], cwd=where,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    energy = [float(l.split()[1]) for l in proc.stdout.splitlines()
              if l.startswith("WB_ENERGY")]
    assert len(energy) == 1, proc.stdout[-3000:]
    dump = (where / "forces.dump").read_text().splitlines()
    start = next(k for k, l in enumerate(dump) if l.startswith("ITEM: ATOMS")) + 1
    forces = np.array([[float(v) for v in l.split()[1:]] for l in dump[start:]])
    return energy[0], forces @ rot.T


# ------------------------------------------------------------ built-in models
def builtin_model(kind: str):
    """A built-in model with non-default parameters."""
    from workbench.models import builtin

    if kind == "SW":
        sw = builtin.StillingerWeber(species=["Si"])
        sw.set_opt_params(A=[[16.1]], sigma=[[2.08]], gamma=[[2.45]],
                          **{"lambda": [[41.5]]})
        return sw
    if kind in ("LJ", "LJ_shifted"):
        lj = builtin.LennardJones(species=["Si"], shifted=kind == "LJ_shifted")
        values = lj.get_params_dict()
        for name, v in (("epsilon", 0.45), ("epsilons", 0.45), ("sigma", 2.1),
                        ("sigmas", 2.1), ("cutoff", 5.3), ("cutoffs", 5.3)):
            if name in values:
                lj.set_param_value(name, np.full(len(values[name]), v))
        return lj
    tersoff = builtin.Tersoff(species=["Si"])
    tersoff.set_param_value("gamma", tersoff.model_params["gamma"].value * 1.05)
    return tersoff


def assert_same(energy, forces, ref_energy, ref_forces, what):
    assert energy == pytest.approx(ref_energy, rel=1e-8), what
    scale = np.abs(ref_forces).max()
    np.testing.assert_allclose(forces, ref_forces, rtol=1e-8, atol=1e-8 * scale,
                               err_msg=what)


@pytest.mark.kim
@pytest.mark.lammps
@needs_lammps
@needs_tool
@pytest.mark.parametrize("kind", ["SW", "LJ", "LJ_shifted", "Tersoff"])
def test_written_builtin_model_runs_in_lammps_and_kimpy(kind, collection, si_configs,
                                                         workdir):
    from workbench.models.kim import KIMModel

    model = builtin_model(kind)
    name = f"WB_{kind}_Si__MO_000000000000_000"
    path = model.write_kim_model(workdir / "written" / name)
    assert path.name == name and (path / "CMakeLists.txt").is_file()
    collection.install(path)
    assert name in collection.installed()

    ours = model.compute(model.prepare(si_configs), forces=True)
    kim = KIMModel(name)
    via_kimpy = kim.compute(kim.prepare(si_configs), forces=True)
    offsets = np.cumsum([0] + [len(c.species) for c in si_configs])
    for k, conf in enumerate(si_configs):
        ref_f = ours.forces[offsets[k]:offsets[k + 1]]
        assert_same(via_kimpy.energy[k], via_kimpy.forces[offsets[k]:offsets[k + 1]],
                    ours.energy[k], ref_f, f"{kind} via kimpy, config {k}")
        e, f = run_lammps(name, conf, collection.env, workdir / "lmp" / f"{kind}{k}")
        assert_same(e, f, ours.energy[k], ref_f, f"{kind} in LAMMPS, config {k}")


@pytest.mark.kim
@needs_tool
@pytest.mark.parametrize("source", [SW_KIM, TERSOFF_KIM, KP_KIM])
def test_written_kim_model_reproduces_its_parameters(source, collection, workdir,
                                                     si_configs, sic_path):
    from workbench.models.kim import KIMModel

    model = KIMModel(source)
    if source == SW_KIM:
        model.set_opt_params(A=[[16.0]], sigma=[[2.1]])
        configs = si_configs
    elif source == KP_KIM:
        model.set_opt_params(A1=[[57.316072 * 1.02]])
        configs = si_configs
    else:
        gamma = model.model_params["gamma"].value.copy()
        gamma[1] *= 1.1
        model.set_param_value("gamma", gamma)
        configs = Dataset(sic_path).get_configs()[:2]
    name = source.split("__")[0] + "_W__MO_000000000000_000"
    path = model.write_kim_model(workdir / "written" / name)
    collection.install(path)
    copy = KIMModel(name)
    assert copy.driver_name() == model.driver_name()
    for pname, p in model.model_params.items():
        np.testing.assert_array_equal(copy.model_params[pname].value, p.value, pname)
    cmake = (path / "CMakeLists.txt").read_text()
    assert f'DRIVER_NAME "{model.driver_name()}"' in cmake and f"project({name})" in cmake
    r0 = model.compute(model.prepare(configs), forces=True, stress=True)
    r1 = copy.compute(copy.prepare(configs), forces=True, stress=True)
    np.testing.assert_array_equal(r1.energy, r0.energy)
    np.testing.assert_array_equal(r1.forces, r0.forces)


# ------------------------------------------------------------- file contents
@pytest.mark.kim
def test_sw_parameter_file_and_cmakelists(tmp_path):
    from workbench.models.kim import KIMModel
    from workbench.models.kim_export import write_kim_model

    model = KIMModel(SW_KIM)
    model.set_opt_params(A=[[16.25]])
    path = write_kim_model(model, tmp_path / "Mine__MO_000000000000_000")
    assert sorted(p.name for p in path.iterdir()) == [
        ".workbench-kim-item", "CMakeLists.txt", "Mine__MO_000000000000_000.params"]
    params = (path / "Mine__MO_000000000000_000.params").read_text().splitlines()
    assert params[0] == "1"
    assert params[1] == ("Si Si 16.25 0.6022245584 4.0 0.0 2.0951 45.5322 2.51412 "
                         "-0.3333333333333333 3.77118")
    cmake = (path / "CMakeLists.txt").read_text()
    assert "project(Mine__MO_000000000000_000)" in cmake
    assert 'DRIVER_NAME "SW__MD_335816936951_004"' in cmake
    assert '"Mine__MO_000000000000_000.params"' in cmake
    assert "add_kim_api_model_library(" in cmake


def test_tersoff_and_lj_file_layout(tmp_path):
    from workbench.models.kim_export import (LJ_DRIVER, TERSOFF_DRIVER, TERSOFF_PAIR,
                                             TERSOFF_TRIPLET, write_driver_model)

    species = ["Si", "C"]
    values = {c: np.arange(4.0).reshape(2, 2) + 1 for c in TERSOFF_PAIR}
    values.update({c: np.full((2, 2, 2), 0.5) for c in TERSOFF_TRIPLET})
    values["m"] = np.full((2, 2, 2), 3.0)
    values["lambda1"] = np.array([[1.5, 2.5], [2.5, 3.5]])
    path = write_driver_model(tmp_path / "T__MO_000000000000_000", "x", TERSOFF_DRIVER,
                              species, values)
    assert (path / "T__MO_000000000000_000.settings").read_text() == "Si C\n"
    lines = (path / "T__MO_000000000000_000.params").read_text().splitlines()
    assert len(lines) == 8
    # e1 e2 e3 m gamma lambda3 c d h n beta lambda2 B R D lambda1 A
    assert lines[3].split() == ["Si", "C", "C", "3", "0.5", "0.5", "0.5", "0.5", "0.5",
                                "2.0", "2.0", "2.0", "2.0", "0.5", "0.5", "2.5", "2.0"]
    cmake = (path / "CMakeLists.txt").read_text()
    assert cmake.index(".settings") < cmake.index(".params")

    lj = write_driver_model(tmp_path / "L__MO_000000000000_000", "x", LJ_DRIVER, species,
                            {"cutoff": [5, 6, 7], "epsilon": [.1, .2, .3],
                             "sigma": [2, 2.5, 3]}, shift=True)
    text = (lj / "L__MO_000000000000_000.params").read_text().splitlines()
    assert text[:4] == ["2 1", "Si Si 5.0 0.1 2.0", "Si C 6.0 0.2 2.5", "C C 7.0 0.3 3.0"]

    values["m"][0, 0, 0] = 2.0
    with pytest.raises(ModelError, match="'m'.*1 or 3"):
        write_driver_model(tmp_path / "U__MO_000000000000_000", "x", TERSOFF_DRIVER,
                           species, values)


def test_names_paths_and_atomic_replacement(tmp_path, monkeypatch):
    from workbench.models.kim_export import SW_DRIVER, SW_COLUMNS, write_driver_model

    values = {c: [1.0] for c in SW_COLUMNS}
    monkeypatch.chdir(tmp_path)
    path = write_driver_model(None, "StillingerWeber_Si", SW_DRIVER, ["Si"], values)
    assert path == tmp_path / "StillingerWeber_Si__MO_000000000000_000"
    with pytest.raises(ModelError, match="not a valid C identifier"):
        write_driver_model(tmp_path / "my-model", "x", SW_DRIVER, ["Si"], values)
    # an existing model directory is replaced as a whole, nothing else is touched
    (path / "stale.txt").write_text("old")
    values["A"] = [2.0]
    with pytest.raises(ModelError, match="pass overwrite=True"):
        write_driver_model(path, "x", SW_DRIVER, ["Si"], values)
    write_driver_model(path, "x", SW_DRIVER, ["Si"], values, overwrite=True)
    assert not (path / "stale.txt").exists()
    assert "Si Si 2.0 " in (path / f"{path.name}.params").read_text()
    other = tmp_path / "Data__MO_000000000000_000"
    other.mkdir()
    (other / "results.csv").write_text("precious")
    with pytest.raises(ModelError, match="refusing to overwrite"):
        write_driver_model(other, "x", SW_DRIVER, ["Si"], values, overwrite=True)
    assert (other / "results.csv").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "Data__MO_000000000000_000", "StillingerWeber_Si__MO_000000000000_000"]


@pytest.mark.kim
def test_private_collection_leaves_the_environment_alone(tmp_path):
    from workbench.models.kim_collections import ENV_VARIABLES, PrivateCollection, list_models

    before = {k: os.environ.get(k) for k in ENV_VARIABLES}
    with PrivateCollection() as col:
        root = col.root
        assert os.environ["KIM_API_CONFIGURATION_FILE"] == str(root / "config")
        assert "portable-models-dir = " in (root / "config").read_text()
        assert col.installed() == []
        assert SW_KIM in list_models()  # the system collection is still visible
    assert {k: os.environ.get(k) for k in ENV_VARIABLES} == before
    assert not root.exists()
