"""Forces from fingerprint derivatives stored as atom-pair blocks.

For configuration c, block b couples the fingerprint of atom ``blk_i[b]`` with the
position of atom ``blk_k[b]`` (both local indices): ``val[b, q, x] = d zeta[i, q] / d r[k, x]``.
Only pairs within the cutoff (and i == k) have blocks, so a 64-atom cell stores about half
of the dense (n, D, 3n) array.  Rows ``r0[j] + local index`` address the atoms of the j-th
configuration of a batch; ``blk_off`` (C+1) delimits each configuration's blocks.

    forces:   F[k, x]  = -sum_{b: blk_k=k} sum_q g[i, q] val[b, q, x]
    backward: dg[i, q] = -sum_{b: blk_i=i} sum_x gF[k, x] val[b, q, x]
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.engine.threads import num_threads, parallel_ranges, split


@njit(cache=True, nogil=True)
def _forces_from_blocks(j0, j1, g, val, blk_i, blk_k, blk_off, configs, r0, out):
    D = val.shape[1]
    for j in range(j0, j1):
        c = configs[j]
        base = r0[j]
        for b in range(blk_off[c], blk_off[c + 1]):
            i = base + blk_i[b]
            k = base + blk_k[b]
            f0 = 0.0
            f1 = 0.0
            f2 = 0.0
            for q in range(D):
                gq = g[i, q]
                f0 += gq * val[b, q, 0]
                f1 += gq * val[b, q, 1]
                f2 += gq * val[b, q, 2]
            out[k, 0] -= f0
            out[k, 1] -= f1
            out[k, 2] -= f2


@njit(cache=True, nogil=True)
def _grad_from_blocks(j0, j1, gF, val, blk_i, blk_k, blk_off, configs, r0, out):
    D = val.shape[1]
    for j in range(j0, j1):
        c = configs[j]
        base = r0[j]
        for b in range(blk_off[c], blk_off[c + 1]):
            i = base + blk_i[b]
            k = base + blk_k[b]
            a0 = gF[k, 0]
            a1 = gF[k, 1]
            a2 = gF[k, 2]
            for q in range(D):
                out[i, q] -= a0 * val[b, q, 0] + a1 * val[b, q, 1] + a2 * val[b, q, 2]


def blocks_from_dense(dzdr, rel_tiny=0.0):
    """(blk_i, blk_k, val (nb, D, 3)) of one configuration's dense (n, D, 3n) array."""
    n, D, _ = dzdr.shape
    d = dzdr.reshape(n, D, n, 3).transpose(0, 2, 1, 3)  # (i, k, q, x)
    mag = np.abs(d).max(axis=(2, 3))
    keep = mag > rel_tiny
    ii, kk = np.nonzero(keep)
    return ii.astype(np.int64), kk.astype(np.int64), np.ascontiguousarray(d[ii, kk])


@njit(cache=True, nogil=True)
def _force_loss_and_grad(j0, j1, g, val, blk_i, blk_k, blk_off, configs, r0, atom0,
                         natoms, fscale, fref, forces, gforces, dg, loss):
    """Configurations ``configs[j0:j1]``: forces, the force part of the loss
    ½ sum (s (F - F_ref))² per configuration and its gradient w.r.t. g in one sweep per
    configuration: the second pass over a configuration's blocks finds them in cache."""
    D = val.shape[1]
    for j in range(j0, j1):
        c = configs[j]
        base = r0[j]
        for b in range(blk_off[c], blk_off[c + 1]):
            i = base + blk_i[b]
            k = base + blk_k[b]
            f0 = 0.0
            f1 = 0.0
            f2 = 0.0
            for q in range(D):
                gq = g[i, q]
                f0 += gq * val[b, q, 0]
                f1 += gq * val[b, q, 1]
                f2 += gq * val[b, q, 2]
            forces[k, 0] -= f0
            forces[k, 1] -= f1
            forces[k, 2] -= f2
        total = 0.0
        a0 = atom0[c]
        for a in range(natoms[c]):
            for x in range(3):
                s = fscale[a0 + a, x]
                r = s * (forces[base + a, x] - fref[a0 + a, x])
                total += r * r
                gforces[base + a, x] = s * r
        loss[j] = 0.5 * total
        for b in range(blk_off[c], blk_off[c + 1]):
            i = base + blk_i[b]
            k = base + blk_k[b]
            a0_ = gforces[k, 0]
            a1 = gforces[k, 1]
            a2 = gforces[k, 2]
            for q in range(D):
                dg[i, q] -= a0_ * val[b, q, 0] + a1 * val[b, q, 1] + a2 * val[b, q, 2]


# The kernels run serially over a range of the batch's configurations; these wrappers
# split the batch over the engine threads (see workbench.engine.threads for why the
# kernels are not numba-parallel).

def _over_configs(kernel, blk_off, configs, *args):
    work = blk_off[configs + 1] - blk_off[configs]
    parallel_ranges(lambda j0, j1: kernel(j0, j1, *args),
                    split(work, 4 * num_threads()))


def forces_from_blocks(g, val, blk_i, blk_k, blk_off, configs, r0, out):
    """``out[k] -= sum_b g[i] . val[b]`` over the blocks of ``configs`` (forces)."""
    _over_configs(_forces_from_blocks, blk_off, configs, g, val, blk_i, blk_k, blk_off,
                  configs, r0, out)


def grad_from_blocks(gF, val, blk_i, blk_k, blk_off, configs, r0, out):
    """``out[i] -= sum_b gF[k] . val[b]`` over the blocks of ``configs`` (backward)."""
    _over_configs(_grad_from_blocks, blk_off, configs, gF, val, blk_i, blk_k, blk_off,
                  configs, r0, out)


def force_loss_and_grad(g, val, blk_i, blk_k, blk_off, configs, r0, atom0, natoms,
                        fscale, fref, forces, gforces, dg, loss):
    """Forces, per-configuration force loss and its gradient (see the kernel)."""
    _over_configs(_force_loss_and_grad, blk_off, configs, g, val, blk_i, blk_k, blk_off,
                  configs, r0, atom0, natoms, fscale, fref, forces, gforces, dg, loss)
