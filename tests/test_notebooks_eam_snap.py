"""The EAM and SNAP notebooks run top to bottom; their cells assert the fits, the
recovered properties and the exported KIM models."""

import re

import pytest
from test_notebooks_fit import outputs, run_notebook


@pytest.mark.slow
@pytest.mark.kim
def test_eam_notebook(tmp_path):
    text = outputs(run_notebook("09_eam.ipynb", tmp_path))
    rmse = re.search(r"energy RMSE ([0-9.]+) meV/atom, force RMSE ([0-9.]+) meV/A", text)
    assert rmse and float(rmse.group(1)) < 1.0 and float(rmse.group(2)) < 6.0
    for prop in ("a ", "E_coh", "B ", "C11", "C12", "C44", "E_vac"):
        line = next(ln for ln in text.splitlines() if ln.startswith(prop))
        assert abs(float(line.split()[-2])) < (2.0 if prop == "E_vac" else 0.5), line
    assert "exact: True" in text
    setfl = tmp_path / "EAM_Al_fit__MO_000000000000_000" / "EAM_Al_fit__MO_000000000000_000.eam.alloy"
    assert setfl.read_text().splitlines()[4].split()[:3] == ["61", repr(1.2 / 60), "125"]
    assert (tmp_path / "eam_al.yaml").exists() and (tmp_path / "eam_functions.png").exists()


@pytest.mark.slow
@pytest.mark.kim
def test_snap_notebook(tmp_path):
    text = outputs(run_notebook("10_snap.ipynb", tmp_path))
    held = re.search(r"held-out +energy RMSE +([0-9.]+) meV/atom +force RMSE ([0-9.]+) eV/A", text)
    assert held and float(held.group(1)) < 20.0 and float(held.group(2)) < 0.3
    a = float(re.search(r"a = ([0-9.]+) A", text).group(1))
    assert 5.35 < a < 5.55
    diff = float(re.search(r"largest difference ([0-9.e+-]+)", text).group(1))
    assert diff < 1e-8
    kim = tmp_path / "SNAP_Si_fit__MO_000000000000_000"
    assert "twojmax 6" in (kim / "SNAP_Si_fit__MO_000000000000_000.snapparam").read_text()
