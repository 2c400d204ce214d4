"""An ASE calculator for every workbench model: ``model.ase_calculator()``.

ASE's optimizers, equation-of-state fits, molecular dynamics and phonon tools then run a
fitted model directly, without exporting and installing a KIM model first.

Three back ends evaluate one ``ase.Atoms`` through the model's own code, so the numbers
are the model's ``compute`` numbers:

* **packed** (built-in and plugin models over the numba engine): one packed batch whose
  neighbor lists are built with ``influence distance + skin``.  While no atom moved more
  than ``skin / 2`` since the lists were built (and cell, PBC, species and the influence
  distance are unchanged) only the pair vectors are recomputed from the stored image
  shifts; the kernels apply their own per-pair cutoffs, so the extra pairs in the skin
  contribute nothing.
* **kim** (``KIMModel``): kim-api compute arguments with padding atoms and a kimpy
  neighbor list built with the same skin; moves update the coordinates of the atoms and
  of their padding images in place (kim-api models check distances against their own
  cutoffs, so a superset list is valid).  Energies per atom when the model computes
  ``partialParticleEnergy``.
* **torch** (neural networks and linear models, ``workbench.ml``) and **SNAP**: the
  descriptor computes the fingerprints and their coordinate and strain derivatives each
  call on a neighbor list kept with the same skin (``ml.ase_torch.SkinDescriptor``);
  energies per atom come from the network.

Stress is ASE's: (1/V) dE/d(strain), Voigt xx yy zz yz xz xy, eV/Å³ (the project's
convention too); it is computed only for cells periodic in all three directions.
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from workbench.errors import ModelError

DEFAULT_SKIN = 0.5


class WorkbenchCalculator(Calculator):
    """ASE calculator over a workbench model (see the module docstring).

    Args:
        model: a physics ``Model`` (built-in, plugin, ``KIMModel``) or a torch model
            (``NeuralNetwork``, ``LinearRegression``).
        skin: extra neighbor-list distance (Å); lists are rebuilt once an atom moved more
            than half of it.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, model, skin: float = DEFAULT_SKIN, **kwargs):
        super().__init__(**kwargs)
        if not skin >= 0:
            raise ModelError(f"ase_calculator: skin must be >= 0, got {skin!r}")
        self.model = model
        self.skin = float(skin)
        self.backend = _backend_for(model, self.skin)
        if self.backend.has_energies:
            self.implemented_properties = self.implemented_properties + ["energies"]

    @property
    def rebuilds(self) -> int:
        """How many times the neighbor lists were built (for tests and benchmarks)."""
        return self.backend.rebuilds

    def check_state(self, atoms, tol=1e-15):
        """What changed since the last call; exact comparisons (ASE's default compares
        with ``allclose``, which costs more than an SW evaluation of a small cell)."""
        if self.atoms is None:
            return list(all_changes)
        old = self.atoms
        changes = []
        if not np.array_equal(old.positions, atoms.positions):
            changes.append("positions")
        if not np.array_equal(old.numbers, atoms.numbers):
            changes.append("numbers")
        if not np.array_equal(old.cell.array, atoms.cell.array):
            changes.append("cell")
        if not np.array_equal(old.pbc, atoms.pbc):
            changes.append("pbc")
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if "stress" in properties and not self.atoms.pbc.all():
            raise PropertyNotImplementedError(
                "stress needs a cell periodic in all three directions")
        energy, forces, stress, energies = self.backend.evaluate(
            self.atoms, stress=bool(self.atoms.pbc.all()))
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}
        if stress is not None:
            self.results["stress"] = stress
        if energies is None and "energies" in properties and \
                hasattr(self.backend, "atom_energies"):
            energies = self.backend.atom_energies(energy)  # only when asked: N× the pairs
        if energies is not None:
            self.results["energies"] = energies


def ase_calculator(model, skin: float = DEFAULT_SKIN) -> WorkbenchCalculator:
    """``WorkbenchCalculator(model, skin)``."""
    return WorkbenchCalculator(model, skin=skin)


def atoms_to_config(atoms):
    """A workbench Configuration with the positions, cell, PBC and symbols of ``atoms``."""
    from workbench.data.configuration import Configuration

    return Configuration(np.array(atoms.cell, dtype=float), list(atoms.get_chemical_symbols()),
                         np.array(atoms.positions, dtype=float), [bool(p) for p in atoms.pbc],
                         identifier="ase")


def _backend_for(model, skin):
    if getattr(model, "is_torch", False):
        from workbench.ml.ase_torch import TorchBackend

        return TorchBackend(model, skin)
    from workbench.models.model import Model

    if not isinstance(model, Model):
        raise ModelError(f"ase_calculator: {type(model).__name__} is not a workbench model")
    import sys

    from workbench.models.kim import KIMModel

    if isinstance(model, KIMModel):
        return _KIMBackend(model, skin)
    snap = sys.modules.get("workbench.ml.snap")  # a SNAP model means it is imported
    if snap is not None and isinstance(model, snap.SNAP):
        return _SNAPBackend(model, skin)
    from workbench.models.builtin import BuiltinModel

    cls = type(model)
    # BuiltinModel.prepare only starts the kernels' compilation before packing as Model's
    if (cls.prepare is Model.prepare or cls.prepare is BuiltinModel.prepare) and \
            cls.refresh_state is Model.refresh_state:
        return _PackedBackend(model, skin)
    return _FreshBackend(model)


