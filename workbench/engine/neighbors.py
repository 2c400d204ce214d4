"""Cell-list neighbor lists in numba.

Atoms are binned in fractional coordinates of the cell.  Along a periodic direction the bins
tile the unit cell and the search stencil runs over an *extended* bin index, so that a bin
index outside ``[0, nbins)`` names a bin of a periodic image; this covers cells thinner than
the cutoff (many images) without special cases.  Along a non-periodic direction the bins
tile the atoms' extent and nothing is wrapped.

The list is full (both ``(i, j)`` and ``(j, i)``), sorted by ``i``, with integer image
shifts reported relative to the *input* coordinates::

    d_ij = coords[j] + shift @ cell - coords[i],   0 < |d_ij| < cutoff

An atom sees its own periodic images; only the zero-shift self pair is excluded.

Everything runs on flat arrays over many configurations at once (``config_offsets`` in CSR
form), in two passes (count, then fill) parallel over configurations.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from workbench.errors import EngineError

_MAX_BINS_PER_DIM = 64


@njit(cache=True, nogil=True)
def _effective_cell(cell, pbc):
    """Cell with non-periodic rows replaced by unit vectors when the cell is singular.

    Returns (cell_eff (3,3), ok).  ``ok`` is False when the periodic rows themselves are
    linearly dependent.  Only the periodic rows matter for shifts; non-periodic rows just
    need to complete an invertible basis.
    """
    c = cell.copy()
    det = np.linalg.det(c)
    scale = 1.0
    for k in range(3):
        scale *= max(math.sqrt(c[k, 0] ** 2 + c[k, 1] ** 2 + c[k, 2] ** 2), 1e-300)
    if abs(det) > 1e-10 * scale:
        return c, True
    # Orthonormal completion of the periodic rows.
    basis = np.zeros((3, 3))
    nb = 0
    for k in range(3):
        if pbc[k]:
            v = c[k].copy()
            for m in range(nb):
                v -= (v @ basis[m]) * basis[m]
            nv = math.sqrt(v @ v)
            if nv < 1e-10 * max(math.sqrt(c[k] @ c[k]), 1e-300):
                return c, False
            basis[nb] = v / nv
            nb += 1
    for k in range(3):
        if not pbc[k]:
            # pick the unit axis most orthogonal to the current basis
            best = np.zeros(3)
            bestn = -1.0
            for a in range(3):
                v = np.zeros(3)
                v[a] = 1.0
                for m in range(nb):
                    v -= (v @ basis[m]) * basis[m]
                nv = math.sqrt(v @ v)
                if nv > bestn:
                    bestn = nv
                    best = v / nv
            basis[nb] = best
            nb += 1
            c[k] = best
    return c, True


@njit(cache=True, nogil=True)
def _bin_config(x, ceff, pbc, cutoff):
    """Bin the atoms of one configuration.

    Returns (image (n,3) int: periodic image each atom was wrapped out of, bins (n,) flat
    bin index, bin_start (nbins+1,), bin_atoms (n,), nbin (3,), reach (3,)).
    ``ceff`` is the invertible cell from :func:`_effective_cell`.
    """
    n = x.shape[0]
    inv = np.linalg.inv(ceff)
    vol = abs(np.linalg.det(ceff))
    frac = x @ inv
    image = np.zeros((n, 3), dtype=np.int64)
    nbin = np.ones(3, dtype=np.int64)
    reach = np.zeros(3, dtype=np.int64)
    lo = np.zeros(3)
    width = np.ones(3)
    cap = min(_MAX_BINS_PER_DIM, max(1, int(2.0 * n ** (1.0 / 3.0)) + 1))
    for k in range(3):
        a = ceff[(k + 1) % 3]
        b = ceff[(k + 2) % 3]
        cx = a[1] * b[2] - a[2] * b[1]
        cy = a[2] * b[0] - a[0] * b[2]
        cz = a[0] * b[1] - a[1] * b[0]
        h = vol / math.sqrt(cx * cx + cy * cy + cz * cz)  # distance between faces
        if pbc[k]:
            for i in range(n):
                f = math.floor(frac[i, k])
                image[i, k] = int(f)
                frac[i, k] -= f
            nb = max(1, min(cap, int(math.floor(h / (cutoff * (1.0 + 1e-9))))))
            nbin[k] = nb
            width[k] = 1.0 / nb
            reach[k] = int(math.ceil(cutoff / (width[k] * h) * (1.0 + 1e-9)))
        else:
            fmin = np.inf
            fmax = -np.inf
            for i in range(n):
                fmin = min(fmin, frac[i, k])
                fmax = max(fmax, frac[i, k])
            if n == 0:
                fmin = 0.0
                fmax = 0.0
            ext = (fmax - fmin) * h
            nb = max(1, min(cap, int(math.floor(ext / (cutoff * (1.0 + 1e-9))))))
            nbin[k] = nb
            lo[k] = fmin
            width[k] = (fmax - fmin) / nb if fmax > fmin else 1.0
            if width[k] * h > 0.0:
                reach[k] = min(nb, int(math.ceil(cutoff / (width[k] * h) * (1.0 + 1e-9))))
            else:
                reach[k] = nb
    nbins = nbin[0] * nbin[1] * nbin[2]
    bins = np.empty(n, dtype=np.int64)
    counts = np.zeros(nbins + 1, dtype=np.int64)
    for i in range(n):
        flat = 0
        for k in range(3):
            bk = int(math.floor((frac[i, k] - lo[k]) / width[k]))
            bk = min(max(bk, 0), nbin[k] - 1)
            flat = flat * nbin[k] + bk
        bins[i] = flat
        counts[flat + 1] += 1
    for b in range(nbins):
        counts[b + 1] += counts[b]
    bin_start = counts.copy()
    fill = counts[:-1].copy()
    bin_atoms = np.empty(n, dtype=np.int64)
    for i in range(n):
        bin_atoms[fill[bins[i]]] = i
        fill[bins[i]] += 1
    return image, bins, bin_start, bin_atoms, nbin, reach


@njit(cache=True, nogil=True)
def _config_pairs(x, cell, pbc, species, cut2_table, cutoff, fill, counts, pair_j,
                  pair_shift, pair_d, atom0, pair0):
    """Count (fill=False) or write (fill=True) the pairs of one configuration.

    ``counts`` receives per-atom pair counts (count pass); in the fill pass pairs of atom i
    are written from ``pair0 + sum(counts of earlier atoms of this configuration)``.
    Returns False when the periodic cell rows are degenerate.
    """
    n = x.shape[0]
    ceff, ok = _effective_cell(cell, pbc)
    if not ok:
        return False
    image, bins, bin_start, bin_atoms, nbin, reach = _bin_config(x, ceff, pbc, cutoff)
    cut2max = cutoff * cutoff
    pos = pair0
    for i in range(n):
        b = bins[i]
        bz = b % nbin[2]
        by = (b // nbin[2]) % nbin[1]
        bx = b // (nbin[2] * nbin[1])
        bi = (bx, by, bz)
        lo0 = bi[0] - reach[0] if pbc[0] else max(0, bi[0] - reach[0])
        hi0 = bi[0] + reach[0] if pbc[0] else min(nbin[0] - 1, bi[0] + reach[0])
        lo1 = bi[1] - reach[1] if pbc[1] else max(0, bi[1] - reach[1])
        hi1 = bi[1] + reach[1] if pbc[1] else min(nbin[1] - 1, bi[1] + reach[1])
        lo2 = bi[2] - reach[2] if pbc[2] else max(0, bi[2] - reach[2])
        hi2 = bi[2] + reach[2] if pbc[2] else min(nbin[2] - 1, bi[2] + reach[2])
        si = species[i]
        cnt = 0
        for e0 in range(lo0, hi0 + 1):
            s0 = e0 // nbin[0]
            c0 = e0 - s0 * nbin[0]
            for e1 in range(lo1, hi1 + 1):
                s1 = e1 // nbin[1]
                c1 = e1 - s1 * nbin[1]
                for e2 in range(lo2, hi2 + 1):
                    s2 = e2 // nbin[2]
                    c2 = e2 - s2 * nbin[2]
                    flat = (c0 * nbin[1] + c1) * nbin[2] + c2
                    for q in range(bin_start[flat], bin_start[flat + 1]):
                        j = bin_atoms[q]
                        t0 = s0 - image[j, 0] + image[i, 0]
                        t1 = s1 - image[j, 1] + image[i, 1]
                        t2 = s2 - image[j, 2] + image[i, 2]
                        if j == i and t0 == 0 and t1 == 0 and t2 == 0:
                            continue
                        dx = x[j, 0] - x[i, 0] + t0 * cell[0, 0] + t1 * cell[1, 0] + t2 * cell[2, 0]
                        dy = x[j, 1] - x[i, 1] + t0 * cell[0, 1] + t1 * cell[1, 1] + t2 * cell[2, 1]
                        dz = x[j, 2] - x[i, 2] + t0 * cell[0, 2] + t1 * cell[1, 2] + t2 * cell[2, 2]
                        r2 = dx * dx + dy * dy + dz * dz
                        if r2 >= cut2max or r2 >= cut2_table[si, species[j]]:
                            continue
                        if fill:
                            pair_j[pos] = atom0 + j
                            pair_shift[pos, 0] = t0
                            pair_shift[pos, 1] = t1
                            pair_shift[pos, 2] = t2
                            pair_d[pos, 0] = dx
                            pair_d[pos, 1] = dy
                            pair_d[pos, 2] = dz
                            pos += 1
                        else:
                            cnt += 1
        if not fill:
            counts[i] = cnt
    return True


@njit(cache=True, nogil=True, parallel=True)
def count_pairs_batch(coords, cells, pbc, config_offsets, species, cut2_table, cutoff):
    """Per-atom pair counts (N,) for all configurations; bad (C,) flags degenerate cells."""
    nconf = cells.shape[0]
    counts = np.zeros(coords.shape[0], dtype=np.int64)
    bad = np.zeros(nconf, dtype=np.bool_)
    dummy_j = np.empty(0, dtype=np.int64)
    dummy_s = np.empty((0, 3), dtype=np.int64)
    dummy_d = np.empty((0, 3))
    for c in prange(nconf):
        a0 = config_offsets[c]
        a1 = config_offsets[c + 1]
        ok = _config_pairs(coords[a0:a1], cells[c], pbc[c], species[a0:a1], cut2_table,
                           cutoff, False, counts[a0:a1], dummy_j, dummy_s, dummy_d, a0, 0)
        bad[c] = not ok
    return counts, bad


@njit(cache=True, nogil=True, parallel=True)
def fill_pairs_batch(coords, cells, pbc, config_offsets, species, cut2_table, cutoff,
                     pair_offsets):
    """Fill ``pair_j`` (global atom indices), ``pair_shift`` and ``pair_d`` (CSR by atom)."""
    nconf = cells.shape[0]
    npairs = pair_offsets[-1]
    pair_j = np.empty(npairs, dtype=np.int64)
    pair_shift = np.empty((npairs, 3), dtype=np.int64)
    pair_d = np.empty((npairs, 3))
    dummy_c = np.empty(0, dtype=np.int64)
    for c in prange(nconf):
        a0 = config_offsets[c]
        a1 = config_offsets[c + 1]
        _config_pairs(coords[a0:a1], cells[c], pbc[c], species[a0:a1], cut2_table, cutoff,
                      True, dummy_c, pair_j, pair_shift, pair_d, a0, pair_offsets[a0])
    return pair_j, pair_shift, pair_d


def _cut2_table(cutoff, cutoff_table, nspecies):
    if cutoff_table is None:
        return np.full((max(nspecies, 1), max(nspecies, 1)), float(cutoff) ** 2)
    t = np.asarray(cutoff_table, dtype=float)
    if t.ndim != 2 or t.shape[0] != t.shape[1] or t.shape[0] < nspecies:
        raise EngineError(f"cutoff_table must be a square (S, S) array covering all "
                          f"{nspecies} species codes, got shape {t.shape}")
    if not np.allclose(t, t.T):
        raise EngineError("cutoff_table must be symmetric")
    return np.ascontiguousarray(t * t)


def build_pairs(coords, cells, pbc, config_offsets, cutoff, species=None, cutoff_table=None,
                labels=None):
    """Neighbor pairs of many configurations in CSR form over atoms.

    ``coords`` (N,3), ``cells`` (C,3,3), ``pbc`` (C,3), ``config_offsets`` (C+1,), optional
    ``species`` codes (N,) with a symmetric ``cutoff_table`` (S,S) of per-species-pair
    cutoffs (``cutoff`` then bounds the search and must be >= the table's maximum).
    Returns (pair_offsets (N+1,), pair_j, pair_shift, pair_d).
    """
    coords = np.ascontiguousarray(coords, dtype=np.float64).reshape(-1, 3)
    cells = np.ascontiguousarray(cells, dtype=np.float64).reshape(-1, 3, 3)
    pbc = np.ascontiguousarray(pbc, dtype=np.bool_).reshape(-1, 3)
    config_offsets = np.ascontiguousarray(config_offsets, dtype=np.int64)
    n = coords.shape[0]
    if species is None:
        species = np.zeros(n, dtype=np.int64)
    species = np.ascontiguousarray(species, dtype=np.int64)
    nspecies = int(species.max()) + 1 if n else 1
    if cutoff_table is not None:
        cutoff = max(float(cutoff or 0.0), float(np.max(cutoff_table)))
    cutoff = float(cutoff)
    if not cutoff > 0.0 or not math.isfinite(cutoff):
        raise EngineError(f"neighbor-list cutoff must be a positive finite number, got {cutoff}")
    if not np.all(np.isfinite(coords)):
        bad_atom = int(np.argmax(~np.isfinite(coords).all(axis=1)))
        c = int(np.searchsorted(config_offsets, bad_atom, side="right") - 1)
        raise EngineError(f"configuration {_label(labels, c)} has non-finite coordinates "
                          f"(atom {bad_atom - config_offsets[c]})")
    cut2 = _cut2_table(cutoff, cutoff_table, nspecies)
    counts, bad = count_pairs_batch(coords, cells, pbc, config_offsets, species, cut2, cutoff)
    if bad.any():
        c = int(np.argmax(bad))
        raise EngineError(f"configuration {_label(labels, c)} has linearly dependent "
                          f"periodic cell vectors: {cells[c].tolist()} with PBC "
                          f"{pbc[c].tolist()}")
    pair_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=pair_offsets[1:])
    pair_j, pair_shift, pair_d = fill_pairs_batch(coords, cells, pbc, config_offsets,
                                                  species, cut2, cutoff, pair_offsets)
    return pair_offsets, pair_j, pair_shift, pair_d


def _label(labels, c):
    if labels is not None and c < len(labels) and labels[c]:
        return f"{c} ({labels[c]})"
    return str(c)


def neighbor_list(coords, cell, pbc, cutoff, species=None, cutoff_table=None):
    """Full neighbor list of one configuration: ``(i, j, shift)`` sorted by ``i``.

    ``species`` (codes) and ``cutoff_table`` (S,S) give per-species-pair cutoffs; the
    search then uses the table's maximum (or ``cutoff`` when larger).
    """
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    n = coords.shape[0]
    offsets, pj, ps, _ = build_pairs(coords, np.asarray(cell, float).reshape(1, 3, 3),
                                     np.asarray(pbc, bool).reshape(1, 3),
                                     np.array([0, n], dtype=np.int64), cutoff, species,
                                     cutoff_table)
    i = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    return i, pj, ps
