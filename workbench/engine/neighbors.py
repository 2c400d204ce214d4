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
form): one pass into per-configuration slots sized from the density (an exact counting
pass first only where needed), the configurations split over the engine threads
(``engine.threads``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from workbench.engine.threads import num_threads, parallel_ranges, split
from workbench.errors import EngineError

_MAX_BINS_PER_DIM = 64
# Bin thickness is cutoff / _BINS_PER_CUTOFF: finer bins mean a stencil closer to the
# cutoff sphere (fewer distance checks) at the price of more (emptier) bins.
_BINS_PER_CUTOFF = 1


@njit(cache=True, nogil=True)
def _det3(m):
    return (m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1])
            - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
            + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]))


@njit(cache=True, nogil=True)
def _inv3(m):
    """Inverse of a 3x3 matrix by cofactors (the caller checked it is invertible)."""
    inv = np.empty((3, 3))
    for r in range(3):
        for c in range(3):
            # cofactor of (c, r): rows/columns other than c and r, cyclically ordered
            r1, r2 = (c + 1) % 3, (c + 2) % 3
            c1, c2 = (r + 1) % 3, (r + 2) % 3
            inv[r, c] = m[r1, c1] * m[r2, c2] - m[r1, c2] * m[r2, c1]
    det = _det3(m)
    for r in range(3):
        for c in range(3):
            inv[r, c] /= det
    return inv


@njit(cache=True, nogil=True)
def _orthogonalize(v, basis, nb):
    """Remove from the 3-vector ``v`` (in place) its components along the first ``nb``
    orthonormal rows of ``basis``; returns the norm of what is left."""
    for m in range(nb):
        d = v[0] * basis[m, 0] + v[1] * basis[m, 1] + v[2] * basis[m, 2]
        for a in range(3):
            v[a] -= d * basis[m, a]
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


@njit(cache=True, nogil=True)
def _effective_cell(cell, pbc):
    """Cell with non-periodic rows replaced by unit vectors when the cell is singular.

    Returns (cell_eff (3,3), ok).  ``ok`` is False when the periodic rows themselves are
    linearly dependent.  Only the periodic rows matter for shifts; non-periodic rows just
    need to complete an invertible basis.  (Written out by hand: numba's linalg and array
    expressions would add seconds of compile time to every fresh install.)
    """
    c = np.empty((3, 3))
    for r in range(3):
        for k in range(3):
            c[r, k] = cell[r, k]
    scale = 1.0
    for k in range(3):
        scale *= max(math.sqrt(c[k, 0] ** 2 + c[k, 1] ** 2 + c[k, 2] ** 2), 1e-300)
    if abs(_det3(c)) > 1e-10 * scale:
        return c, True
    # Orthonormal completion of the periodic rows.
    basis = np.zeros((3, 3))
    v = np.empty(3)
    nb = 0
    for k in range(3):
        if pbc[k]:
            for a in range(3):
                v[a] = c[k, a]
            nv = _orthogonalize(v, basis, nb)
            norm_k = math.sqrt(c[k, 0] ** 2 + c[k, 1] ** 2 + c[k, 2] ** 2)
            if nv < 1e-10 * max(norm_k, 1e-300):
                return c, False
            for a in range(3):
                basis[nb, a] = v[a] / nv
            nb += 1
    best = np.empty(3)
    for k in range(3):
        if not pbc[k]:
            # pick the unit axis most orthogonal to the current basis
            bestn = -1.0
            for ax in range(3):
                for a in range(3):
                    v[a] = 1.0 if a == ax else 0.0
                nv = _orthogonalize(v, basis, nb)
                if nv > bestn:
                    bestn = nv
                    for a in range(3):
                        best[a] = v[a] / nv if nv > 0.0 else 0.0
            for a in range(3):
                basis[nb, a] = best[a]
                c[k, a] = best[a]
            nb += 1
    return c, True


