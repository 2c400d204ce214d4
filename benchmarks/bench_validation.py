"""The property suite on SW Si: the default suite (relaxation, EOS, relaxed and unrelaxed
Cij, phonons in the 2×2×2 supercell, vacancy, dimer, trimer, 1 ps NVE on 64 atoms) once
warm, and a 20-member bootstrap-like ensemble of it on all cores.

Targets: default suite ≤ 10 s warm, 20-member ensemble ≤ 2 min (2-core machine).
Wall and CPU time are both printed (on a shared machine wall time includes waiting).
"""

import time

import numpy as np

from workbench.models import StillingerWeber
from workbench.validation import validate
from workbench.validation.ensemble import validate_ensemble


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main(repeats=3, members=20):
    model = StillingerWeber()
    validate(model, "diamond", "Si")  # warm: numba kernels, phonopy, spglib imports
    runs = [timed(lambda: validate(model, "diamond", "Si")) for _ in range(repeats)]
    res, wall, cpu = min(runs, key=lambda r: r[1])
    print(f"default suite, SW Si: best wall {wall:.2f} s (CPU {cpu:.2f} s) over {repeats} "
          f"runs (target <= 10 s)")
    print("  per property (s): " + ", ".join(f"{k} {v:.2f}" for k, v in res.timings.items()))
    print("  " + ", ".join(f"{k} {v:.4g}" for k, v in res.summary().items()))

    model.set_opt_params(A=[[15.2848479197914]], gamma=[[2.51412]])
    rng = np.random.default_rng(0)
    samples = model.get_opt_params() * (1 + 0.01 * rng.standard_normal((members, 2)))
    ens, wall, cpu = timed(lambda: validate_ensemble(model, samples, "diamond", "Si"))
    print(f"{members}-member ensemble, default suite, processes: wall {wall:.1f} s "
          f"(CPU of this process {cpu:.1f} s; target <= 120 s), failed {len(ens.failed)}")
    s = ens.summary()
    print("  " + ", ".join(f"{k} {s[k]:.4g} ± {s[k + '_std']:.2g}"
                           for k in ("lattice_constant", "bulk_modulus", "C11", "C44")))


if __name__ == "__main__":
    main()
