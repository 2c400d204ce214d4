"""Harmonic phonons with phonopy (finite displacements in a supercell).

Definitions (THz): frequencies ν = ω/2π of the dynamical matrix of the force constants;
an imaginary frequency is shown negative (phonopy's convention) and flagged when below
``-imaginary_tolerance``.  The band structure runs along ASE's standard path of the
primitive cell's Bravais lattice (Setyawan-Curtarolo special points); the density of
states is phonopy's on a Γ-centred q-mesh.  ``phonon_min_frequency`` is the lowest
frequency on the band path.
"""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms


def _phonopy_atoms(atoms):
    from phonopy.structure.atoms import PhonopyAtoms

    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=np.array(atoms.cell),
                        scaled_positions=atoms.get_scaled_positions())


def force_constants(model, atoms, settings):
    """A phonopy object with force constants from our model's forces."""
    from phonopy import Phonopy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # phonopy 4 announces its "auto" primitive cell
        ph = Phonopy(_phonopy_atoms(atoms),
                     supercell_matrix=np.diag(settings.phonon_supercell),
                     primitive_matrix="auto")
    ph.generate_displacements(distance=settings.phonon_displacement)
    calc = model.ase_calculator()
    forces = []
    for sc in ph.supercells_with_displacements:
        work = Atoms(sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions, pbc=True)
        work.calc = calc
        f = work.get_forces()
        forces.append(f - f.mean(axis=0))
    ph.forces = np.array(forces)
    ph.produce_force_constants()
    return ph


def band_path(ph, npoints):
    prim = ph.primitive
    cell = Atoms(cell=prim.cell, pbc=True).cell
    return cell.bandpath(npoints=npoints)


def phonons(model, atoms, settings) -> dict:
    ph = force_constants(model, atoms, settings)
    path = band_path(ph, settings.phonon_band_points)
    ph.run_band_structure([path.kpts])
    freqs = np.asarray(ph.band_structure.frequencies[0])
    x, xs, labels = path.get_linear_kpoint_axis()
    ph.run_mesh(list(settings.phonon_mesh), is_gamma_center=True)
    ph.run_total_dos()
    dos = ph.total_dos
    mesh_freqs = np.asarray(ph.mesh.frequencies)
    fmin = float(freqs.min())
    tol = settings.imaginary_tolerance
    imag_q = [path.kpts[k].tolist() for k in np.flatnonzero(freqs.min(axis=1) < -tol)]
    names = [n for n in ("G", "X", "L") if n in path.special_points]
    ph.run_qpoints([path.special_points[n] for n in names])
    special = {n: np.asarray(f).tolist() for n, f in zip(names, ph.qpoints.frequencies)}
    return {"x": x.tolist(), "special_x": xs.tolist(), "labels": list(labels),
            "frequencies": freqs.tolist(), "qpoints": path.kpts.tolist(),
            "dos_frequencies": np.asarray(dos.frequency_points).tolist(),
            "dos": np.asarray(dos.dos).tolist(),
            "min_frequency": fmin, "max_frequency": float(freqs.max()),
            "mesh_min_frequency": float(mesh_freqs.min()),
            "imaginary": bool(fmin < -tol or mesh_freqs.min() < -tol),
            "imaginary_qpoints": imag_q, "special_frequencies": special}
