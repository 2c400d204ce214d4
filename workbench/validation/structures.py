"""Crystal structures by prototype, and the helpers every property shares.

Prototypes (ASE's ``ase.build.bulk`` underneath): ``diamond`` (one species),
``zincblende`` and ``rocksalt`` (two), ``fcc``, ``bcc``, ``hcp`` (one), or any
``ase.Atoms`` given as is.  ``cubic`` prototypes have every fractional coordinate fixed by
symmetry, so their lattice constant is a one-dimensional minimization; other structures
are relaxed with a cell filter.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, covalent_radii

from workbench.errors import WorkbenchError

#: prototype -> (number of species, cubic, nearest-neighbor distance / a)
PROTOTYPES = {
    "diamond": (1, True, np.sqrt(3) / 4),
    "zincblende": (2, True, np.sqrt(3) / 4),
    "rocksalt": (2, True, 0.5),
    "fcc": (1, True, np.sqrt(0.5)),
    "bcc": (1, True, np.sqrt(3) / 2),
    "hcp": (1, False, 1.0),
}


class ValidationError(WorkbenchError, ValueError):
    """Bad input to the property suite (structure, species, settings, ensemble)."""


def species_list(species) -> list[str]:
    if isinstance(species, str):
        species = species.replace(",", " ").split()
    species = [str(s) for s in species]
    for s in species:
        if s not in atomic_numbers:
            raise ValidationError(f"species {s!r} is not a chemical symbol")
    return species


def guess_lattice_constant(prototype: str, species) -> float:
    """A starting lattice constant from covalent radii (refined by the relaxation)."""
    nn = sum(covalent_radii[atomic_numbers[s]] for s in (species * 2)[:2])
    return float(nn / PROTOTYPES[prototype][2])


def build_structure(prototype, species, a=None, c_over_a=None) -> Atoms:
    """The conventional cell of ``prototype`` (cubic prototypes) or its primitive cell
    (hcp); an ``ase.Atoms`` is copied."""
    if isinstance(prototype, Atoms):
        return prototype.copy()
    name = str(prototype).lower()
    if name not in PROTOTYPES:
        raise ValidationError(f"unknown structure {prototype!r}; expected one of "
                              f"{', '.join(PROTOTYPES)} or an ase.Atoms")
    nspec, cubic, _ = PROTOTYPES[name]
    species = species_list(species)
    if len(species) != nspec:
        raise ValidationError(f"structure {name} needs {nspec} species, got {species}")
    a = guess_lattice_constant(name, species) if a is None else float(a)
    symbol = "".join(species)
    if name == "hcp":
        return bulk(symbol, "hcp", a=a, covera=c_over_a or np.sqrt(8 / 3))
    return bulk(symbol, name, a=a, cubic=True)


def is_cubic_prototype(prototype) -> bool:
    return not isinstance(prototype, Atoms) and PROTOTYPES[str(prototype).lower()][1]


def isolated_atom_energies(model, species) -> dict[str, float]:
    """Energy of one atom of each species alone in a large non-periodic box."""
    out = {}
    for s in species_list(species):
        atoms = Atoms(s, positions=[[0.0, 0.0, 0.0]], cell=[20.0] * 3, pbc=False)
        atoms.calc = model.ase_calculator()
        out[s] = float(atoms.get_potential_energy())
    return out


def nearest_neighbor_distances(atoms, cutoff) -> np.ndarray:
    """Per atom: distance to its nearest neighbor within ``cutoff`` (inf when none)."""
    from workbench.engine.neighbors import build_pairs

    n = len(atoms)
    offsets, _, _, d = build_pairs(atoms.positions, np.array(atoms.cell).reshape(1, 3, 3),
                                   np.array(atoms.pbc).reshape(1, 3),
                                   np.array([0, n], dtype=np.int64), cutoff)
    out = np.full(n, np.inf)
    i = np.repeat(np.arange(n), np.diff(offsets))
    np.minimum.at(out, i, np.sqrt(np.einsum("ij,ij->i", d, d)))
    return out
