"""Cold start: what a user waits for on a fresh install (empty numba cache), then warm.

Every measurement runs in a fresh Python subprocess.  "Cold" gives it an empty
``NUMBA_CACHE_DIR``, so every kernel it needs is compiled; "warm" repeats it with the
cache the cold run filled.  For each phase the script prints wall time and CPU time
(user + system of the process, all threads), and for the cold phases the numba compile
time of every kernel (from numba's ``numba:compile`` events; a kernel compiled inside
another one's compilation counts towards the outer one).

Phases of the Stillinger-Weber tutorial (bundled Si set, 1000 configurations): import,
read, create (model + Calculator.create), first loss, first gradient, first Jacobian,
with ``WORKBENCH_PRECOMPILE=0`` so that every kernel compiles in the measured process, one
after the other, and its compile time is listed.  Then, each in its own process, the
whole SW tutorial script (a gradient fit, which must not compile Jacobian kernels), the
whole ``workbench demo`` and ``workbench warmup`` as a user runs them: the SW kernel then
compiles in a child process (``workbench.engine.precompile``) while the parent packs the
data set and compiles the neighbor-list kernel; the demo is also timed cold with
``WORKBENCH_PRECOMPILE=0`` for comparison.  CPU times include child processes.  KLIFF's
tutorial is timed too when ``kliff`` is importable.

On a machine shared with other work wall times are inflated; CPU time is the steadier
figure.  Run: ``.venv/bin/python benchmarks/bench_coldstart.py [--skip-demo]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = {"maxiter": 400, "ftol": 1e-12, "gtol": 1e-8}
PUBLISHED_LOSS = 0.6940780
KIM_SW = "SW_StillingerWeber_1985_Si__MO_405512056662_005"


# ------------------------------------------------------------------ child side

class _CompileLog:
    """Inclusive compile seconds per kernel (outermost compilations only), as
    ``[wall, cpu]``: CPU time is the figure to read on a machine shared with other work
    (the process's other threads are idle while numba compiles)."""

    def __init__(self):
        from numba.core import event

        self.times: dict[str, list] = {}
        self._depth = 0
        self._t0 = (0.0, 0.0)
        log = self

        class Listener(event.Listener):
            def on_start(self, ev):
                if log._depth == 0:
                    log._t0 = (time.perf_counter(), time.process_time())
                log._depth += 1

            def on_end(self, ev):
                log._depth -= 1
                if log._depth == 0:
                    d = ev.data["dispatcher"]
                    name = f"{d.py_func.__module__}.{d.py_func.__qualname__}"
                    t = log.times.setdefault(name, [0.0, 0.0])
                    t[0] += time.perf_counter() - log._t0[0]
                    t[1] += time.process_time() - log._t0[1]

        event.register("numba:compile", Listener())

    def take(self) -> dict:
        out, self.times = self.times, {}
        return out


class _Phases:
    def __init__(self, compile_log):
        self.rows = []
        self._log = compile_log

    def run(self, name, fn):
        w0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        self.rows.append({"phase": name, "wall": time.perf_counter() - w0,
                          "cpu": time.process_time() - c0,
                          "compile": self._log.take() if self._log else {}})
        return value


def _child_phases(log):
    ph = _Phases(log)

    def imports():
        global Calculator, Dataset, Weight, Loss, StillingerWeber, datasets, np
        import numpy as np
        from workbench import datasets
        from workbench.calculators import Calculator
        from workbench.dataset import Dataset, Weight
        from workbench.loss import Loss
        from workbench.models import StillingerWeber

    ph.run("import", imports)
    configs = ph.run("read", lambda: Dataset(datasets.path("Si"), Weight(
        energy_weight=1.0, forces_weight=0.1)).get_configs())

    def create():
        model = StillingerWeber()
        model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                             gamma=[[1.5]])
        calc = Calculator(model)
        calc.create(configs)
        return Loss(calc)

    loss = ph.run("create", create)
    x = loss.x0()
    ph.run("first loss", lambda: loss.loss(x))
    ph.run("first gradient", lambda: loss.loss_and_grad(x * 1.01))
    ph.run("first Jacobian", lambda: loss.residual_and_jacobian(x * 1.02))
    return ph.rows, {}


def _child_tutorial(log):
    ph = _Phases(log)

    def tutorial():
        from workbench import datasets
        from workbench.calculators import Calculator
        from workbench.dataset import Dataset, Weight
        from workbench.loss import Loss
        from workbench.models import StillingerWeber

        configs = Dataset(datasets.path("Si"), Weight(energy_weight=1.0,
                                                      forces_weight=0.1)).get_configs()
        model = StillingerWeber()
        model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                             gamma=[[1.5]])
        calc = Calculator(model)
        calc.create(configs)
        return Loss(calc).minimize(method="L-BFGS-B", options=OPTIONS)

    result = ph.run("SW tutorial fit (script)", tutorial)
    return ph.rows, {"loss": float(result.fun)}


