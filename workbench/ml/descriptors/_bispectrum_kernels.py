"""numba kernels of the SNAP bispectrum (A. P. Thompson et al., J. Comput. Phys. 285,
316 (2015); A. P. Bartók et al., Phys. Rev. Lett. 104, 136403 (2010)).

Angular momenta are stored doubled (``j`` below is 2j, an integer 0..twojmax).  A neighbor
at displacement d = (x, y, z), distance r, within the pair cutoff rc is mapped onto the
3-sphere by

    theta0 = rfac0 * pi * (r - rmin0) / (rc - rmin0),   z0 = r / tan(theta0),
    a = (z0 - i z) / sqrt(r^2 + z0^2),                  b = (y - i x) / sqrt(r^2 + z0^2),

and its Wigner matrices u_j[mb, ma] (ma, mb = 0..j) follow from u_0 = 1 and, for the rows
2 mb <= j,

    u_j[mb, ma] = sqrt((j - ma)/(j - mb)) conj(a) u_{j-1}[mb, ma]
                - sqrt(ma/(j - mb)) conj(b) u_{j-1}[mb, ma - 1],

the other rows (and the right half of the middle row) by the symmetry
u_j[j - mb, j - ma] = (-1)^(ma + mb) conj(u_j[mb, ma]).
The density of atom i is U_j = w_self I + sum_k w_k fs(r_k) u_j(d_k) (fs the switching
function, w_k the weight of k's species, w_self = 1), and for each triple (j1, j2, j)

    Z[mb, ma] = sum C(j1 mb1, j2 mb2 | j mb) C(j1 ma1, j2 ma2 | j ma) U_j1[mb1, ma1] U_j2[mb2, ma2],
    B = sum_{mb, ma} Re(conj(U_j[mb, ma]) Z[mb, ma]).

Derivatives: with W1[mb1, ma1] = sum C C conj(U_j[mb, ma]) U_j2[mb2, ma2] and W2 likewise,
dB = Re sum conj(dU_j) Z + Re sum dU_j1 W1 + Re sum dU_j2 W2 for the change dU of one
neighbor's term.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _neighbor_u(x, y, z, rc, rmin0, rfac0, switch, w, J, grad, u, du, us, dus):
    """Weighted Wigner matrices ``u[j, mb, ma]`` = w fs(r) u_j(d) of one neighbor and, with
    grad, their derivatives ``du[xyz, j, mb, ma]``; ``us``/``dus`` are work arrays."""
    r = math.sqrt(x * x + y * y + z * z)
    k0 = rfac0 * math.pi / (rc - rmin0)
    theta0 = (r - rmin0) * k0
    sn = math.sin(theta0)
    cs = math.cos(theta0)
    z0 = r * cs / sn
    dz0dr = cs / sn - r * k0 / (sn * sn)
    r0inv = 1.0 / math.sqrt(r * r + z0 * z0)
    a = complex(z0 * r0inv, -z * r0inv)
    b = complex(y * r0inv, -x * r0inv)
    ca = a.conjugate()
    cb = b.conjugate()
    if switch == 0 or r <= rmin0:
        fs = 1.0
        dfs = 0.0
    else:
        arg = math.pi * (r - rmin0) / (rc - rmin0)
        fs = 0.5 * (math.cos(arg) + 1.0)
        dfs = -0.5 * math.pi / (rc - rmin0) * math.sin(arg)
    # derivatives of a, b with respect to x, y, z
    da = np.empty(3, dtype=np.complex128)
    db = np.empty(3, dtype=np.complex128)
    if grad:
        dvec = (x, y, z)
        for k in range(3):
            drk = dvec[k] / r
            dz0 = dz0dr * drk
            dr0 = -r0inv * r0inv * r0inv * (r * drk + z0 * dz0)
            da[k] = complex(dz0 * r0inv + z0 * dr0, -z * dr0)
            db[k] = complex(y * dr0, -x * dr0)
        da[2] += complex(0.0, -r0inv)
        db[1] += complex(r0inv, 0.0)
        db[0] += complex(0.0, -r0inv)
    us[:] = 0.0
    us[0, 0, 0] = 1.0
    if grad:
        dus[:] = 0.0
    for j in range(1, J + 1):
        for mb in range(j // 2 + 1):
            for ma in range(j + 1):
                v = 0.0j
                if ma < j:
                    c1 = math.sqrt((j - ma) / (j - mb))
                    v += c1 * ca * us[j - 1, mb, ma]
                if ma > 0:
                    c2 = math.sqrt(ma / (j - mb))
                    v -= c2 * cb * us[j - 1, mb, ma - 1]
                us[j, mb, ma] = v
                if grad:
                    for k in range(3):
                        dv = 0.0j
                        if ma < j:
                            dv += c1 * (da[k].conjugate() * us[j - 1, mb, ma]
                                        + ca * dus[k, j - 1, mb, ma])
                        if ma > 0:
                            dv -= c2 * (db[k].conjugate() * us[j - 1, mb, ma - 1]
                                        + cb * dus[k, j - 1, mb, ma - 1])
                        dus[k, j, mb, ma] = dv
        for mb in range(j // 2 + 1):
            for ma in range(j + 1):
                if 2 * mb == j and 2 * ma >= j:
                    continue
                sgn = 1.0 if (ma + mb) % 2 == 0 else -1.0
                us[j, j - mb, j - ma] = sgn * us[j, mb, ma].conjugate()
                if grad:
                    for k in range(3):
                        dus[k, j, j - mb, j - ma] = sgn * dus[k, j, mb, ma].conjugate()
    wf = w * fs
    for j in range(J + 1):
        for mb in range(j + 1):
            for ma in range(j + 1):
                u[j, mb, ma] = wf * us[j, mb, ma]
                if grad:
                    for k in range(3):
                        dvec_k = x if k == 0 else (y if k == 1 else z)
                        du[k, j, mb, ma] = (w * dfs * dvec_k / r * us[j, mb, ma]
                                            + wf * dus[k, j, mb, ma])


@njit(cache=True, nogil=True)
def bispectrum_atom(i, start, stop, species, nb_j, nb_d, rcut, weight, rfac0, rmin0,
                    switch, J, triples, cg, bzero, grad, zrow, G):
    """Bispectrum row of atom i (``zrow``) and, with grad, ``G[slot, xyz, t]`` = d B_t /
    d d_slot (G zeroed by the caller)."""
    si = species[i]
    nn = stop - start
    J1 = J + 1
    Utot = np.zeros((J1, J1, J1), dtype=np.complex128)
    for j in range(J1):
        for m in range(j + 1):
            Utot[j, m, m] = 1.0
    U = np.zeros((nn, J1, J1, J1), dtype=np.complex128)
    dU = np.zeros((nn if grad else 0, 3, J1, J1, J1), dtype=np.complex128)
    inside = np.zeros(nn, dtype=np.bool_)
    us = np.zeros((J1, J1, J1), dtype=np.complex128)
    dus = np.zeros((3, J1, J1, J1), dtype=np.complex128)
    dtmp = np.zeros((3, J1, J1, J1), dtype=np.complex128)
    for s in range(nn):
        jj = start + s
        sj = species[nb_j[jj]]
        x = nb_d[jj, 0]
        y = nb_d[jj, 1]
        z = nb_d[jj, 2]
        r2 = x * x + y * y + z * z
        rc = rcut[si, sj]
        if not (r2 < rc * rc and r2 > 1e-20):
            continue
        inside[s] = True
        _neighbor_u(x, y, z, rc, rmin0, rfac0, switch, weight[sj], J, grad, U[s],
                    dU[s] if grad else dtmp, us, dus)
        Utot += U[s]
    Z = np.zeros((J1, J1), dtype=np.complex128)
    W1 = np.zeros((J1, J1), dtype=np.complex128)
    W2 = np.zeros((J1, J1), dtype=np.complex128)
    for t in range(triples.shape[0]):
        j1 = triples[t, 0]
        j2 = triples[t, 1]
        j = triples[t, 2]
        off = (j1 + j2 - j) // 2
        Z[:] = 0.0
        W1[:] = 0.0
        W2[:] = 0.0
        for mb1 in range(j1 + 1):
            for mb2 in range(j2 + 1):
                mb = mb1 + mb2 - off
                if mb < 0 or mb > j:
                    continue
                cb_ = cg[j1, j2, j, mb1, mb2]
                if cb_ == 0.0:
                    continue
                for ma1 in range(j1 + 1):
                    u1 = Utot[j1, mb1, ma1]
                    for ma2 in range(j2 + 1):
                        ma = ma1 + ma2 - off
                        if ma < 0 or ma > j:
                            continue
                        c = cb_ * cg[j1, j2, j, ma1, ma2]
                        if c == 0.0:
                            continue
                        u2 = Utot[j2, mb2, ma2]
                        Z[mb, ma] += c * u1 * u2
                        if grad:
                            cu = c * Utot[j, mb, ma].conjugate()
                            W1[mb1, ma1] += cu * u2
                            W2[mb2, ma2] += cu * u1
        bsum = 0.0
        for mb in range(j + 1):
            for ma in range(j + 1):
                v = Utot[j, mb, ma]
                z_ = Z[mb, ma]
                bsum += v.real * z_.real + v.imag * z_.imag
        zrow[t] = bsum - bzero[t]
        if not grad:
            continue
        for s in range(nn):
            if not inside[s]:
                continue
            for k in range(3):
                acc = 0.0
                for mb in range(j + 1):
                    for ma in range(j + 1):
                        d = dU[s, k, j, mb, ma]
                        z_ = Z[mb, ma]
                        acc += d.real * z_.real + d.imag * z_.imag
                for mb in range(j1 + 1):
                    for ma in range(j1 + 1):
                        d = dU[s, k, j1, mb, ma]
                        w_ = W1[mb, ma]
                        acc += d.real * w_.real - d.imag * w_.imag
                for mb in range(j2 + 1):
                    for ma in range(j2 + 1):
                        d = dU[s, k, j2, mb, ma]
                        w_ = W2[mb, ma]
                        acc += d.real * w_.real - d.imag * w_.imag
                G[s, k, t] = acc


@njit(cache=True, nogil=True)
def bispectrum_batch(config_offsets, species, pair_offsets, pair_j, pair_d, rcut, weight,
                     rfac0, rmin0, switch, J, triples, cg, bzero, grad_f, grad_s, c_lo, c_hi,
                     zeta, dzdr, dr_offsets, dzds):
    """Fill configurations c_lo..c_hi-1 (same output layout as the symmetry functions'
    ``symmetry_functions_batch``)."""
    grad = grad_f or grad_s
    nd = triples.shape[0]
    maxnb = 0
    for a in range(config_offsets[c_lo], config_offsets[c_hi]):
        maxnb = max(maxnb, pair_offsets[a + 1] - pair_offsets[a])
    G = np.zeros((max(maxnb, 1), 3, nd))
    for c in range(c_lo, c_hi):
        a0 = config_offsets[c]
        n = config_offsets[c + 1] - a0
        for i in range(a0, a0 + n):
            start = pair_offsets[i]
            stop = pair_offsets[i + 1]
            nn = stop - start
            if grad:
                G[:nn] = 0.0
            bispectrum_atom(i, start, stop, species, pair_j, pair_d, rcut, weight, rfac0,
                            rmin0, switch, J, triples, cg, bzero, grad, zeta[i], G)
            if not grad:
                continue
            il = i - a0
            for s in range(nn):
                jl = pair_j[start + s] - a0
                for q in range(nd):
                    gx = G[s, 0, q]
                    gy = G[s, 1, q]
                    gz = G[s, 2, q]
                    if grad_f:
                        base = dr_offsets[c] + ((il * nd + q) * n) * 3
                        dzdr[base + 3 * jl] += gx
                        dzdr[base + 3 * jl + 1] += gy
                        dzdr[base + 3 * jl + 2] += gz
                        dzdr[base + 3 * il] -= gx
                        dzdr[base + 3 * il + 1] -= gy
                        dzdr[base + 3 * il + 2] -= gz
                    if grad_s:
                        dx = pair_d[start + s, 0]
                        dy = pair_d[start + s, 1]
                        dz = pair_d[start + s, 2]
                        dzds[i, q, 0] += gx * dx
                        dzds[i, q, 1] += gy * dy
                        dzds[i, q, 2] += gz * dz
                        dzds[i, q, 3] += gy * dz
                        dzds[i, q, 4] += gz * dx
                        dzds[i, q, 5] += gx * dy
