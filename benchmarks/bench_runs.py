"""The run store: listing 10,000 runs, and what recording costs the SW tutorial fit.

1. A store with 10,000 runs (20 history rows each) is listed with ``RunStore.list_runs``
   (target <= 0.5 s) and with a filter and sort.
2. The SW tutorial (bundled Si set, L-BFGS-B to the published minimum) runs as a
   ``FitSession`` without a store and with one, alternately; the best CPU time (all
   threads, ``time.process_time``) and wall time of each are compared (target: recording
   adds <= 2 %).

Run: ``.venv/bin/python benchmarks/bench_runs.py``.  CPU time is the figure to trust on
a loaded machine; wall time is printed too.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

OPTIONS = {"maxiter": 400, "ftol": 1e-12, "gtol": 1e-8}


def fill_store(path: Path, n_runs=10_000, n_history=20):
    """``n_runs`` finished runs with summaries and history, written in one transaction."""
    from workbench.runs import RunStore

    store = RunStore(path)
    now = time.time()
    runs, hist = [], []
    for k in range(n_runs):
        run_id = f"20260101-000000-{k:06x}"
        runs.append((run_id, f"run {k}", "fit", "finished" if k % 7 else "stopped",
                     now - n_runs + k, now - n_runs + k + 2.0, "StillingerWeber", "L-BFGS-B",
                     1.0 / (k + 1), 0.037, 0.17, k % 50, 40 + k % 9, 2.3,
                     json.dumps(["sweep"] if k % 3 == 0 else [])))
        hist += [(run_id, i, 1.0 / (i + 1), 1.0 / (i + 1), i + 1, 0.1 * i, "[14.9,0.58,2.2]")
                 for i in range(1, n_history + 1)]
    with store._write() as c:
        c.executemany("INSERT INTO runs (id, name, kind, status, started, ended, model_kind, "
                      "method, best_loss, train_e_rmse, train_f_rmse, iterations, n_eval, "
                      "elapsed, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
        c.executemany("INSERT INTO history (run_id, iteration, loss, best_loss, n_eval, "
                      "elapsed, params_json) VALUES (?, ?, ?, ?, ?, ?, ?)", hist)
    return store


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def bench_listing(tmp: Path):
    store = fill_store(tmp / "big")
    t_all, runs = best_of(lambda: store.list_runs())
    t_filter, some = best_of(lambda: store.list_runs(status="finished", tag="sweep",
                                                     order_by="best_loss", descending=False))
    print(f"list 10,000 runs          {t_all * 1e3:8.1f} ms  ({len(runs)} runs; target <= 500 ms)")
    print(f"filter + sort (tag, loss) {t_filter * 1e3:8.1f} ms  ({len(some)} runs)")
    t_open, _ = best_of(lambda: type(store)(store.path), repeat=3)
    print(f"open the store            {t_open * 1e3:8.1f} ms")


class RecorderClock:
    """CPU seconds spent on recording: describing the run at its start (caller's thread)
    and every store write of the recorder (the event thread), by ``time.thread_time``."""

    def __init__(self):
        self.seconds = 0.0

    def wrap(self, session):
        start_fields = session._run_start_fields

        def timed_start():
            t = time.thread_time()
            try:
                return start_fields()
            finally:
                self.seconds += time.thread_time() - t

        session._run_start_fields = timed_start
        begin = session._begin_recording

        def timed_begin():
            begin()
            rec = session.recorder
            if rec is not None:
                call = rec.__call__

                class Timed:
                    def __call__(_, ev):
                        t = time.thread_time()
                        try:
                            call(ev)
                        finally:
                            self.seconds += time.thread_time() - t

                session._publisher._subscribers = [
                    Timed() if s is rec else s for s in session._publisher._subscribers]

        session._begin_recording = timed_begin


def sw_fit(store, clock=None):
    from workbench import datasets
    from workbench.calculators import Calculator
    from workbench.dataset import Dataset, Weight
    from workbench.fit.session import FitSession
    from workbench.loss import Loss
    from workbench.models import StillingerWeber

    configs = Dataset(datasets.path("Si"),
                      Weight(energy_weight=1.0, forces_weight=0.1)).get_configs()
    w0, c0 = time.perf_counter(), time.process_time()
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    calc = Calculator(model)
    calc.create(configs)
    session = FitSession(Loss(calc), options=OPTIONS, store=store)
    if clock is not None:
        clock.wrap(session)
    session.run()
    return time.perf_counter() - w0, time.process_time() - c0, session


def bench_recording(tmp: Path, repeat=5):
    from workbench.runs import RunStore

    store = RunStore(tmp / "rec")
    sw_fit(None)  # warm the numba caches and the data set
    plain, recorded, clocks = [], [], []
    for _ in range(repeat):
        plain.append(sw_fit(None))
        clocks.append(RecorderClock())
        recorded.append(sw_fit(store, clocks[-1]))
    wall0, cpu0 = min(p[0] for p in plain), min(p[1] for p in plain)
    wall1, cpu1 = min(r[0] for r in recorded), min(r[1] for r in recorded)
    s = recorded[-1][2]
    rows = len(store.get_history(s.run_id))
    print(f"SW tutorial fit, no store   wall {wall0:6.3f} s  cpu {cpu0:6.3f} s "
          f"({s.iteration} iterations, loss {s.best_loss:.7f})")
    print(f"SW tutorial fit, recorded   wall {wall1:6.3f} s  cpu {cpu1:6.3f} s "
          f"({rows} history rows)")
    print(f"difference                  wall {100 * (wall1 / wall0 - 1):+5.1f} %  "
          f"cpu {100 * (cpu1 / cpu0 - 1):+5.1f} %  (noisy on a loaded machine)")
    rec = min(c.seconds for c in clocks)
    print(f"recording itself            cpu {rec * 1e3:6.1f} ms = {100 * rec / cpu0:4.2f} % of "
          f"the fit's cpu time (target <= 2 %)")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        bench_listing(Path(tmp))
        bench_recording(Path(tmp))


if __name__ == "__main__":
    main()
