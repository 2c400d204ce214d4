"""Validated properties stored with runs are compared side by side: ``workbench runs
compare`` (text and HTML) and the Runs tab show each run's latest validation, an
ensemble's as mean ± std."""

from __future__ import annotations

import re

import numpy as np
import pytest

from workbench.cli import main
from workbench.runs import RunStore
from workbench.ui.runs_panel import RunsPanel
from workbench.validation import validate

from test_runs_recording import si4_loss


def test_runs_compare_shows_validated_properties_side_by_side(tmp_path, capsys):
    store = RunStore(tmp_path / "st")
    runs, results = [], []
    for maxiter in (3, 60):
        loss, model, _ = si4_loss()
        s = loss.fit_session(options={"maxiter": maxiter}, store=store)
        s.run()
        res = validate(model, "diamond", "Si", "lattice elastic", references=False)
        store.add_result(s.run_id, "validation", res.to_dict())
        runs.append(s.run_id)
        results.append(res.values)
    assert results[0]["C11"] != pytest.approx(results[1]["C11"], rel=1e-3)
    # a third run validated with an ensemble (mean ± std), a fourth never validated
    loss, model, _ = si4_loss()
    s3 = loss.fit_session(options={"maxiter": 10}, store=store)
    s3.run()
    keys = ("lattice_constant", "C11")
    mean = {k: float(np.mean([r[k] for r in results])) for k in keys}
    std = {k: float(np.std([r[k] for r in results], ddof=1)) for k in keys}
    central = validate(model, "diamond", "Si", "lattice", references=False).to_dict()
    store.add_result(s3.run_id, "validation", {"central": central, "mean": mean, "std": std,
                                               "member_values": [], "failed": []})
    s4 = loss.fit_session(options={"maxiter": 2}, store=store)
    s4.run()
    ids = runs + [s3.run_id, s4.run_id]

    html_path = tmp_path / "cmp.html"
    assert main(["runs", "--store", str(store.path), "compare", *ids,
                 "--html", str(html_path)]) == 0
    out = capsys.readouterr().out
    block = out.split("validated properties (latest validation of each run)\n")[1]
    lines = {ln.split("  ")[0]: re.split(r"\s{2,}", ln.strip())[1:]
             for ln in block.splitlines()[2:] if ln.strip()}
    assert lines["structure"] == ["diamond Si"] * 3 + ["-"]
    assert lines["C11 (GPa)"] == [f"{results[0]['C11']:.6g}", f"{results[1]['C11']:.6g}",
                                  f"{mean['C11']:.6g} ± {std['C11']:.2g}", "-"]
    assert lines["lattice_constant (Å)"][:2] == [f"{r['lattice_constant']:.6g}"
                                                for r in results]
    assert "vacancy_formation_energy (eV)" not in lines  # not validated: no row
    page = html_path.read_text()
    assert "<h2>Validated properties</h2>" in page
    assert f"<td>{mean['C11']:.6g} ± {std['C11']:.2g}</td>" in page

    # the Runs tab: selecting runs shows the same table
    panel = RunsPanel(None, store=store)
    panel.select(ids[:2])
    table = panel.validation_w.value
    assert "validated properties" in table
    assert f"<td>{results[0]['C44']:.6g}</td><td>{results[1]['C44']:.6g}</td>" in table
    panel.select([s4.run_id])  # no validation: no table
    assert panel.validation_w.value == ""
