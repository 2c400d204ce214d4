"""KLIFF's ``kliff.neighbor``: a neighbor list over contributing and padding atoms.

The cell's N atoms are the contributing atoms 0..N-1; their periodic copies within the
influence distance (see :mod:`workbench.engine.padding`) are padding atoms N, N+1, ...
The fitting engine itself uses :func:`workbench.engine.neighbors.neighbor_list` (image
shifts, no copies); this class is for scripts written against KLIFF's interface.
"""

from __future__ import annotations

import numpy as np

from workbench.engine.padding import create_paddings, pairs_within
from workbench.errors import EngineError


class NeighborListError(EngineError):
    pass


class NeighborList:
    """Neighbors within ``infl_dist`` of every contributing atom (and of every padding
    atom too when ``padding_need_neigh``, among the atoms that exist here)."""

    def __init__(self, conf, infl_dist: float, padding_need_neigh: bool = False):
        self.conf = conf
        self.infl_dist = float(infl_dist)
        self.padding_need_neigh = padding_need_neigh
        self.create_neigh()

    def create_neigh(self):
        conf = self.conf
        coords = np.asarray(conf.coords, float).reshape(-1, 3)
        n = len(coords)
        pad, image = create_paddings(coords, conf.cell, conf.PBC, self.infl_dist)
        self.padding_coords = pad
        self.padding_image = image
        self.padding_species = [conf.species[k] for k in image]
        self.coords = np.concatenate([coords, pad])
        self.species = np.asarray(list(conf.species) + self.padding_species)
        self.image = np.concatenate([np.arange(n), image]).astype(np.int64)
        pairs = pairs_within(self.coords, self.infl_dist)
        src = np.concatenate([pairs[:, 0], pairs[:, 1]])
        dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
        keep = src < (len(self.coords) if self.padding_need_neigh else n)
        src, dst = src[keep], dst[keep]
        order = np.lexsort((dst, src))
        self._dst = dst[order]
        self._start = np.searchsorted(src[order], np.arange(len(self.coords) + 1))

    def _check(self, index):
        limit = len(self.coords) if self.padding_need_neigh else self.conf.get_num_atoms()
        if not 0 <= int(index) < limit:
            what = "atoms" if self.padding_need_neigh else "contributing atoms"
            raise NeighborListError(f"no atom {index} with neighbors: there are {limit} "
                                    f"{what} (padding_need_neigh={self.padding_need_neigh})")

    def get_neigh(self, index: int):
        """``(neigh_indices, neigh_coords (M, 3), neigh_species)`` of atom ``index``."""
        self._check(index)
        idx = self._dst[self._start[index]:self._start[index + 1]]
        return idx, self.coords[idx], self.species[idx]

    def get_numneigh_and_neighlist_1D(self, request_padding: bool = False):
        if request_padding and not self.padding_need_neigh:
            raise NeighborListError('Request to get neighbors of padding atoms, but '
                                    '"padding_need_neigh" is set to "False" at initialization.')
        n = len(self.coords) if request_padding else self.conf.get_num_atoms()
        numneigh = np.diff(self._start[:n + 1])
        return numneigh, self._dst[:self._start[n]].copy()

    def get_coords(self):
        return self.coords

    def get_species(self):
        return list(self.species)

    def get_species_code(self, mapping):
        return np.asarray([mapping[s] for s in self.species], dtype=np.intc)

    def get_image(self):
        return self.image

    def get_padding_coords(self):
        return self.padding_coords

    def get_padding_species(self):
        return list(self.padding_species)

    get_padding_speices = get_padding_species  # KLIFF's spelling

    def get_padding_species_code(self, mapping):
        return np.asarray([mapping[s] for s in self.padding_species], dtype=np.intc)

    def get_padding_image(self):
        return self.padding_image


def assemble_forces(forces, n: int, padding_image):
    """Add the forces on padding atoms back onto the contributing atoms they copy."""
    forces = np.asarray(forces, float)
    total = forces[:n].copy()
    np.add.at(total, np.asarray(padding_image, dtype=np.int64), forces[n:])
    return total


def assemble_stress(coords, forces, volume: float):
    """Virial stress ``-Σ r ⊗ f / V`` in Voigt order (xx, yy, zz, yz, xz, xy)."""
    r = np.asarray(coords, float)
    f = np.asarray(forces, float)
    s = -np.einsum("ai,aj->ij", r, f) / volume
    return np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[2, 0], s[0, 1]])
