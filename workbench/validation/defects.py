"""Point and planar defects, and small clusters.

Definitions:

* vacancy formation energy (eV): E(N-1, relaxed) - (N-1)/N E(N), atom 0 removed from a
  supercell of the relaxed crystal, the remaining atoms relaxed at fixed cell (the
  unrelaxed value is reported beside it).
* surface energy (J/m², also eV/Å²): (E_slab - N_slab E_bulk/atom) / (2 A) for a slab of
  the relaxed crystal cut along ``surface_miller``, ions relaxed, no reconstruction
  beyond what the relaxation finds.
* dimer E(r) (eV): energy of two atoms at distance r minus the isolated atoms.
* trimer E(θ) (eV): three atoms, two legs of the bulk nearest-neighbor length meeting at
  angle θ at the central atom, minus the isolated atoms; shows the angular (three-body)
  part of a model.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.units import J, m

from workbench.validation.bulk import relax_positions
from workbench.validation.structures import isolated_atom_energies


def vacancy_formation_energy(model, atoms, settings) -> dict:
    sc = atoms.repeat(settings.vacancy_supercell)
    sc.calc = model.ase_calculator()
    n = len(sc)
    e_bulk = sc.get_potential_energy()
    defect = sc.copy()
    del defect[0]
    defect.calc = model.ase_calculator()
    e_unrelaxed = defect.get_potential_energy()
    steps = relax_positions(defect, settings.vacancy_fmax, settings.relax_steps)
    e_relaxed = defect.get_potential_energy()
    # the symmetric vacancy can be a saddle point with zero forces: relax a slightly
    # rattled copy too and keep the lower minimum
    broken = defect.copy()
    broken.calc = model.ase_calculator()
    broken.rattle(0.02, seed=settings.seed)
    steps += relax_positions(broken, settings.vacancy_fmax, settings.relax_steps)
    e_relaxed = min(e_relaxed, broken.get_potential_energy())
    ref = (n - 1) / n * e_bulk
    return {"relaxed": float(e_relaxed - ref), "unrelaxed": float(e_unrelaxed - ref),
            "natoms": n, "relax_steps": steps}


def surface_energy(model, atoms, settings) -> dict:
    from ase.build import surface

    slab = surface(atoms, settings.surface_miller, settings.surface_layers,
                   vacuum=settings.surface_vacuum, periodic=True)
    slab.pbc = True
    slab.calc = model.ase_calculator()
    relax_positions(slab, settings.vacancy_fmax, settings.relax_steps)
    e_bulk = atoms.get_potential_energy() / len(atoms)
    area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
    gamma = (slab.get_potential_energy() - len(slab) * e_bulk) / (2 * area)
    return {"eV_per_A2": float(gamma), "J_per_m2": float(gamma / (J / m ** 2)),
            "miller": list(settings.surface_miller), "natoms": len(slab)}


def influence_distance(model) -> float:
    get = getattr(model, "get_influence_distance", None)
    if get is not None:
        return float(get())
    desc = getattr(model, "descriptor", None)
    return float(getattr(desc, "rcut_max", 5.0))


def dimer_curve(model, species, r_nn, settings) -> dict:
    a, b = species[0], species[-1]
    iso = isolated_atom_energies(model, sorted({a, b}))
    r = np.linspace(0.6 * r_nn, influence_distance(model) + 0.3, settings.dimer_points)
    calc = model.ase_calculator()
    e = []
    for x in r:
        dimer = Atoms([a, b], positions=[[0, 0, 0], [x, 0, 0]], cell=[30.0] * 3, pbc=False)
        dimer.calc = calc
        e.append(dimer.get_potential_energy() - iso[a] - iso[b])
    e = np.array(e)
    k = int(np.argmin(e))
    return {"r": r.tolist(), "energy": e.tolist(), "species": [a, b],
            "r_min": float(r[k]), "e_min": float(e[k])}


def trimer_curve(model, species, r_nn, settings) -> dict:
    centre, leg = species[0], species[-1]
    iso = isolated_atom_energies(model, sorted({centre, leg}))
    theta = np.linspace(40.0, 180.0, settings.trimer_points)
    calc = model.ase_calculator()
    e = []
    for t in np.radians(theta):
        pos = [[0, 0, 0], [r_nn, 0, 0], [r_nn * np.cos(t), r_nn * np.sin(t), 0]]
        tri = Atoms([centre, leg, leg], positions=pos, cell=[30.0] * 3, pbc=False)
        tri.calc = calc
        e.append(tri.get_potential_energy() - iso[centre] - 2 * iso[leg])
    e = np.array(e)
    return {"theta": theta.tolist(), "energy": e.tolist(), "r": float(r_nn),
            "species": [leg, centre, leg], "theta_min": float(theta[int(np.argmin(e))])}


def function_curves(model) -> list[dict]:
    """The model's own functions (``model.function_curves()``) when it has them."""
    fn = getattr(model, "function_curves", None)
    if fn is None:
        return []
    curves = []
    for c in fn() or []:
        curves.append({k: (np.asarray(v, float).tolist() if k in ("x", "y") else v)
                       for k, v in dict(c).items()})
    return curves
