"""Bootstrap on a noiseless synthetic set; MCMC on a linear toy with a known posterior;
background jobs with progress events."""

import copy
import threading

import numpy as np
import pytest

from workbench.analysis import MCMC, Bootstrap, natural_temperature
from workbench.data import Weight, read_config
from workbench.fit.calculator import Calculator
from workbench.fit.loss import Loss
from workbench.fit.objective import LeastSquaresObjective
from workbench.models import StillingerWeber

TRUE = {"A": 15.2, "B": 0.61, "gamma": 2.35}


@pytest.fixture(scope="module")
def synthetic(si_path):
    """Copies of Si configurations whose references are SW predictions at TRUE."""
    files = sorted((si_path / "varying_alat").glob("*.xyz"))[::25]
    files += sorted((si_path / "NVT_runs").rglob("*.xyz"))[::150]
    configs = [read_config(f, weight=Weight(energy_weight=1.0, forces_weight=0.1))
               for f in files]
    truth = StillingerWeber(["Si"])
    truth.set_opt_params(**{k: [[v]] for k, v in TRUE.items()})
    calc = Calculator(truth)
    calc.create(configs)
    res = truth.compute(calc.state_, forces=True)
    out = []
    for k, c in enumerate(configs):
        c = copy.deepcopy(c)
        c.energy = float(res.energy[k])
        c.forces = res.forces[calc.atom_offsets[k]:calc.atom_offsets[k + 1]].copy()
        out.append(c)
    return out


def fitted_loss(configs):
    model = StillingerWeber(["Si"])
    model.set_opt_params(A=[[13.0, 1.0, 30.0]], B=[[0.5]], gamma=[[2.0]])
    calc = Calculator(model)
    calc.create(configs)
    loss = Loss(calc)
    loss.minimize("trf", xtol=1e-14, ftol=1e-14, gtol=1e-14)
    return loss


def test_bootstrap_mean_reproduces_noiseless_fit(synthetic):
    loss = fitted_loss(synthetic)
    truth = np.array(list(TRUE.values()))
    np.testing.assert_allclose(loss.x0(), truth, rtol=1e-8)
    boot = Bootstrap(loss, method="trf", options=dict(xtol=1e-14, ftol=1e-14, gtol=1e-14),
                     seed=7, nthreads=2)
    events = []
    job = boot.job(n_samples=6)
    job.subscribe(events.append)
    res = job.run()
    assert res.samples.shape == (6, 3) and res.done.all()
    assert res.counts.shape == (6, len(synthetic))
    assert (res.counts.sum(axis=1) == len(synthetic)).all()
    assert len({tuple(c) for c in res.counts}) == 6      # six different resamples
    np.testing.assert_allclose(res.mean, truth, rtol=1e-7)
    assert np.all(res.std < 1e-6 * truth)
    assert np.all(res.losses < 1e-16)
    # predictions with every sample equal the noiseless references
    ref_e = np.array([c.energy for c in synthetic])
    np.testing.assert_allclose(res.energy, np.broadcast_to(ref_e, res.energy.shape),
                               rtol=1e-9, atol=1e-9)
    assert np.all(res.energy_std < 1e-7)
    assert np.all(res.forces_std(loss.calculator.atom_offsets) < 1e-7)
    # events: started, progress up to 6/6, finished; the model keeps the full fit
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    prog = [e for e in events if e.kind == "iteration"]
    assert prog[-1].done == 6 and prog[-1].fraction == 1.0
    assert all(0 < e.fraction <= 1 for e in prog)
    np.testing.assert_allclose(loss.x0(), truth, rtol=1e-8)


def test_bootstrap_resample_loss_counts_duplicates(synthetic):
    """A refit's objective equals the loss over the drawn list with its duplicates."""
    from workbench.analysis.bootstrap import _Multiplicity

    counts = np.array([2, 0, 1, 0, 2])
    drawn = [c for c, k in zip(synthetic[:5], counts) for _ in range(k)]
    model = StillingerWeber(["Si"])
    model.set_opt_params(A=[[13.0, 1.0, 30.0]], B=[[0.5]], gamma=[[2.0]])
    full = Calculator(model)
    full.create(drawn)
    x = np.array([14.0, 0.55, 2.1])
    expected = Loss(full).loss(x)
    sub = [synthetic[i] for i in (0, 2, 4)]
    calc = Calculator(copy.deepcopy(model))
    calc.create(sub)
    rows = calc.natoms * 3 + 1
    obj = _Multiplicity(Loss(calc), np.repeat(np.sqrt([2.0, 1.0, 2.0]), rows))
    assert obj.loss(x) == pytest.approx(expected, rel=1e-12)
    _, g = obj.loss_and_grad(x)
    _, g_full = Loss(full).loss_and_grad(x)
    np.testing.assert_allclose(g, g_full, rtol=1e-10)


