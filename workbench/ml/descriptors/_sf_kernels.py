"""numba kernels of the Behler symmetry functions and their analytic derivatives.

Inputs are the flat arrays of one configuration: ``offsets`` (N+1) is a CSR index into
the neighbor arrays ``nb_j`` (original atom index of each neighbor image) and ``nb_d``
(displacement vectors d_ij = r_j(image) - r_i).  Each neighbor list must hold every image
within the largest cutoff; per-species-pair cutoffs are applied here.

Descriptor layout (same as KLIFF): one entry per hyperparameter row, in the order the
function types were given; neighbors of every species contribute to the same entry, the
species enter only through the pair cutoffs.

Two-body kinds: 1 = G1, 2 = G2 (eta, Rs), 3 = G3 (kappa).
Three-body kinds: 4 = G4 (zeta, lambda, eta), 5 = G5 (zeta, lambda, eta).
Cutoff codes: 0 = cos, 1 = P3, 2 = P7.

Derivatives: ``dzdr[i, q, k, :]`` = d zeta[i, q] / d r_k (images folded onto their
original atom).  ``dzds[i, q, :]`` = sum over the atoms of the environment of
(d zeta / d r_a) * r_b in the Voigt order xx, yy, zz, yz, zx, xy, which is the derivative
with respect to a homogeneous deformation r -> (I + e) r (KLIFF's ``dzetadr_stress``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def cutoff_fn(r, rc, kind):
    """Cutoff function value and derivative at r (zero beyond rc)."""
    if r >= rc:
        return 0.0, 0.0
    x = r / rc
    if kind == 0:
        return 0.5 * (math.cos(math.pi * x) + 1.0), -0.5 * math.pi / rc * math.sin(math.pi * x)
    if kind == 1:
        return 1.0 - 3.0 * x * x + 2.0 * x * x * x, (-6.0 * x + 6.0 * x * x) / rc
    x2 = x * x
    x3 = x2 * x
    x4 = x3 * x
    f = 1.0 - 35.0 * x4 + 84.0 * x4 * x - 70.0 * x4 * x2 + 20.0 * x4 * x3
    df = (-140.0 * x3 + 420.0 * x4 - 420.0 * x4 * x + 140.0 * x4 * x2) / rc
    return f, df


@njit(cache=True, nogil=True)
def _int_pow(base, zeta):
    """base**zeta and base**(zeta-1), with repeated squaring for integral zeta."""
    iz = int(zeta)
    if iz == zeta and 1 <= iz <= 64:
        r = 1.0
        b = base
        e = iz - 1
        while e > 0:
            if e & 1:
                r *= b
            b *= b
            e >>= 1
        return r * base, r
    pm1 = base ** (zeta - 1.0)
    return pm1 * base, pm1


@njit(cache=True, nogil=True)
def cutoff_fast(r, rc, kind):
    """``cutoff_fn`` with one transcendental call (sin from cos; sin(pi x) >= 0 on [0, 1])."""
    if r >= rc:
        return 0.0, 0.0
    if kind == 0:
        c = math.cos(math.pi * r / rc)
        return 0.5 * (c + 1.0), -0.5 * math.pi / rc * math.sqrt(max(0.0, 1.0 - c * c))
    return cutoff_fn(r, rc, kind)


@njit(cache=True, nogil=True, error_model="numpy")
def environment(i, start, stop, species, nb_j, nb_d, rcut, cut_kind,
                two_kind, two_par, two_idx,
                three_kind, three_idx, three_eta_u, three_zl_u, three_p2,
                eta_u, zeta_u, lam_u, zrow, G, grad):
    """Descriptor row of atom i and, when grad, the gradient with respect to each
    neighbor slot's displacement vector: G[slot - start, xyz, q] (G zeroed by the caller).

    Three-body parameters are deduplicated: each function p uses the exponential of its
    unique eta (``three_eta_u``) and the power of its unique (zeta, lambda) pair
    (``three_zl_u``), both evaluated once per triplet; per-neighbor factors (distance,
    cutoff, exp(-eta r^2)) are evaluated once per neighbor.
    """
    si = species[i]
    n2 = two_kind.shape[0]
    n3 = three_kind.shape[0]
    ne = eta_u.shape[0]
    nz = zeta_u.shape[0]
    nn = stop - start
    has4 = False
    has5 = False
    for p in range(n3):
        if three_kind[p] == 4:
            has4 = True
        else:
            has5 = True
    fast4 = has4 and not has5 and ne * nz <= 2 * n3
    rr = np.empty(nn)
    fc = np.empty(nn)
    dfc = np.empty(nn)
    inside = np.zeros(nn, dtype=np.bool_)
    er = np.empty((nn, ne))
    for s in range(nn):
        jj = start + s
        dx = nb_d[jj, 0]
        dy = nb_d[jj, 1]
        dz = nb_d[jj, 2]
        r = math.sqrt(dx * dx + dy * dy + dz * dz)
        rc = rcut[si, species[nb_j[jj]]]
        rr[s] = r
        if r < rc and r > 0.0:
            inside[s] = True
            fc[s], dfc[s] = cutoff_fast(r, rc, cut_kind)
            for u in range(ne):
                er[s, u] = math.exp(-eta_u[u] * r * r)
    ejk = np.empty(ne)
    G3 = np.zeros((nn if grad and not fast4 else 0, 3, n3))
    tg = np.zeros(n3)
    tij = np.zeros(n3)
    tik = np.zeros(n3)
    tjk = np.zeros(n3)
    pw = np.empty(nz)
    dpw = np.empty(nz)
    for sj in range(nn):
        if not inside[sj]:
            continue
        jj = start + sj
        spj = species[nb_j[jj]]
        dijx = nb_d[jj, 0]
        dijy = nb_d[jj, 1]
        dijz = nb_d[jj, 2]
        rij = rr[sj]
        fcij = fc[sj]
        dfcij = dfc[sj]
        for p in range(n2):
            kind = two_kind[p]
            q = two_idx[p]
            if kind == 1:
                g = fcij
                dg = dfcij
            elif kind == 2:
                eta = two_par[p, 0]
                x = rij - two_par[p, 1]
                e = math.exp(-eta * x * x)
                g = e * fcij
                dg = -2.0 * eta * x * e * fcij + e * dfcij
            else:
                kap = two_par[p, 0]
                c = math.cos(kap * rij)
                g = c * fcij
                dg = -kap * math.sin(kap * rij) * fcij + c * dfcij
            zrow[q] += g
            if grad:
                sc = dg / rij
                G[sj, 0, q] += sc * dijx
                G[sj, 1, q] += sc * dijy
                G[sj, 2, q] += sc * dijz
        if n3 == 0 or fast4:
            continue
        for sk in range(sj + 1, nn):
            if not inside[sk]:
                continue
            kk = start + sk
            rcjk = rcut[spj, species[nb_j[kk]]]
            dikx = nb_d[kk, 0]
            diky = nb_d[kk, 1]
            dikz = nb_d[kk, 2]
            djkx = dikx - dijx
            djky = diky - dijy
            djkz = dikz - dijz
            rjk2 = djkx * djkx + djky * djky + djkz * djkz
            in4 = has4 and rjk2 < rcjk * rcjk
            if not (in4 or has5):
                continue
            rjk = math.sqrt(rjk2)
            rik = rr[sk]
            fcik = fc[sk]
            dfcik = dfc[sk]
            if in4:
                fcjk, dfcjk = cutoff_fast(rjk, rcjk, cut_kind)
            else:
                fcjk = 0.0
                dfcjk = 0.0
            rij2 = rij * rij
            rik2 = rik * rik
            cos_t = (dijx * dikx + dijy * diky + dijz * dikz) / (rij * rik)
            # d cos / d r_ij, d r_ik, d r_jk with the three distances independent
            dc_ij = (rij2 - rik2 + rjk2) / (2.0 * rij2 * rik)
            dc_ik = (rik2 - rij2 + rjk2) / (2.0 * rij * rik2)
            dc_jk = -rjk / (rij * rik)
            for u in range(nz):
                base = 1.0 + lam_u[u] * cos_t
                if base <= 0.0:
                    pw[u] = 0.0
                    dpw[u] = 0.0
                else:
                    a, am1 = _int_pow(base, zeta_u[u])
                    pw[u] = a
                    dpw[u] = zeta_u[u] * am1 * lam_u[u]
            if in4:
                for u in range(ne):
                    ejk[u] = math.exp(-eta_u[u] * rjk2)
            f4 = fcij * fcik * fcjk
            f5 = fcij * fcik
            df4_ij = dfcij * fcik * fcjk
            df4_ik = fcij * dfcik * fcjk
            df4_jk = fcij * fcik * dfcjk
            df5_ij = dfcij * fcik
            df5_ik = fcij * dfcik
            inv_ij = 1.0 / rij
            inv_ik = 1.0 / rik
            inv_jk = 1.0 / rjk if rjk > 0.0 else 0.0
            for p in range(n3):
                u = three_zl_u[p]
                ue = three_eta_u[p]
                e5 = er[sj, ue] * er[sk, ue]
                if three_kind[p] == 4:
                    if not in4:
                        tg[p] = 0.0
                        tij[p] = 0.0
                        tik[p] = 0.0
                        tjk[p] = 0.0
                        continue
                    fprod = f4
                    a = three_p2[p] * e5 * ejk[ue]
                    dfij = df4_ij
                    dfik = df4_ik
                    r_e = rjk
                    dfjk = df4_jk
                else:
                    fprod = f5
                    a = three_p2[p] * e5
                    dfij = df5_ij
                    dfik = df5_ik
                    r_e = 0.0
                    dfjk = 0.0
                ap = a * pw[u]
                g = ap * fprod
                tg[p] = g
                if grad:
                    dgdc = a * dpw[u] * fprod
                    m2e = -2.0 * eta_u[ue] * g
                    tij[p] = (dgdc * dc_ij + m2e * rij + ap * dfij) * inv_ij
                    tik[p] = (dgdc * dc_ik + m2e * rik + ap * dfik) * inv_ik
                    tjk[p] = (dgdc * dc_jk + m2e * r_e + ap * dfjk) * inv_jk
            for p in range(n3):
                zrow[three_idx[p]] += tg[p]
            if grad:
                gj = G3[sj]
                gk = G3[sk]
                for p in range(n3):
                    a_ij = tij[p]
                    a_ik = tik[p]
                    a_jk = tjk[p]
                    gj[0, p] += a_ij * dijx - a_jk * djkx
                    gj[1, p] += a_ij * dijy - a_jk * djky
                    gj[2, p] += a_ij * dijz - a_jk * djkz
                    gk[0, p] += a_ik * dikx + a_jk * djkx
                    gk[1, p] += a_ik * diky + a_jk * djky
                    gk[2, p] += a_ik * dikz + a_jk * djkz
    if fast4:
        zacc = np.zeros(ne * nz)
        S = np.zeros((nn if grad else 0, ne * nz))
        C = np.zeros((nn if grad else 0, 3, ne * nz))
        m2eta = -2.0 * eta_u
        g4_triplets(start, nn, si, species, nb_j, nb_d, rcut, cut_kind, rr, fc, dfc, er,
                    inside, m2eta, eta_u, zeta_u, lam_u, grad, zacc, S, C)
        for p in range(n3):
            k = three_eta_u[p] * nz + three_zl_u[p]
            c = three_p2[p]
            q = three_idx[p]
            zrow[q] += c * zacc[k]
            if grad:
                for sj in range(nn):
                    sv = S[sj, k]
                    for x in range(3):
                        G[sj, x, q] += c * (sv * nb_d[start + sj, x] + C[sj, x, k])
    elif grad and n3 > 0:
        for sj in range(nn):
            for x in range(3):
                for p in range(n3):
                    G[sj, x, three_idx[p]] += G3[sj, x, p]


@njit(cache=True, nogil=True, error_model="numpy")
def symmetry_functions_batch(config_offsets, species, pair_offsets, pair_j, pair_d, rcut,
                             cut_kind, two_kind, two_par, two_idx, three_kind, three_idx,
                             three_eta_u, three_zl_u, three_p2, eta_u, zeta_u, lam_u,
                             ndesc, grad_f, grad_s, c_lo, c_hi, zeta, dzdr, dr_offsets, dzds):
    """Fill configurations c_lo..c_hi-1 of a batch.

    ``pair_j`` are global atom indices; ``zeta`` (N, D); ``dzdr`` flat, configuration c
    occupying ``dr_offsets[c]:dr_offsets[c+1]`` as an (n_c, D, n_c, 3) block; ``dzds``
    (N, D, 6).  Unused outputs may be of length 0.
    """
    grad = grad_f or grad_s
    maxnb = 0
    for a in range(config_offsets[c_lo], config_offsets[c_hi]):
        maxnb = max(maxnb, pair_offsets[a + 1] - pair_offsets[a])
    G = np.zeros((max(maxnb, 1), 3, ndesc))
    for c in range(c_lo, c_hi):
        a0 = config_offsets[c]
        n = config_offsets[c + 1] - a0
        for i in range(a0, a0 + n):
            start = pair_offsets[i]
            stop = pair_offsets[i + 1]
            nn = stop - start
            if grad:
                G[:nn] = 0.0
            environment(i, start, stop, species, pair_j, pair_d, rcut, cut_kind,
                        two_kind, two_par, two_idx, three_kind, three_idx, three_eta_u,
                        three_zl_u, three_p2, eta_u, zeta_u, lam_u, zeta[i], G, grad)
            if not grad:
                continue
            il = i - a0
            if grad_f:
                # one row (i, q) at a time: the neighbor columns of a row are close in
                # memory, and atom i's own column is written once per row
                for q in range(ndesc):
                    row = dr_offsets[c] + ((il * ndesc + q) * n) * 3
                    sx = 0.0
                    sy = 0.0
                    sz = 0.0
                    for s in range(nn):
                        col = row + 3 * (pair_j[start + s] - a0)
                        gx = G[s, 0, q]
                        gy = G[s, 1, q]
                        gz = G[s, 2, q]
                        dzdr[col] += gx
                        dzdr[col + 1] += gy
                        dzdr[col + 2] += gz
                        sx += gx
                        sy += gy
                        sz += gz
                    dzdr[row + 3 * il] -= sx
                    dzdr[row + 3 * il + 1] -= sy
                    dzdr[row + 3 * il + 2] -= sz
            if grad_s:
                for s in range(nn):
                    dx = pair_d[start + s, 0]
                    dy = pair_d[start + s, 1]
                    dz = pair_d[start + s, 2]
                    for q in range(ndesc):
                        gx = G[s, 0, q]
                        gy = G[s, 1, q]
                        gz = G[s, 2, q]
                        dzds[i, q, 0] += gx * dx
                        dzds[i, q, 1] += gy * dy
                        dzds[i, q, 2] += gz * dz
                        dzds[i, q, 3] += gy * dz
                        dzds[i, q, 4] += gz * dx
                        dzds[i, q, 5] += gx * dy


# the G4 fast path uses cutoff_fast / _int_pow above, so it is imported after them
from workbench.ml.descriptors._sf_g4 import g4_triplets
