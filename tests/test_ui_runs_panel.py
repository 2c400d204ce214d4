"""The Runs tab: Workbench fits are recorded with the Workbench's set-up; the table sorts
and filters; selecting runs overlays loss curves, parity plots and error distributions
and tabulates parameters; restore puts a run's model and settings back; rename, tag,
notes and delete (after a confirmation) reach the store."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.data import Dataset, Weight
from workbench.fit import setup_file as fc
from workbench.models import StillingerWeber
from workbench.runs import RunStore
from workbench.ui.runs_panel import RunsPanel
from workbench.ui.workbench import Workbench


@pytest.fixture
def wb(si4_path, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "store"))
    ds = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1))
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    return Workbench(dataset=ds, model=model)


def fit(wb, options):
    wb.monitor.options_w.value = options
    wb.monitor.start_w.click()
    assert wb.monitor.wait(300)
    return wb.session


def test_workbench_fits_are_recorded_compared_and_restored(wb, tmp_path):
    panel = wb.panels["Runs"]
    assert isinstance(panel, RunsPanel) and panel.store.path == (tmp_path / "store").resolve()
    assert panel.table_w.options == ()
    s1 = fit(wb, "{maxiter: 3}")
    best1 = s1.best_params.copy()
    s2 = fit(wb, "{maxiter: 200}")
    store = RunStore(tmp_path / "store")
    r1, r2 = store.get_run(s1.run_id), store.get_run(s2.run_id)
    assert r1["status"] == r2["status"] == "finished"
    assert r2["train_e_rmse"] > 0 and r2["test_e_rmse"] is None  # no test split yet
    # the Workbench's own set-up is recorded: it rebuilds the same fit
    assert r2["setup"]["dataset"]["weight"]["forces_weight"] == 0.1
    assert r2["setup"]["fit"]["options"] == {"maxiter": 200}
    assert r2["setup"]["model"]["params"]["sigma"] == [[2.0951, "fix"]]
    # the table refreshed itself when the fits ended, newest first
    assert [v for _, v in panel.table_w.options] == [s2.run_id, s1.run_id]
    assert "StillingerWeber" in panel.table_w.options[0][0]
    # sorting: click a column header (ascending first for losses), again to reverse
    heads = panel.header_buttons
    hidden = [x for x in (panel.status_w, panel.refresh_w, panel.restore_w, panel.rename_w,
                          panel.delete_w, panel.sort_w, panel.descending_w)
              if x.layout.display == "none"]
    assert hidden == [panel.sort_w, panel.descending_w]
    assert heads["started"].description == "date \u25bc"
    assert heads["tags"].disabled and not heads["best_loss"].disabled
    heads["best_loss"].click()
    assert (panel.sort_w.value, panel.descending_w.value) == ("best_loss", False)
    assert heads["best_loss"].description == "best loss \u25b2"
    assert heads["started"].description == "date"
    assert [v for _, v in panel.table_w.options] == [s2.run_id, s1.run_id]
    heads["best_loss"].click()
    assert heads["best_loss"].description == "best loss \u25bc"
    assert [v for _, v in panel.table_w.options] == [s1.run_id, s2.run_id]
    heads["n_eval"].click()  # the 200-iteration fit made more evaluations
    assert heads["n_eval"].description == "evals \u25bc"
    assert [v for _, v in panel.table_w.options] == [s2.run_id, s1.run_id]
    heads["n_eval"].click()
    assert [v for _, v in panel.table_w.options] == [s1.run_id, s2.run_id]
    heads["tags"].click()  # not sortable: nothing changes
    assert panel.sort_w.value == "n_eval"
    heads["started"].click()
    panel.search_w.value = s1.run_id[-6:]
    assert [v for _, v in panel.table_w.options] == [s1.run_id]
    panel.search_w.value = ""

    panel.select([s1.run_id, s2.run_id])
    assert len(panel.loss_fig.data) == 2
    assert list(panel.loss_fig.data[1].y) == pytest.approx(
        [f for _, f in s2.history if f is not None], rel=1e-12)
    assert len(panel.parity_e.data) == 3 and len(panel.parity_f.data) == 3  # + diagonal
    assert [t.type for t in panel.errors_fig.data] == ["histogram", "histogram"]
    # parity points of run 1 are its best model's energies per atom on the 4 configurations
    assert len(panel.parity_e.data[0].x) == 4
    assert "class='diff'" in panel.params_w.value and "gamma" in panel.params_w.value

    # restore the short run: its model with its best parameters and its settings
    wb.monitor.options_w.value = "{maxiter: 7}"
    panel.select([s1.run_id])
    model = panel.restore()
    assert wb.model is model and wb.params.model is model
    np.testing.assert_allclose(model.get_opt_params(), best1, rtol=1e-12)
    assert wb.monitor.options_w.value == '{"maxiter": 3}'
    assert fc.model_section(model)["params"]["sigma"] == [[2.0951, "fix"]]
    # the Fit tab draws the restored run's history, not the last fit's
    job = wb.state.job
    assert job.restored and job.state == "finished" and wb.state.is_current(job)
    assert [f for _, f in job.loss_history()] == pytest.approx(
        [f for _, f in s1.history if f is not None], rel=1e-12)
    assert list(wb.monitor.loss_fig.data[0].y) == pytest.approx(
        [f for _, f in s1.history if f is not None], rel=1e-12)
    its, rel = wb.monitor.relative_traces(job)
    assert rel is not None and rel.shape == (len(its), 3) and len(its) >= 1
    assert [t.name for t in wb.monitor.param_fig.data] == ["A", "B", "gamma"]
    assert "finished" in wb.monitor.status_w.value and not wb.monitor.start_w.disabled

    # validating the restored model stores the result with the restored run
    vp = wb.panels["Validate"]
    vp.props_w.value = ("lattice",)
    vjob = vp.run()
    assert vjob.wait(300) and f"saved with run {s1.run_id}" in vp.status_w.value
    assert store.get_results(s1.run_id, "validation")[0]["data"]["values"][
        "lattice_constant"] == pytest.approx(vp.result.values["lattice_constant"], rel=1e-15)
    assert store.get_results(s2.run_id, "validation") == []
    s3 = fit(wb, "{maxiter: 3}")  # a fit of the restored model: its own run from now on
    assert vp.run().wait(300) and f"saved with run {s3.run_id}" in vp.status_w.value
    assert len(store.get_results(s1.run_id, "validation")) == 1
    panel.refresh()
    store.delete_run(s3.run_id)
    panel.refresh()

    panel.rename("short fit")
    panel.set_tags(["quick", " try "])
    panel.set_notes("stopped early on purpose")
    run = store.get_run(s1.run_id)
    assert (run["name"], run["tags"], run["notes"]) == \
        ("short fit", ["quick", "try"], "stopped early on purpose")
    panel.tag_w.value = "quick"
    assert [v for _, v in panel.table_w.options] == [s1.run_id]
    panel.tag_w.value = ""

    panel.select([s1.run_id])
    panel.ask_delete()
    assert panel.confirm_box.layout.display == "flex"
    assert "Delete 1 run(s)" in panel.confirm_text_w.value
    panel.cancel_w.click()
    assert len(store.list_runs()) == 2
    panel.select([s1.run_id])
    panel.delete_w.click()
    panel.confirm_w.click()
    assert [r["id"] for r in store.list_runs()] == [s2.run_id]
    assert [v for _, v in panel.table_w.options] == [s2.run_id]


def test_workbench_run_with_a_test_split_records_test_rmse(wb, tmp_path):
    from workbench.fit.report import predictions

    wb.browser.random_split(0.5, 3)
    test = wb.state.test_configs()
    assert len(test) == 2
    s = fit(wb, "{maxiter: 50}")
    run = RunStore(tmp_path / "store").get_run(s.run_id)
    assert run["dataset"]["n_train"] == 2 and run["dataset"]["n_test"] == 2
    e, f = predictions("test", wb.model, test).rmse()
    assert run["test_e_rmse"] == pytest.approx(e, rel=1e-9)
    assert run["test_f_rmse"] == pytest.approx(f, rel=1e-9)
    assert run["setup"]["dataset"]["test_fraction"] == 0.5


def test_parameter_table_undo_and_resets(wb):
    table, model = wb.params, wb.model
    start = {n: p.get_value("original").tolist() for n, p in model.model_params.items()}
    table.row("A").value_w.value = "7.5"
    table.row("B").log_w.value = True
    table.row("gamma").upper_w.value = "4"
    assert model.model_params["A"].get_value("original")[0] == 7.5
    table.undo_w.click()  # the upper bound of gamma
    assert model.model_params["gamma"].get_bounds("original") == [(None, None)]
    assert table.row("gamma").upper_w.value == ""
    table.undo_w.click()  # B back to linear space
    assert model.model_params["B"].transform is None and not table.row("B").log_w.value
    table.undo_w.click()
    assert model.model_params["A"].get_value("original")[0] == 5.0
    assert table.row("A").value_w.value == "5"
    table.undo_w.click()  # nothing left: no change
    assert {n: p.get_value("original").tolist() for n, p in model.model_params.items()} == start

    # reset to the last run's start: a fit moves the parameters, the reset brings them back
    table.row("A").value_w.value = "6.0"
    fit(wb, "{maxiter: 20}")
    assert model.model_params["A"].get_value("original")[0] != 6.0
    table.reset_run_w.click()
    assert model.model_params["A"].get_value("original")[0] == 6.0
    assert model.get_opt_param_names() == ["A", "B", "gamma"]
    table.undo_w.click()  # a reset can be undone too
    assert model.model_params["A"].get_value("original")[0] != 6.0

    # reset to the model's defaults keeps what is fitted
    table.reset_defaults_w.click()
    fresh = StillingerWeber()
    for name, p in model.model_params.items():
        np.testing.assert_array_equal(p.get_value("original"),
                                      fresh.model_params[name].get_value("original"))
    assert model.get_opt_param_names() == ["A", "B", "gamma"]
    assert model.model_params["A"].get_bounds("original") == [(None, None)]
    assert table.row("A").value_w.value == f"{fresh.model_params['A'].value[0]:.8g}"


def test_training_runs_restore_their_weights_into_the_network(si_path, tmp_path, monkeypatch):
    from workbench.ui.model_picker import build_network

    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "store"))
    configs = Dataset(si_path / "varying_alat", Weight(forces_weight=0.1)).get_configs()[::40]
    net = build_network(["Si"], 4.0, [5], "Tanh", "set30")
    wb = Workbench(configs, net)
    panel = wb.panels["Runs"]

    def flat():
        return np.concatenate([p.detach().numpy().ravel() for p in net.parameters()])

    s1 = fit(wb, "{epochs: 4, batch_size: 5, lr: 0.02}")
    w1 = flat()
    np.testing.assert_array_equal(w1, s1.best_params)
    live = wb.monitor.loss_curves(wb.state.job)
    assert len(live["x"]) == 4
    calc = wb.training.calculator
    calc.compute()
    e1, f1 = calc.results["energy"].copy(), calc.results["forces"].copy()
    s2 = fit(wb, "{epochs: 3, batch_size: 5, lr: 0.05}")
    assert not np.array_equal(flat(), w1)
    run1 = panel.store.get_run(s1.run_id)
    assert run1["kind"] == "training" and run1["train_e_rmse"] > 0
    assert [v for _, v in panel.table_w.options] == [s2.run_id, s1.run_id]
    panel.select([s1.run_id])
    assert panel.restore() is net
    assert "restored the weights of run" in panel.message_w.value
    # the Fit tab draws run 1's train curve per epoch again
    job = wb.state.job
    assert job.kind == "training" and job.restored and job.state == "finished"
    curves = wb.monitor.loss_curves(job)
    assert curves["x"] == live["x"]
    assert curves["train"] == pytest.approx(live["train"], rel=1e-12)
    assert list(wb.monitor.loss_fig.data[0].y) == pytest.approx(curves["train"], rel=1e-12)
    np.testing.assert_array_equal(flat(), w1)
    calc.compute()
    np.testing.assert_array_equal(calc.results["energy"], e1)
    np.testing.assert_array_equal(calc.results["forces"], f1)


def test_a_late_refresh_from_a_fit_thread_does_not_undo_a_newer_filter(tmp_path):
    """A fit's end refreshes the table from the fit's thread.  When that refresh reads the
    filter and is still querying the store as the user clears the filter, the table ends
    showing every run (the user's refresh runs after it), not the stale filtered list."""
    import threading

    store = RunStore(tmp_path / "store")
    first = store.begin_run(name="first", model_kind="StillingerWeber")
    second = store.begin_run(name="second", model_kind="StillingerWeber")
    panel = RunsPanel(None, store=store)
    panel.search_w.value = "first"
    assert [v for _, v in panel.table_w.options] == [first]
    querying, go_on = threading.Event(), threading.Event()
    list_runs = store.list_runs

    def slow_list_runs(**kw):
        if threading.current_thread() is late:  # the fit thread's query, still running
            querying.set()
            go_on.wait(10)
        return list_runs(**kw)

    store.list_runs = slow_list_runs
    late = threading.Thread(target=panel.refresh)  # as a fit's "finished" would
    late.start()
    assert querying.wait(10)
    # the user clears the filter meanwhile (in a thread here: this one releases the query)
    clearing = threading.Thread(target=lambda: setattr(panel.search_w, "value", ""))
    clearing.start()
    clearing.join(0.5)
    go_on.set()
    late.join(10)
    clearing.join(10)
    assert [v for _, v in panel.table_w.options] == [second, first]
