"""Molecular-dynamics stability: a short NVE run from the relaxed crystal.

Definitions: velocities from a Maxwell-Boltzmann distribution at 2T (half goes into the
potential energy, so the run equilibrates near T), centre of mass at rest; velocity
Verlet for ``md_time`` fs.  Reported: the total-energy trace, its drift (slope of a
linear fit, eV/atom/ps) and largest excursion (eV/atom), the mean temperature (K), and
whether the structure held: no two atoms ever closer than ``md_min_distance`` times the
bulk nearest-neighbor distance, the final mean nearest-neighbor distance within 10 % of
the bulk one, and the mean coordination (neighbors within 1.25 nearest-neighbor
distances) changed by less than 0.5.
"""

from __future__ import annotations

import warnings

import numpy as np
from ase import units
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet

from workbench.validation.structures import nearest_neighbor_distances


def md_stability(model, atoms, r_nn, settings, should_stop=None) -> dict:
    sc = atoms.repeat(settings.md_supercell)
    sc.calc = model.ase_calculator()
    rng = np.random.default_rng(settings.seed)
    with warnings.catch_warnings():  # ASE 3.29 renames it; older releases lack the new name
        warnings.simplefilter("ignore", DeprecationWarning)
        MaxwellBoltzmannDistribution(sc, temperature_K=2 * settings.md_temperature, rng=rng)
    Stationary(sc)
    n = len(sc)
    nsteps = int(round(settings.md_time / settings.md_timestep))
    dyn = VelocityVerlet(sc, timestep=settings.md_timestep * units.fs)
    every = max(1, nsteps // 100)
    times, etot, temps, min_dist = [], [], [], []
    probe = 1.5 * r_nn

    def record():
        epot = sc.get_potential_energy()
        ekin = sc.get_kinetic_energy()
        times.append(dyn.nsteps * settings.md_timestep)
        etot.append((epot + ekin) / n)
        temps.append(ekin / (1.5 * units.kB * n))
        min_dist.append(float(nearest_neighbor_distances(sc, probe).min()))

    cn0 = mean_coordination(sc, 1.25 * r_nn)
    record()
    for _ in range(nsteps // every):
        if should_stop is not None and should_stop():
            break
        dyn.run(every)
        record()
    t_ps = np.array(times) / 1000.0
    etot = np.array(etot)
    drift = float(np.polyfit(t_ps, etot, 1)[0]) if len(t_ps) > 2 else float("nan")
    nn_final = nearest_neighbor_distances(sc, probe)
    nn_final = nn_final[np.isfinite(nn_final)]
    cn = mean_coordination(sc, 1.25 * r_nn)
    held = bool(min(min_dist) > settings.md_min_distance * r_nn and len(nn_final) == n
                and abs(nn_final.mean() / r_nn - 1) < 0.1 and abs(cn - cn0) < 0.5)
    return {"time_fs": list(times), "total_energy": etot.tolist(), "temperature": temps,
            "min_distance": min_dist, "drift": drift,
            "max_excursion": float(np.abs(etot - etot[0]).max()),
            "mean_temperature": float(np.mean(temps[len(temps) // 2:])),
            "held": held, "natoms": n, "coordination_start": cn0, "coordination_end": cn}


def mean_coordination(atoms, radius) -> float:
    """Mean number of neighbors within ``radius``."""
    from workbench.engine.neighbors import build_pairs

    n = len(atoms)
    offsets, _, _, _ = build_pairs(atoms.positions, np.array(atoms.cell).reshape(1, 3, 3),
                                   np.array(atoms.pbc).reshape(1, 3),
                                   np.array([0, n], dtype=np.int64), radius)
    return float(offsets[-1] / n)
