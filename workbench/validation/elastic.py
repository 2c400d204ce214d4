"""Elastic constants from finite strains.

Definitions (GPa): C_ij = dσ_i/dε_j at zero strain, Voigt order xx yy zz yz xz xy with
engineering shear strains (ε_4 = 2 ε_yz), σ the stress of the strained cell.  *Relaxed-ion*
constants relax the atoms inside every strained cell (the measured, static constants);
*unrelaxed* ones keep the fractional coordinates (C44 differs for diamond).  Derivatives
are central differences at ±``strain``.  The bulk modulus from the constants is the Voigt
average B = (C11+C22+C33 + 2(C12+C13+C23))/9, equal to (C11 + 2 C12)/3 for cubic
crystals and to the E-V bulk modulus.

A cubic crystal needs only two strains (ε_1 and ε_4) by symmetry; other crystals get all
six and the full 6×6 matrix.  :func:`cubic_constants_from_energy` is the independent
energy-strain route (second derivatives of E(ε)) the tests compare with.
"""

from __future__ import annotations

import numpy as np
from ase.units import GPa

from workbench.validation.bulk import relax_positions


def strain_matrix(voigt) -> np.ndarray:
    """Deformation gradient I + ε of a Voigt strain (engineering shears)."""
    e = np.asarray(voigt, dtype=float)
    eps = np.array([[e[0], e[5] / 2, e[4] / 2],
                    [e[5] / 2, e[1], e[3] / 2],
                    [e[4] / 2, e[3] / 2, e[2]]])
    return np.eye(3) + eps


def _strained(atoms, voigt, relax, settings):
    work = atoms.copy()
    work.calc = atoms.calc
    work.set_cell(np.array(atoms.cell) @ strain_matrix(voigt).T, scale_atoms=True)
    if relax:
        relax_positions(work, settings.fmax, settings.relax_steps)
    return work


def stress_of_strain(atoms, voigt, relax, settings) -> np.ndarray:
    return _strained(atoms, voigt, relax, settings).get_stress(voigt=True)


def elastic_matrix(atoms, settings, relax=True, components=range(6)) -> np.ndarray:
    """Columns ``components`` of C (GPa) by central differences of the stress; the other
    columns are NaN."""
    h = settings.strain
    C = np.full((6, 6), np.nan)
    for j in components:
        e = np.zeros(6)
        e[j] = h
        sp = stress_of_strain(atoms, e, relax, settings)
        sm = stress_of_strain(atoms, -e, relax, settings)
        C[:, j] = (sp - sm) / (2 * h) / GPa
    return C


def elastic_constants(atoms, settings, cubic: bool) -> dict:
    """Relaxed-ion C (cubic: C11, C12, C44; else the 6×6 matrix), unrelaxed C44, and B
    from the constants."""
    if cubic:
        C = elastic_matrix(atoms, settings, True, components=(0, 3))
        c11, c12, c44 = C[0, 0], 0.5 * (C[1, 0] + C[2, 0]), C[3, 3]
        cu = elastic_matrix(atoms, settings, False, components=(3,))
        full = cubic_matrix(c11, c12, c44)
        out = {"C11": float(c11), "C12": float(c12), "C44": float(c44),
               "C44_unrelaxed": float(cu[3, 3])}
    else:
        full = elastic_matrix(atoms, settings, True)
        full = 0.5 * (full + full.T)
        cu = elastic_matrix(atoms, settings, False, components=(3,))
        out = {f"C{i + 1}{j + 1}": float(full[i, j]) for i in range(6) for j in range(i, 6)}
        out["C44_unrelaxed"] = float(cu[3, 3])
    out["matrix"] = full.tolist()
    out["B_from_Cij"] = float(voigt_bulk_modulus(full))
    return out


def cubic_matrix(c11, c12, c44) -> np.ndarray:
    C = np.zeros((6, 6))
    C[:3, :3] = c12
    C[range(3), range(3)] = c11
    C[range(3, 6), range(3, 6)] = c44
    return C


def voigt_bulk_modulus(C) -> float:
    C = np.asarray(C)
    return float((C[0, 0] + C[1, 1] + C[2, 2] + 2 * (C[0, 1] + C[0, 2] + C[1, 2])) / 9)


def cubic_constants_from_energy(atoms, settings, npoints=5) -> dict:
    """C11, C12, C44 (GPa) from quadratic fits of E(ε) along three strain paths:
    ε_1 (E'' = V C11), ε_1 = ε_2 (E'' = 2 V (C11 + C12)), ε_4 (E'' = V C44); ions relaxed."""
    h = settings.strain * 2
    xs = np.linspace(-h, h, npoints)
    vol = atoms.get_volume()

    def curvature(direction):
        es = [_strained(atoms, np.asarray(direction) * x, True, settings).get_potential_energy()
              for x in xs]
        return 2 * np.polyfit(xs, es, 2)[0] / vol / GPa

    c11 = curvature([1, 0, 0, 0, 0, 0])
    c11_c12 = curvature([1, 1, 0, 0, 0, 0]) / 2
    c44 = curvature([0, 0, 0, 1, 0, 0])
    return {"C11": float(c11), "C12": float(c11_c12 - c11), "C44": float(c44)}
