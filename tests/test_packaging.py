"""Packaging: bundled notebooks, the conda environment file, the version, the message a KIM
call gives without kim-api, and docstrings on the KLIFF-shaped public API."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import workbench
from workbench import resources
from workbench.cli import main
from workbench.errors import WorkbenchError

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))

#: pip name -> conda-forge name(s) where they differ
CONDA_NAMES = {"torch": ["pytorch"], "dask": ["dask", "distributed"]}


def _requirement_name(req: str) -> tuple[str, str]:
    """('name', 'spec') of a PEP 508 requirement string (extras dropped)."""
    m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$", req.strip())
    return m.group(1).lower(), m.group(3).strip()


def test_bundled_notebooks_are_the_source_notebooks():
    names = [p.name for p in resources.notebooks()]
    assert sorted(names) == TUTORIALS
    assert names[-1] == "workbench.ipynb"
    assert resources.notebook("02_stillinger_weber").read_bytes() == \
        (ROOT / "notebooks" / "02_stillinger_weber.ipynb").read_bytes()
    with pytest.raises(WorkbenchError, match="no bundled notebook 'nope.ipynb'; available: 01_"):
        resources.notebook("nope")


def test_copy_notebooks_never_overwrites_the_users_copy(tmp_path):
    dest = tmp_path / "mine"
    copied, kept = resources.copy_notebooks(dest)
    assert sorted(p.name for p in copied) == TUTORIALS and kept == []
    edited = dest / "01_lennard_jones.ipynb"
    edited.write_text("my edits")
    copied, kept = resources.copy_notebooks(dest)
    assert copied == [] and sorted(p.name for p in kept) == TUTORIALS
    assert edited.read_text() == "my edits"


def test_notebooks_command(tmp_path, capsys):
    assert main(["notebooks", str(tmp_path / "nb")]) == 0
    out = capsys.readouterr().out
    assert out.count("copied  ") == len(TUTORIALS)
    assert main(["notebooks", str(tmp_path / "nb")]) == 0
    assert capsys.readouterr().out.count("not overwritten") == len(TUTORIALS)
    assert main(["notebooks", "--list", "x"]) == 0
    assert capsys.readouterr().out.split() == [p.name for p in resources.notebooks()]
    assert main(["notebooks"]) == 2
    assert "workbench notebooks DIR" in capsys.readouterr().err


def test_lab_copies_the_workbench_notebook_into_an_empty_directory(tmp_path, monkeypatch):
    from workbench.cli.lab import find_notebook

    monkeypatch.chdir(tmp_path)
    path = find_notebook(None)
    assert path == tmp_path / "workbench.ipynb"
    assert path.read_bytes() == (ROOT / "notebooks" / "workbench.ipynb").read_bytes()
    path.write_text('{"edited": true}')
    assert find_notebook(None) == path and path.read_text() == '{"edited": true}'


def test_version_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"workbench {workbench.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+)?", workbench.__version__)


def test_pyproject_license_is_an_spdx_expression():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "LGPL-2.1-or-later"
    assert project["license-files"] == ["LICENSE"]
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE").read_text()
    assert "Version 2.1" in (ROOT / "LICENSE").read_text()
    assert any(c.startswith("Topic :: Scientific/Engineering") for c in project["classifiers"])
    assert {"Documentation", "Source", "Changelog"} <= set(project["urls"])
    assert (ROOT / "workbench" / "py.typed").exists()
    assert f"## {workbench.__version__.split('.dev')[0]}" in (ROOT / "CHANGELOG.md").read_text()


def test_environment_yml_lists_every_runtime_dependency():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "potential-workbench"
    assert env["channels"] == ["conda-forge"]
    conda = {}
    entries = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the pip: subsection, installed by pip inside the env
            entries += dep["pip"]
        else:
            entries.append(dep)
    for dep in entries:
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", dep)
        conda[m.group(1).lower()] = m.group(2)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = project["dependencies"] + project["optional-dependencies"]["kim"]
    missing = []
    for req in runtime:
        name, spec = _requirement_name(req)
        for conda_name in CONDA_NAMES.get(name, [name]):
            if conda_name not in conda:
                missing.append(conda_name)
            elif spec.startswith("=="):  # exact pins must agree
                assert conda[conda_name].startswith("=" + spec[2:]), (conda_name, spec)
    assert missing == []
    # the parts pip cannot install come with the conda environment
    assert {"kim-api", "kimpy", "openkim-models", "lammps", "python"} <= set(conda)


def test_kim_call_without_kim_api_says_what_to_install():
    code = (
        "import sys; sys.modules['kimpy'] = None\n"
        "from workbench.models import KIMModel, StillingerWeber\n"
        "from workbench.errors import KIMError\n"
        "m = StillingerWeber(); assert m.get_supported_species()\n"
        "try:\n"
        "    KIMModel('SW_StillingerWeber_1985_Si__MO_405512056662_005')\n"
        "except KIMError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert out.startswith("KIMModel needs kim-api and its Python bindings kimpy")
    assert "pip install 'potential-workbench[kim]'" in out
    assert "conda-forge kim-api openkim-models kimpy" in out


# The names a KLIFF user script imports (through workbench's KLIFF-shaped paths).
KLIFF_SHAPED = [
    ("workbench.dataset", ["Dataset", "Configuration", "Weight", "MagnitudeInverseWeight",
                           "read_config", "write_config"]),
    ("workbench.models", ["Parameter", "LogParameterTransform", "LennardJones", "Morse",
                          "StillingerWeber", "Tersoff", "KIMModel", "write_kim_model",
                          "load_model"]),
    ("workbench.calculators", ["Calculator"]),
    ("workbench.loss", ["Loss", "energy_forces_residual", "energy_residual",
                        "forces_residual"]),
    ("workbench.analyzers", ["EnergyForcesRMSE", "Fisher"]),
    ("workbench.descriptors", ["SymmetryFunction", "Bispectrum"]),
    ("workbench", ["NeuralNetwork", "LinearRegression", "CalculatorTorch", "FitSession",
                   "Workbench"]),
]


def _public_methods(cls):
    for name, member in vars(cls).items():
        if name.startswith("_") or not callable(member):
            continue
        yield name, member


def test_kliff_shaped_public_api_has_docstrings():
    import importlib

    undocumented = []
    for module_name, names in KLIFF_SHAPED:
        module = importlib.import_module(module_name)
        for name in names:
            obj = getattr(module, name)
            if len((inspect.getdoc(obj) or "").strip()) < 20:
                undocumented.append(f"{module_name}.{name}")
            if inspect.isclass(obj):
                for meth_name, meth in _public_methods(obj):
                    if len((inspect.getdoc(meth) or "").strip()) < 10:
                        undocumented.append(f"{module_name}.{name}.{meth_name}")
    assert undocumented == []
