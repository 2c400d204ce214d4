"""Spline-EAM benchmark on the model-generated Al set (43 configurations, 4-40 atoms).

The same model twice: our EAM on 16 + 31 + 31 knots (the knots of notebooks/09_eam.ipynb,
fitted to the Ercolessi-Adams tables) and that model written for the KIM driver
EAM_CubicNaturalSpline, installed in a private collection and run through kimpy.
Prints CPU seconds (process time, load-independent) of energy+forces, and of
energy+forces+Jacobian with respect to all 78 knot values (exact in our engine, central
differences through kim-api), then a full fit from knots moved by 5 % (trf, energies,
forces and stress).

    python benchmarks/bench_eam.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from workbench import datasets
from workbench.dataset import Dataset, Weight

AL_KIM = "EAM_CubicNaturalSpline_ErcolessiAdams_1994_Al__MO_800509458712_002"
RC = 5.558054418218096
KNOTS = {"F_Al": np.linspace(0.0, 1.2, 16), "rho_Al": np.linspace(0.0, RC, 31),
         "rphi_Al_Al": np.linspace(0.0, RC, 31)}


def cpu(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        c0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - c0)
    return best, out


def main(repeat=3):
    from workbench.calculators import Calculator
    from workbench.loss import Loss
    from workbench.models.eam import EAM
    from workbench.models.kim import KIMModel
    from workbench.models.kim_collections import PrivateCollection

    configs = Dataset(datasets.path("Al_EAM"),
                      Weight(energy_weight=1.0, forces_weight=1.0, stress_weight=300.0)
                      ).get_configs()
    model = EAM.from_kim(AL_KIM, knots=KNOTS)
    state = model.prepare(configs)
    model.compute(state, forces=True, jacobian=True)  # compile / warm caches
    rows = []
    t_ef, _ = cpu(lambda: model.compute(state, forces=True), repeat)
    t_efj, ours = cpu(lambda: model.compute(state, forces=True, jacobian=True), repeat)
    rows.append(("workbench EAM", t_ef, t_efj))
    with tempfile.TemporaryDirectory() as tmp:
        old = os.getcwd()
        os.chdir(tmp)
        try:
            name = "BenchEAM_Al__MO_000000000000_000"
            path = model.write_kim_model(os.path.join(tmp, name))
            with PrivateCollection(os.path.join(tmp, "collection")) as col:
                col.install(path)
                kim = KIMModel(name)
                kstate = kim.prepare(configs)
                k_ef, _ = cpu(lambda: kim.compute(kstate, forces=True), repeat)
                # central differences over the 78 table values (the knots)
                off = kim.flat_offsets()
                table_cols = np.concatenate([
                    off[n] + np.arange(len(kim.model_params[n]))
                    for n in ("embeddingData", "densityData", "rPhiData")])
                k_efj, kres = cpu(lambda: kim.compute(kstate, forces=True, jacobian=True,
                                                      columns=table_cols), 1)
                rows.append(("KIM spline driver (kimpy)", k_ef, k_efj))
        finally:
            os.chdir(old)
    print(f"{len(configs)} configurations, {state.batch.natoms} atoms, "
          f"{sum(model.layout.sizes)} knots")
    print(f"{'':28s} {'E+F (s CPU)':>12s} {'E+F+J (s CPU)':>14s}")
    for label, a, b in rows:
        print(f"{label:28s} {a:12.4f} {b:14.4f}")
    print(f"speed-up E+F+J: {rows[1][2] / rows[0][2]:.0f}x")
    # Jacobians agree: our exact one against kim-api's central differences
    scale = np.abs(ours.d_forces).max()
    print(f"max |J_ours - J_kim_fd| / max|J| (forces): "
          f"{np.abs(ours.d_forces - kres.d_forces).max() / scale:.1e}")

    fit = EAM.from_kim(AL_KIM, knots=KNOTS)
    rng = np.random.default_rng(1)
    for n, p in fit.model_params.items():
        fit.set_param_value(n, p.value * (1 + 0.05 * rng.normal(size=len(p))))
    fit.set_fit_knots(r_min=2.0)
    calc = Calculator(fit)
    calc.create(configs)
    loss = Loss(calc)
    c0, t0 = time.process_time(), time.perf_counter()
    res = loss.minimize(method="trf", max_nfev=200)
    res = dict(res)
    print(f"full fit ({fit.get_num_opt_params()} knots, trf, {res.get('nfev', '?')} evaluations): "
          f"{time.process_time() - c0:.1f} s CPU, {time.perf_counter() - t0:.1f} s wall, "
          f"loss {loss.loss(loss.x0()):.3g}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    main(ap.parse_args().repeat)
