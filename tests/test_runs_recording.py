"""Runs recorded from every entry point (FitSession, TrainingSession, ``workbench fit``,
bootstrap and MCMC jobs), ``workbench runs`` list/show/compare/export/delete, a run's
set-up rerunning to the same result, restoring a run's model, and ``workbench fit
--resume`` continuing a killed fit from its own checkpoint."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from workbench import datasets
from workbench.calculators import Calculator
from workbench.cli import main
from workbench.dataset import Dataset, Weight
from workbench.fit.run_record import model_from_run
from workbench.fit.session import FitSession
from workbench.loss import Loss
from workbench.models import StillingerWeber, load_model
from workbench.runs import RunStore, RunStoreError
from workbench.runs.describe import configs_hash

CONFIG = """\
dataset:
  path: Si_4
  weight: {energy_weight: 1.0, forces_weight: 0.1}
  test_fraction: 0.25
  seed: 1
model:
  name: StillingerWeber
  species: [Si]
  params:
    A: [[12.0, 1.0, 20.0]]
    gamma: [[2.0]]
fit:
  method: L-BFGS-B
  options: {maxiter: 200}
  checkpoint_every: 2
output:
  kim_model: SW_RunsTest_Si__MO_000000000000_000
"""


def si4_loss():
    configs = Dataset(datasets.path("Si_4"),
                      Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(configs)
    return Loss(calc), model, configs


def test_fit_session_records_everything(tmp_path):
    loss, model, configs = si4_loss()
    store = RunStore(tmp_path / "st")
    s = FitSession(loss, options={"maxiter": 100}, store=store, name="api fit", tags=["t1"])
    assert s.run_id is not None
    s.run()
    run = store.get_run(s.run_id)
    assert (run["name"], run["kind"], run["status"], run["tags"]) == \
        ("api fit", "fit", "finished", ["t1"])
    assert run["started"] < run["ended"] and run["method"] == "L-BFGS-B"
    assert run["model_kind"] == "StillingerWeber" and run["species"] == ["Si"]
    a = run["model"]["params"]["A"]
    assert a == {"value": [5.0], "fixed": [False], "bounds": [[1.0, 20.0]],
                 "transform": None, "fitted": True}
    assert run["model"]["params"]["sigma"]["fitted"] is False
    data = run["dataset"]
    assert data["n_train"] == 4 and data["train_hash"] == configs_hash(configs)
    assert data["root"] == str(datasets.path("Si_4").resolve())
    assert run["settings"]["options"] == {"maxiter": 100}
    assert run["settings"]["residual"] == "energy_forces_residual"
    assert run["best_loss"] == pytest.approx(s.best_loss, rel=1e-12)
    assert run["best_params"]["x"] == pytest.approx(s.best_params, rel=1e-12)
    assert run["best_params"]["values"]["A"] == pytest.approx([s.best_params[0]], rel=1e-12)
    assert run["start_params"] == {"names": ["A", "gamma"], "x": [5.0, 1.5]}
    assert run["iterations"] == s.iteration and run["n_eval"] == s.n_eval
    hist = store.get_history(s.run_id)
    assert [(h["iteration"], h["loss"]) for h in hist] == \
        [(i, pytest.approx(f, rel=1e-12)) for i, f in s.history]  # complete at the end
    assert hist[-1]["params"] is not None and len(hist[-1]["params"]) == 2
    # train RMSE: the model's errors at the best parameters
    from workbench.fit.report import predictions

    e, f = predictions("train", model, configs).rmse()
    assert run["train_e_rmse"] == pytest.approx(e, rel=1e-9)
    assert run["train_f_rmse"] == pytest.approx(f, rel=1e-9)
    # the recorded set-up rebuilds the model and restores the best parameters
    restored = model_from_run(run)
    np.testing.assert_allclose(restored.get_opt_params(), s.best_params, rtol=1e-12)
    assert restored.model_params["A"].get_bounds("original") == [(1.0, 20.0)]
    assert list(restored._opt_names) == ["A", "gamma"]


def test_api_fit_keeps_its_setup_model_and_parameters_as_artifacts(tmp_path):
    import yaml

    loss, model, _ = si4_loss()
    store = RunStore(tmp_path / "st")
    s = FitSession(loss, options={"maxiter": 30}, store=store)
    s.start()
    # the set-up is kept from the start, while the fit runs
    setup = yaml.safe_load((store.artifact_dir(s.run_id) / "setup.yaml").read_text())
    assert setup["model"]["params"]["A"] == [[5.0, 1.0, 20.0]]
    assert setup["fit"]["options"] == {"maxiter": 30} and setup["dataset"]["path"] == "Si_4"
    assert s.wait(300) and s.state == "finished"
    arts = {a["name"]: a for a in store.get_artifacts(s.run_id)}
    assert {n: a["kind"] for n, a in arts.items()} == \
        {"setup.yaml": "setup", "params.json": "params", "model.yaml": "model"}
    params = json.loads((store.artifact_dir(s.run_id) / "params.json").read_text())
    assert params["names"] == ["A", "gamma"]
    assert params["x"] == pytest.approx(s.best_params, rel=1e-15)
    assert params["best_loss"] == pytest.approx(s.best_loss, rel=1e-15)
    saved = load_model(arts["model.yaml"]["path"])
    np.testing.assert_array_equal(saved.get_opt_params(), s.best_params)
    np.testing.assert_array_equal(saved.get_opt_params(), model.get_opt_params())
    # Loss.minimize records the same
    loss2, _, _ = si4_loss()
    res = loss2.minimize(options={"maxiter": 5}, store=store)
    run = store.list_runs(limit=1)[0]
    assert run["id"] != s.run_id
    assert {a["name"] for a in store.get_artifacts(run["id"])} == \
        {"setup.yaml", "params.json", "model.yaml"}
    assert json.loads((store.artifact_dir(run["id"]) / "params.json").read_text())["x"] == \
        pytest.approx(res.x, rel=1e-15)


def test_store_none_records_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "default"))
    loss, _, _ = si4_loss()
    s = FitSession(loss, options={"maxiter": 5}, store=None)
    s.run()
    assert s.run_id is None and s.recorder is None
    assert not (tmp_path / "default").exists()
    s2 = FitSession(loss, options={"maxiter": 5})  # the default store
    s2.run()
    assert RunStore(tmp_path / "default").get_run(s2.run_id)["status"] == "finished"


def test_failed_fit_is_recorded_with_its_message(tmp_path):
    loss, _, _ = si4_loss()

    class Broken(Loss):
        def loss_and_grad(self, x):
            raise RuntimeError("the objective broke")

    broken = Broken(loss.calculator)
    store = RunStore(tmp_path / "st")
    s = FitSession(broken, store=store)
    s.run()
    run = store.get_run(s.run_id)
    assert run["status"] == "failed" and "RuntimeError: the objective broke" in run["message"]


def test_training_session_is_recorded(tmp_path):
    pytest.importorskip("torch")
    from workbench.ml import nn
    from workbench.ml.calculator_torch import CalculatorTorch
    from workbench.ml.descriptors import SymmetryFunction
    from workbench.ml.neural_network import NeuralNetwork

    configs = Dataset(datasets.path("Si_4"), Weight(forces_weight=0.3)).get_configs()
    desc = SymmetryFunction({"Si-Si": 4.0}, "cos", "set30", normalize=True, dtype=np.float64)
    model = NeuralNetwork(desc, seed=3)
    model.add_layers(nn.Linear(desc.get_size(), 5), nn.Tanh(), nn.Linear(5, 1))
    calc = CalculatorTorch(model)
    calc.create(configs, fingerprints_filename=tmp_path / "fp.pkl",
                fingerprints_mean_stdev_filename=tmp_path / "ms.pkl")
    store = RunStore(tmp_path / "st")
    session = Loss(calc).training_session("Adam", batch_size=2, num_epochs=5, lr=0.01,
                                          store=store, name="nn")
    session.run()
    run = store.get_run(session.run_id)
    assert (run["kind"], run["status"], run["name"]) == ("training", "finished", "nn")
    assert run["model_kind"] == "NeuralNetwork" and run["model"]["n_weights"] == \
        sum(p.numel() for p in model.parameters())
    assert run["settings"]["num_epochs"] == 5 and run["settings"]["batch_size"] == 2
    assert [(h["iteration"], h["loss"]) for h in store.get_history(run["id"])] == \
        [(e + 1, pytest.approx(f, rel=1e-12)) for e, f in session.history]
    assert run["best_loss"] == pytest.approx(session.best_loss, rel=1e-12)
    training = store.get_results(run["id"], "training")[0]["data"]
    assert training["best_epoch"] == session.best_epoch
    # the per-epoch trajectory: losses and the weights' norm
    traj = training["trajectory"]
    assert traj["epoch"] == [0, 1, 2, 3, 4]
    assert traj["loss"] == pytest.approx([f for _, f in session.history], rel=1e-12)
    norm_now = float(sum((p.detach() ** 2).sum() for p in model.parameters()).sqrt())
    assert traj["param_norm"][session.best_epoch] == pytest.approx(norm_now, rel=1e-12)
    assert len(set(traj["param_norm"])) == 5  # the weights moved every epoch
    # train RMSEs of the network as it ends (the best epoch's weights)
    calc.compute()
    e = [(calc.get_energy(k) - c.energy) / len(c.species)
         for k, c in enumerate(configs)]
    f = np.concatenate([calc.get_forces(k) - c.forces for k, c in enumerate(configs)])
    assert run["train_e_rmse"] == pytest.approx(np.sqrt(np.mean(np.square(e))), rel=1e-12)
    assert run["train_f_rmse"] == pytest.approx(np.sqrt(np.mean(f ** 2)), rel=1e-12)
    assert run["train_e_rmse"] > 0 and run["train_f_rmse"] > 0
    # the final weights are kept; restoring them into a fresh network (other random
    # weights) reproduces the trained network's predictions exactly
    from workbench.errors import ModelError
    from workbench.runs.weights import restore_weights

    assert [a["name"] for a in store.get_artifacts(run["id"])] == ["weights.pt"]
    fresh = NeuralNetwork(desc, seed=11)
    fresh.add_layers(nn.Linear(desc.get_size(), 5), nn.Tanh(), nn.Linear(5, 1))
    calc2 = CalculatorTorch(fresh)
    calc2.create(configs, fingerprints_filename=tmp_path / "fp.pkl",
                 fingerprints_mean_stdev_filename=tmp_path / "ms.pkl", reuse=True)
    calc2.compute()
    assert calc2.get_energy(0) != calc.get_energy(0)
    assert restore_weights(store, run["id"][:12], calc2) == run["id"]
    calc2.compute()
    np.testing.assert_array_equal(calc2.results["energy"], calc.results["energy"])
    np.testing.assert_array_equal(calc2.results["forces"], calc.results["forces"])
    wider = NeuralNetwork(desc, seed=11)
    wider.add_layers(nn.Linear(desc.get_size(), 6), nn.Tanh(), nn.Linear(6, 1))
    with pytest.raises(ModelError, match=r"weights 'layers.0.weight' have shape \(5, 30\), "
                                         r"the target network's \(6, 30\)"):
        restore_weights(store, run["id"], wider)


def test_bootstrap_and_mcmc_jobs_are_recorded(tmp_path):
    from workbench.analysis.bootstrap import Bootstrap
    from workbench.analysis.mcmc import MCMC

    loss, _, _ = si4_loss()
    loss.minimize(options={"maxiter": 100})
    store = RunStore(tmp_path / "st")
    job = Bootstrap(loss, options={"maxiter": 50}, seed=0, nthreads=1).job(3, store=store)
    result = job.run()
    run = store.get_run(job.run_id)
    assert (run["kind"], run["status"], run["name"]) == ("bootstrap", "finished", "bootstrap × 3")
    assert run["model_kind"] == "StillingerWeber" and run["dataset"]["n_train"] == 4
    summary = store.get_results(run["id"], "bootstrap")[0]["data"]
    assert summary["n_samples"] == 3 and summary["mean"] == pytest.approx(result.mean.tolist())
    mjob = MCMC(loss, seed=0, nwalkers=6).job(40, store=store)
    chain = mjob.run()
    mrun = store.get_run(mjob.run_id)
    assert (mrun["kind"], mrun["status"]) == ("mcmc", "finished")
    data = store.get_results(mrun["id"], "mcmc")[0]["data"]
    assert data["steps"] == 40 and data["mean"] == pytest.approx(chain.mean.tolist())
    assert mrun["iterations"] == 40


def write_config(tmp_path, text=CONFIG):
    cfg = tmp_path / "fit.yaml"
    cfg.write_text(text)
    return cfg


def test_cli_fit_is_recorded_listed_shown_compared_exported_and_reruns(tmp_path, capsys):
    cfg = write_config(tmp_path)
    st = str(tmp_path / "st")
    assert main(["fit", str(cfg), "--out", str(tmp_path / "o1"), "--no-progress",
                 "--store", st]) == 0
    first = capsys.readouterr().out
    run_id = re.search(r"run: (\S+) in", first).group(1)
    store = RunStore(st)
    run = store.get_run(run_id)
    assert run["status"] == "finished" and run["dataset"]["n_test"] == 1
    assert run["test_e_rmse"] is not None and run["train_f_rmse"] is not None
    e_rmse = float(re.search(r"train RMSE: energy (\S+) eV/atom", first).group(1))
    assert run["train_e_rmse"] == pytest.approx(e_rmse, rel=1e-5)
    arts = {a["name"]: a for a in store.get_artifacts(run_id)}
    assert set(arts) == {"model.yaml", "kim_model", "report.html", "checkpoint.json",
                         "setup.yaml", "params.json"}
    import yaml

    assert yaml.safe_load(open(arts["setup.yaml"]["path"])) == run["setup"]
    assert arts["checkpoint.json"]["path"] == str(store.artifact_dir(run_id) / "checkpoint.json")
    assert not (tmp_path / "o1" / "checkpoint.json").exists()
    # a second run of the same set-up keeps its own checkpoint
    assert main(["fit", str(cfg), "--out", str(tmp_path / "o2"), "--no-progress",
                 "--store", st, "--no-kim"]) == 0
    second = re.search(r"run: (\S+) in", capsys.readouterr().out).group(1)
    assert second != run_id
    assert (store.artifact_dir(run_id) / "checkpoint.json").is_file()
    assert (store.artifact_dir(second) / "checkpoint.json").is_file()
    assert store.get_run(second)["setup_key"] != run["setup_key"]  # other output directory

    assert main(["runs", "--store", st, "list"]) == 0
    listing = capsys.readouterr().out
    assert run_id in listing and second in listing and "StillingerWeber" in listing
    assert main(["runs", "--store", st, "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [second, run_id]
    assert main(["runs", "--store", st, "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert f"run {run_id}" in shown and "history:" in shown and "artifact kim_model" in shown

    html = tmp_path / "cmp.html"
    assert main(["runs", "--store", st, "compare", run_id, second, "--html", str(html)]) == 0
    cmp = capsys.readouterr().out
    a_row = next(line for line in cmp.splitlines() if line.strip().startswith("A"))
    best_a = store.get_run(run_id)["best_params"]["values"]["A"][0]
    assert f"{best_a:.6g}" in a_row
    page = html.read_text()
    # one loss trace per run (trace names end in "(run id)")
    assert page.count(f"({run_id})") == 1 and page.count(f"({second})") == 1

    out = tmp_path / "export"
    assert main(["runs", "--store", st, "export", run_id, str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "SW_RunsTest_Si__MO_000000000000_000", "model.yaml", "report.html", "setup.yaml"]
    exported = load_model(out / "model.yaml").get_params_dict("original")
    # the exported set-up reruns to the same result
    assert main(["fit", str(out / "setup.yaml"), "--no-progress", "--no-kim",
                 "--store", str(tmp_path / "st2")]) == 0
    capsys.readouterr()
    rerun = load_model(out / "fit-output" / "model.yaml").get_params_dict("original")
    for name in ("A", "gamma"):
        assert rerun[name][0] == pytest.approx(exported[name][0], rel=1e-12)

    assert main(["runs", "--store", st, "delete", second, "--yes"]) == 0
    assert f"deleted {second}" in capsys.readouterr().out
    with pytest.raises(RunStoreError):
        store.get_run(second)
    assert main(["runs", "--store", st, "show", second]) == 2
    assert f"no run '{second}'" in capsys.readouterr().err


SLOW_CLI = textwrap.dedent("""
    import sys, time
    from workbench.fit.loss import Loss
    _orig = Loss.loss_and_grad
    def slow(self, x):
        time.sleep(0.05)
        return _orig(self, x)
    Loss.loss_and_grad = slow
    from workbench.cli import main
    sys.exit(main(sys.argv[1:]))
