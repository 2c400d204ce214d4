"""Interoperability with ASE: ``ase.Atoms`` <-> Configuration, and reading any format ASE
knows (VASP OUTCAR/vasprun.xml, Quantum ESPRESSO output, ASE's extxyz, ...).

Reference data is taken from the attached calculator's results (a SinglePointCalculator
after ``ase.io.read``) and, failing that, from ``atoms.info`` (``energy``/``Energy``) and
``atoms.arrays`` (forces under the names the extended-XYZ reader accepts: ``forces``,
``force``, ``for``).  ASE's stress is (1/V) dE/d(strain) in eV/A^3, the project
convention, so it is copied without sign or unit change; nine values are reduced to Voigt
order as ASE does (:data:`workbench.data.checks.VOIGT_FROM_NINE`).

Checks, the same as the extended-XYZ reader's, in the same words: an extended-XYZ file
(by ``file_format`` "extxyz", or by name when ASE guesses the format) is first read by the
careful reader, which refuses what ASE would take silently (a key given twice, ``1_0``,
extra columns...) naming file and line; then the values ASE made of any file go through
:func:`workbench.data.checks.frame_problem`, located by line for extended XYZ and by
frame otherwise.  A ``PBC`` key (ASE reads only ``pbc`` and keeps ``PBC``, KLIFF's
spelling, in ``atoms.info``) is read by the reader's rule.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import DatasetError

from .checks import frame_problem, parse_pbc, stress_to_voigt
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


def _stress_as_given(atoms, res):
    """The stress in the order a file gives it: 6 Voigt values, or the 9 of a 3x3 tensor
    in file order (ASE fills the matrix column by column)."""
    stress = res.get("stress")
    if stress is None:
        stress = atoms.info.get("stress", atoms.info.get("Stress"))
    if stress is None:
        return None
    stress = np.asarray(stress, dtype=np.float64)
    return stress.reshape(3, 3).ravel(order="F") if stress.size == 9 else stress.ravel()


def _pbc(atoms):
    """ASE's flags, unless the file spelled the key ``PBC`` (ASE reads only ``pbc`` and
    keeps the other spelling, parsed or not, in ``atoms.info``): then the file's flags by
    the extended-XYZ reader's rule, or ``(None, problem)``."""
    spelled = [k for k in atoms.info if k.lower() == "pbc"]
    if spelled:
        return parse_pbc(atoms.info[spelled[0]])
    return [bool(p) for p in atoms.get_pbc()], None


def config_kwargs_from_ase(atoms, path=None, frame=None, locate=None) -> dict:
    """Configuration keyword arguments from an ``ase.Atoms``, checked by the rules of the
    extended-XYZ reader (:func:`workbench.data.checks.frame_problem`); ``path``/``frame``
    (and ``locate``, see :func:`frame_error`) only locate an error."""
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
    stress = _stress_as_given(atoms, res)
    pbc, problem = _pbc(atoms)
    if problem:
        raise frame_error(problem, path, frame, None, locate)
    kw = {
        "cell": np.array(atoms.get_cell()[:], dtype=np.float64),
        "species": list(atoms.get_chemical_symbols()),
        "coords": np.array(atoms.get_positions(), dtype=np.float64),
        "PBC": pbc,
        "energy": None if energy is None else float(energy),
        "forces": None if forces is None else np.array(forces, dtype=np.float64),
        "stress": stress,
    }
    got = frame_problem(kw["cell"], pbc, kw["species"], kw["coords"], kw["energy"],
                        kw["forces"], stress)
    if got:
        raise frame_error(got[1], path, frame, got[0], locate)
    if stress is not None:
        kw["stress"] = stress_to_voigt(stress)
    return kw


def frame_error(problem, path, frame, atom, locate=None) -> DatasetError:
    """A DatasetError located as the extended-XYZ reader locates it: the file's line
    (``locate`` gives each frame's count-line number, see :func:`frame_first_lines`) and,
    past the first frame, "frame k: "; for files without such lines, the frame."""
    if locate is None:  # the per-atom problems name their atom
        return DatasetError(problem if frame is None else f"frame {frame}: {problem}", path)
    line = locate[frame] + 1 + (0 if atom is None else 1 + atom)
    return DatasetError(f"frame {frame}: {problem}" if frame else problem, path, line)


_XYZ_SUFFIXES = (".xyz", ".extxyz", ".xyz.gz", ".extxyz.gz")


def checked_extxyz_lines(path, file_format):
    """The lines of ``path`` when it is extended XYZ (by ``file_format``, or by name when
    ASE guesses the format), after every check of the careful reader (which raises its
    DatasetError naming the line: ASE takes a key given twice, ``1_0``, extra columns...
    silently); None for other formats."""
    from .extxyz import _read_text, parse_frames, split_lines

    by_name = str(path).lower().endswith(_XYZ_SUFFIXES)
    if not (file_format in ("extxyz", "xyz") or (file_format == "ase" and by_name)):
        return None
    text = _read_text(path)
    parse_frames(text, path)
    return split_lines(text)


def frame_first_lines(lines):
    """Line numbers of the atom-count lines of every frame of an extended-XYZ text, or
    None if it is not laid out so."""
    firsts, k = [], 0
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        count = lines[k].strip()
        if not (count.isdigit() and count.isascii()):
            return None
        firsts.append(k + 1)
        k += int(count) + 2
    return firsts or None


def configs_with_ase(path, file_format, weight=None) -> list:
    """Configurations of every frame ASE reads from ``path`` (identifiers ``path@k`` when
    there are several), with the extended-XYZ reader's checks and messages: an
    extended-XYZ file gets every check of the careful reader, located by line; the
    values ASE made of any file are checked by :func:`frame_problem`."""
    from .configuration import Configuration

    lines = checked_extxyz_lines(path, file_format)
    frames = read_with_ase(path, file_format)
    locate = None if lines is None else frame_first_lines(lines)
    if locate is not None and len(locate) != len(frames):
        if len(locate) < len(frames):
            locate = None  # not the layout guessed: locate by frame
        else:
            raise DatasetError(
                f"ASE read {len(frames)} frame(s) of the {len(locate)} this file holds (it "
                f"stops at a blank line between frames); expected frames back to back, "
                f"or read it with file_format='xyz'", path, locate[len(frames)])
    many = len(frames) > 1
    out = []
    for k, atoms in enumerate(frames):
        kw = config_kwargs_from_ase(atoms, path, k, locate)
        try:
            out.append(Configuration(weight=weight, identifier=f"{path}@{k}" if many
                                     else str(path), path=path, **kw))
        except DatasetError as exc:
            raise DatasetError(f"frame {k}: {exc.reason}", path) from None
    return out


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
