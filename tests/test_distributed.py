"""Loss on a real Dask LocalCluster (two single-threaded worker processes on localhost):
the same numbers as the serial Loss, the SW tutorial's minimum, only small sums on the
wire for loss/gradient evaluations, and a fit that survives a killed worker."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from workbench.calculators import Calculator
from workbench.dataset import Dataset, Weight
from workbench.fit.distributed import DaskBackend, split_by_atoms
from workbench.loss import Loss
from workbench.models import StillingerWeber

import distributed
pytestmark = pytest.mark.dask

SW_SERIAL_MIN = 0.6940780  # L-BFGS-B on the SW tutorial, serial (shared/data/README.md)
LBFGS = {"options": {"maxiter": 400, "ftol": 1e-15, "gtol": 1e-10}}


@pytest.fixture(scope="module")
def si_configs(si_path):
    return Dataset(si_path, Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=":0", host="127.0.0.1")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _sw_calc(configs):
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(configs)
    return calc


def test_split_by_atoms_balances_contiguous_ranges():
    ranges = split_by_atoms([10, 10, 10, 10, 40, 10, 10], 2)
    assert ranges == [(0, 4), (4, 7)] or ranges == [(0, 5), (5, 7)]
    assert ranges[0][0] == 0 and ranges[-1][1] == 7
    assert split_by_atoms([5, 5], 8) == [(0, 1), (1, 2)]


def test_shards_live_on_both_workers_and_match_serial(client, si_configs):
    configs = si_configs[:120]
    serial = Loss(_sw_calc(configs))
    dist = Loss(_sw_calc(configs), backend=client)
    backend = dist._distributed
    infos = backend.wait_ready()
    worker_pids = set(client.run(os.getpid).values())
    assert {i["pid"] for i in infos} == worker_pids and len(worker_pids) == 2
    assert sum(i["nconfigs"] for i in infos) == 120
    x = serial.x0() * np.array([1.1, 0.9, 1.2])
    f_s, g_s = serial.loss_and_grad(x)
    f_d, g_d = dist.loss_and_grad(x)
    assert f_d == pytest.approx(f_s, rel=1e-13)
    np.testing.assert_allclose(g_d, g_s, rtol=1e-12)
    assert dist.loss(x) == pytest.approx(serial.loss(x), rel=1e-13)
    u_s, J_s = serial.residual_and_jacobian(x)
    u_d, J_d = dist.residual_and_jacobian(x)
    np.testing.assert_allclose(u_d, u_s, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(J_d, J_s, rtol=1e-12, atol=1e-15)
    f_gn, g_gn, H = dist.gauss_newton(x)
    np.testing.assert_allclose(H, J_s.T @ J_s, rtol=1e-12)
    assert f_gn == pytest.approx(f_s, rel=1e-13)
    # the model on the client holds the evaluated point
    np.testing.assert_allclose(dist.calculator.get_opt_params(), x)


def test_loss_and_grad_traffic_does_not_grow_with_atoms(client, si_configs):
    """Only x goes out and (loss, Jᵀu) comes back: the per-evaluation results have the
    same byte size for 40 and 400 configurations."""
    from distributed.protocol import serialize_bytes

    sizes = []
    for n in (40, 400):
        dist = Loss(_sw_calc(si_configs[:n]), backend=client)
        x = dist.x0()
        futs = [client.submit(_raw_eval, s, x, "grad", pure=False)
                for s in dist._distributed.shards]
        parts = client.gather(futs)
        sizes.append(sum(len(serialize_bytes(p)) for p in parts))
        dist._distributed.close()
    assert sizes[0] == sizes[1] < 2000


def _raw_eval(shard, x, mode):
    return shard.evaluate(x, mode)


@pytest.mark.slow
def test_sw_tutorial_minimum_same_as_serial(client, si_configs):
    serial = Loss(_sw_calc(si_configs))
    r_s = serial.minimize("L-BFGS-B", **LBFGS)
    dist = Loss(_sw_calc(si_configs), backend=client)
    r_d = dist.minimize("L-BFGS-B", **LBFGS)
    assert r_s.fun == pytest.approx(SW_SERIAL_MIN, rel=1e-6)
    assert r_d.fun == pytest.approx(r_s.fun, rel=1e-10)
    np.testing.assert_allclose(r_d.x, r_s.x, rtol=1e-5)


def test_least_squares_method_through_residual_blocks(client, si_configs):
    configs = si_configs[:80]
    r_s = Loss(_sw_calc(configs)).minimize("trf", xtol=1e-14, ftol=1e-14, gtol=1e-14)
    r_d = Loss(_sw_calc(configs), backend=client).minimize("trf", xtol=1e-14, ftol=1e-14,
                                                          gtol=1e-14)
    assert r_d.fun == pytest.approx(r_s.fun, rel=1e-10)


@pytest.mark.slow
def test_killed_worker_fit_still_reaches_serial_minimum(si_configs):
    """A worker process is killed (SIGKILL) in the middle of a fit: its shard is rebuilt
    on a live worker and the fit ends at the serial minimum."""
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=":0", host="127.0.0.1")
    client = distributed.Client(cluster)
    try:
        configs = si_configs[:300]
        serial = Loss(_sw_calc(configs)).minimize("L-BFGS-B", **LBFGS)
        dist = Loss(_sw_calc(configs), backend=client)
        backend: DaskBackend = dist._distributed
        infos = backend.wait_ready()
        victim = infos[1]["pid"]
        killed = threading.Event()
        n_at_kill = []

        def killer():
            while dist.n_eval < 5:
                time.sleep(0.01)
            n_at_kill.append(dist.n_eval)
            os.kill(victim, signal.SIGKILL)
            killed.set()

        t = threading.Thread(target=killer, daemon=True)
        t.start()
        result = dist.minimize("L-BFGS-B", **LBFGS)
        t.join(5)
        assert killed.is_set() and result.nit > 5
        assert dist.n_eval > n_at_kill[0] + 3  # the fit went on after the kill
        assert victim not in {i["pid"] for i in backend.wait_ready()}
        assert not result.get("stopped")
        assert result.fun == pytest.approx(serial.fun, rel=1e-10)
    finally:
        client.close()
        cluster.close()


def test_no_workers_left_stops_cleanly_with_best_params(si_configs):
    """With every worker gone, the fit stops with the best point evaluated so far and a
    clear message, instead of hanging or crashing."""
    configs = si_configs[:50]
    serial = Loss(_sw_calc(configs))
    f0 = serial.loss(serial.x0())
    cluster = distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1,
                                       dashboard_address=":0", host="127.0.0.1")
    client = distributed.Client(cluster)
    try:
        dist = Loss(_sw_calc(configs), backend=client, backend_options={"timeout": 10.0})
        dist._distributed.wait_ready()
        calls = {"n": 0}

        def cb(info):
            calls["n"] += 1
            if calls["n"] == 3:
                cluster.scale(0)
                deadline = time.time() + 30
                while client.scheduler_info()["workers"] and time.time() < deadline:
                    time.sleep(0.1)
            return False

        result = dist.minimize("L-BFGS-B", callback=cb, **LBFGS)
        assert result.stopped
        assert "lost 1 shard(s) of 50 configurations: shard 1 (configurations 0-49" \
            in result.message
        assert np.isfinite(result.fun) and result.fun < f0
        # the returned point is the best one evaluated: the serial loss agrees
        assert serial.loss(result.x) == pytest.approx(result.fun, rel=1e-12)
        np.testing.assert_allclose(dist.calculator.get_opt_params(), result.x)
    finally:
        client.close()
        cluster.close()


def test_fingerprints_on_workers_equal_serial(client, si_path, tmp_path):
    from workbench.ml.descriptors import SymmetryFunction
    from workbench.ml.fingerprints import load_fingerprints

    hp = {"g2": [{"eta": 0.05, "Rs": 0.0}, {"eta": 0.5, "Rs": 2.3}],
          "g4": [{"zeta": 1, "lambda": -1, "eta": 0.01}]}
    configs = Dataset(si_path / "varying_alat").get_configs()[:10]
    out = {}
    for name, backend in (("serial", None), ("dask", client)):
        sf = SymmetryFunction({"Si-Si": 4.5}, "cos", hp, normalize=True, dtype=np.float64)
        path = sf.generate_fingerprints(
            configs, fit_forces=True, fingerprints_filename=tmp_path / f"{name}.pkl",
            fingerprints_mean_stdev_filename=tmp_path / f"{name}_ms.pkl", backend=backend)
        out[name] = (sf.get_mean(), load_fingerprints(path))
    np.testing.assert_allclose(out["dask"][0], out["serial"][0], rtol=1e-13)
    assert len(out["dask"][1]) == len(out["serial"][1]) == 10
    for a, b in zip(out["dask"][1], out["serial"][1]):
        # summation order differs between the threaded and per-worker kernels
        np.testing.assert_allclose(a["zeta"], b["zeta"], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(a["dzetadr_forces"], b["dzetadr_forces"], rtol=1e-12,
                                   atol=1e-13)
        assert a["configuration"].identifier == b["configuration"].identifier


def test_bootstrap_uses_the_loss_backend(client, si_configs):
    from workbench.analysis.bootstrap import Bootstrap

    dist = Loss(_sw_calc(si_configs[:30]), backend=client)
    dist.minimize("L-BFGS-B", **LBFGS)
    serial = Loss(dist.calculator)
    opts = {"options": {"ftol": 1e-14, "gtol": 1e-10}}
    boot = Bootstrap(dist, method="L-BFGS-B", options=opts, seed=3)
    assert boot.client is client
    remote = boot.run(n_samples=2, predictions=False)
    local = Bootstrap(serial, method="L-BFGS-B", options=opts, seed=3, nthreads=1).run(
        n_samples=2, predictions=False)
    np.testing.assert_array_equal(remote.counts, local.counts)
    np.testing.assert_allclose(remote.samples, local.samples, rtol=1e-9)


def test_a_shard_moved_between_workers_is_rebuilt_from_its_inputs(si_configs):
    """Dask moves a shard to another worker by pickling it (after restarts an evaluation
    may run where the shard does not live); the copy must give the same numbers."""
    import pickle

    import cloudpickle

    from workbench.fit.distributed import _Shard

    calc = _sw_calc(si_configs[:6])
    loss = Loss(calc)
    shard = _Shard(cloudpickle.dumps(calc.model), calc.configs, (True, True, False),
                   loss.residual_fn, loss.residual_data, 1)
    copy = pickle.loads(cloudpickle.dumps(shard))
    x = calc.get_opt_params() * 1.01
    assert copy.nconfigs == 6 and copy.natoms == shard.natoms
    assert copy.evaluate(x, "loss") == pytest.approx(loss.loss(x), rel=1e-13)
    np.testing.assert_allclose(copy.evaluate(x, "grad")[1], loss.loss_and_grad(x)[1],
                               rtol=1e-12)
