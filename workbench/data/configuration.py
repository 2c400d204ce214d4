"""One atomic configuration with its reference data (KLIFF's ``Configuration``).

Conventions (see docs/architecture.md, "data -> everyone"): ``cell`` rows are the lattice
vectors, ``coords`` Cartesian, ``stress`` in Voigt order xx yy zz yz xz xy with the sign
and units of the source (the project convention is sigma = (1/V) dE/d(strain), which is
also ASE's, so ASE stresses are taken over unchanged).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from workbench.errors import DatasetError

from .checks import cell_problem, configuration_problems, nonfinite_problem, \
    species_problem
from .weight import Weight


def _check_format(file_format):
    if file_format not in ("xyz",):
        raise DatasetError(f"file format {file_format!r} is not handled here; expected 'xyz' "
                           "(use workbench.data.ase_io for formats ASE reads)")


class Configuration:
    """Atoms, cell, periodicity and reference energy/forces/stress of one structure.

    ``weight`` is stored as this configuration's own copy of the given :class:`Weight`, after
    ``weight.compute_weight(self)`` has run; when None, a default ``Weight()`` of its own is
    made on first access.
    ``identifier`` defaults to the file path (as a string) when read from a file.
    """

    def __init__(self, cell, species, coords, PBC, energy=None, forces=None, stress=None,
                 weight=None, identifier=None, path=None):
        self._path = None if path is None else Path(path)
        if identifier is None and path is not None:
            identifier = str(path)
        self.identifier = None if identifier is None else str(identifier)
        self._coords = np.ascontiguousarray(coords, dtype=np.float64).reshape(-1, 3)
        self._species = [str(s) for s in species]
        self._cell = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
        self._PBC = [bool(p) for p in PBC]
        if len(self._PBC) != 3:
            raise self._error(f"PBC has {len(self._PBC)} entries; expected 3")
        self._energy = self._forces = self._stress = None
        self.energy, self.forces, self.stress = energy, forces, stress
        n = self._coords.shape[0]
        if len(self._species) != n:
            raise self._error(f"{len(self._species)} species for {n} atoms; expected one "
                              "species per atom")
        self.validate()
        self._weight = None
        self.weight = weight

    @classmethod
    def _trusted(cls, cell, species, coords, PBC, energy, forces, stress, path, weight=None):
        """A configuration from arrays already checked and of the right types (the batch
        reader's shapes and dtypes); ``path`` is a string, used as the identifier."""
        self = cls.__new__(cls)
        self._cell = cell
        self._species = species
        self._coords = coords
        self._PBC = PBC
        self._energy = energy
        self._forces = forces
        self._stress = stress
        self._path = path
        self.identifier = path
        self._weight = None
        if weight is not None:
            self.weight = weight
        return self

    def __setstate__(self, state):
        """Unpickle, also objects pickled before the checked attributes were properties
        (e.g. an older fingerprint file): ``coords`` is then stored as ``_coords``."""
        for name in ("cell", "species", "coords", "PBC", "energy", "forces", "stress"):
            if name in state:
                state["_" + name] = state.pop(name)
        self.__dict__.update(state)

    # -- checked data --------------------------------------------------------------------
    def describe(self, index=None) -> str:
        """"configuration <identifier>", or "configuration <index>" for an unnamed one."""
        if self.identifier is not None:
            return f"configuration {self.identifier}"
        return "configuration" if index is None else f"configuration {index} (unnamed)"

    def _error(self, problem, index=None):
        return DatasetError(f"{self.describe(index)}: {problem}")

    def validate(self, index=None) -> "Configuration":
        """Check the data as it is now (after any in-place edit): finite coordinates, cell,
        energy, forces and stress, known species, a right-handed non-singular periodic
        cell.  Raises :class:`DatasetError` naming the configuration (by ``index`` when it
        has no identifier); returns self."""
        problems = configuration_problems(self._cell, self._species, self._coords, self._PBC,
                                          self._energy, self._forces, self._stress)
        if problems:
            raise self._error("; ".join(problems), index)
        n = self._coords.shape[0]
        if self._forces is not None and self._forces.shape != (n, 3):
            raise self._error(f"forces of shape {self._forces.shape}; expected ({n}, 3)",
                              index)
        if len(self._species) != n:
            raise self._error(f"{len(self._species)} species for {n} atoms; expected one "
                              "species per atom", index)
        return self

    @property
    def cell(self):
        return self._cell

    @cell.setter
    def cell(self, value):
        cell = np.ascontiguousarray(value, dtype=np.float64).reshape(3, 3)
        problem = (nonfinite_problem("cell", cell) or cell_problem(cell, self._PBC))
        if problem:
            raise self._error(problem)
        self._cell = cell

    @property
    def coords(self):
        return self._coords

    @coords.setter
    def coords(self, value):
        coords = np.ascontiguousarray(value, dtype=np.float64).reshape(-1, 3)
        problem = nonfinite_problem("coordinates", coords)
        if problem:
            raise self._error(problem)
        self._coords = coords

    @property
    def species(self):
        return self._species

    @species.setter
    def species(self, value):
        species = [str(s) for s in value]
        problem = species_problem(species)
        if problem:
            raise self._error(problem)
        self._species = species

    @property
    def PBC(self):
        return self._PBC

    @PBC.setter
    def PBC(self, value):
        pbc = [bool(p) for p in value]
        if len(pbc) != 3:
            raise self._error(f"PBC has {len(pbc)} entries; expected 3")
        self._PBC = pbc

    @property
    def energy(self):
        return self._energy

    @energy.setter
    def energy(self, value):
        energy = None if value is None else float(value)
        if energy is not None and energy - energy != 0.0:
            raise self._error(nonfinite_problem("energy", energy))
        self._energy = energy

    @property
    def forces(self):
        return self._forces

    @forces.setter
    def forces(self, value):
        forces = None if value is None else np.ascontiguousarray(value, dtype=np.float64)
        if forces is not None:
            n = self._coords.shape[0]
            if forces.shape != (n, 3):
                raise self._error(f"forces of shape {forces.shape}; expected ({n}, 3)")
            problem = nonfinite_problem("forces", forces)
            if problem:
                raise self._error(problem)
        self._forces = forces

    @property
    def stress(self):
        return self._stress

    @stress.setter
    def stress(self, value):
        stress = None if value is None else np.ascontiguousarray(value, dtype=np.float64)
        if stress is not None:
            if stress.size == 9:  # a 3x3 tensor: yz, xz, xy from the upper triangle
                stress = stress.reshape(3, 3)[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            if stress.shape != (6,):
                raise self._error(f"stress of shape {stress.shape}; expected 6 Voigt "
                                  "components (xx yy zz yz xz xy)")
            problem = nonfinite_problem("stress", stress)
            if problem:
                raise self._error(problem)
        self._stress = stress

    @property
    def path(self):
        """The file the configuration was read from (a Path), or None."""
        p = self._path
        if p is not None and not isinstance(p, Path):
            p = self._path = Path(p)
        return p

    @path.setter
    def path(self, value):
        self._path = None if value is None else Path(value)

    # -- weights -------------------------------------------------------------------------
    @property
    def weight(self) -> Weight:
        if self._weight is None:  # the default weight, made when first asked for
            w = Weight()
            w.compute_weight(self)
            self._weight = w
        return self._weight

    @weight.setter
    def weight(self, weight):
        if weight is None:
            self._weight = None
            return
        w = weight.copy()
        w.compute_weight(self)
        self._weight = w

    @property
    def config_weight(self):
        return self.weight.config_weight

    @property
    def energy_weight(self):
        return self.weight.energy_weight

    @property
    def forces_weight(self):
        return self.weight.forces_weight

    @property
    def stress_weight(self):
        return self.weight.stress_weight

    # -- queries -------------------------------------------------------------------------
    def get_num_atoms(self) -> int:
        """The number of atoms N in the configuration."""
        return self.coords.shape[0]

    def get_num_atoms_by_species(self) -> dict[str, int]:
        """Atom counts keyed by chemical symbol, e.g. ``{'Si': 64}``."""
        return dict(Counter(self.species))

    def count_atoms_by_species(self, symbols=None) -> dict[str, int]:
        """Counts for ``symbols`` (all present species when None; absent ones count 0)."""
        counts = Counter(self.species)
        if symbols is None:
            return dict(counts)
        return {s: counts.get(s, 0) for s in symbols}

    def get_volume(self) -> float:
        """(a1 x a2) . a3, positive for the right-handed cells the reader accepts."""
        a1, a2, a3 = self.cell
        return float(np.dot(np.cross(a1, a2), a3))

    def order_by_species(self) -> None:
        """Reorder atoms so that each species is contiguous (species sorted by name, the
        original order kept within a species); forces and per-atom weights follow."""
        names = sorted(set(self.species))
        codes = np.array([names.index(s) for s in self.species]) if self.species else \
            np.zeros(0, int)
        order = np.argsort(codes, kind="stable")
        self._species = [self._species[i] for i in order]
        self._coords = self._coords[order]
        if self._forces is not None:
            self._forces = self._forces[order]
        if self._weight is not None:
            fw = self._weight._forces_weight
            if isinstance(fw, np.ndarray) and fw.ndim >= 1 and fw.shape[0] == len(order):
                self._weight._forces_weight = fw[order]

    # -- I/O -----------------------------------------------------------------------------
    @classmethod
    def from_file(cls, filename, weight=None, file_format="xyz"):
        """Read one configuration from an extended-XYZ file (energy in eV, forces in eV/Å,
        stress in eV/Å³ as a 6-vector). Raises DatasetError naming the file and line."""
        _check_format(file_format)
        from .extxyz import read_extxyz
        d = read_extxyz(filename)
        return cls(weight=weight, identifier=str(filename), path=filename, **d)

    def to_file(self, filename, file_format="xyz") -> None:
        """Write atomically in the KLIFF extended-XYZ dialect (bit-exact floats)."""
        _check_format(file_format)
        from .extxyz import write_extxyz
        write_extxyz(filename, self.cell, self.species, self.coords, self.PBC,
                     self.energy, self.forces, self.stress)

    @classmethod
    def from_ase(cls, atoms, weight=None, identifier=None, path=None):
        """A configuration from an ``ase.Atoms`` (its cell, pbc, species and positions in
        Å; energy/forces/stress from an attached single-point calculator if present).
        Raises DatasetError for invalid values (NaN, a singular cell, coincident atoms)."""
        from .ase_io import config_kwargs_from_ase
        try:
            kwargs = config_kwargs_from_ase(atoms)
        except DatasetError as exc:  # name the configuration, as the constructor does
            who = "configuration" if identifier is None else f"configuration {identifier}"
            raise DatasetError(f"{who}: {exc.reason}", path) from None
        return cls(weight=weight, identifier=identifier, path=path, **kwargs)

    from_ase_atoms = from_ase

    def to_ase(self):
        """The configuration as an ``ase.Atoms`` (cell, PBC, positions in Angstrom; energy,
        forces and stress, when present, attached as a single-point calculator's results)."""
        from .ase_io import config_to_ase
        return config_to_ase(self)

    def __repr__(self):
        return (f"Configuration({self.identifier!r}, natoms={self.get_num_atoms()}, "
                f"species={sorted(set(self.species))}, energy={self.energy})")
