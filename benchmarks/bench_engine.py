"""Engine benchmark on the whole bundled Si set (1000 configurations).

Prints: neighbor-list build for the whole set, energy + forces per evaluation, energy +
forces + full parameter Jacobian, peak memory, and ratios against ASE's neighbor_list and
(when kliff and kimpy are importable) KLIFF with the KIM SW model.

    python benchmarks/bench_engine.py [--repeat 5] [--no-ase] [--potential SW]

Targets (2-core machine): neighbor lists <= 0.3 s, E+F <= 40 ms, E+F+J <= 150 ms.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import tracemalloc

import numba
import numpy as np

from workbench import datasets
from workbench.data.dataset import Dataset
from workbench.engine import registry
from workbench.engine.batch import pack

TARGETS = {"nl": 0.3, "ef": 0.040, "efj": 0.150}


CPU = {}


def timed(fn, repeat, key=None):
    """Median and minimum wall time; the minimum process CPU time goes to ``CPU[key]``
    (CPU time sums all threads: a load-independent cross-check on a busy machine)."""
    times, cpus = [], []
    out = None
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if key:
        CPU[key] = min(cpus)
    return statistics.median(times), min(times), out


def bench_ase(configs, cutoff):
    from ase.neighborlist import neighbor_list

    atoms = [c.to_ase() if hasattr(c, "to_ase") else None for c in configs]
    if atoms[0] is None:
        import ase

        atoms = [ase.Atoms(c.species, positions=c.coords, cell=c.cell, pbc=c.PBC)
                 for c in configs]
    t0 = time.perf_counter()
    for a in atoms:
        neighbor_list("ijS", a, cutoff)
    return time.perf_counter() - t0


def bench_kliff(path, repeat):
    """KLIFF 0.4+/1.x calculator set-up and one loss evaluation with the KIM SW model."""
    try:
        import kimpy  # noqa: F401
        from kliff.calculators import Calculator
        from kliff.dataset import Dataset as KDataset
        from kliff.models import KIMModel
    except Exception as exc:  # kliff is optional
        return None, f"KLIFF not importable ({type(exc).__name__}: {exc})"
    model = KIMModel("SW_StillingerWeber_1985_Si__MO_405512056662_005")
    tset = KDataset(str(path))
    configs = tset.get_configs()
    calc = Calculator(model)
    t0 = time.perf_counter()
    calc.create(configs)
    setup = time.perf_counter() - t0
    cas = calc.get_compute_arguments()

    def run():
        for ca in cas:
            calc.compute(ca)

    t_eval, _, _ = timed(run, max(1, repeat // 2))
    return (setup, t_eval), ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-ase", action="store_true", help="skip ASE's neighbor_list timing")
    ap.add_argument("--potential", default="SW")
    ap.add_argument("--columns", type=int, default=4,
                    help="Jacobian columns reported as 'fitted' parameters")
    args = ap.parse_args(argv)

    path = datasets.path("Si")
    t0 = time.perf_counter()
    configs = Dataset(path).configs
    t_read = time.perf_counter() - t0
    natoms = sum(len(c.species) for c in configs)

    names = registry.list_potentials()
    pot = args.potential if args.potential in names else "LJ"
    note = "" if pot == args.potential else f"({args.potential} not available; using LJ)"
    spec = registry.get_spec(pot)
    params = spec.default_params(("Si",))
    if pot.startswith("LJ"):
        params.update(epsilon=np.array([1.0]), sigma=np.array([2.0]), cutoff=np.array([3.77]))
    cutoff = spec.influence_distance(params)

    t0 = time.perf_counter()
    batch = pack(configs, cutoff, ("Si",))  # includes numba JIT/cache load
    t_first = time.perf_counter() - t0
    t_nl, t_nl_min, batch = timed(lambda: pack(configs, cutoff, ("Si",)), args.repeat,
                                    "nl")

    spec.compute(batch, params, forces=True, jacobian=True)  # warm-up / compile
    t_ef, t_ef_min, res = timed(lambda: spec.compute(batch, params, forces=True),
                                args.repeat, "ef")
    t_efj, t_efj_min, resj = timed(
        lambda: spec.compute(batch, params, forces=True, jacobian=True), args.repeat, "efj")
    npar = resj.d_energy.shape[1]

    tracemalloc.start()
    spec.compute(batch, params, forces=True, jacobian=True)
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    t_ase = None if args.no_ase else bench_ase(configs, cutoff)
    kliff, kliff_msg = bench_kliff(path, args.repeat)

    def row(label, value, target=None, unit="s"):
        v = f"{value * 1000:9.1f} ms" if unit == "s" else f"{value:9.1f} {unit}"
        t = "" if target is None else (f"  target {target * 1000:.0f} ms  "
                                       f"{'OK' if value <= target else 'MISSED'}")
        print(f"  {label:<44}{v}{t}")

    print(f"Engine benchmark: {len(configs)} configurations, {natoms} atoms, "
          f"{batch.npairs} pairs, cutoff {cutoff:.3f} A, potential {pot} {note}")
    row("read data set (Dataset)", t_read)
    row("first pack (incl. JIT cache load)", t_first)
    row("neighbor lists + packing, whole set", t_nl, TARGETS["nl"])
    row(f"energy + forces ({pot})", t_ef, TARGETS["ef"])
    row(f"energy + forces + Jacobian ({npar} columns)", t_efj, TARGETS["efj"])
    print(f"  {'  (Jacobian for ' + str(args.columns) + ' fitted parameters = a column subset)':<44}")
    row("peak Python-heap (tracemalloc) per E+F+J", py_peak / 2 ** 20, unit="MiB")
    row("peak process RSS", rss_peak, unit="MiB")
    if t_ase is not None:
        row("ASE neighbor_list, whole set", t_ase)
        print(f"  {'speed-up vs ASE neighbor_list':<44}{t_ase / t_nl:9.1f} x")
    if kliff is None:
        print(f"  {kliff_msg}")
    else:
        setup, t_eval = kliff
        row("KLIFF calculator set-up", setup)
        row("KLIFF one evaluation (KIM SW)", t_eval)
        print(f"  {'speed-up vs KLIFF set-up / evaluation':<44}{setup / t_nl:9.1f} x "
              f"/ {t_eval / t_ef:.1f} x")
    print(f"  min wall: NL {t_nl_min * 1000:.1f} ms, E+F {t_ef_min * 1000:.1f} ms, "
          f"E+F+J {t_efj_min * 1000:.1f} ms")
    print(f"  min CPU (all threads): NL {CPU['nl'] * 1000:.1f} ms, E+F {CPU['ef'] * 1000:.1f} ms,"
          f" E+F+J {CPU['efj'] * 1000:.1f} ms")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  threads {numba.get_num_threads()}, cores {os.cpu_count()}, "
          f"load average {load:.1f} (figures above load average ~{os.cpu_count()} are "
          f"inflated by other processes)")


if __name__ == "__main__":
    main()
