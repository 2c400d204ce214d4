"""A Dask fit whose workers all die: shards rebuilt on restarted workers and the fit goes
on; with no worker coming back, a bounded wait and a message naming what was lost;
``stop()`` ends a fit stuck waiting for workers at once.  Real LocalClusters."""

import os
import signal
import threading
import time

import distributed
import numpy as np
import pytest

from workbench.calculators import Calculator
from workbench.dataset import Dataset, Weight
from workbench.fit.session import FitSession
from workbench.loss import Loss
from workbench.models import StillingerWeber

pytestmark = pytest.mark.dask
LBFGS = {"options": {"maxiter": 400, "ftol": 1e-15, "gtol": 1e-10}}


@pytest.fixture(scope="module")
def si_configs(si_path):
    return Dataset(si_path, Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()


def _sw_calc(configs):
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(configs)
    return calc


def _cluster(n):
    c = distributed.LocalCluster(n_workers=n, processes=True, threads_per_worker=1,
                                 dashboard_address=":0", host="127.0.0.1")
    return c, distributed.Client(c)


def _no_workers(client, timeout=30):
    deadline = time.time() + timeout
    while client.scheduler_info()["workers"] and time.time() < deadline:
        time.sleep(0.05)
    assert not client.scheduler_info()["workers"]


@pytest.mark.slow
def test_every_worker_killed_the_fit_goes_on_to_the_serial_minimum(si_configs):
    serial = Loss(_sw_calc(si_configs[:60])).minimize("L-BFGS-B", **LBFGS)
    cl, client = _cluster(2)
    try:
        dist = Loss(_sw_calc(si_configs[:60]), backend=client)
        backend = dist._distributed
        pids = {i["pid"] for i in backend.wait_ready()}
        assert len(pids) == 2
        killed = threading.Event()

        def killer():
            while dist.n_eval < 5:
                time.sleep(0.01)
            for pid in pids:  # every worker holding a shard dies at once
                os.kill(pid, signal.SIGKILL)
            killed.set()

        threading.Thread(target=killer, daemon=True).start()
        result = dist.minimize("L-BFGS-B", **LBFGS)
        assert killed.is_set() and not result.get("stopped")
        assert result.fun == pytest.approx(serial.fun, rel=1e-10)
        # the shards now live in the processes the nannies restarted
        assert not pids & {i["pid"] for i in backend.wait_ready()}
        assert backend.n_rebuilt >= 1  # shards Dask had given up on were built again
    finally:
        client.close()
        cl.close()


def test_no_worker_back_stops_in_bounded_time_naming_the_lost_shards(si_configs):
    serial = Loss(_sw_calc(si_configs[:60]))
    f0 = serial.loss(serial.x0())
    cl, client = _cluster(1)
    try:
        dist = Loss(_sw_calc(si_configs[:60]), backend=client,
                    backend_options={"worker_timeout": 3.0})
        worker = dist._distributed.workers[0]
        dist._distributed.wait_ready()
        t_gone = {}

        def cb(info):
            if info.nit == 3:
                cl.scale(0)
                _no_workers(client)
                t_gone["t"] = time.monotonic()
            return False

        result = dist.minimize("L-BFGS-B", callback=cb, **LBFGS)
        waited = time.monotonic() - t_gone["t"]
        assert 3.0 <= waited < 15.0
        assert result.stopped and "StopFit" not in result.message
        assert result.message.startswith(
            "every Dask worker is gone and none came back within 3 s; lost 1 shard(s) of 60 "
            f"configurations: shard 1 (configurations 0-59, last on {worker}); the fit "
            "stops with the best parameters found so far")
        assert np.isfinite(result.fun) and result.fun < f0
        assert serial.loss(result.x) == pytest.approx(result.fun, rel=1e-12)
        np.testing.assert_array_equal(dist.calculator.get_opt_params(), result.x)
    finally:
        client.close()
        cl.close()


def test_stop_returns_promptly_while_the_fit_waits_for_workers(si_configs):
    cl, client = _cluster(1)
    try:
        dist = Loss(_sw_calc(si_configs[:60]), backend=client,
                    backend_options={"worker_timeout": 600.0})
        dist._distributed.wait_ready()
        session = FitSession(dist, "L-BFGS-B", LBFGS["options"])
        session.start()
        deadline = time.monotonic() + 120
        while session.iteration < 3:
            assert session.running and time.monotonic() < deadline, (
                session.state, session.result and session.result.message)
            time.sleep(0.01)
        cl.scale(0)
        _no_workers(client)
        time.sleep(1.0)  # the fit is now blocked in an evaluation no worker can run
        assert session.running
        t0 = time.monotonic()
        session.stop()
        assert session.wait(10) and time.monotonic() - t0 < 5.0
        assert session.state == "stopped"
        assert session.result.message.startswith("stopped by user")
        np.testing.assert_array_equal(session.result.x, session.best_params)
        np.testing.assert_array_equal(dist.calculator.get_opt_params(), session.best_params)
    finally:
        client.close()
        cl.close()
