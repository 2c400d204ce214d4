"""Training a neural network from the Fit tab: a 30→5→1 tanh network on set30 symmetry
functions, 20 configurations of the Si varying_alat set, Fit / Pause / Stop pressed
through the buttons' click handlers; the loss curve is the TrainingSession's epochs."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest


from workbench.data import Dataset, Weight
from workbench.ui.model_picker import build_network
from workbench.ui.training import split_options
from workbench.ui.workbench import Workbench


@pytest.fixture(scope="module")
def configs(si_path):
    ds = Dataset(si_path / "varying_alat", Weight(energy_weight=1.0, forces_weight=0.1))
    return ds.get_configs()[::20][:20]


def network():
    return build_network(["Si"], 4.0, [5], "Tanh", "set30")


def flat(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def wait_for(cond, timeout=60.0):
    t_end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < t_end, "timed out"
        time.sleep(0.01)


def test_fit_button_trains_the_network_epoch_by_epoch(configs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = network()
    wb = Workbench(configs, net)
    mon = wb.monitor
    assert mon.is_torch and mon.method_w.value == "Adam"
    assert {"Adam", "SGD"} <= set(mon.method_w.options)
    assert "L-BFGS-B" not in mon.method_w.options
    assert "neural network 30→5→1 (Si, 161 weights) · 20 configurations (18 fitted) · not fitted yet" \
        in wb.title_w.value
    # the table is a summary, not 161 editable rows
    table = wb.params
    assert table.rows == [] and len(table.children) == 1
    assert "30 → 5" in table.summary_w.value and ">155<" in table.summary_w.value
    with pytest.raises(KeyError):
        table.row("layers.0.weight[0]")

    statuses = []
    mon.status_w.observe(lambda ch: statuses.append(ch["new"]), "value")
    mon.options_w.value = "{epochs: 12, batch_size: 5, lr: 0.02}"
    w0 = flat(net)
    mon.start_w.click()
    assert mon.start_w.disabled and table.locked
    assert mon.wait(120)
    s = mon.session
    assert type(s).__name__ == "TrainingSession" and s.state == "finished", s.result.message
    assert s.method == "Adam" and s.num_epochs == 12 and s.batch_size == 5
    assert s.n_eval == 12 * 4  # 20 configurations in batches of 5
    events = wb.state.job.snapshot()  # every event the monitor received
    assert wb.state.job.kind == "training" and wb.state.job.session is s
    assert any("computing fingerprints of 20 configurations" in v for v in statuses)
    assert any(v.startswith("compiling…") for v in statuses)
    # epoch events: increasing epoch counts, each carrying that epoch's loss
    its = [e for e in events if e.kind == "iteration"]
    assert its and its[-1].iteration == 12
    assert [e.iteration for e in its] == sorted({e.iteration for e in its})
    hist = dict(s.history)
    for e in its:
        assert e.loss == hist[e.iteration - 1]
    assert events[0].kind == "started" and events[-1].kind == "finished"
    assert [e.kind for e in events] == mon.event_kinds
    # the loss curve: one point per epoch, falling
    # (per configuration: 18 trained, 2 held out by the network's default split)
    xs, ys = list(mon.loss_fig.data[0].x), list(mon.loss_fig.data[0].y)
    assert xs == list(range(12)) and ys == [f / 18 for _, f in s.history]
    assert ys[-1] < 0.8 * ys[0]
    # the parameter figure: the weights' 2-norm after each epoch (no 161 traces)
    assert [t.name for t in mon.param_fig.data] == ["‖w‖₂"]
    assert list(mon.param_fig.data[0].x) == list(range(12))
    assert list(mon.param_fig.data[0].y) == s.param_norms
    assert mon.param_box.layout.display is None
    assert mon.loss_fig.layout.xaxis.title.text == "epoch"
    assert "epoch 12" in mon.status_w.value and "best loss" in mon.status_w.value
    # the best epoch's weights are in the model; the fingerprints left no files here
    assert s.best_loss == min(f for _, f in s.history)
    assert np.array_equal(flat(net), s.best_params)
    assert not np.allclose(flat(net), w0)
    assert list(tmp_path.iterdir()) == []
    assert not mon.start_w.disabled and not table.locked

    # a second Fit continues from the trained weights without recomputing fingerprints
    calc = wb.training.calculator
    mon.options_w.value = "{epochs: 3, batch_size: 20, lr: 0.02}"
    statuses.clear()
    mon.start_w.click()
    assert mon.wait(60) and mon.session is not s and mon.session.state == "finished"
    assert wb.training.calculator is calc
    assert not any("fingerprints" in v for v in statuses)
    assert mon.session.history[0][1] / 18 < ys[0]


def test_pause_and_stop_keep_the_best_epoch(configs):
    net = network()
    wb = Workbench(configs, net)
    mon = wb.monitor
    mon.method_w.value = "SGD"
    mon.options_w.value = "{epochs: 100000, batch_size: 10, lr: 0.005, momentum: 0.5}"
    mon.start_w.click()
    wait_for(lambda: mon.session is not None and mon.session.iteration >= 5)
    s = mon.session
    assert type(s.optimizer).__name__ == "SGD"
    assert s.optimizer.param_groups[0]["momentum"] == 0.5

    mon.pause_w.click()
    wait_for(lambda: s.state == "paused")
    n = s.iteration
    time.sleep(0.4)
    assert s.iteration == n and s.state == "paused"
    wait_for(lambda: mon.pause_w.description == "Resume", 10)
    mon.pause_w.click()
    wait_for(lambda: s.iteration >= n + 3)

    # stop from another thread, as a user clicking during the training would
    threading.Thread(target=mon.stop_w.click).start()
    assert mon.wait(60)
    assert s.state == "stopped" and 0 < s.iteration < 100000
    losses = [f for _, f in s.history]
    assert len(losses) == s.iteration
    assert list(mon.loss_fig.data[0].y) == [f / 18 for f in losses]
    k = int(np.argmin(losses))
    assert s.best_loss == losses[k] and s.best_epoch == s.history[k][0]
    # the model holds the best epoch's weights and its loss is below the first epoch's
    assert np.array_equal(flat(net), s.best_params)
    assert s.loss.get_loss() < losses[0]
    assert "stopped" in mon.status_w.value


def test_switching_models_swaps_methods_and_table(configs):
    from workbench.models import StillingerWeber

    sw = StillingerWeber()
    wb = Workbench(configs, sw, fit={"method": "L-BFGS-B", "options": {"maxiter": 7}})
    assert not wb.monitor.is_torch and wb.monitor.method_w.value == "L-BFGS-B"
    assert len(wb.params.rows) > 0
    wb.picker.nn_hyper_w.value = "set30"
    wb.picker.nn_hidden_w.value = "5"
    wb.picker.nn_build_w.click()
    assert wb.model is wb.picker.nn_model and wb.monitor.is_torch
    assert wb.monitor.method_w.value == "Adam" and "epochs" in wb.monitor.options_w.value
    assert wb.params.rows == [] and "30 → 5" in wb.params.summary_w.value
    wb.set_model(sw)
    assert wb.monitor.method_w.value == "L-BFGS-B"
    assert wb.monitor.options_w.value == "{maxiter: 7}"
    assert len(wb.params.rows) > 0


def test_training_options_are_checked():
    assert split_options({"epochs": 3, "batch_size": 2, "lr": 0.1, "momentum": 0.9}) == (
        {"num_epochs": 3, "batch_size": 2, "lr": 0.1}, {"momentum": 0.9})
    from workbench.errors import LossError

    for bad in ({"epochs": 0}, {"batch_size": 2.5}, {"lr": "fast"}, {"epochs": True}):
        with pytest.raises(LossError, match="expected a positive"):
            split_options(bad)


def test_analysis_after_training_and_epochs_on_the_axis(configs):
    net = network()
    wb = Workbench(configs, net)
    mon = wb.monitor
    assert mon.loss_fig.layout.xaxis.title.text == "epoch"
    mon.options_w.value = "{epochs: 3, batch_size: 10, lr: 0.01}"
    mon.start_w.click()
    assert mon.wait(120) and mon.session.state == "finished"
    assert wb.analysis.wait(300)
    assert wb.analysis.error is None, wb.analysis.error
    result = wb.analysis.result
    train = result["parts"]["train"]
    trained = wb.state.fit_configs()
    assert result["fisher"] is None and len(train["index"]) == len(trained) == 18
    e_ref = np.array([c.energy / c.get_num_atoms() for c in trained])
    np.testing.assert_allclose(train["ref_e"], e_ref)
    assert np.all(np.isfinite(train["pred_e"])) and train["energy_rmse"] > 0
    assert train["energy_rmse"] == pytest.approx(
        float(np.sqrt(np.mean((train["pred_e"] - e_ref) ** 2))))
    wb.tabs.selected_index = 4
    view = wb.analysis
    assert len(view.energy_fig.data) >= 2 and len(view.force_fig.data) >= 2
    assert view.plots.children[-1].layout.display == "none"  # no empty Fisher plots
    assert "neural network" in view.status_w.value
    # no parameter plot is left empty: the weight-norm trace has a point per epoch
    assert list(mon.param_fig.data[0].y) == mon.session.param_norms
    assert mon.param_fig.layout.yaxis.title.text == "weight norm ‖w‖₂"
    # a new network, not trained yet: its parameter figure is hidden, not empty
    wb.set_model(network())
    assert mon.param_box.layout.display == "none"


def half_square_loss(model, configs) -> float:
    """½‖u‖² of the workbench's default residual (energy and forces, divided by the
    number of atoms), from predictions of the model's ASE calculator: an evaluation path
    of its own (one Atoms at a time, no CalculatorTorch, no loss class)."""
    total = 0.0
    for c in configs:
        atoms = c.to_ase()
        atoms.calc = model.ase_calculator()
        n = c.get_num_atoms()
        u_e = c.config_weight * c.energy_weight * (atoms.get_potential_energy() - c.energy) / n
        u_f = c.config_weight * c.forces_weight * (atoms.get_forces() - c.forces) / n
        total += 0.5 * (u_e ** 2 + float(np.sum(u_f ** 2)))
    return total


def test_train_and_test_loss_curves_per_epoch(configs):
    """The network's default split holds out 10 % (settable in the Data tab); the loss
    figure shows the train and test curves per configuration against epochs, equal to
    losses recomputed here through another evaluation path; a re-displayed Workbench
    redraws both from the job."""
    import copy

    net = network()
    wb = Workbench(configs, net)
    train, test = wb.state.fit_configs(), wb.state.test_configs()
    assert (len(train), len(test)) == (18, 2)
    assert wb.browser.test_fraction_w.value == 0.1
    assert wb.to_config()["dataset"]["test_fraction"] == 0.1
    start = copy.deepcopy(net)
    mon = wb.monitor
    # one batch per epoch, last epoch's weights kept: epoch 0's training loss is the loss
    # at the starting weights, the last test point the test loss of the final weights
    mon.options_w.value = "{epochs: 4, batch_size: 18, lr: 0.01, keep_best: false}"
    mon.start_w.click()
    assert mon.wait(120) and mon.session.state == "finished", mon.session.result.message
    curves = wb.state.job.curves()
    # the normalization is the training set's, computed when the training was prepared
    start.descriptor.mean, start.descriptor.stdev = net.descriptor.mean, net.descriptor.stdev
    assert curves["epoch"] == [0, 1, 2, 3] and (curves["n_train"], curves["n_test"]) == (18, 2)
    # the network computes in float32 (eps 1.2e-7); sums of a few hundred terms in
    # another order agree to a few eps
    import torch

    assert net.dtype == torch.float32
    assert curves["train"][0] == pytest.approx(half_square_loss(start, train) / 18, rel=1e-6)
    assert curves["test"][-1] == pytest.approx(half_square_loss(net, test) / 2, rel=1e-6)
    assert curves["test"][-1] != pytest.approx(half_square_loss(start, test) / 2, rel=1e-4)
    assert curves["train"][-1] < curves["train"][0]
    # each epoch's event carries its test loss (the sum; the curve is per configuration)
    its = [e for e in wb.state.job.snapshot() if e.kind == "iteration"]
    assert its[-1].test_loss == pytest.approx(curves["test"][-1] * 2, rel=1e-12)
    fig = mon.loss_fig
    assert [t.name for t in fig.data] == ["train", "test"]
    assert list(fig.data[0].x) == [0, 1, 2, 3] and list(fig.data[1].x) == [0, 1, 2, 3]
    assert list(fig.data[0].y) == curves["train"] and list(fig.data[1].y) == curves["test"]
    assert fig.layout.yaxis.title.text == "loss per configuration"
    assert (f"per configuration: train {curves['train'][-1]:.4g}, test "
            f"{curves['test'][-1]:.4g}") in mon.status_w.value
    assert fig.layout.xaxis.title.text == "epoch"
    # a re-displayed Workbench draws new figures from the job's history
    wb.redraw()
    assert mon.loss_fig is not fig
    assert list(mon.loss_fig.data[1].y) == curves["test"]
    assert list(mon.loss_fig.data[0].y) == curves["train"]
    # the weight norm the figure shows is the weights' 2-norm after each epoch
    norm = float(np.sqrt(sum(float((p.detach().double() ** 2).sum())
                             for p in net.parameters())))
    assert list(mon.param_fig.data[0].y) == curves["weight_norm"]
    assert curves["weight_norm"][-1] == pytest.approx(norm, rel=1e-12)
    # a split set to 0 in the Data tab: no test curve
    wb.browser.random_split(0.0, 0)
    mon.options_w.value = "{epochs: 2, batch_size: 20, lr: 0.01}"
    mon.start_w.click()
    assert mon.wait(120) and mon.session.state == "finished"
    assert wb.state.job.curves()["test"] is None and list(mon.loss_fig.data[1].y) == []
    assert wb.state.job.curves()["n_train"] == 20
