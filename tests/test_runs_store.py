"""The run store: records, listing and filters, annotations, results, atomic artifacts,
schema migration from a stored version-1 database, two processes writing at once, and a
process killed mid-run left "interrupted" with its history."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench.runs import RunStore, RunStoreError, default_store, resolve_store
from workbench.runs import schema

DATA = Path(__file__).parent / "data"


def test_record_list_filter_annotate_results_delete(tmp_path):
    store = RunStore(tmp_path / "st")
    a = store.begin_run(name="first", model_kind="StillingerWeber", tags=["sw"],
                        model={"kind": "StillingerWeber", "params": {}})
    store.record_history(a, [(1, 10.0, 10.0, 2, 0.1, [1.0, 2.0]),
                             (2, 5.0, 5.0, 4, 0.2, [1.5, 2.5])],
                         iterations=2, best_loss=5.0, n_eval=4)
    store.fill_history(a, [(1, 10.0), (2, 5.0), (3, 4.0)])
    store.finish_run(a, "finished", "converged", final_params={"x": [1.6, 2.6]})
    time.sleep(0.01)
    b = store.begin_run(name="second", model_kind="LennardJones")
    assert [r["id"] for r in store.list_runs()] == [b, a]  # newest first
    assert [r["id"] for r in store.list_runs(order_by="best_loss", descending=False)] == [a, b]
    assert [r["id"] for r in store.list_runs(status="finished")] == [a]
    assert [r["id"] for r in store.list_runs(tag="sw")] == [a]
    assert [r["id"] for r in store.list_runs(search="lennard")] == [b]
    run = store.get_run(a[:-1])  # a unique prefix
    assert run["status"] == "finished" and run["message"] == "converged"
    assert run["model"] == {"kind": "StillingerWeber", "params": {}}
    assert run["final_params"] == {"x": [1.6, 2.6]} and run["tags"] == ["sw"]
    hist = store.get_history(a)
    assert [(h["iteration"], h["loss"], h["n_eval"]) for h in hist] == \
        [(1, 10.0, 2), (2, 5.0, 4), (3, 4.0, None)]
    assert hist[1]["params"] == [1.5, 2.5]

    store.rename(a, "renamed")
    store.set_notes("renamed", "the good one")
    store.set_tags(a, ["best", "sw", " best "])
    run = store.get_run(a)
    assert (run["name"], run["notes"], run["tags"]) == ("renamed", "the good one", ["best", "sw"])
    rid = store.add_result(a, "elastic", {"C11": 151.4, "C12": 76.4})
    store.add_result(a, "phonons", {"gamma": [0.0, 0.0, 0.0]})
    assert store.get_results(a, "elastic") == [
        {"id": rid, "kind": "elastic", "data": {"C11": 151.4, "C12": 76.4},
         "created": store.get_results(a, "elastic")[0]["created"]}]
    assert [r["kind"] for r in store.get_results(a)] == ["elastic", "phonons"]

    art = store.add_artifact(a, "model.yaml", text="A: 1\n", kind="model")
    assert art.read_text() == "A: 1\n" and art.parent == store.artifact_dir(a)
    store.delete_run(a)
    assert [r["id"] for r in store.list_runs()] == [b]
    assert not store.artifact_dir(a).exists()
    with pytest.raises(RunStoreError, match="no run 'renamed'"):
        store.get_run("renamed")
    with pytest.raises(RunStoreError, match="cannot sort runs by 'nope'"):
        store.list_runs(order_by="nope")


def test_artifact_write_is_atomic(tmp_path):
    store = RunStore(tmp_path / "st")
    run = store.begin_run()
    good = store.add_artifact(run, "model.yaml", text="A: 14.9\n")
    with pytest.raises(IsADirectoryError):  # the source fails after the temp file exists
        store.add_artifact(run, "model.yaml", source=tmp_path)
    assert good.read_text() == "A: 14.9\n"
    assert sorted(p.name for p in good.parent.iterdir()) == ["model.yaml"]
    assert store.get_artifacts(run)[0]["sha256"] == hashlib.sha256(b"A: 14.9\n").hexdigest()


def test_default_store_env_and_disable(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "env-store"))
    store = default_store()
    assert store.path == (tmp_path / "env-store").resolve()
    assert resolve_store("default") is store
    assert resolve_store(tmp_path / "env-store") is store
    monkeypatch.setenv("WORKBENCH_RUNS", "off")
    assert default_store() is None and resolve_store("default") is None
    monkeypatch.delenv("WORKBENCH_RUNS")
    monkeypatch.chdir(tmp_path)
    assert default_store().path == (tmp_path / "workbench-runs").resolve()
    with pytest.raises(RunStoreError, match="expected a RunStore"):
        resolve_store(42)


def test_version1_database_opens_migrated(tmp_path):
    """tests/data/runs_v1/runs.sqlite was written by schema version 1 (runs_v1.sql)."""
    shutil.copytree(DATA / "runs_v1", tmp_path / "old")
    with sqlite3.connect(tmp_path / "old" / "runs.sqlite") as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 1
    store = RunStore(tmp_path / "old")
    with sqlite3.connect(tmp_path / "old" / "runs.sqlite") as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION == 2
    runs = {r["id"]: r for r in store.list_runs()}
    sw = store.get_run("20251101-101500-0a1b2c")
    assert sw["name"] == "SW on Si" and sw["status"] == "finished"
    assert sw["best_loss"] == pytest.approx(0.694078013)
    assert sw["best_params"] == {"names": ["A", "B", "gamma"],
                                 "x": [14.93864, 0.5874032, 2.2014636]}
    assert sw["kind"] == "fit" and sw["tags"] == [] and sw["notes"] == "published minimum"
    assert [h["loss"] for h in store.get_history(sw["id"])] == [284.1, 12.7, 0.694078013]
    # a v1 run left "running" has no process to check any more
    assert runs["20251101-103000-3d4e5f"]["status"] == "interrupted"
    # the new columns and tables work on the migrated database
    store.add_result(sw["id"], "elastic", {"C11": 151.4})
    store.update_run(sw["id"], train_e_rmse=0.037)
    store.set_tags(sw["id"], ["v1"])
    assert store.get_run(sw["id"])["train_e_rmse"] == 0.037
    assert store.get_results(sw["id"])[0]["data"] == {"C11": 151.4}
    new = store.begin_run(name="after migration")
    assert store.get_run(new)["status"] == "running"


def test_newer_schema_is_refused(tmp_path):
    RunStore(tmp_path / "st").close()
    with sqlite3.connect(tmp_path / "st" / "runs.sqlite") as c:
        c.execute("PRAGMA user_version = 99")
    with pytest.raises(RunStoreError, match="schema version 99 is newer"):
        RunStore(tmp_path / "st")


WRITER = textwrap.dedent("""
    import sys
    from workbench.runs import RunStore
    store = RunStore(sys.argv[1])
    tag, n = sys.argv[2], int(sys.argv[3])
    for k in range(n):
        run = store.begin_run(name=f"{tag}-{k}", tags=[tag])
        for it in range(1, 11):
            store.record_history(run, [(it, 1.0 / it, 1.0 / it, it, 0.01 * it, [float(it)])],
                                 iterations=it, best_loss=1.0 / it)
        store.add_result(run, "check", {"writer": tag, "k": k})
        store.finish_run(run, "finished", "done")
