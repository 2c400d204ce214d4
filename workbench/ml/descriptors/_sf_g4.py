"""Fast path of the symmetry functions when every three-body function is a G4 (the
published sets): the triplet loop is arranged so that its innermost loop runs over all
angular functions with no branches and unit-stride arrays (SIMD-friendly).

For a triplet (i, j, k) and G4 function p = (zeta, lambda, eta):

    g_p = c_p E_e P_u F,   c_p = 2^(1-zeta), E_e = e_ij e_ik e_jk, e_ab = exp(-eta r_ab^2),
    P_u = (1 + lambda cos)^zeta,  F = fc(r_ij) fc(r_ik) fc(r_jk).

Treating the three distances as independent, dg_p/dr_ab / r_ab is

    t_ab = h_p (dcos/dr_ab)/r_ab - 2 eta g_p + (c_p E_e P_u)(dF/dr_ab)/r_ab,
    h_p = c_p E_e (dP_u/dcos) F,

and the gradient with respect to the displacement vectors d_ij, d_ik is
t_ij d_ij - t_jk d_jk and t_ik d_ik + t_jk d_jk (d_jk = d_ik - d_ij).  The t_ij / t_ik
parts are accumulated as scalars per neighbor slot and multiplied by the slot's vector
once at the end.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from workbench.ml.descriptors._sf_kernels import _int_pow, cutoff_fast


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def g4_triplets(start, nn, si, species, nb_j, nb_d, rcut, cut_kind, rr, fc, dfc, er,
                inside, ue, uz, p2, m2eta, eta_u, zeta_u, lam_u, grad, zacc, S, C):
    """Accumulate the G4 sums of one atom: ``zacc[p]``; when grad, ``S[s, p]`` (scalar
    coefficient of slot s's own displacement) and ``C[s, x, p]`` (cross terms)."""
    n3 = p2.shape[0]
    ne = eta_u.shape[0]
    nz = zeta_u.shape[0]
    ejk = np.empty(ne)
    pw = np.empty(nz)
    dpw = np.empty(nz)
    E = np.empty(n3)
    P = np.empty(n3)
    dP = np.empty(n3)
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
            rij2 = rij * rij
            rik2 = rik * rik
            inv_ik = 1.0 / rik
            inv_jk = 1.0 / rjk
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
            for e in range(ne):
                ejk[e] = er[sj, e] * er[sk, e] * math.exp(-eta_u[e] * rjk2)
            for p in range(n3):
                E[p] = ejk[ue[p]]
                P[p] = pw[uz[p]]
                dP[p] = dpw[uz[p]]
            F = fcij * fcik * fcjk
            if not grad:
                for p in range(n3):
                    zacc[p] += p2[p] * E[p] * P[p] * F
                continue
            # dcos/dr_ab / r_ab and dF/dr_ab / r_ab with independent distances
            cij = (rij2 - rik2 + rjk2) / (2.0 * rij2 * rik) * inv_ij
            cik = (rik2 - rij2 + rjk2) / (2.0 * rij * rik2) * inv_ik
            cjk = -inv_ij * inv_ik
            fij = dfcij * fcik * fcjk * inv_ij
            fik = fcij * dfcik * fcjk * inv_ik
            fjk = fcij * fcik * dfcjk * inv_jk
            Sj = S[sj]
            Sk = S[sk]
            Cjx = C[sj, 0]
            Cjy = C[sj, 1]
            Cjz = C[sj, 2]
            Ckx = C[sk, 0]
            Cky = C[sk, 1]
            Ckz = C[sk, 2]
            for p in range(n3):
                a = p2[p] * E[p]
                ap = a * P[p]
                g = ap * F
                h = a * dP[p] * F
                m = m2eta[p] * g
                tjk = h * cjk + m + ap * fjk
                zacc[p] += g
                Sj[p] += h * cij + m + ap * fij
                Sk[p] += h * cik + m + ap * fik
                Cjx[p] -= tjk * djkx
                Cjy[p] -= tjk * djky
                Cjz[p] -= tjk * djkz
                Ckx[p] += tjk * djkx
                Cky[p] += tjk * djky
                Ckz[p] += tjk * djkz