@njit(cache=True, nogil=True)
def _bin_config(x, ceff, pbc, cutoff):
    """Bin the atoms of one configuration.

    Returns (image (n,3) int: periodic image each atom was wrapped out of, bins (n,) flat
    bin index, bin_start (nbins+1,), bin_atoms (n,), nbin (3,), reach (3,)).
    ``ceff`` is the invertible cell from :func:`_effective_cell`.
    """
    n = x.shape[0]
    inv = _inv3(ceff)
    vol = abs(_det3(ceff))
    frac = np.empty((n, 3))
    for i in range(n):
        for k in range(3):
            frac[i, k] = x[i, 0] * inv[0, k] + x[i, 1] * inv[1, k] + x[i, 2] * inv[2, k]
    image = np.zeros((n, 3), dtype=np.int64)
    nbin = np.ones(3, dtype=np.int64)
    reach = np.zeros(3, dtype=np.int64)
    lo = np.zeros(3)
    width = np.ones(3)
    cap = min(_MAX_BINS_PER_DIM, max(1, int(2.0 * n ** (1.0 / 3.0)) + 1))
    for k in range(3):
        k1 = (k + 1) % 3
        k2 = (k + 2) % 3
        cx = ceff[k1, 1] * ceff[k2, 2] - ceff[k1, 2] * ceff[k2, 1]
        cy = ceff[k1, 2] * ceff[k2, 0] - ceff[k1, 0] * ceff[k2, 2]
        cz = ceff[k1, 0] * ceff[k2, 1] - ceff[k1, 1] * ceff[k2, 0]
        h = vol / math.sqrt(cx * cx + cy * cy + cz * cz)  # distance between faces
        if pbc[k]:
            for i in range(n):
                f = math.floor(frac[i, k])
                image[i, k] = int(f)
                frac[i, k] -= f
            nb = max(1, min(cap, int(math.floor(h * _BINS_PER_CUTOFF
                                                / (cutoff * (1.0 + 1e-9))))))
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
            nb = max(1, min(cap, int(math.floor(ext * _BINS_PER_CUTOFF
                                                / (cutoff * (1.0 + 1e-9))))))
            nbin[k] = nb
            lo[k] = fmin
            width[k] = (fmax - fmin) / nb if fmax > fmin else 1.0
            ratio = cutoff / (width[k] * h) * (1.0 + 1e-9) if width[k] * h > 0.0 else np.inf
            reach[k] = nb if ratio >= nb else int(math.ceil(ratio))
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
                  pair_shift, pair_d, atom0, pair0, pair_end):
    """Count or write the pairs of one configuration.

    Always writes per-atom pair counts into ``counts``.  With ``fill`` the pairs of atom i
    are written consecutively from ``pair0``; writing stops at ``pair_end`` (capacity).
    Returns the number of pairs found, or -1 when the periodic cell rows are degenerate.
    """
    n = x.shape[0]
    ceff, ok = _effective_cell(cell, pbc)
    if not ok:
        return -1
    image, bins, bin_start, bin_atoms, nbin, reach = _bin_config(x, ceff, pbc, cutoff)
    # positions wrapped into the cell along periodic directions
    xw = np.empty((n, 3))
    for i in range(n):
        for k in range(3):
            xw[i, k] = (x[i, k] - image[i, 0] * cell[0, k] - image[i, 1] * cell[1, k]
                        - image[i, 2] * cell[2, k])
    cut2max = cutoff * cutoff
    pos = pair0
    total = 0
    for i in range(n):
        b = bins[i]
        bz = b % nbin[2]
        by = (b // nbin[2]) % nbin[1]
        bx = b // (nbin[2] * nbin[1])
        lo0 = bx - reach[0] if pbc[0] else max(0, bx - reach[0])
        hi0 = bx + reach[0] if pbc[0] else min(nbin[0] - 1, bx + reach[0])
        lo1 = by - reach[1] if pbc[1] else max(0, by - reach[1])
        hi1 = by + reach[1] if pbc[1] else min(nbin[1] - 1, by + reach[1])
        lo2 = bz - reach[2] if pbc[2] else max(0, bz - reach[2])
        hi2 = bz + reach[2] if pbc[2] else min(nbin[2] - 1, bz + reach[2])
        si = species[i]
        xi0 = xw[i, 0]
        xi1 = xw[i, 1]
        xi2 = xw[i, 2]
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
                    q0 = bin_start[flat]
                    q1 = bin_start[flat + 1]
                    if q0 == q1:
                        continue
                    v0 = s0 * cell[0, 0] + s1 * cell[1, 0] + s2 * cell[2, 0] - xi0
                    v1 = s0 * cell[0, 1] + s1 * cell[1, 1] + s2 * cell[2, 1] - xi1
                    v2 = s0 * cell[0, 2] + s1 * cell[1, 2] + s2 * cell[2, 2] - xi2
                    zero = s0 == 0 and s1 == 0 and s2 == 0
                    for q in range(q0, q1):
                        j = bin_atoms[q]
                        if zero and j == i:
                            continue
                        dx = xw[j, 0] + v0
                        dy = xw[j, 1] + v1
                        dz = xw[j, 2] + v2
                        r2 = dx * dx + dy * dy + dz * dz
                        if r2 >= cut2max or r2 >= cut2_table[si, species[j]]:
                            continue
                        cnt += 1
                        if fill:
                            if pos < pair_end:
                                pair_j[pos] = atom0 + j
                                pair_shift[pos, 0] = s0 - image[j, 0] + image[i, 0]
                                pair_shift[pos, 1] = s1 - image[j, 1] + image[i, 1]
                                pair_shift[pos, 2] = s2 - image[j, 2] + image[i, 2]
                                pair_d[pos, 0] = dx
                                pair_d[pos, 1] = dy
                                pair_d[pos, 2] = dz
                            pos += 1
        counts[i] = cnt
        total += cnt
    return total


@njit(cache=True, nogil=True)
def _pairs_range(c0, c1, coords, cells, pbc, config_offsets, species, cut2_table, cutoff,
                 fill, slot_offsets, counts, pair_j, pair_shift, pair_d, flag):
    """Count (``fill`` False) or write the pairs of configurations ``c0 .. c1-1``.

    Per-atom counts go to ``counts``; with ``fill`` the pairs of configuration c are
    written into ``[slot_offsets[c], slot_offsets[c+1])``.  ``flag[c]``: 1 = slot too
    small (pairs beyond it were dropped), 2 = degenerate cell.
    """
    for c in range(c0, c1):
        a0 = config_offsets[c]
        a1 = config_offsets[c + 1]
        p0 = slot_offsets[c] if fill else 0
        p1 = slot_offsets[c + 1] if fill else 0
        got = _config_pairs(coords[a0:a1], cells[c], pbc[c], species[a0:a1], cut2_table,
                            cutoff, fill, counts[a0:a1], pair_j, pair_shift, pair_d, a0,
                            p0, p1)
        if got < 0:
            flag[c] = 2
        elif fill and got > p1 - p0:
            flag[c] = 1


def _run_pairs(coords, cells, pbc, config_offsets, species, cut2_table, cutoff,
               slot_offsets):
    """Counts and flags (and, given ``slot_offsets``, the pair arrays) of all
    configurations, the configurations split over the engine threads."""
    nconf = cells.shape[0]
    fill = slot_offsets is not None
    npairs = slot_offsets[-1] if fill else 0
    slots = slot_offsets if fill else np.zeros(nconf + 1, dtype=np.int64)
    counts = np.zeros(coords.shape[0], dtype=np.int64)
    pair_j = np.empty(npairs, dtype=np.int64)
    pair_shift = np.empty((npairs, 3), dtype=np.int64)
    pair_d = np.empty((npairs, 3))
    flag = np.zeros(nconf, dtype=np.int64)

    def run(c0, c1):
        _pairs_range(c0, c1, coords, cells, pbc, config_offsets, species, cut2_table,
                     float(cutoff), fill, slots, counts, pair_j, pair_shift, pair_d, flag)

    parallel_ranges(run, split(np.diff(config_offsets) + 1, 8 * num_threads()))
    return counts, pair_j, pair_shift, pair_d, flag


def count_pairs_batch(coords, cells, pbc, config_offsets, species, cut2_table, cutoff):
    """Per-atom pair counts (N,) for all configurations; bad (C,) flags degenerate cells."""
    counts, _, _, _, flag = _run_pairs(coords, cells, pbc, config_offsets, species,
                                       cut2_table, cutoff, None)
    return counts, flag == 2


def fill_pairs_batch(coords, cells, pbc, config_offsets, species, cut2_table, cutoff,
                     slot_offsets):
    """Write pairs of configuration c into ``[slot_offsets[c], slot_offsets[c+1])``.

    Returns per-atom counts, pair arrays of length ``slot_offsets[-1]`` and per-config
    flags: 1 = slot too small (pairs beyond it were dropped), 2 = degenerate cell.
    """
    return _run_pairs(coords, cells, pbc, config_offsets, species, cut2_table, cutoff,
                      np.ascontiguousarray(slot_offsets, dtype=np.int64))


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
    nconf = cells.shape[0]
    nat = np.diff(config_offsets)
    check_neighbor_estimate(cells, pbc, nat, cutoff, labels)
    # Single pass into per-configuration slots sized from the density of periodic cells
    # (twice the ideal-gas count: covers close-packed first shells); configurations
    # without a volume, or that overflow, get an exact counting pass first.
    vol = np.abs(np.linalg.det(cells)) if nconf else np.zeros(0)
    per3 = pbc.all(axis=1) & (vol > 0)
    ideal = np.where(per3, nat / np.where(per3, vol, 1.0) * (4.0 / 3.0) * np.pi * cutoff ** 3,
                     0.0)
    slots = np.where(per3, nat * (np.ceil(2.0 * ideal).astype(np.int64) + 8), 0)
    if not per3.all():
        counts, bad = count_pairs_batch(coords, cells, pbc, config_offsets, species, cut2,
                                        cutoff)
        _raise_bad(bad, cells, pbc, labels)
        exact = _per_config(counts, config_offsets)
        slots = np.where(per3, slots, exact)
    slot_offsets = np.zeros(nconf + 1, dtype=np.int64)
    np.cumsum(slots, out=slot_offsets[1:])
    counts, pj, ps, pd, flag = fill_pairs_batch(coords, cells, pbc, config_offsets, species,
                                                cut2, cutoff, slot_offsets)
    _raise_bad(flag == 2, cells, pbc, labels)
    if (flag == 1).any():
        counts, bad = count_pairs_batch(coords, cells, pbc, config_offsets, species, cut2,
                                        cutoff)
        exact = _per_config(counts, config_offsets)
        np.cumsum(exact, out=slot_offsets[1:])
        counts, pj, ps, pd, flag = fill_pairs_batch(coords, cells, pbc, config_offsets,
                                                    species, cut2, cutoff, slot_offsets)
    pair_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=pair_offsets[1:])
    if pair_offsets[-1] != slot_offsets[-1]:  # compact the slots
        per_conf = pair_offsets[config_offsets[1:]] - pair_offsets[config_offsets[:-1]]
        keep = _slot_ranges(slot_offsets[:-1], per_conf)
        pj, ps, pd = pj[keep], ps[keep], pd[keep]
    return pair_offsets, pj, ps, pd