def _child_kim_tutorial(log):
    ph = _Phases(log)

    def tutorial():
        from workbench import datasets
        from workbench.calculators import Calculator
        from workbench.dataset import Dataset, Weight
        from workbench.loss import Loss
        from workbench.models import KIMModel

        configs = Dataset(datasets.path("Si"), Weight(energy_weight=1.0,
                                                      forces_weight=0.1)).get_configs()
        model = KIMModel(KIM_SW)  # on the driver's numba twin (models/kim_twin.py)
        engine.append(model.engine)
        model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                             gamma=[[1.5]])
        calc = Calculator(model)
        calc.create(configs)
        return Loss(calc).minimize(method="L-BFGS-B", options=OPTIONS)

    engine = []
    result = ph.run("SW tutorial fit, KIMModel(SW_..._005)", tutorial)
    return ph.rows, {"loss": float(result.fun), "engine": engine[0]}


def _child_kliff(log):
    ph = _Phases(None)

    def tutorial():
        from kliff.calculators import Calculator
        from kliff.dataset import Dataset
        from kliff.dataset.weight import Weight
        from kliff.loss import Loss
        from kliff.models import KIMModel

        from workbench import datasets

        model = KIMModel(model_name=KIM_SW)
        model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                             gamma=[[1.5]])
        configs = Dataset(datasets.path("Si"), Weight(energy_weight=1.0,
                                                      forces_weight=0.1)).get_configs()
        calc = Calculator(model)
        calc.create(configs)
        return Loss(calc, nprocs=2).minimize(method="L-BFGS-B", options={"maxiter": 100})

    result = ph.run("KLIFF SW tutorial", tutorial)
    return ph.rows, {"loss": float(result.fun)}


CHILDREN = {"phases": _child_phases, "tutorial": _child_tutorial,
            "kim-tutorial": _child_kim_tutorial, "kliff": _child_kliff}


def child_main(kind):
    log = _CompileLog()
    rows, extra = CHILDREN[kind](log)
    print("@@RESULT@@" + json.dumps({"rows": rows, **extra}))


# ------------------------------------------------------------------ parent side