""")


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    RunStore(tmp_path / "st").close()
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "st"), tag, "40"],
                              stderr=subprocess.PIPE, text=True) for tag in ("p", "q")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    store = RunStore(tmp_path / "st")
    runs = store.list_runs()
    assert len(runs) == 80 and all(r["status"] == "finished" for r in runs)
    assert sorted(r["name"] for r in runs) == sorted(
        [f"p-{k}" for k in range(40)] + [f"q-{k}" for k in range(40)])
    for r in runs:
        assert [h["iteration"] for h in store.get_history(r["id"])] == list(range(1, 11))
        assert r["iterations"] == 10 and r["best_loss"] == pytest.approx(0.1)
        assert store.get_results(r["id"])[0]["data"]["writer"] == r["tags"][0]


KILLED_FIT = textwrap.dedent("""
    import sys, time
    from workbench import datasets
    from workbench.dataset import Dataset, Weight
    from workbench.models import StillingerWeber
    from workbench.calculators import Calculator
    from workbench.loss import Loss
    from workbench.fit.session import FitSession

    class Slow(Loss):
        def loss_and_grad(self, x):
            time.sleep(0.05)
            return super().loss_and_grad(x)

    configs = Dataset(datasets.path("Si_4"), Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(configs)
    s = FitSession(Slow(calc), options={"maxiter": 10000, "ftol": 0, "gtol": 0},
                   store=sys.argv[1], name="to be killed")
    print(s.run_id, flush=True)
    s.run()
""")


def test_sigkill_mid_run_leaves_interrupted_run_with_its_history(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(KILLED_FIT)
    st = tmp_path / "st"
    proc = subprocess.Popen([sys.executable, str(script), str(st)], stdout=subprocess.PIPE,
                            text=True)
    run_id = proc.stdout.readline().strip()
    store = RunStore(st)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            if len(store.get_history(run_id)) >= 4:
                break
        except RunStoreError:  # not started yet
            pass
        time.sleep(0.1)
    assert store.get_run(run_id)["status"] == "running"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    store.close()
    store = RunStore(st)  # the next open finds the dead process
    run = store.get_run(run_id)
    assert run["status"] == "interrupted"
    assert f"process {proc.pid}" in run["message"] and "ended during the run" in run["message"]
    hist = store.get_history(run_id)
    assert len(hist) >= 4
    its = [h["iteration"] for h in hist]
    assert its == sorted(its) and run["iterations"] == its[-1]
    losses = [h["loss"] for h in hist]
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # L-BFGS-B never goes up
    assert run["best_loss"] == pytest.approx(min(losses))
    assert run["model_kind"] == "StillingerWeber" and run["dataset"]["n_train"] == 4
    assert len(hist[-1]["params"]) == 2
    assert run["ended"] is not None


def test_running_run_of_a_live_process_stays_running(tmp_path):
    store = RunStore(tmp_path / "st")
    run = store.begin_run()
    store.close()
    again = RunStore(tmp_path / "st")
    assert again.get_run(run)["status"] == "running"
    assert again.get_run(run)["pid"] == os.getpid()
