"""The KIM path on both cores: one loss-style evaluation (energies and forces of the whole
bundled Si set) of an OpenKIM model through kimpy, serial against two threads.

kim-api's Compute runs without the GIL (kimpy's ``compute(ca, release_GIL=True)``), so
``KIMModel(name, engine="kim")`` (the kim-api path, not the numba twin) evaluates one
group of configurations per engine thread, each group on its own kim-api instance of the
model (a driver's Compute is not reentrant).  Prints the best
of several runs, wall and CPU, the speed-up, and the load average (other work on the
machine inflates wall times); then the share of a serial evaluation's CPU time spent
outside kim-api's Compute, i.e. in Python holding the GIL, which bounds the speed-up.
Run: ``.venv/bin/python benchmarks/bench_kim_threads.py [MODEL]``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

MODEL = "SW_StillingerWeber_1985_Si__MO_405512056662_005"


def main():
    from workbench import datasets
    from workbench.dataset import Dataset
    from workbench.engine import threads
    from workbench.models import KIMModel
    import workbench.models.kim as kim

    name = sys.argv[1] if len(sys.argv) > 1 else MODEL
    configs = Dataset(datasets.path("Si")).get_configs()
    results = {}
    for n in (1, 2, 1, 2):
        threads.num_threads = kim.num_threads = (lambda n=n: n)
        model = KIMModel(name, engine="kim")
        state = model.prepare(configs)
        best = None
        for _ in range(3):
            w0, c0 = time.perf_counter(), time.process_time()
            res = model.compute(state, forces=True)
            w, c = time.perf_counter() - w0, time.process_time() - c0
            if best is None or w < best[0]:
                best = (w, c, res)
        if n in results and results[n][0] < best[0]:
            continue
        results[n] = best
    # the part of a serial evaluation spent outside kim-api's Compute (holding the GIL):
    # what bounds the second thread's gain, readable even on a busy machine
    threads.num_threads = kim.num_threads = (lambda: 1)
    model = KIMModel(name, engine="kim")
    state = model.prepare(configs)
    kcs = state.extra["kim"]

    def compute_only():
        for kc in kcs:
            kc.kim_model.compute(kc.ca, True)

    cpu = {}
    for label, fn in (("evaluation", lambda: model.compute(state, forces=True)),
                      ("Compute only", compute_only)):
        times = []
        for _ in range(5):
            c0 = time.process_time()
            fn()
            times.append(time.process_time() - c0)
        cpu[label] = min(times)
    same = all(np.array_equal(getattr(results[1][2], a), getattr(results[2][2], a))
               for a in ("energy", "forces"))
    print(f"{name} on the Si set ({len(configs)} configurations), energies + forces")
    for n in (1, 2):
        print(f"  {n} thread(s): {results[n][0]:.3f} s wall, {results[n][1]:.3f} s cpu")
    print(f"  speed-up {results[1][0] / results[2][0]:.2f}x (target >= 1.7x on 2 idle "
          f"cores); identical numbers: {same}; load average {os.getloadavg()[0]:.1f}")
    share = 1.0 - cpu["Compute only"] / cpu["evaluation"]
    print(f"  serial: {cpu['evaluation'] * 1e3:.1f} ms cpu, of which outside kim-api's "
          f"Compute (under the GIL) {share:.1%}: at most {1 / (share + (1 - share) / 2):.2f}x "
          "on 2 cores")


if __name__ == "__main__":
    main()