def _env(cache_dir, precompile=True):
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env["WORKBENCH_PRECOMPILE"] = "1" if precompile else "0"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _timed(cmd, env, cwd=None):
    """(wall, cpu of the child and its children, completed process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}")
    return wall, cpu, proc


def run_child(kind, cache_dir, precompile=True):
    wall, cpu, proc = _timed([sys.executable, __file__, "--child", kind],
                             _env(cache_dir, precompile))
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@"))
    out = json.loads(line[len("@@RESULT@@"):])
    out["process"] = {"wall": wall, "cpu": cpu}
    return out


def run_command(args, cache_dir, workdir, precompile=True):
    exe = Path(sys.executable).with_name("workbench")
    cmd = [str(exe)] + args if exe.exists() else [sys.executable, "-m", "workbench"] + args
    wall, cpu, proc = _timed(cmd, _env(cache_dir, precompile), cwd=workdir)
    return wall, cpu, proc.stdout


def _demo_loss(stdout):
    for line in stdout.splitlines():
        if line.startswith("final loss = "):
            return float(line.split("=")[1].split()[0])
    return float("nan")


def _print_rows(title, cold, warm):
    print(f"\n{title}")
    print(f"  {'phase':<42}{'cold wall':>10}{'cold cpu':>10}{'warm wall':>10}{'warm cpu':>10}")
    for rc, rw in zip(cold, warm):
        print(f"  {rc['phase']:<42}{rc['wall']:>9.2f}s{rc['cpu']:>9.2f}s"
              f"{rw['wall']:>9.3f}s{rw['cpu']:>9.3f}s")


def _print_compile(rows):
    walls = [t[0] for r in rows for t in r["compile"].values()]
    cpus = [t[1] for r in rows for t in r["compile"].values()]
    if not walls:
        print("  (nothing compiled)")
        return
    for r in rows:
        for name, (w, c) in sorted(r["compile"].items(), key=lambda kv: -kv[1][1]):
            print(f"  {r['phase'][:24]:<26}{name:<48}{w:7.2f} s wall {c:7.2f} s cpu")
    print(f"  {'total':<74}{sum(walls):7.2f} s wall {sum(cpus):7.2f} s cpu")


#: KLIFF 1.0.1's SW tutorial with KIMModel (Loss(nprocs=2)), measured on the 2-core
#: machine when kliff was installed (wall seconds)
KLIFF_KIM_RECORDED = 54.0


def _kim_rows(tmp):
    """The SW tutorial with KIMModel(SW_..._005), cold then warm, and the ratio to
    KLIFF's (measured when kliff is importable, else the recorded figure)."""
    cache = tmp / "cache-kim"
    kc, kw = run_child("kim-tutorial", cache), run_child("kim-tutorial", cache)
    _print_rows(f"SW tutorial with KIMModel({KIM_SW}) on its {kw['engine']} engine",
                kc["rows"], kw["rows"])
    print(f"  loss {kc['loss']:.7f} cold, {kw['loss']:.7f} warm (published {PUBLISHED_LOSS})")
    warm = kw["rows"][0]
    if importlib.util.find_spec("kliff") is not None:
        k = run_child("kliff", tmp / "cache-kliff-kim")
        ref, label = k["rows"][0]["wall"], "KLIFF measured now"
    else:
        ref, label = KLIFF_KIM_RECORDED, "KLIFF 1.0.1 recorded on the 2-core machine, " \
                                          "kliff not importable here"
    print(f"  KLIFF SW tutorial with KIMModel: {ref:.1f} s wall ({label}); warm workbench "
          f"{warm['wall']:.2f} s wall / {warm['cpu']:.2f} s cpu: {ref / warm['wall']:.0f}x "
          f"faster (wall)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--skip-demo", action="store_true", help="skip workbench demo/warmup")
    ap.add_argument("--kim", action="store_true",
                    help="also time the SW tutorial with the KIM SW model")
    ap.add_argument("--kim-only", action="store_true",
                    help="time only the SW tutorial with the KIM SW model (and KLIFF's)")
    args = ap.parse_args(argv)
    if args.child:
        child_main(args.child)
        return
    import numba

    print(f"cold start on {os.cpu_count()} cores, numba {numba.__version__}, "
          f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'default')}; "
          f"load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="wb-coldstart-") as tmp:
        tmp = Path(tmp)
        if args.kim_only:
            _kim_rows(tmp)
            print(f"load average {os.getloadavg()[0]:.2f} at the end")
            return
        cache = tmp / "cache-phases"
        cold = run_child("phases", cache, precompile=False)
        warm = run_child("phases", cache, precompile=False)
        _print_rows("SW tutorial, phase by phase (one process each; kernels compiled in it, "
                    "one after the other)", cold["rows"], warm["rows"])
        print(f"  {'whole process (incl. interpreter start)':<42}"
              f"{cold['process']['wall']:>9.2f}s{cold['process']['cpu']:>9.2f}s"
              f"{warm['process']['wall']:>9.3f}s{warm['process']['cpu']:>9.3f}s")
        print("\nkernels compiled (cold):")
        _print_compile(cold["rows"])

        cache = tmp / "cache-tutorial"
        tc, tw = run_child("tutorial", cache), run_child("tutorial", cache)
        _print_rows("SW tutorial script (read, create, L-BFGS-B fit)", tc["rows"], tw["rows"])
        print(f"  {'whole process (incl. the compiling child)':<42}"
              f"{tc['process']['wall']:>9.2f}s{tc['process']['cpu']:>9.2f}s"
              f"{tw['process']['wall']:>9.3f}s{tw['process']['cpu']:>9.3f}s")
        print(f"  loss {tc['loss']:.7f} cold, {tw['loss']:.7f} warm "
              f"(published {PUBLISHED_LOSS})")
        print("  kernels compiled in the process (cold; the SW kernel compiles in a child "
              "process meanwhile):")
        _print_compile(tc["rows"])

        if not args.skip_demo:
            cache = tmp / "cache-demo"
            work = tmp / "demo"
            work.mkdir()
            dc = run_command(["demo", "--out", str(work / "cold")], cache, work)
            dw = run_command(["demo", "--out", str(work / "warm")], cache, work)
            ds = run_command(["demo", "--out", str(work / "serial")], tmp / "cache-serial",
                             work, precompile=False)
            print(f"\nworkbench demo        cold {dc[0]:7.2f} s wall {dc[1]:7.2f} s cpu   "
                  f"warm {dw[0]:6.2f} s wall {dw[1]:6.2f} s cpu   "
                  f"(loss {_demo_loss(dc[2]):.7f} / {_demo_loss(dw[2]):.7f})")
            print(f"  cold, kernels compiled one after the other (WORKBENCH_PRECOMPILE=0) "
                  f"{ds[0]:.2f} s wall {ds[1]:.2f} s cpu (loss {_demo_loss(ds[2]):.7f})")
            if importlib.util.find_spec("workbench.warmup") is not None:
                cache = tmp / "cache-warmup"
                wc = run_command(["warmup", "--quiet"], cache, work)
                dd = run_command(["demo", "--out", str(work / "after")], cache, work)
                print(f"workbench warmup      cold {wc[0]:7.2f} s wall {wc[1]:7.2f} s cpu;"
                      f"  demo after it {dd[0]:6.2f} s wall {dd[1]:6.2f} s cpu")

        if args.kim:
            _kim_rows(tmp)

        if importlib.util.find_spec("kliff") is not None:
            k = run_child("kliff", tmp / "cache-kliff")
            r = k["rows"][0]
            print(f"\nKLIFF SW tutorial     {r['wall']:7.2f} s wall {r['cpu']:7.2f} s cpu "
                  f"(loss {k['loss']:.7f}); cold workbench tutorial script "
                  f"{tc['rows'][0]['wall']:.2f} s wall: "
                  f"{r['wall'] / tc['rows'][0]['wall']:.1f}x")
        else:
            print("\nkliff not importable: no KLIFF comparison (its SW tutorial took about "
                  "95 s with a fresh install on the 2-core machine)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