class _Backend:
    has_energies = False

    def __init__(self):
        self.rebuilds = 0
        self._key = None
        self._ref_pos = None

    def _structure_key(self, atoms, extra=()):
        return (tuple(atoms.get_chemical_symbols()), tuple(bool(p) for p in atoms.pbc),
                np.asarray(atoms.cell, float).tobytes(), *extra)

    def _moved_too_far(self, atoms, skin) -> bool:
        d = atoms.positions - self._ref_pos
        return bool(np.max(np.einsum("ij,ij->i", d, d), initial=0.0) > (0.5 * skin) ** 2)

    def _needs_build(self, atoms, skin, extra=()) -> bool:
        key = self._structure_key(atoms, extra)
        if key != self._key or self._ref_pos is None or self._moved_too_far(atoms, skin):
            self._key = key
            self._ref_pos = np.array(atoms.positions, dtype=float)
            self.rebuilds += 1
            return True
        return False


class _PackedBackend(_Backend):
    """Built-in and plugin models over the numba engine (packed batch with a skin)."""

    has_energies = True

    def __init__(self, model, skin):
        super().__init__()
        self.model, self.skin = model, skin
        self.state = None
        self._isolated = {}

    def atom_energies(self, energy: float) -> np.ndarray:
        """Energy of each atom: the engine's kernels sum atom-centred terms over each
        atom's own (directed) neighbor pairs (pair terms halved; SW's three-body term and
        an EAM embedding term belong to their centre; Tersoff's bond order to the bond's
        first atom), so the energy of a copy of the crystal in which only atom k keeps its
        pairs is atom k's energy plus the isolated-atom energies of the others.  All N
        copies go through the engine in one call.  The energies must add up to ``energy``
        (to 1e-12 relative), or the model is refused: a kernel that splits its terms
        otherwise would give wrong per-atom numbers."""
        from workbench.engine.batch import PackedBatch
        from workbench.models.model import ModelState

        b = self.state.batch
        n = b.natoms
        counts = np.diff(b.pair_offsets)
        # copy k keeps only atom k's pairs (its atoms renumbered by + k n)
        offsets = np.zeros(n * n + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(np.where(np.eye(n, dtype=bool), counts, 0).ravel())
        shift = np.repeat(np.arange(n, dtype=np.int64) * n, counts)
        masked = PackedBatch(
            coords=np.tile(b.coords, (n, 1)), species=np.tile(b.species, n),
            atom_config=np.repeat(np.arange(n, dtype=np.int64), n),
            config_offsets=np.arange(n + 1, dtype=np.int64) * n,
            cells=np.repeat(b.cells, n, axis=0), pbc=np.repeat(b.pbc, n, axis=0),
            volumes=np.repeat(b.volumes, n), pair_offsets=offsets,
            pair_j=b.pair_j + shift, pair_d=b.pair_d.copy(),
            pair_shift=b.pair_shift.copy(), cutoff=b.cutoff,
            species_names=b.species_names, cutoff_table=b.cutoff_table)
        state = ModelState(configs=self.state.configs * n, batch=masked,
                           cutoff=self.state.cutoff)
        per_copy = np.asarray(self.model.compute(state, forces=False).energy, float)
        iso = np.array([self._isolated_energy(int(c)) for c in b.species])
        energies = per_copy - (iso.sum() - iso)
        if not abs(energies.sum() - energy) <= 1e-12 * max(1.0, abs(energy)) * n:
            raise PropertyNotImplementedError(
                f"{type(self.model).__name__}: energies per atom are not available (its "
                "terms are not atom-centred on the engine's neighbor pairs: they add up "
                f"to {energies.sum():.15g}, not {energy:.15g})")
        return energies

    def _isolated_energy(self, code: int) -> float:
        """Energy of one atom of species ``code`` alone (no pairs): 0 for pair and
        three-body models, the embedding energy F(0) for EAM."""
        if code not in self._isolated:
            from workbench.engine.batch import PackedBatch
            from workbench.models.model import ModelState

            b = self.state.batch
            alone = PackedBatch(
                coords=np.zeros((1, 3)), species=np.array([code], dtype=np.int64),
                atom_config=np.zeros(1, dtype=np.int64),
                config_offsets=np.array([0, 1], dtype=np.int64), cells=b.cells[:1].copy(),
                pbc=b.pbc[:1].copy(), volumes=b.volumes[:1].copy(),
                pair_offsets=np.zeros(2, dtype=np.int64), pair_j=np.zeros(0, dtype=np.int64),
                pair_d=np.zeros((0, 3)), pair_shift=np.zeros((0, 3)), cutoff=b.cutoff,
                species_names=b.species_names, cutoff_table=b.cutoff_table)
            res = self.model.compute(ModelState(configs=self.state.configs[:1], batch=alone,
                                                cutoff=self.state.cutoff), forces=False)
            self._isolated[code] = float(np.asarray(res.energy, float)[0])
        return self._isolated[code]

    def _build(self, atoms, influence):
        from workbench.engine.batch import pack_arrays
        from workbench.models.model import ModelState

        config = atoms_to_config(atoms)
        species = list(self.model.get_supported_species())
        batch = pack_arrays([config.coords], [config.cell], [config.PBC], [config.species],
                            influence + self.skin, species_names=species)
        self.state = ModelState(configs=[config], batch=batch, cutoff=influence)

    def evaluate(self, atoms, stress):
        influence = float(self.model.get_influence_distance())
        if self._needs_build(atoms, self.skin, (influence,)):
            self._build(atoms, influence)
        else:
            b = self.state.batch
            b.coords[:] = atoms.positions
            cell = b.cells[0]
            b.pair_d[:] = b.coords[b.pair_j] + b.pair_shift @ cell - b.coords[b.pair_i]
            self.state.configs[0].coords[:] = atoms.positions
        res = self.model.compute(self.state, forces=True, stress=stress)
        s = None if res.stress is None else np.array(res.stress[0], dtype=float)
        return float(res.energy[0]), np.array(res.forces, dtype=float), s, None


class _FreshBackend(_Backend):
    """Models with their own ``prepare``: prepared anew for every call."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def evaluate(self, atoms, stress):
        self.rebuilds += 1
        state = self.model.prepare([atoms_to_config(atoms)])
        res = self.model.compute(state, forces=True, stress=stress)
        s = None if res.stress is None else np.array(res.stress[0], dtype=float)
        return float(res.energy[0]), np.array(res.forces, dtype=float), s, None


class _SNAPBackend(_Backend):
    """SNAP: the bispectrum's neighbor list kept between moves (``SkinDescriptor``), the
    features of the new positions then go through the model's own ``compute``."""

    def __init__(self, model, skin):
        from workbench.ml.ase_neighbors import SkinDescriptor

        super().__init__()
        self.model = model
        self.features = SkinDescriptor(model.descriptor, self, skin)

    has_energies = True

    def evaluate(self, atoms, stress):
        from workbench.models.model import ModelState

        config = atoms_to_config(atoms)
        rows = []
        feats = self.model._features(config, self.features.transform(atoms, config, True),
                                     atom_rows=rows)
        state = ModelState(configs=[config], extra={"features": [feats]})
        res = self.model.compute(state, forces=True, stress=stress)
        s = None if res.stress is None else np.array(res.stress[0], dtype=float)
        # SNAP's energy is a sum over atoms of (1, B_i) · coeffs of the atom's species
        phi, codes = rows[0]
        coeffs = np.array([self.model.model_params[f"coeffs_{sp}"].value
                           for sp in self.model.species])
        energies = np.einsum("ip,ip->i", phi, coeffs[codes])
        return float(res.energy[0]), np.array(res.forces, dtype=float), s, energies


class _KIMBackend(_Backend):
    """``KIMModel``: kim-api arguments and kimpy neighbor list kept between moves."""

    def __init__(self, model, skin):
        super().__init__()
        self.model, self.skin = model, skin
        self.kc = None
        self._pad_shift = None
        self.has_energies = _supports_particle_energy(model)

    def _build(self, atoms):
        from workbench.models.kim import _KIMConfig

        config = atoms_to_config(atoms)
        kc = _KIMConfig(self.model.kim_model, config, self.model.get_supported_species(), 0)
        cutoffs, hints = self.model.kim_model.get_neighbor_list_cutoffs_and_hints()
        kc.build(self.model.influence_distance + self.skin,
                 np.asarray(cutoffs, float) + self.skin, hints)
        self.kc = kc
        self._pad_shift = kc.coords[kc.n:] - kc.coords[kc.image]
        self._energies = None
        if self.has_energies:
            import kimpy

            self._energies = np.zeros(kc.coords.shape[0])
            kc.ca.set_argument_pointer(kimpy.compute_argument_name.partialParticleEnergy,
                                       self._energies)

    def evaluate(self, atoms, stress):
        self.model._sync()
        cutoffs, _ = self.model.kim_model.get_neighbor_list_cutoffs_and_hints()
        extra = (self.model.influence_distance, tuple(np.asarray(cutoffs, float)))
        if self._needs_build(atoms, self.skin, extra):
            self._build(atoms)
        else:
            kc = self.kc
            kc.coords[:kc.n] = atoms.positions
            kc.coords[kc.n:] = atoms.positions[kc.image] + self._pad_shift
        e, f, s = self.kc.compute(self.model.kim_model, True, stress)
        energies = None if self._energies is None else self._energies[:self.kc.n].copy()
        return e, np.array(f, dtype=float), None if s is None else np.array(s, float), energies


def _supports_particle_energy(model) -> bool:
    """Whether a KIM model computes the energy of each particle (partialParticleEnergy)."""
    import kimpy

    ca = model.kim_model.compute_arguments_create()
    status = ca.get_argument_support_status(kimpy.compute_argument_name.partialParticleEnergy)
    return status in (kimpy.support_status.required, kimpy.support_status.optional)