#: More estimated neighbors per atom than this means a cutoff far beyond any potential's
#: range for the cell (or a cell far too small): refused before allocating anything.
MAX_NEIGHBORS_PER_ATOM = 1e5


def neighbor_estimate(cells, pbc, nat, cutoff):
    """(C,) estimated neighbors per atom within ``cutoff``: the ideal-gas count for cells
    periodic in three directions, else all atoms times the periodic images within reach;
    and (C,) the thinnest periodic width of each cell (inf when none is periodic)."""
    cells = np.asarray(cells, dtype=np.float64).reshape(-1, 3, 3)
    pbc = np.asarray(pbc, dtype=bool).reshape(-1, 3)
    nat = np.asarray(nat, dtype=np.float64)
    vol = np.abs(np.linalg.det(cells)) if len(cells) else np.zeros(0)
    width = np.full(pbc.shape, np.inf)
    for k in range(3):
        cross = np.linalg.norm(np.cross(cells[:, (k + 1) % 3], cells[:, (k + 2) % 3]), axis=1)
        length = np.linalg.norm(cells[:, k], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(cross > 0, vol / np.where(cross > 0, cross, 1.0), length)
        width[:, k] = np.where(pbc[:, k], h, np.inf)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        images = np.prod(np.where(pbc, 2.0 * cutoff / width + 1.0, 1.0), axis=1)
        ideal = nat / np.where(vol > 0, vol, 1.0) * (4.0 / 3.0) * np.pi * cutoff ** 3
    per3 = pbc.all(axis=1) & (vol > 0)
    est = np.where(per3, np.minimum(ideal, nat * images), nat * images)
    est = np.where(np.isfinite(est), est, np.inf)
    return est, width.min(axis=1) if len(width) else np.zeros(0)


def check_neighbor_estimate(cells, pbc, nat, cutoff, labels=None):
    """Refuse, naming the configuration and the cutoff, a neighbor list that would hold
    more than :data:`MAX_NEIGHBORS_PER_ATOM` neighbors per atom (a 0.01 A cell, a cutoff
    of 1e4), instead of running out of memory or time inside the kernels.  Cells of zero
    width are left to the kernels' own check."""
    est, width = neighbor_estimate(cells, pbc, nat, cutoff)
    bad = np.flatnonzero((est > MAX_NEIGHBORS_PER_ATOM) & (width > 0))
    if not bad.size:
        return
    c = int(bad[np.argmax(est[bad])])
    where = f"thinnest periodic width {width[c]:.3g}" if np.isfinite(width[c]) else \
        "not periodic"
    raise EngineError(
        f"configuration {_label(labels, c)}: the neighbor-list cutoff {cutoff:g} would give "
        f"about {est[c]:.3g} neighbors per atom ({int(nat[c])} atoms, cell {where}); "
        f"expected at most {MAX_NEIGHBORS_PER_ATOM:g}: check the model's cutoff parameter "
        "and the cell")


def _per_config(counts, config_offsets):
    csum = np.concatenate(([0], np.cumsum(counts)))
    return csum[config_offsets[1:]] - csum[config_offsets[:-1]]


def _slot_ranges(starts, lengths):
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)


def _raise_bad(bad, cells, pbc, labels):
    if bad.any():
        c = int(np.argmax(bad))
        raise EngineError(f"configuration {_label(labels, c)} has linearly dependent "
                          f"periodic cell vectors: {cells[c].tolist()} with PBC "
                          f"{pbc[c].tolist()}")


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
