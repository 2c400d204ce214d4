"""Fast path of the symmetry functions when every three-body function is a G4 (the
published sets): the triplet loop is arranged so that its innermost loop has no
branches and no index lookups (SIMD-friendly).  Sums are accumulated for every
combination of a unique eta (e) and a unique (zeta, lambda) pair (u), a dense (e, u)
table; the functions asked for are picked from it once per atom.  The caller uses this
path only when the table is not much larger than the list of functions.

For a triplet (i, j, k) and G4 function p = (zeta, lambda, eta):

    g_p = c_p E_e P_u F,   c_p = 2^(1-zeta), E_e = e_ij e_ik e_jk, e_ab = exp(-eta r_ab^2),
    P_u = (1 + lambda cos)^zeta,  F = fc(r_ij) fc(r_ik) fc(r_jk).

Treating the three distances as independent, dg_p/dr_ab / r_ab is

    t_ab = h_p (dcos/dr_ab)/r_ab - 2 eta g_p + (c_p E_e P_u)(dF/dr_ab)/r_ab,
    h_p = c_p E_e (dP_u/dcos) F,

and the gradient with respect to the displacement vectors d_ij, d_ik is
t_ij d_ij - t_jk d_jk and t_ik d_ik + t_jk d_jk (d_jk = d_ik - d_ij).  The t_ij / t_ik
parts are accumulated as scalars per neighbor slot and multiplied by the slot's vector
once at the end.  The factor c_p depends on u only and is applied when picking.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from workbench.ml.descriptors._sf_kernels import _int_pow, cutoff_fast


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def g4_triplets(start, nn, si, species, nb_j, nb_d, rcut, cut_kind, rr, fc, dfc, er,
                inside, m2eta, eta_u, zeta_u, lam_u, grad, zacc, S, C):
    """Accumulate the G4 sums of one atom for every (unique eta e, unique (zeta, lambda)
    u) combination, without the 2^(1-zeta) factor, flattened as k = e * nz + u:
    ``zacc[k]``; when grad, ``S[s, k]`` (scalar coefficient of slot s's own displacement)
    and ``C[s, x, k]`` (cross terms).
    The dense (e, u) layout keeps the innermost loop free of index lookups."""
    ne = eta_u.shape[0]
    nz = zeta_u.shape[0]
    E = np.empty(ne)
    tg = np.empty(ne * nz)
    tij = np.empty(ne * nz)
    tik = np.empty(ne * nz)
    tjk = np.empty(ne * nz)
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
        inv_ij = 1.0 / rij
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
            if not rjk2 < rcjk * rcjk or rjk2 == 0.0:
                continue
            rjk = math.sqrt(rjk2)
            rik = rr[sk]
            fcik = fc[sk]
            dfcik = dfc[sk]
            fcjk, dfcjk = cutoff_fast(rjk, rcjk, cut_kind)
            inv_ik = 1.0 / rik
            cos_t = (dijx * dikx + dijy * diky + dijz * dikz) * inv_ij * inv_ik
            for u in range(nz):
                base = 1.0 + lam_u[u] * cos_t
                if base <= 0.0:
                    pw[u] = 0.0
                    dpw[u] = 0.0
                else:
                    a, am1 = _int_pow(base, zeta_u[u])
                    pw[u] = a
                    dpw[u] = zeta_u[u] * am1 * lam_u[u]
            F = fcij * fcik * fcjk
            for e in range(ne):
                E[e] = er[sj, e] * er[sk, e] * math.exp(-eta_u[e] * rjk2)
            if not grad:
                for e in range(ne):
                    Ee = E[e] * F
                    for u in range(nz):
                        zacc[e * nz + u] += Ee * pw[u]
                continue
            rij2 = rij * rij
            rik2 = rik * rik
            inv_jk = 1.0 / rjk
            # dcos/dr_ab / r_ab and (dF/dr_ab / r_ab) / F with independent distances
            cij = (rij2 - rik2 + rjk2) / (2.0 * rij2 * rik) * inv_ij
            cik = (rik2 - rij2 + rjk2) / (2.0 * rij * rik2) * inv_ik
            cjk = -inv_ij * inv_ik
            fij = dfcij * fcik * fcjk * inv_ij
            fik = fcij * dfcik * fcjk * inv_ik
            fjk = fcij * fcik * dfcjk * inv_jk
            for e in range(ne):
                Ef = E[e]
                Ee = Ef * F
                me = m2eta[e]
                for u in range(nz):
                    k = e * nz + u
                    g = Ee * pw[u]
                    h = Ee * dpw[u]
                    ap = Ef * pw[u]
                    m = me * g
                    tg[k] = g
                    tij[k] = h * cij + m + ap * fij
                    tik[k] = h * cik + m + ap * fik
                    tjk[k] = h * cjk + m + ap * fjk
            # one output per loop: simple streams the compiler vectorizes
            _acc(zacc, tg)
            _acc(S[sj], tij)
            _acc(S[sk], tik)
            _axpy(C[sj, 0], tjk, -djkx)
            _axpy(C[sj, 1], tjk, -djky)
            _axpy(C[sj, 2], tjk, -djkz)
            _axpy(C[sk, 0], tjk, djkx)
            _axpy(C[sk, 1], tjk, djky)
            _axpy(C[sk, 2], tjk, djkz)


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _acc(out, v):
    for k in range(v.shape[0]):
        out[k] += v[k]


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _axpy(out, v, a):
    for k in range(v.shape[0]):
        out[k] += a * v[k]
