"""ASE calculators of descriptor models: what keeping the neighbor list saves.

A 64-atom Si crystal moved 40 times by small steps (each within half the 0.5 Å skin),
energy, forces and stress evaluated after each move, by the calculator that keeps its
neighbor list (``model.ase_calculator()``) and by a new calculator per call (lists built
every time, as before).  SNAP (2J = 6) and a 30-5-1 symmetry-function network.  CPU time
(``time.process_time``, all threads) is the figure to trust on a loaded machine; the best
of three repetitions is printed, with the per-atom energies' cost for built-in SW.

Run: ``.venv/bin/python benchmarks/bench_ase_reuse.py``.
"""

from __future__ import annotations

import time

import numpy as np
from ase.build import bulk

MOVES = 40


def positions():
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
    rng = np.random.default_rng(0)
    steps = [atoms.positions + rng.uniform(-0.03, 0.03, atoms.positions.shape)
             for _ in range(MOVES)]
    return atoms, steps


def run(model, fresh: bool) -> float:
    atoms, steps = positions()
    best = np.inf
    for _ in range(3):
        atoms.calc = model.ase_calculator()
        t0 = time.process_time()
        for pos in steps:
            if fresh:
                atoms.calc = model.ase_calculator()
            atoms.positions[:] = pos
            atoms.get_potential_energy()
            atoms.get_forces()
            atoms.get_stress()
        best = min(best, time.process_time() - t0)
    return best


def models():
    from workbench.ml import nn
    from workbench.ml.descriptors import SymmetryFunction
    from workbench.ml.neural_network import NeuralNetwork
    from workbench.ml.snap import SNAP

    snap = SNAP(("Si",), rcutfac=4.2, twojmax=6)
    snap.set_param_value("coeffs_Si", np.random.default_rng(5).normal(0, 0.1, snap.ncoeff))
    desc = SymmetryFunction({"Si-Si": 4.0}, "cos", "set30", normalize=False,
                            dtype=np.float64)
    net = NeuralNetwork(desc, seed=1)
    net.add_layers(nn.Linear(desc.get_size(), 5), nn.Tanh(), nn.Linear(5, 1))
    return {"SNAP 2J=6": snap, "NN set30 30-5-1": net}


def main():
    print(f"{MOVES} moves of a 64-atom Si crystal, energy + forces + stress each "
          "(CPU s, best of 3)")
    for name, model in models().items():
        run(model, False)  # compile / warm up
        kept, fresh = run(model, False), run(model, True)
        print(f"{name:18s} list kept {kept:7.3f}   rebuilt every call {fresh:7.3f}   "
              f"saved {100 * (1 - kept / fresh):5.1f} %")
    from workbench.models import StillingerWeber

    atoms, steps = positions()
    atoms.calc = StillingerWeber().ase_calculator()
    atoms.get_potential_energies()
    t0 = time.process_time()
    for pos in steps:
        atoms.positions[:] = pos
        atoms.get_potential_energy()
    t_e = time.process_time() - t0
    t0 = time.process_time()
    for pos in steps:
        atoms.positions[:] = pos
        atoms.get_potential_energies()
    t_pa = time.process_time() - t0
    print(f"SW 64 atoms: energy only {1e3 * t_e / MOVES:.2f} ms/call, with energies per atom "
          f"{1e3 * t_pa / MOVES:.2f} ms/call")


if __name__ == "__main__":
    main()
