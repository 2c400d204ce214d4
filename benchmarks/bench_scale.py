"""Loss + gradient throughput: serial in-process Loss vs a Dask LocalCluster (1 and 2
single-threaded worker processes), on the bundled Si set replicated 1x, 5x and 20x
(1,000 / 5,000 / 20,000 configurations of 64 atoms).

Model: the SW tutorial set-up (A, B, gamma free; energy weight 1, forces weight 0.1).
Each timed evaluation is one ``loss_and_grad(x)`` at a new x (so nothing is cached).
Printed per size: set-up seconds (pack on the client; shard build on the workers),
seconds per evaluation, evaluations per second, configurations per second, the ratios
to the serial path, and how the cost per evaluation grows with the data-set size.

The serial path runs numba's default thread count in this process; each Dask worker is
one process with one numba thread.  On a machine shared with other jobs the numbers move
by tens of percent; run it on an idle machine for publishable figures.

    .venv/bin/python benchmarks/bench_scale.py [--scales 1 5 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import gc
import time

import numpy as np


def sw_calc(configs):
    from workbench.calculators import Calculator
    from workbench.models import StillingerWeber

    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(configs)
    return calc


def time_evals(loss, x0, repeat):
    loss.loss_and_grad(x0 * 1.001)  # warm-up (kernel compile / shard build)
    times = []
    for k in range(repeat):
        x = x0 * (1.0 + 0.01 * (k + 1))
        t = time.perf_counter()
        f, g = loss.loss_and_grad(x)
        times.append(time.perf_counter() - t)
        assert np.isfinite(f) and np.all(np.isfinite(g))
    return float(np.median(times)), f


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 5, 20])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import distributed
    import numba

    from workbench import datasets
    from workbench.dataset import Dataset, Weight
    from workbench.loss import Loss

    base = Dataset(datasets.path("Si"), Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()
    print(f"Si set: {len(base)} configurations; serial numba threads: "
          f"{numba.get_num_threads()}; repeats per point: {args.repeat} (median)")
    rows = []
    for scale in args.scales:
        configs = [copy.deepcopy(c) for _ in range(scale) for c in base]
        natoms = sum(c.get_num_atoms() for c in configs)
        t = time.perf_counter()
        calc = sw_calc(configs)
        setup = time.perf_counter() - t
        serial = Loss(calc)
        x0 = serial.x0()
        sec, f_ref = time_evals(serial, x0, args.repeat)
        rows.append((scale, len(configs), natoms, "serial", setup, sec, f_ref))
        print(f"{scale:>3d}x {len(configs):>6d} configs  serial     set-up {setup:7.2f} s   "
              f"{sec:8.3f} s/eval", flush=True)
        for nw in args.workers:
            cluster = distributed.LocalCluster(n_workers=nw, processes=True,
                                               threads_per_worker=1, dashboard_address=":0",
                                               host="127.0.0.1", silence_logs=40)
            client = distributed.Client(cluster)
            try:
                t = time.perf_counter()
                dist = Loss(calc, backend=client)
                dist._distributed.wait_ready()
                setup = time.perf_counter() - t
                sec, f = time_evals(dist, x0, args.repeat)
                assert abs(f - f_ref) <= 1e-10 * abs(f_ref), (f, f_ref)
                rows.append((scale, len(configs), natoms, f"dask x{nw}", setup, sec, f))
                print(f"{scale:>3d}x {len(configs):>6d} configs  dask x{nw}    set-up "
                      f"{setup:7.2f} s   {sec:8.3f} s/eval", flush=True)
                dist._distributed.close()
            finally:
                client.close()
                cluster.close()
        del serial, calc, configs
        gc.collect()

    print()
    print(f"{'size':>5s} {'configs':>8s} {'atoms':>9s} {'path':>8s} {'setup s':>8s} "
          f"{'s/eval':>8s} {'eval/s':>8s} {'configs/s':>10s} {'vs serial':>9s} "
          f"{'cost/1x':>8s}")
    serial_sec = {r[0]: r[5] for r in rows if r[3] == "serial"}
    first = {}
    for scale, nconf, nat, path, setup, sec, _ in rows:
        first.setdefault(path, (scale, sec))
        growth = sec / first[path][1]  # cost relative to this path's smallest size
        print(f"{scale:>4d}x {nconf:>8d} {nat:>9d} {path:>8s} {setup:8.2f} {sec:8.3f} "
              f"{1 / sec:8.2f} {nconf / sec:10.0f} {serial_sec[scale] / sec:8.2f}x "
              f"{growth:7.2f}x")
    print("\n'vs serial' = serial s/eval / this path's s/eval (above 1: faster); "
          "'cost/1x' = s/eval relative to the smallest size of the same path "
          "(linear scaling gives the size ratio).")


if __name__ == "__main__":
    main()
