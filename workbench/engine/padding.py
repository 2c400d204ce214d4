"""Padding atoms: the periodic images around a cell that atoms inside it can see.

This is the LAMMPS/KIM scheme KLIFF's ``NeighborList`` and ``RadialGraph`` use: for
an influence distance ``d`` every atom is copied into the neighbouring cells
``(i, j, k)``, ``|i| ≤ ceil(d / h_0)`` and so on (``h`` the distances between opposite
cell faces), except in the outermost layer of cells, where only the atoms whose
fractional coordinate lies within ``d / h`` of the facing side are kept. Non-periodic
directions get no copies.  Pairs are then found among the cell atoms and their copies
with scipy's k-d tree.
"""

from __future__ import annotations

import numpy as np

_TOL = 1e-10


def create_paddings(coords, cell, pbc, infl_dist):
    """``(padding_coords (P, 3), padding_image (P,))``: the copies and the index of the cell
    atom each one copies, in KLIFF's order (cells i, j, k ascending, atoms ascending)."""
    coords = np.asarray(coords, float).reshape(-1, 3)
    cell = np.asarray(cell, float).reshape(3, 3)
    pbc = np.asarray(pbc, bool).reshape(3)
    frac = np.linalg.solve(cell.T, coords.T).T
    lo, hi = frac.min(axis=0) - _TOL, frac.max(axis=0) + _TOL
    volume = abs(np.linalg.det(cell))
    normals = np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]])
    ratio = infl_dist / (volume / np.linalg.norm(normals, axis=1))
    size = np.ceil(ratio).astype(int)
    slack = size - ratio
    out, image = [], []
    rng = [range(-size[d], size[d] + 1) if pbc[d] else range(0, 1) for d in range(3)]
    for i in rng[0]:
        for j in rng[1]:
            for k in rng[2]:
                if i == j == k == 0:
                    continue
                keep = np.ones(len(coords), bool)
                for d, n in enumerate((i, j, k)):
                    if n == -size[d]:
                        keep &= ~(frac[:, d] - lo[d] < slack[d])
                    if n == size[d]:
                        keep &= ~(hi[d] - frac[:, d] < slack[d])
                idx = np.flatnonzero(keep)
                out.append((frac[idx] + (i, j, k)) @ cell)
                image.append(idx)
    if not out:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    return np.concatenate(out), np.concatenate(image).astype(np.int64)


def pairs_within(points, cutoff):
    """Unordered pairs ``(a < b)`` of ``points`` closer than ``cutoff`` (sorted)."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(points).query_pairs(cutoff, output_type="ndarray").reshape(-1, 2)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order].astype(np.int64)
