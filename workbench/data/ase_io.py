"""Interoperability with ASE: ``ase.Atoms`` <-> Configuration, and reading any format ASE
knows (VASP OUTCAR/vasprun.xml, Quantum ESPRESSO output, ASE's extxyz, ...).

Reference data is taken from the attached calculator's results (a SinglePointCalculator
after ``ase.io.read``) and, failing that, from ``atoms.info`` (``energy``/``Energy``) and
``atoms.arrays`` (forces under the names the extended-XYZ reader accepts: ``forces``,
``force``, ``for``).  ASE's stress is (1/V) dE/d(strain) in eV/A^3, the project
convention, so it is copied without sign or unit change; nine values are reduced to Voigt
order as ASE does (:data:`workbench.data.checks.VOIGT_FROM_NINE`).

Values are checked by the same rules as the extended-XYZ reader
(:mod:`workbench.data.checks`, through ``Configuration``); a ``PBC`` that ASE could not
read as three flags (it keeps it in ``atoms.info``) is refused as the reader refuses it.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import DatasetError

from .checks import stress_to_voigt
from .extxyz import FORCE_NAMES

#: File-name patterns searched in directories, per format.
PATTERNS = {
    "xyz": ("*.xyz", "*.xyz.gz"),
    "extxyz": ("*.xyz", "*.extxyz", "*.xyz.gz", "*.extxyz.gz"),
    "vasp-out": ("OUTCAR*",),
    "vasp-xml": ("vasprun*.xml",),
    "espresso-out": ("*.out", "*.pwo"),
    "espresso-in": ("*.in", "*.pwi"),
    "traj": ("*.traj",),
    "cif": ("*.cif",),
    "vasp": ("POSCAR*", "CONTCAR*"),
    "ase": ("*.xyz", "*.extxyz", "*.xyz.gz", "*.extxyz.gz", "OUTCAR*", "vasprun*.xml", "*.pwo", "*.traj", "*.cif",
            "POSCAR*", "CONTCAR*"),
}


def _results(atoms):
    calc = atoms.calc
    return dict(getattr(calc, "results", {}) or {}) if calc is not None else {}


def config_kwargs_from_ase(atoms, path=None, frame=None) -> dict:
    """Configuration keyword arguments from an ``ase.Atoms``; ``path``/``frame`` only
    locate an error."""
    res = _results(atoms)
    energy = res.get("energy", res.get("free_energy"))
    if energy is None:
        energy = atoms.info.get("energy", atoms.info.get("Energy"))
    forces = res.get("forces")
    if forces is None:
        for name in atoms.arrays:
            if name.lower() in FORCE_NAMES:
                forces = atoms.arrays[name]
                break
    stress = res.get("stress")
    if stress is None:
        stress = atoms.info.get("stress", atoms.info.get("Stress"))
    if stress is not None:
        stress = np.asarray(stress, dtype=np.float64)
        if stress.size == 9:
            stress = stress_to_voigt(np.asarray(stress).reshape(3, 3).ravel(order="F"))
    unread = [k for k in atoms.info if k.lower() == "pbc"]
    if unread:
        where = "" if frame is None else f"frame {frame}: "
        raise DatasetError(f"{where}PBC={atoms.info[unread[0]]!r}; expected three flags of "
                           "1/0 or T/F", path)
    return {
        "cell": np.array(atoms.get_cell()[:], dtype=np.float64),
        "species": list(atoms.get_chemical_symbols()),
        "coords": np.array(atoms.get_positions(), dtype=np.float64),
        "PBC": [bool(p) for p in atoms.get_pbc()],
        "energy": None if energy is None else float(energy),
        "forces": None if forces is None else np.array(forces, dtype=np.float64),
        "stress": stress,
    }


def config_to_ase(config):
    """An ``ase.Atoms`` with a SinglePointCalculator holding energy, forces and stress."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = Atoms(symbols=config.species, positions=config.coords, cell=config.cell,
                  pbc=config.PBC)
    results = {}
    if config.energy is not None:
        results["energy"] = config.energy
    if config.forces is not None:
        results["forces"] = config.forces.copy()
    if config.stress is not None:
        results["stress"] = np.array(config.stress, dtype=np.float64)
    if results:
        atoms.calc = SinglePointCalculator(atoms, **results)
    if config.identifier is not None:
        atoms.info["identifier"] = config.identifier
    return atoms


def read_with_ase(path, file_format="ase") -> list:
    """All frames of ``path`` as ``ase.Atoms`` (``file_format='ase'`` lets ASE guess)."""
    import ase.io

    fmt = None if file_format == "ase" else file_format
    try:
        frames = ase.io.read(str(path), index=":", format=fmt)
    except Exception as exc:  # ASE raises many types for bad input
        name = type(exc).__name__
        raise DatasetError(f"ASE could not read it as {file_format!r} ({name}: {exc}); "
                           "expected a file in that format", path) from None
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise DatasetError(f"ASE found no configuration in it (format {file_format!r})", path)
    return frames
