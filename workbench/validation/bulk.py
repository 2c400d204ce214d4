"""Ground state of a crystal: relaxed lattice, cohesive energy, E-V curve (Birch-Murnaghan).

Definitions (units):

* lattice constant a (Å; also c for hcp): the cell of lowest energy, ions relaxed.
* cohesive energy (eV/atom): E_bulk/N minus the mean energy of the isolated atoms of the
  same composition (negative for a bound crystal, as OpenKIM reports it).
* E-V: energy per atom against volume per atom at uniformly scaled cells; the third-order
  Birch-Murnaghan fit (ASE's ``EquationOfState``) gives V0 (Å³/atom), E0 (eV/atom), the
  bulk modulus B (GPa) and its pressure derivative B'.
"""

from __future__ import annotations

import warnings

import numpy as np
from ase.units import GPa
from scipy.optimize import minimize_scalar

from workbench.errors import WorkbenchError
from workbench.validation.structures import (
    PROTOTYPES,
    ValidationError,
    build_structure,
    is_cubic_prototype,
    isolated_atom_energies,
)

#: the scales of the prototype's guessed cell the lattice scan may try
SCAN_GRID = np.geomspace(0.6, 2.5, 48)


def energy_or_none(energy, x):
    """``energy(x)``, or None where the model cannot evaluate it (a tabulated model
    outside its interpolation domain refuses, e.g. an EAM density beyond its table)."""
    try:
        e = energy(x)
    except WorkbenchError:
        return None
    return float(e) if np.isfinite(e) else None


def scan_scales(energy, grid=SCAN_GRID) -> tuple[dict, list]:
    """Energies at the scales of ``grid``, walking outward from the guess (scale 1) in
    both directions.  A direction stops at the first scale the model refuses after one it
    evaluated (the edge of its domain: cells further out lie beyond it); refusals before
    the first evaluated scale (a guess outside the domain) are passed over.  Returns
    ``({scale: energy}, [refused scales])``."""
    k0 = int(np.argmin(np.abs(np.log(grid))))
    found, refused = {}, []
    for start, step in ((k0, -1), (k0 + 1, 1)):
        k, inside = start, False
        while 0 <= k < len(grid):
            e = energy_or_none(energy, grid[k])
            if e is None:
                refused.append(float(grid[k]))
                if inside or found:
                    break
            else:
                found[float(grid[k])] = e
                inside = True
            k += step
    return found, sorted(refused)


def relax_positions(atoms, fmax: float, steps: int) -> int:
    """BFGS on the positions at fixed cell; returns the number of steps taken."""
    from ase.optimize import BFGS, LBFGS

    if np.abs(atoms.get_forces()).max() <= fmax:
        return 0
    # BFGS diagonalizes its dense Hessian every step: fine for a few atoms only
    opt = (BFGS if len(atoms) <= 32 else LBFGS)(atoms, logfile=None)
    opt.run(fmax=fmax, steps=steps)
    return int(opt.nsteps)


def relaxed_crystal(model, structure, species, settings):
    """The relaxed crystal (calculator attached) and its lattice constants.

    A coarse scan of uniform scalings finds the basin (the covalent-radius guess can be
    far off), then Brent's method on the scale (cubic prototypes, whose fractional
    coordinates are fixed by symmetry) or BFGS on cell and positions (the others).
    """
    atoms = build_structure(structure, species)
    atoms.calc = model.ase_calculator()
    cell0 = np.array(atoms.cell)
    frac = atoms.get_scaled_positions()

    def energy(scale):
        atoms.set_cell(cell0 * scale)
        atoms.set_scaled_positions(frac)
        return atoms.get_potential_energy()

    found, refused = scan_scales(energy)
    if not found:
        raise ValidationError(
            f"{getattr(model, 'model_name', type(model).__name__)} cannot evaluate "
            f"{structure} {'-'.join(species)} at any scale of the lattice scan "
            f"({SCAN_GRID[0]:.2f} to {SCAN_GRID[-1]:.2f} of the guessed cell)")
    scales = sorted(found)
    k = int(np.argmin([found[x] for x in scales]))
    lo, hi = scales[max(k - 1, 0)], scales[min(k + 1, len(scales) - 1)]
    res = minimize_scalar(lambda x: _finite_or_huge(energy, x), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-9})
    energy(res.x)
    scan = {"scan_range": [scales[0], scales[-1]], "scan_refused": refused}
    if is_cubic_prototype(structure):
        return atoms, {"a": float(atoms.cell.lengths()[0]), **scan}
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    opt = BFGS(FrechetCellFilter(atoms), logfile=None)
    opt.run(fmax=max(settings.fmax, 1e-5), steps=settings.relax_steps)
    par = atoms.cell.cellpar()
    if isinstance(structure, str) and structure.lower() == "hcp":
        return atoms, {"a": float(par[0]), "c": float(par[2]),
                       "c_over_a": float(par[2] / par[0]), **scan}
    return atoms, {**dict(zip(("a", "b", "c", "alpha", "beta", "gamma"), map(float, par))),
                   **scan}


