"""The teaching-lab app: its page ships in the package, five guided steps over one
Workbench, a student's fit recorded in the run store and drawn again on a new page;
`workbench app` culls idle kernels."""

import json

import pytest

from workbench.data import Dataset, Weight
from workbench.models import StillingerWeber
from workbench.ui.guided import STEPS, student_from_query
from workbench.ui.workbench import Workbench


@pytest.fixture
def setup_file(si4_path, tmp_path):
    ds = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1))
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    path = tmp_path / "setup.yaml"
    Workbench(dataset=ds, model=model, fit={"options": {"maxiter": 4}}).to_config(path)
    return path


def test_the_page_is_in_the_package_and_runs_only_the_app():
    from workbench.app import NOTEBOOK

    nb = json.loads(NOTEBOOK.read_text())
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert sources == ["from workbench.app import main\nmain()"]
    assert all(c["cell_type"] == "code" and not c.get("outputs") for c in nb["cells"])


def test_guided_steps_and_a_reopened_page_restores_the_students_fit(setup_file, tmp_path,
                                                                   monkeypatch):
    from workbench.app import build

    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    app = build(str(setup_file), "student=alice")
    wb = app.wb
    assert app.student == "alice" and app.steps_w.options == STEPS
    assert app.body.children[0].children[0] is wb.browser
    assert "3D" in app.help_w.value and app.back_w.disabled
    app.next_w.click()
    assert app.steps_w.value == "2 Model"
    assert app.body.children[0].children[-1] is wb.params
    app.steps_w.value = "3 Fit"
    wb.monitor.start_w.click()
    assert wb.monitor.wait(300)
    session = wb.session
    assert session is not None, wb.monitor.status_w.value
    assert session.state == "finished"
    losses = [f for _, f in session.history]
    best = wb.model.get_opt_params().copy()
    live_its, live_rel = wb.monitor.relative_traces(wb.state.job)
    assert live_rel is not None and live_rel.shape == (len(live_its), 3)
    app.steps_w.value = "5 Export"
    assert app.next_w.disabled and app.body.children[0].children[0] is wb.export.widget

    # the page is reloaded: a new kernel builds a new app for the same student
    again = build(str(setup_file), "student=alice")
    job = again.wb.state.job
    assert job is not None and job.state == "finished"
    assert [f for _, f in job.loss_history()] == pytest.approx(losses)
    assert list(again.wb.monitor.loss_fig.data[0].y) == pytest.approx(losses)
    assert again.wb.model.get_opt_params() == pytest.approx(best)
    assert "finished" in again.wb.monitor.status_w.value
    # the parameter traces are drawn again, value / start value in the original space
    its, rel = again.wb.monitor.relative_traces(job)
    assert its == live_its and rel == pytest.approx(live_rel, rel=1e-12)
    drawn = again.wb.monitor.param_fig.data
    assert [t.name for t in drawn] == [t.name for t in wb.monitor.param_fig.data]
    for restored, live in zip(drawn, wb.monitor.param_fig.data):
        assert len(restored.y) >= 1 and list(restored.y) == pytest.approx(list(live.y))
    # another student starts fresh
    bob = build(str(setup_file), "student=bob")
    assert bob.wb.state.job is None and "not fitted yet" in bob.wb.monitor.status_w.value


def test_student_names_from_the_query_string():
    assert student_from_query("student=alice&x=1") == "alice"
    assert student_from_query("student=<b>eve</b>") == "beveb"
    assert student_from_query("") is None and student_from_query("x=1") is None


def test_app_command_serves_the_packaged_page_and_culls_idle_kernels(tmp_path):
    import argparse

    from workbench.app import NOTEBOOK
    from workbench.cli import app as cli_app

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_app.register(sub)
    args = parser.parse_args(["app", "--cull-idle", "120", "--runs", str(tmp_path / "r"),
                              "--port", "8899", "--no-browser"])
    cmd = cli_app.app_command(args)
    assert cmd[3] == str(NOTEBOOK)
    assert "--MappingKernelManager.cull_idle_timeout=120" in cmd
    assert "--MappingKernelManager.cull_interval=30" in cmd
    assert cli_app.app_environment(args)["WORKBENCH_RUNS"] == str(tmp_path / "r")
    args = parser.parse_args(["app", "--cull-idle", "0"])
    assert not any("cull_idle" in c for c in cli_app.app_command(args))


@pytest.mark.parametrize("ended", ["interrupted", "stopped at exit"])
def test_a_fit_cut_off_by_closing_the_page_reopens_stopped_at_its_best_parameters(
        setup_file, tmp_path, monkeypatch, ended):
    """Closing or reloading the page shuts its kernel down during the fit; the store then
    calls the run interrupted, and the reopened page shows it stopped, with the
    parameters of its lowest recorded loss in the table."""
    from workbench.app import build
    from workbench.runs import default_store

    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    app = build(str(setup_file), "student=carol")
    app.wb.monitor.start_w.click()
    assert app.wb.monitor.wait(300) and app.wb.session.state == "finished"
    store = default_store()
    run_id = store.list_runs(kind="fit", tag="student:carol", limit=1)[0]["id"]
    history = store.get_history(run_id)
    # cut the run where the kernel was shut down: at the first row that kept its
    # parameters (rows before it may carry only the loss)
    with_params = [k for k, row in enumerate(history) if row["params"] is not None]
    assert with_params, history
    cut = with_params[0] + 1
    assert cut >= 1
    kept = history[:cut]
    last = kept[-1]["iteration"]
    # (a kernel shut down stops its fit at exit; one killed leaves it interrupted)
    store.update_run(run_id, status="interrupted" if ended == "interrupted" else "stopped",
                     message="" if ended == "interrupted" else "interpreter exit",
                     best_params=None, final_params=None, iterations=last)
    with store._write() as c:
        c.execute("DELETE FROM history WHERE run_id = ? AND iteration > ?", (run_id, last))
    best_row = min((row for row in kept if row["params"] is not None),
                   key=lambda row: row["loss"])

    again = build(str(setup_file), "student=carol")
    job = again.wb.state.job
    assert job.state == "stopped"
    assert [f for _, f in job.loss_history()] == pytest.approx([row["loss"] for row in kept])
    status = again.wb.monitor.status_w.value
    assert f"the page was closed during this fit, at iteration {last}" in status, status
    assert again.wb.model.get_opt_params() == pytest.approx(best_row["params"])
    assert not again.wb.monitor.start_w.disabled
