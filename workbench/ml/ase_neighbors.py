"""A descriptor's neighbor list kept between ASE calls (no torch import).

:class:`SkinDescriptor` keeps the neighbor list of one structure, as the packed back end
of ``models.ase_calculator`` does: pairs are found within each species pair's cutoff plus
a skin, and while no atom moved more than half the skin (same cell, PBC, species,
cutoffs) only the pair vectors are recomputed from the stored image shifts.  The
symmetry-function and bispectrum kernels apply each pair's own cutoff, so the extra pairs
in the skin add nothing.  Descriptors with their own neighbor handling (SOAP) are
transformed afresh every call.  Used by the neural-network and SNAP back ends.
"""

from __future__ import annotations

import numpy as np


class SkinDescriptor:
    """``transform(atoms, config, fit_stress)``: the descriptor of ``atoms`` (``config``
    is the same structure as a Configuration) on a reused neighbor list;
    ``rebuilds`` counts the lists built (``backend`` supplies the skin bookkeeping)."""

    def __init__(self, descriptor, backend, skin):
        self.desc, self.backend, self.skin = descriptor, backend, float(skin)
        self.reuses = hasattr(descriptor, "_run") and hasattr(descriptor, "rcut_table") \
            and type(descriptor).transform is _base_transform()
        self._nb = None
        self._shift = None
        self._pair_i = None

    def transform(self, atoms, config, fit_stress):
        desc = self.desc
        if not self.reuses:
            self.backend.rebuilds += 1
            return desc.transform(config, fit_forces=True, fit_stress=fit_stress)
        from workbench.engine.neighbors import build_pairs
        from workbench.ml.descriptors._base import NeighborBatch

        table = np.asarray(desc.rcut_table, float)
        if self.backend._needs_build(atoms, self.skin, (table.tobytes(),)):
            species = desc._species_codes(config.species, config, 0)
            offsets = np.array([0, len(atoms)], dtype=np.int64)
            po, pj, shift, pd = build_pairs(
                np.array(atoms.positions, float), np.array(atoms.cell, float)[None],
                np.array(atoms.pbc, bool)[None], offsets, float(table.max()) + self.skin,
                species=species, cutoff_table=table + self.skin, labels=["ase"])
            self._nb = NeighborBatch(offsets, species,
                                     np.ascontiguousarray(po, dtype=np.int64),
                                     np.ascontiguousarray(pj, dtype=np.int64),
                                     np.ascontiguousarray(pd, dtype=np.float64))
            self._shift = np.asarray(shift, float) @ np.array(atoms.cell, float)
            self._pair_i = np.repeat(np.arange(len(atoms)), np.diff(self._nb.pair_offsets))
        else:
            pos = np.asarray(atoms.positions, float)
            self._nb.pair_d[:] = pos[self._nb.pair_j] + self._shift - pos[self._pair_i]
        return desc._run(self._nb, True, fit_stress)[0]


def _base_transform():
    from workbench.ml.descriptors._base import DescriptorBase

    return DescriptorBase.transform
