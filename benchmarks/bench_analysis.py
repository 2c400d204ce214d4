"""Fisher information of SW (A, B, sigma, gamma) on the whole 1000-configuration Si set.

Target: ≤ 1 s per Fisher matrix on this machine (neighbor lists built once beforehand).
"""

import time

import numpy as np

from workbench import datasets
from workbench.analysis import Fisher
from workbench.data import Dataset
from workbench.fit.calculator import Calculator
from workbench.models import StillingerWeber


def main(repeats=5):
    configs = Dataset(datasets.path("Si")).get_configs()
    model = StillingerWeber(["Si"])
    model.set_opt_params(A=[[14.9386]], B=[[0.5874]], sigma=[[2.0951]], gamma=[[2.20146]])
    calc = Calculator(model)
    t = time.perf_counter()
    calc.create(configs, use_energy=False, use_forces=True)
    print(f"prepare {len(configs)} configurations: {time.perf_counter() - t:.3f} s")
    fisher = Fisher(calc)
    fisher.run(verbose=0)  # compile
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fisher.run(verbose=0)
        times.append(time.perf_counter() - t)
    print(f"Fisher SW 4 params, {len(configs)} configs, "
          f"{int(calc.atom_offsets[-1])} atoms: best {min(times):.3f} s, "
          f"median {np.median(times):.3f} s over {repeats} runs (target <= 1 s)")
    print(fisher.summary())


if __name__ == "__main__":
    main()