def linear_toy(seed=3):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 40)
    A = np.stack([np.ones_like(t), t], axis=1)
    y = A @ np.array([0.5, -1.2]) + 0.05 * rng.standard_normal(t.size)
    obj = LeastSquaresObjective(lambda x: A @ x - y, lambda x: A, x0=[0.0, 0.0],
                                bounds=[(-10, 10), (-10, 10)], names=["a", "b"])
    xhat = np.linalg.lstsq(A, y, rcond=None)[0]
    obj.set_params(xhat)
    obj._x0 = xhat.copy()
    return obj, A, y, xhat


def test_mcmc_recovers_gaussian_posterior():
    obj, A, y, xhat = linear_toy()
    mc = MCMC(obj, nwalkers=16, seed=11)
    L0 = 0.5 * np.sum((A @ xhat - y) ** 2)
    assert mc.T == pytest.approx(2 * L0 / 2, rel=1e-12)
    assert natural_temperature(obj) == pytest.approx(mc.T, rel=1e-12)
    res = mc.run(nsteps=3000)
    cov = mc.T * np.linalg.inv(A.T @ A)
    sd = np.sqrt(np.diag(cov))
    assert 0 < res.burn <= 1500
    assert res.tau_reliable and np.all(res.tau > 1)
    assert 0.2 < res.acceptance_fraction < 0.9
    n_eff = res.samples.shape[0] / np.max(res.tau)
    assert n_eff > 1000
    assert np.all(np.abs(res.mean - xhat) < 5 * sd / np.sqrt(n_eff))
    np.testing.assert_allclose(res.std, sd, rtol=0.08)
    corr = cov[0, 1] / (sd[0] * sd[1])
    assert res.cov[0, 1] / np.prod(res.std) == pytest.approx(corr, abs=0.05)
    np.testing.assert_allclose(obj.params, xhat)


def test_mcmc_log_prob_bounds_and_temperature():
    obj, A, y, xhat = linear_toy()
    mc = MCMC(obj, T=2.0)
    assert mc.log_prob(xhat) == pytest.approx(-obj.loss(xhat) / 2.0, rel=1e-14)
    assert mc.log_prob([10.5, 0.0]) == -np.inf
    assert mc.log_prob([0.0, -10.0]) == -np.inf
    with pytest.raises(ValueError, match="at least twice"):
        MCMC(obj, nwalkers=3)
    with pytest.raises(ValueError, match="positive"):
        MCMC(obj, T=0.0)


def test_mcmc_job_can_be_stopped():
    obj, *_ = linear_toy()
    mc = MCMC(obj, nwalkers=8, seed=1)
    job = mc.job(nsteps=10**6)
    first = threading.Event()
    events = []

    def on_event(e):
        events.append(e)
        if e.kind == "iteration" and e.done >= 200:
            first.set()

    job.subscribe(on_event)
    job.start()
    assert first.wait(60)
    job.stop()
    assert job.wait(60)
    assert job.state == "stopped" and events[-1].kind == "stopped"
    res = job.result
    assert 200 <= res.chain.shape[0] < 10**6
    assert 0 < job.fraction < 1


@pytest.mark.dask
def test_bootstrap_on_dask_matches_threads(synthetic):
    from dask.distributed import Client, LocalCluster

    loss = fitted_loss(synthetic[:6])
    opts = dict(xtol=1e-14, ftol=1e-14, gtol=1e-14)
    local = Bootstrap(loss, method="trf", options=opts, seed=5, nthreads=1).run(
        n_samples=3, predictions=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        remote = Bootstrap(loss, method="trf", options=opts, seed=5, client=client).run(
            n_samples=3, predictions=False)
    np.testing.assert_array_equal(remote.counts, local.counts)
    np.testing.assert_allclose(remote.samples, local.samples, rtol=1e-9)
    np.testing.assert_allclose(remote.mean, list(TRUE.values()), rtol=1e-7)


@pytest.mark.kim
def test_clone_of_kim_model_is_independent():
    from workbench.analysis.bootstrap import clone_model
    from workbench.models.kim import KIMModel

    kim = KIMModel("SW_StillingerWeber_1985_Si__MO_405512056662_005")
    kim.set_opt_params(A=[[14.0, 1.0, 20.0]], gamma=[[2.3]])
    twin = clone_model(kim)
    assert type(twin) is KIMModel and twin is not kim
    np.testing.assert_array_equal(twin.get_opt_params(), [14.0, 2.3])
    assert twin.get_opt_params_bounds() == kim.get_opt_params_bounds()
    twin.update_model_params([15.0, 2.4])
    np.testing.assert_array_equal(kim.get_opt_params(), [14.0, 2.3])