""")

RESUME_CONFIG = CONFIG.replace("options: {maxiter: 200}",
                               "options: {maxiter: 200, ftol: 1.0e-14, gtol: 1.0e-10}")


@pytest.mark.parametrize("sig, status", [(signal.SIGKILL, "interrupted"),
                                         (signal.SIGTERM, "stopped")])
def test_fit_resume_continues_a_killed_run_from_its_checkpoint(tmp_path, capsys, sig, status):
    cfg = write_config(tmp_path, RESUME_CONFIG)
    st = tmp_path / "st"
    script = tmp_path / "slow_cli.py"
    script.write_text(SLOW_CLI)
    proc = subprocess.Popen([sys.executable, str(script), "fit", str(cfg), "--out",
                             str(tmp_path / "out"), "--no-progress", "--no-kim",
                             "--store", str(st)], stdout=subprocess.DEVNULL)
    store = RunStore(st)
    deadline = time.monotonic() + 240
    run = None
    while time.monotonic() < deadline:
        runs = store.list_runs()
        if runs and (runs[0]["iterations"] or 0) >= 5:
            run = runs[0]
            break
        time.sleep(0.1)
    proc.send_signal(sig)
    assert proc.wait(60) == (-9 if sig == signal.SIGKILL else 128 + signal.SIGTERM)
    assert run is not None
    killed = store.get_run(run["id"])
    assert killed["status"] == status
    ck_iteration = json.loads(open(killed["checkpoint"]).read())["iteration"]
    assert ck_iteration >= 4
    n_before = len(store.get_history(run["id"]))

    assert main(["fit", str(cfg), "--out", str(tmp_path / "out"), "--no-progress", "--no-kim",
                 "--store", str(st), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert f"resuming run {run['id']} ({status}) from its checkpoint at iteration " \
           f"{ck_iteration}" in printed
    resumed = store.get_run(run["id"])
    assert resumed["status"] == "finished" and len(store.list_runs()) == 1
    hist = store.get_history(run["id"])
    assert len(hist) > n_before and hist[-1]["iteration"] > ck_iteration
    # the same minimum as a fit that was never interrupted
    assert main(["fit", str(cfg), "--out", str(tmp_path / "fresh"), "--no-progress",
                 "--no-kim", "--store", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    fresh = RunStore(tmp_path / "other").list_runs()[0]
    assert resumed["best_loss"] == pytest.approx(fresh["best_loss"], rel=1e-7)
    # nothing left to resume: a new run starts
    assert main(["fit", str(cfg), "--out", str(tmp_path / "out"), "--no-progress", "--no-kim",
                 "--store", str(st), "--resume"]) == 0
    assert "no interrupted run of this set-up to resume" in capsys.readouterr().out
    assert len(store.list_runs()) == 2


def test_live_history_is_throttled_and_the_final_history_complete(tmp_path):
    """Rosenbrock's valley, slowed a little: hundreds of iterations in ~1.5 s reach the
    store as at most ~10 rows per second while running, and all of them at the end."""
    from workbench.fit.objective import LeastSquaresObjective

    def res(x):
        time.sleep(0.002)
        return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])

    def jac(x):
        return np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]])

    obj = LeastSquaresObjective(res, jac, [-1.9, 2.0], names=["x", "y"])
    store = RunStore(tmp_path / "st")
    s = FitSession(obj, "Nelder-Mead", options={"maxiter": 5000, "xatol": 1e-14,
                                                "fatol": 1e-30}, store=store,
                   max_iter=300, publish_hz=10.0)
    s.run()
    live = s.recorder.rows_written
    assert s.iteration >= 100
    assert live <= 10.0 * s.elapsed + 3, (live, s.elapsed)
    hist = store.get_history(s.run_id)
    assert [h["iteration"] for h in hist] == [i for i, _ in s.history]
    assert sum(h["params"] is not None for h in hist) == live  # the trajectory rows
    assert store.get_run(s.run_id)["iterations"] == s.iteration


@pytest.mark.parametrize("entry", ["FitSession", "Loss.minimize"])
def test_api_run_setup_reruns_to_the_same_result_with_workbench_fit(entry, tmp_path, capsys):
    """A fit built in Python records a set-up (data folder, weights, model start state,
    fit settings) that ``workbench fit`` reruns to the same parameters."""
    loss, model, _ = si4_loss()
    store = RunStore(tmp_path / "st")
    if entry == "FitSession":
        s = FitSession(loss, options={"maxiter": 40}, store=store)
        s.run()
        run_id, x = s.run_id, s.best_params
    else:
        res = loss.minimize(method="L-BFGS-B", options={"maxiter": 40}, store=store)
        run_id, x = store.list_runs(limit=1)[0]["id"], res.x
    setup = tmp_path / "setup.yaml"
    setup.write_text((store.artifact_dir(run_id) / "setup.yaml").read_text())
    assert main(["fit", str(setup), "--out", str(tmp_path / "rerun"), "--no-progress",
                 "--no-kim", "--store", str(tmp_path / "st2")]) == 0
    capsys.readouterr()
    rerun = load_model(tmp_path / "rerun" / "model.yaml")
    np.testing.assert_allclose(rerun.get_opt_params(), x, rtol=1e-9)
    assert model.get_opt_params() == pytest.approx(x, rel=1e-15)


def test_loss_minimize_failure_and_no_store(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "default"))
    loss, _, _ = si4_loss()

    class Broken(Loss):
        def loss_and_grad(self, x):
            raise RuntimeError("the objective broke")

    store = RunStore(tmp_path / "st")
    with pytest.raises(RuntimeError, match="the objective broke"):
        Broken(loss.calculator).minimize(options={"maxiter": 5}, store=store, name="broken",
                                         tags=["x"])
    (run,) = store.list_runs()
    assert (run["name"], run["status"], run["tags"]) == ("broken", "failed", ["x"])
    assert run["message"] == "RuntimeError: the objective broke"
    loss.minimize(options={"maxiter": 3}, store=None)
    assert not (tmp_path / "default").exists()
    loss.minimize(options={"maxiter": 3})  # the default store
    assert RunStore(tmp_path / "default").list_runs()[0]["status"] == "finished"
