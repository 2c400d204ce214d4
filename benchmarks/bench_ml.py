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
    # one untimed pass: the first touch of ~1.5 GB of fresh output memory costs the
    # kernel-independent page faults, which would otherwise dominate the first figure
    for _ in sf.transform_many(configs, fit_forces=True, nprocs=nprocs):
        pass
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


def _training_setup(configs, tmp):
    import torch

    from workbench.data.weight import Weight
    from workbench.fit.loss import Loss
    from workbench.ml.calculator_torch import CalculatorTorch
    from workbench.ml.neural_network import NeuralNetwork

    for c in configs:
        c.weight = Weight(forces_weight=0.3)
    sf = SymmetryFunction({"Si-Si": 5.0}, "cos", "set51")
    model = NeuralNetwork(sf)
    model.add_layers(torch.nn.Linear(sf.get_size(), 10), torch.nn.Tanh(),
                     torch.nn.Linear(10, 10), torch.nn.Tanh(), torch.nn.Linear(10, 1))
    calc = CalculatorTorch(model)
    calc.create(configs, fingerprints_filename=os.path.join(tmp, "fp.pkl"),
                fingerprints_mean_stdev_filename=os.path.join(tmp, "m.pkl"))
    return Loss(calc, nprocs=1)


def bench_training(configs, repeats=2):
    """Best wall time of 10 epochs of Adam (batch 100, lr 0.001) of the tutorial's
    10-10 tanh network on set51 fingerprints with forces (weight 0.3); the fingerprints
    are computed beforehand and not timed."""
    with tempfile.TemporaryDirectory() as tmp:
        loss = _training_setup(configs, tmp)
        loss.minimize("Adam", batch_size=100, num_epochs=1, lr=0.001, verbose=False)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = loss.minimize("Adam", batch_size=100, num_epochs=10, lr=0.001,
                                verbose=False)
            best = min(best, time.perf_counter() - t0)
    print(f"training, 10 epochs Adam, batch 100, 10-10 tanh: {best:.3f} s (target <= 1 s); "
          f"loss {res.history[0][1]:.6g} -> {res.history[-1][1]:.6g}")
    tk = bench_training_kliff()
    if tk is not None:
        print(f"  kliff: {tk:.3f} s  (ratio kliff / workbench = {tk / best:.1f})")
    return best


def bench_training_kliff():
    """The same training with KLIFF, or None without kliff."""
    try:
        from kliff import nn as knn
        from kliff.calculators import CalculatorTorch as KCalc
        from kliff.dataset import Dataset as KDataset
        from kliff.dataset.weight import Weight as KWeight
        from kliff.descriptors import SymmetryFunction as KSF
        from kliff.loss import Loss as KLoss
        from kliff.models import NeuralNetwork as KNN
    except ImportError:
        return None
    desc = KSF(cut_dists={"Si-Si": 5.0}, cut_name="cos", hyperparams="set51",
               normalize=True)
    model = KNN(desc)
    model.add_layers(knn.Linear(desc.get_size(), 10), knn.Tanh(), knn.Linear(10, 10),
                     knn.Tanh(), knn.Linear(10, 1))
    kconfigs = KDataset(str(datasets.path("Si") / "varying_alat"),
                        KWeight(forces_weight=0.3)).get_configs()
    with tempfile.TemporaryDirectory() as tmp:
        calc = KCalc(model)
        calc.create(kconfigs, reuse=False, fingerprints_filename=os.path.join(tmp, "fp.pkl"),
                    fingerprints_mean_stdev_filename=os.path.join(tmp, "m.pkl"))
        loss = KLoss(calc)
        t0 = time.perf_counter()
        loss.minimize(method="Adam", num_epochs=10, batch_size=100, lr=0.001)
        return time.perf_counter() - t0


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