def _finite_or_huge(energy, x) -> float:
    e = energy_or_none(energy, x)
    return 1e300 if e is None else e


def cohesive_energy(model, atoms) -> float:
    """E_bulk/N - mean isolated-atom energy (eV/atom)."""
    symbols = atoms.get_chemical_symbols()
    iso = isolated_atom_energies(model, sorted(set(symbols)))
    e_iso = sum(iso[s] for s in symbols)
    return float((atoms.get_potential_energy() - e_iso) / len(atoms))


def equation_of_state(model, atoms, settings, volumes=None) -> dict:
    """E-V points at uniformly scaled cells (ions relaxed where they feel forces) and
    the Birch-Murnaghan fit.  ``volumes`` (Å³/atom) fixes the grid (ensembles share it)."""
    from ase.eos import EquationOfState

    n = len(atoms)
    v_eq = atoms.get_volume() / n
    if volumes is None:
        s = np.linspace(-settings.eos_strain, settings.eos_strain, settings.eos_points)
        volumes = v_eq * (1 + s) ** 3
    volumes = np.asarray(volumes, dtype=float)
    work = atoms.copy()
    work.calc = model.ase_calculator()
    cell0 = np.array(atoms.cell)
    frac0 = atoms.get_scaled_positions()
    def energy(v):
        work.set_cell(cell0 * (v / v_eq) ** (1 / 3))
        work.set_scaled_positions(frac0)
        relax_positions(work, settings.fmax * 10, settings.relax_steps)
        return work.get_potential_energy() / n

    # points the model cannot evaluate (outside its domain) are left out and reported
    energies = np.array([energy_or_none(energy, v) for v in volumes], dtype=float)
    ok = np.isfinite(energies)
    skipped = volumes[~ok].tolist()
    if ok.sum() < 5:
        raise ValidationError(
            f"the E-V fit needs at least 5 points; the model evaluated only {int(ok.sum())} "
            f"of {len(volumes)} volumes (it refused {', '.join(f'{x:.4g}' for x in skipped)} "
            "Å³/atom, outside its domain): use a smaller eos_strain")
    volumes, energies = volumes[ok], energies[ok]
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v0, e0, b = eos.fit(warn=False)
    bp = float(eos.eos_parameters[2])
    # the fitted curve spans ±10 % in lattice constant (the range of the Si set's
    # strained DFT crystals), so reference points can be compared beyond the fit points
    mid = float(np.median(volumes))
    grid = np.linspace(0.9 ** 3 * mid, 1.1 ** 3 * mid, 120)
    from ase.eos import birchmurnaghan

    return {"volumes": volumes.tolist(), "energies": energies.tolist(),
            "skipped_volumes": skipped, "V0": float(v0), "E0": float(e0), "B": float(b / GPa), "Bp": bp,
            "fit_volumes": grid.tolist(),
            "fit_energies": birchmurnaghan(grid, *eos.eos_parameters).tolist()}


def nearest_neighbor_distance(structure, lattice: dict) -> float | None:
    """Bulk nearest-neighbor distance of a prototype (None for other structures)."""
    if isinstance(structure, str) and structure.lower() in PROTOTYPES and \
            structure.lower() != "hcp":
        return float(lattice["a"] * PROTOTYPES[structure.lower()][2])
    if isinstance(structure, str) and structure.lower() == "hcp":
        return float(min(lattice["a"], np.sqrt(lattice["a"] ** 2 / 3 + lattice["c"] ** 2 / 4)))
    return None
