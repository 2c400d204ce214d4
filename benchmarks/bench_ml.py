"""ML benchmarks on the Si set's varying_alat part (400 configurations).

1. set51 symmetry-function fingerprints with force derivatives (cos cutoff, 5 Å):
   ``generate_fingerprints(..., fit_forces=True)``, first call after a warm-up on two
   configurations (so numba compilation is excluded), cache disabled.
2. Training (10 epochs of Adam, batch 100, the 10-10 tanh network of the tutorial):
   see ``bench_training``.

Ratios against KLIFF are printed when ``kliff`` is importable.
"""

from __future__ import annotations

import os
import tempfile
import time

from workbench import datasets
from workbench.data.dataset import Dataset
from workbench.ml.descriptors import SymmetryFunction


def load_configs():
    return Dataset(datasets.path("Si") / "varying_alat").configs


def bench_fingerprints(configs, nprocs=1, repeats=3):
    """Best wall time of set51 fingerprints with force derivatives."""
    sf = SymmetryFunction({"Si-Si": 5.0}, "cos", "set51")
    with tempfile.TemporaryDirectory() as tmp:
        sf.generate_fingerprints(configs[:2], fit_forces=True, reuse=False,
                                 fingerprints_filename=os.path.join(tmp, "warm.pkl"),
                                 fingerprints_mean_stdev_filename=os.path.join(tmp, "w.pkl"))
        best = float("inf")
        for _ in range(repeats):
            sf = SymmetryFunction({"Si-Si": 5.0}, "cos", "set51")
            t0 = time.perf_counter()
            sf.generate_fingerprints(configs, fit_forces=True, reuse=False, nprocs=nprocs,
                                     fingerprints_filename=os.path.join(tmp, "fp.pkl"),
                                     fingerprints_mean_stdev_filename=os.path.join(tmp, "m.pkl"))
            best = min(best, time.perf_counter() - t0)
    return best


def bench_descriptor_only(configs, nprocs=1):
    """Wall and CPU time of the descriptor values + force derivatives alone (no
    normalization, no file)."""
    sf = SymmetryFunction({"Si-Si": 5.0}, "cos", "set51")
    list(sf.transform_many(configs[:2], fit_forces=True))
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in sf.transform_many(configs, fit_forces=True, nprocs=nprocs):
        pass
    return time.perf_counter() - w0, time.process_time() - c0


def bench_fingerprints_kliff(configs):
    """KLIFF's C++ descriptor on the same configurations, or None without kliff."""
    try:
        from kliff.dataset import Dataset as KDataset
        from kliff.descriptors import SymmetryFunction as KSF
    except ImportError:
        return None
    kconfigs = KDataset(str(datasets.path("Si") / "varying_alat")).get_configs()
    desc = KSF(cut_dists={"Si-Si": 5.0}, cut_name="cos", hyperparams="set51",
               normalize=True)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        desc.generate_fingerprints(kconfigs, fit_forces=True,
                                   fingerprints_filename=os.path.join(tmp, "fp.pkl"),
                                   fingerprints_mean_stdev_filename=os.path.join(tmp, "m.pkl"))
        return time.perf_counter() - t0


def bench_training(configs):
    """10 epochs of Adam, batch 100, 10-10 tanh network (filled in with the torch models)."""
    return None


def main():
    configs = load_configs()
    print(f"configurations: {len(configs)}")
    natoms = sum(len(c.species) for c in configs)
    print(f"atoms: {natoms}; float32 dzeta/dr written: "
          f"{sum(len(c.species) ** 2 for c in configs) * 51 * 3 * 4 / 1e6:.0f} MB; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for nprocs in (1, 2):
        w, c = bench_descriptor_only(configs, nprocs)
        print(f"set51 values + force derivatives only, nprocs={nprocs}: {w:.3f} s wall, "
              f"{c:.3f} s CPU")
    for nprocs in (1, 2):
        t = bench_fingerprints(configs, nprocs=nprocs, repeats=1)
        print(f"set51 fingerprints + force derivatives, nprocs={nprocs}: {t:.3f} s "
              f"(target <= 1 s)")
    tk = bench_fingerprints_kliff(configs)
    if tk is not None:
        print(f"  kliff: {tk:.3f} s  (ratio kliff / workbench = {tk / t:.1f})")
    bench_training(configs)


if __name__ == "__main__":
    main()
