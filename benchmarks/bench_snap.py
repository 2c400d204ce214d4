"""SNAP benchmark: the installed OpenKIM model SNAP_LiHuChen_2018_Cu (31 coefficients,
twojmax 6) through our engine against the same model through kim-api's SNAP driver
(kimpy), then a linear SNAP fit on the bundled DFT Si set.

Configurations: fcc Cu, 3x3x3 cubic cells (108 atoms) with atoms displaced by 0.1 A
(seeded), 8 of them.  Prints CPU seconds (process time, load-independent, best of
``--repeat``) of energy+forces, and of energy+forces+Jacobian with respect to the 31
coefficients (exact in our engine: SNAP is linear in them, the Jacobian is the summed
bispectrum; central differences through kim-api), ours from positions (bispectrum
computed each time) and with the features cached as a fit reuses them, with the largest
differences between the two implementations.  The fit: bispectrum features (twojmax 6) of 150 Si configurations and the
weighted linear least-squares solve (``fit_linear``), timed separately.

    python benchmarks/bench_snap.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_eam import cpu  # best-of-repeat CPU seconds

CU_SNAP = "SNAP_LiHuChen_2018_Cu__MO_529419924683_000"


def cu_configs(n=8):
    from ase.build import bulk

    from workbench.dataset import Configuration

    rng = np.random.default_rng(3)
    out = []
    for k in range(n):
        at = bulk("Cu", "fcc", a=3.615, cubic=True).repeat((3, 3, 3))
        at.positions += rng.normal(0, 0.1, at.positions.shape)
        out.append(Configuration(np.array(at.cell), at.get_chemical_symbols(),
                                 at.positions, [True] * 3, identifier=f"cu{k}"))
    return out


def engine_vs_kim(repeat):
    from workbench.ml.snap import SNAP
    from workbench.models.kim import KIMModel

    configs = cu_configs()
    model = SNAP.from_kim(CU_SNAP)
    state = model.prepare(configs)
    model.compute(state, forces=True, jacobian=True)  # compile / warm caches
    # from positions: the bispectrum and its derivatives are computed every time (what
    # an MD step or a new structure costs); cached: a fit's evaluations at fixed
    # positions reuse them (SNAP is linear in its coefficients)
    t_ef, ours_ef = cpu(lambda: model.compute(model.prepare(configs), forces=True), repeat)
    t_efj, ours = cpu(lambda: model.compute(model.prepare(configs), forces=True,
                                            jacobian=True), repeat)
    t_cached, _ = cpu(lambda: model.compute(state, forces=True, jacobian=True), repeat)
    kim = KIMModel(CU_SNAP)
    kstate = kim.prepare(configs)
    kim.compute(kstate, forces=True)
    k_ef, ref = cpu(lambda: kim.compute(kstate, forces=True), repeat)
    off = kim.flat_offsets()
    cols = off["coeffs"] + np.arange(len(kim.model_params["coeffs"]))
    k_efj, kres = cpu(lambda: kim.compute(kstate, forces=True, jacobian=True,
                                          columns=cols), 1)
    natoms = sum(c.get_num_atoms() for c in configs)
    print(f"{CU_SNAP}: {len(configs)} configurations, {natoms} atoms, "
          f"{model.ncoeff} coefficients")
    print(f"{'':28s} {'E+F (s CPU)':>12s} {'E+F+J (s CPU)':>14s}")
    print(f"{'workbench SNAP':28s} {t_ef:12.4f} {t_efj:14.4f}  (features cached, as in "
          f"a fit: E+F+J {t_cached:.4f})")
    print(f"{'KIM SNAP driver (kimpy)':28s} {k_ef:12.4f} {k_efj:14.4f}  (J by central "
          f"differences)")
    print(f"E+F: workbench / KIM = {t_ef / k_ef:.2f}; E+F+J: KIM / workbench = "
          f"{k_efj / t_efj:.1f}x from positions, {k_efj / t_cached:.0f}x with features cached")
    e_rel = np.abs(ours_ef.energy - ref.energy).max() / np.abs(ref.energy).max()
    f_abs = np.abs(ours_ef.forces - ref.forces).max()
    j_rel = (np.abs(ours.d_forces - kres.d_forces).max() / np.abs(ours.d_forces).max())
    print(f"agreement: energy {e_rel:.1e} relative, forces {f_abs:.1e} eV/A, "
          f"force Jacobian {j_rel:.1e} relative (central differences)")


def linear_fit(repeat):
    from workbench import datasets
    from workbench.calculators import Calculator
    from workbench.dataset import Dataset, Weight
    from workbench.loss import Loss
    from workbench.ml.snap import SNAP, fit_linear

    configs = Dataset(datasets.path("Si"), Weight(energy_weight=1.0, forces_weight=0.3)
                      ).get_configs()
    train = [configs[k] for k in np.random.default_rng(0).permutation(len(configs))[:150]]

    def build():
        model = SNAP(("Si",), rcutfac=4.2, twojmax=6)
        model.set_opt_params(coeffs_Si=[[0.0]] * model.ncoeff)
        calc = Calculator(model)
        calc.create(train)
        return Loss(calc)

    build()  # compile
    c0 = time.process_time()
    loss = build()
    x = fit_linear(loss)  # first solve: the bispectrum and its derivatives are computed
    t_first = time.process_time() - c0
    t_solve, _ = cpu(lambda: fit_linear(loss), repeat)
    natoms = sum(c.get_num_atoms() for c in train)
    print(f"linear SNAP fit, Si (twojmax 6, {len(x)} coefficients), {len(train)} "
          f"configurations, {natoms} atoms: {t_first:.2f} s CPU (features + solve), "
          f"a further solve {t_solve:.3f} s CPU; loss {loss.loss(x):.4g}")


def main(repeat=3):
    engine_vs_kim(repeat)
    linear_fit(repeat)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    main(ap.parse_args().repeat)
