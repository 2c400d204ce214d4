"""The Validate tab: runs the suite as a background job with progress, stops on request,
shows the property table with references and the figures, stores the result with the
model's recorded run, and sits in the Workbench's "Validate" slot."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.data.dataset import Dataset
from workbench.models import builtin
from workbench.ui.state import WorkbenchState
from workbench.ui.validate_panel import ValidatePanel
from workbench.validation import validate


@pytest.fixture
def state(si4_path):
    return WorkbenchState(Dataset(si4_path).get_configs(), builtin.StillingerWeber())


def run_and_wait(panel):
    job = panel.run()
    assert job is not None
    assert job.wait(300)
    return job


def test_run_shows_table_figures_and_matches_the_suite(state):
    panel = ValidatePanel(state, store=None)
    panel.props_w.value = ("lattice", "eos", "elastic", "phonons", "md")
    job = run_and_wait(panel)
    assert job.state == "finished"
    assert "finished" in panel.status_w.value and panel.progress_w.value == 1.0
    direct = validate(state.model, "diamond", "Si", "lattice elastic", references=False)
    assert panel.result.values["C11"] == pytest.approx(direct.values["C11"], rel=1e-12)
    table = panel.table_w.value
    assert "wb-prop-C11" in table and f"{direct.values['C11']:.6g}" in table
    assert "165.77" in table and "McSkimin" in table
    classes = [b._dom_classes[0] for b in panel.figures_w.children]
    assert classes == ["wb-validate-eos", "wb-validate-phonons", "wb-validate-md"]
    eos_fig = panel.figures_w.children[0].children[0]
    assert any(str(t.name).startswith("DFT") for t in eos_fig.data)
    vjob = state.jobs[-1]
    assert vjob.kind == "validation" and vjob.state == "finished" and vjob.result is not None


def test_stop_and_bad_input(state):
    panel = ValidatePanel(state, store=None)
    panel.props_w.value = ("lattice", "eos", "elastic", "phonons", "vacancy", "md")
    job = panel.run()
    panel.stop()
    assert job.wait(300)
    assert job.state == "stopped" and "stopped" in panel.status_w.value
    assert panel.run_w.disabled is False
    panel.species_w.value = "Xx"
    assert panel.run() is None and "not a chemical symbol" in panel.status_w.value
    panel.species_w.value = "Si"
    panel.ensemble_w.value = True
    assert panel.run() is None and "no bootstrap or MCMC" in panel.status_w.value


def test_result_stored_with_the_recorded_fit_and_ensemble_bands(state, tmp_path):
    from workbench.analysis.bootstrap import Bootstrap
    from workbench.calculators import Calculator
    from workbench.fit.session import FitSession
    from workbench.loss import Loss
    from workbench.runs import open_store

    model = state.model
    model.set_opt_params(A=[[15.0, 1.0, 30.0]], gamma=[[2.4, 1.0, 4.0]])
    calc = Calculator(model)
    calc.create(state.configs)
    loss = Loss(calc)
    session = FitSession(loss, options={"maxiter": 20}, store=tmp_path / "runs")
    job = state.start_job("fit")
    job.session = session
    session.run()
    boot = Bootstrap(loss, seed=2, nthreads=1).run(3, predictions=False)
    ajob = state.start_job("analysis")
    ajob.result = boot

    panel = ValidatePanel(state, store=tmp_path / "runs")
    panel.props_w.value = ("lattice", "elastic", "phonons")
    panel.ensemble_w.value = True
    run_and_wait(panel)
    assert f"saved with run {session.run_id}" in panel.status_w.value
    stored = open_store(tmp_path / "runs").get_results(session.run_id, "validation")
    assert len(stored) == 1 and len(stored[0]["data"]["member_values"]) == 3
    c11 = panel.ensemble.values_of("C11")
    assert stored[0]["data"]["std"]["C11"] == pytest.approx(np.std(c11, ddof=1))
    assert f"{np.std(c11, ddof=1):.3g}" in panel.table_w.value
    (phonon_box,) = [b for b in panel.figures_w.children
                     if "wb-validate-phonons" in b._dom_classes]
    phonon_fig = phonon_box.children[0]
    assert any(t.name == "ensemble ± std" for t in phonon_fig.data)


def test_workbench_has_the_validate_tab(si4_path):
    from workbench.ui.workbench import Workbench

    wb = Workbench(Dataset(si4_path), builtin.StillingerWeber())
    titles = [wb.tabs.get_title(k) for k in range(len(wb.tabs.children))]
    assert "Validate" in titles
    panel = wb.panels["Validate"]
    assert isinstance(panel, ValidatePanel)
    assert wb.tabs.children[titles.index("Validate")] is panel.widget
