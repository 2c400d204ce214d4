"""Numba kernels of the Stillinger-Weber potential (see ``workbench.engine.sw``).

Parameter derivatives are computed only for the requested columns: two (9, npairs)
integer maps give, for parameter t of species pair k, its column in the energy Jacobian
(``emap``) and in the force/stress Jacobians (``fmap``), or -1 when it is not wanted.
A fit of a few parameters therefore pays for a few columns, not for all of them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_IA, _IB, _IP, _IQ, _ISIG, _IGAM, _ICUT, _ILAM, _ICOS = range(9)


@njit(cache=True, nogil=True, inline="always")
def _inv_pow(s, p):
    """s**-p, by multiplication for the common small integer exponents."""
    if p == 0.0:
        return 1.0
    if 0.0 < p <= 12.0 and p == np.floor(p):
        x = 1.0 / s
        out = x
        for _ in range(int(p) - 1):
            out *= x
        return out
    return np.exp(-p * np.log(s))


@njit(cache=True, nogil=True, inline="always")
def _two_body_param(t, r, A, B, p, q, sig, sp, sq, u, E, P, G):
    """Derivatives of phi2 and of dphi2/dr with respect to the two-body parameter
    t = 0..5 (A, B, p, q, sigma, cutoff), from the shared intermediates of one pair:
    sp = (r/sigma)^-p, sq = (r/sigma)^-q, u = r - cutoff, E = exp(sigma/u),
    P = B sp - sq, G = dP/dr - P sigma/u^2."""
    if t == 0:
        return P * E, E * G
    su2 = sig / (u * u)
    # (P_t, dP_t/dr, e_t = dlnE/dt, w_t = d(sigma/u^2)/dt)
    if t == 1:
        Pt = sp
        Prt = -p * sp / r
        et = 0.0
        wt = 0.0
    elif t == 2:
        L = np.log(r / sig)
        Pt = -B * sp * L
        Prt = B * sp * (p * L - 1.0) / r
        et = 0.0
        wt = 0.0
    elif t == 3:
        L = np.log(r / sig)
        Pt = sq * L
        Prt = sq * (1.0 - q * L) / r
        et = 0.0
        wt = 0.0
    elif t == 4:
        Pt = (p * B * sp - q * sq) / sig
        Prt = (-p * p * B * sp + q * q * sq) / (r * sig)
        et = 1.0 / u
        wt = 1.0 / (u * u)
    else:
        Pt = 0.0
        Prt = 0.0
        et = su2
        wt = 2.0 * sig / (u * u * u)
    Gt = Prt - Pt * su2 - P * wt
    return A * E * (Pt + P * et), A * E * (et * G + Gt)


@njit(cache=True, nogil=True)
def sw_kernel(ch0, ch1, chunks, config_offsets, species, pair_offsets, pair_j, pair_d,
              stress_ok, volumes, ptab, prm, maxnb, want_forces, want_stress, emap, fmap,
              energy, forces, stress, d_energy, d_forces, d_stress, ew, eref, fw, fref,
              gcfg):
    """Evaluate SW on a packed batch.

    ``prm`` is (9, npairs) in the spec's parameter order.  ``emap``/``fmap`` (9, npairs)
    map parameters to columns of ``d_energy`` (C, KE) and of ``d_forces`` (N, 3, K) /
    ``d_stress`` (C, 6, K), -1 for none; with both all -1 no Jacobian work is done.
    ``chunks`` are configuration ranges; this call evaluates chunks ``ch0 .. ch1-1``
    (threads call it for different chunks, see ``engine.threads``); ``maxnb`` bounds the
    neighbour count of any atom.

    For each centre i the gradient of its terms with respect to every bond vector d_ij is
    gathered per neighbour slot first, then scattered once into forces (F_i += g,
    F_j -= g) and the virial (g (x) d_ij); the force Jacobian does the same per column
    into a buffer of the configuration's atoms, copied out when the configuration is done.

    Gradient mode (``gcfg`` has C rows; then ``d_forces`` has none and KE == K): instead
    of the copy, row c of ``gcfg`` receives the gradient of configuration c's share of
    ``1/2 ew (E - eref)^2 + 1/2 sum fw (F - fref)^2`` (``fw`` may have no rows: no force
    term), so the force Jacobian never leaves the cache.
    """
    K = d_forces.shape[2]
    grad = gcfg.shape[0] > 0
    fjac = K > 0 and want_forces
    jac2 = False
    jac3 = False
    for t in range(9):
        for kk in range(prm.shape[1]):
            if emap[t, kk] >= 0 or fmap[t, kk] >= 0:
                if t == _IGAM or t == _ILAM or t == _ICOS:
                    jac3 = True
                elif t == _ICUT:
                    jac2 = True
                    jac3 = True
                else:
                    jac2 = True
    jacf = K > 0 and (want_forces or want_stress)
    # the wanted two-body parameters of each pair type: t = 0..5 (A, B, p, q, sigma,
    # cutoff), so the bond loop visits only those
    n2 = np.zeros(prm.shape[1], np.int64)
    t2 = np.zeros((prm.shape[1], 6), np.int64)
    for kk in range(prm.shape[1]):
        for t in range(6):
            tp = t if t < 5 else _ICUT
            if emap[tp, kk] >= 0 or fmap[tp, kk] >= 0:
                t2[kk, n2[kk]] = t
                n2[kk] += 1
    for ch in range(ch0, ch1):
        vir = np.zeros(6)
        nb = np.empty(maxnb, np.int64)
        kp = np.empty(maxnb, np.int64)
        m3 = np.empty((maxnb, 8), np.int64)
        dd = np.empty((maxnb, 3))
        rr = np.empty(maxnb)
        ir = np.empty(maxnb)
        iu = np.empty(maxnb)
        ar = np.empty(maxnb)
        il = np.empty(maxnb)
        ee = np.empty(maxnb)
        aa = np.empty(maxnb)
        gN = np.empty((maxnb, 3))
        gJ = np.zeros((maxnb, 3, max(K, 1)))
        maxat = 1
        for c in range(chunks[ch], chunks[ch + 1]):
            maxat = max(maxat, config_offsets[c + 1] - config_offsets[c])
        dFl = np.zeros((maxat if fjac else 1, 3, max(K, 1)))
        dvir = np.zeros((6, max(K, 1)))
        for c in range(chunks[ch], chunks[ch + 1]):
            vir[:] = 0.0
            dvir[:, :] = 0.0
            do_s = want_stress and stress_ok[c]
            e = 0.0
            off = config_offsets[c]
            nat = config_offsets[c + 1] - off
            if fjac:
                dFl[:nat, :, :] = 0.0
            for i in range(config_offsets[c], config_offsets[c + 1]):
                si = species[i]
                n = 0
                for jj in range(pair_offsets[i], pair_offsets[i + 1]):
                    j = pair_j[jj]
                    kij = ptab[si, species[j]]
                    rc = prm[_ICUT, kij]
                    dx = pair_d[jj, 0]
                    dy = pair_d[jj, 1]
                    dz = pair_d[jj, 2]
                    r = np.sqrt(dx * dx + dy * dy + dz * dz)
                    if r >= rc:
                        continue
                    nb[n] = j
                    kp[n] = kij
                    dd[n, 0] = dx
                    dd[n, 1] = dy
                    dd[n, 2] = dz
                    rr[n] = r
                    u = r - rc
                    g = prm[_IGAM, kij]
                    ee[n] = np.exp(g / u)
                    # reciprocals once per bond: the triplet loop only multiplies
                    ir[n] = 1.0 / r
                    iu[n] = 1.0 / u
                    aa[n] = -g / (u * u)
                    ar[n] = aa[n] / r
                    lm = prm[_ILAM, kij]
                    il[n] = 1.0 / lm if lm != 0.0 else 0.0
                    if jac3:
                        m3[n, 0] = emap[_ILAM, kij]
                        m3[n, 1] = fmap[_ILAM, kij]
                        m3[n, 2] = emap[_IGAM, kij]
                        m3[n, 3] = fmap[_IGAM, kij]
                        m3[n, 4] = emap[_ICUT, kij]
                        m3[n, 5] = fmap[_ICUT, kij]
                        m3[n, 6] = emap[_ICOS, kij]
                        m3[n, 7] = fmap[_ICOS, kij]
                    n += 1
                gN[:n, :] = 0.0
                if jacf:
                    gJ[:n, :, :] = 0.0
                # two-body, half weight per ordered pair
                for s in range(n):
                    kij = kp[s]
                    r = rr[s]
                    A = prm[_IA, kij]
                    B = prm[_IB, kij]
                    p = prm[_IP, kij]
                    q = prm[_IQ, kij]
                    sig = prm[_ISIG, kij]
                    sp = _inv_pow(r / sig, p)
                    sq = _inv_pow(r / sig, q)
                    u = r - prm[_ICUT, kij]
                    ius = iu[s]
                    irs = ir[s]
                    E = np.exp(sig * ius)
                    P = B * sp - sq
                    G = (-p * B * sp + q * sq) * irs - P * (sig * (ius * ius))
                    e += 0.5 * (A * P * E)
                    g = 0.5 * (A * E * G) * irs
                    gN[s, 0] += g * dd[s, 0]
                    gN[s, 1] += g * dd[s, 1]
                    gN[s, 2] += g * dd[s, 2]
                    if not jac2:
                        continue
                    for q2 in range(n2[kij]):
                        t = t2[kij, q2]
                        tp = t if t < 5 else _ICUT
                        ce = emap[tp, kij]
                        cf = fmap[tp, kij]
                        dphi, dphir = _two_body_param(t, r, A, B, p, q, sig, sp, sq, u,
                                                      E, P, G)
                        if ce >= 0:
                            d_energy[c, ce] += 0.5 * dphi
                        if cf >= 0:
                            gt = 0.5 * dphir * irs
                            gJ[s, 0, cf] += gt * dd[s, 0]
                            gJ[s, 1, cf] += gt * dd[s, 1]
                            gJ[s, 2, cf] += gt * dd[s, 2]
                # three-body, j before k in i's list
                for s in range(n):
                    kij = kp[s]
                    lij = prm[_ILAM, kij]
                    irj = ir[s]
                    iuj = iu[s]
                    aij = aa[s]
                    arj = ar[s]
                    dxj = dd[s, 0]
                    dyj = dd[s, 1]
                    dzj = dd[s, 2]
                    for t3 in range(s + 1, n):
                        kik = kp[t3]
                        lik = prm[_ILAM, kik]
                        lam = np.sqrt(abs(lij) * abs(lik))
                        c0 = 0.5 * (prm[_ICOS, kij] + prm[_ICOS, kik])
                        irk = ir[t3]
                        iuk = iu[t3]
                        aik = aa[t3]
                        ark = ar[t3]
                        dxk = dd[t3, 0]
                        dyk = dd[t3, 1]
                        dzk = dd[t3, 2]
                        X = ee[s] * ee[t3]
                        inv = irj * irk
                        cs = (dxj * dxk + dyj * dyk + dzj * dzk) * inv
                        D = cs - c0
                        XDD = X * D * D
                        e += lam * XDD
                        # gradients of cos with respect to d_ij and d_ik
                        fj = cs * (irj * irj)
                        fk = cs * (irk * irk)
                        cjx = dxk * inv - fj * dxj
                        cjy = dyk * inv - fj * dyj
                        cjz = dzk * inv - fj * dzj
                        ckx = dxj * inv - fk * dxk
                        cky = dyj * inv - fk * dyk
                        ckz = dzj * inv - fk * dzk
                        # grad Q = X (D^2 a d/r + 2 D grad cos)
                        hj = XDD * arj
                        hk = XDD * ark
                        tD = 2.0 * X * D
                        Gjx = hj * dxj + tD * cjx
                        Gjy = hj * dyj + tD * cjy
                        Gjz = hj * dzj + tD * cjz
                        Gkx = hk * dxk + tD * ckx
                        Gky = hk * dyk + tD * cky
                        Gkz = hk * dzk + tD * ckz
                        gN[s, 0] += lam * Gjx
                        gN[s, 1] += lam * Gjy
                        gN[s, 2] += lam * Gjz
                        gN[t3, 0] += lam * Gkx
                        gN[t3, 1] += lam * Gky
                        gN[t3, 2] += lam * Gkz
                        if not jac3:
                            continue
                        # 8 local parameters: lambda, gamma, cutoff and costheta0 (b = 0..3)
                        # of the ij pair (A, slot s) and of the ik pair (B, slot t3).  Each
                        # adds dQ/dt to the energy and sg*G + x*d + cw*grad(cos) to the
                        # slots.  Written out here, not in helpers: a call per triplet and
                        # parameter costs a quarter of a gradient evaluation, and numba's
                        # inlining of helpers several seconds of compile time.
                        for b in range(4):
                            ceA = m3[s, 2 * b]
                            cfA = m3[s, 2 * b + 1]
                            ceB = m3[t3, 2 * b]
                            cfB = m3[t3, 2 * b + 1]
                            if max(ceA, cfA, ceB, cfB) < 0:
                                continue
                            xjA = 0.0
                            xkA = 0.0
                            xjB = 0.0
                            xkB = 0.0
                            cw = 0.0
                            if b == 0:
                                sgA = 0.5 * lam * il[s]
                                sgB = 0.5 * lam * il[t3]
                                QA = sgA * XDD
                                QB = sgB * XDD
                            elif b == 1:
                                sgA = lam * iuj
                                sgB = lam * iuk
                                QA = sgA * XDD
                                QB = sgB * XDD
                                xjA = -lam * XDD * (iuj * iuj * irj)
                                xkB = -lam * XDD * (iuk * iuk * irk)
                            elif b == 2:  # d/dcutoff: w = gamma/u^2 = -a
                                sgA = -lam * aij
                                sgB = -lam * aik
                                QA = sgA * XDD
                                QB = sgB * XDD
                                xjA = 2.0 * lam * XDD * (arj * iuj)
                                xkB = 2.0 * lam * XDD * (ark * iuk)
                            else:  # d/dcostheta0_ij = d/dcostheta0_ik: dD = -1/2 each
                                LX = lam * X
                                sgA = 0.0
                                sgB = 0.0
                                QA = -LX * D
                                QB = QA
                                xjA = -LX * D * arj
                                xkA = -LX * D * ark
                                xjB = xjA
                                xkB = xkA
                                cw = -LX
                            if ceA == ceB:
                                if ceA >= 0:
                                    d_energy[c, ceA] += QA + QB
                            else:
                                if ceA >= 0:
                                    d_energy[c, ceA] += QA
                                if ceB >= 0:
                                    d_energy[c, ceB] += QB
                            # one update when both pairs share a column (one species pair)
                            cwA = cw
                            if cfA == cfB:
                                sgA += sgB
                                xjA += xjB
                                xkA += xkB
                                cwA = 2.0 * cw
                                cfB = -1
                            for h in range(2):
                                cf = cfA if h == 0 else cfB
                                if cf < 0:
                                    continue
                                sg = sgA if h == 0 else sgB
                                xj = xjA if h == 0 else xjB
                                xk = xkA if h == 0 else xkB
                                cwh = cwA if h == 0 else cw
                                gJ[s, 0, cf] += sg * Gjx + xj * dxj + cwh * cjx
                                gJ[s, 1, cf] += sg * Gjy + xj * dyj + cwh * cjy
                                gJ[s, 2, cf] += sg * Gjz + xj * dzj + cwh * cjz
                                gJ[t3, 0, cf] += sg * Gkx + xk * dxk + cwh * ckx
                                gJ[t3, 1, cf] += sg * Gky + xk * dyk + cwh * cky
                                gJ[t3, 2, cf] += sg * Gkz + xk * dzk + cwh * ckz
                # scatter the per-bond gradients
                if fjac:
                    for a in range(3):
                        for col in range(K):
                            tot = 0.0
                            for s in range(n):
                                tot += gJ[s, a, col]
                            dFl[i - off, a, col] += tot
                for s in range(n):
                    j = nb[s]
                    gx = gN[s, 0]
                    gy = gN[s, 1]
                    gz = gN[s, 2]
                    if want_forces:
                        forces[i, 0] += gx
                        forces[i, 1] += gy
                        forces[i, 2] += gz
                        forces[j, 0] -= gx
                        forces[j, 1] -= gy
                        forces[j, 2] -= gz
                    if do_s:
                        vir[0] += gx * dd[s, 0]
                        vir[1] += gy * dd[s, 1]
                        vir[2] += gz * dd[s, 2]
                        vir[3] += gy * dd[s, 2]
                        vir[4] += gx * dd[s, 2]
                        vir[5] += gx * dd[s, 1]
                    if not jacf:
                        continue
                    if want_forces:
                        for a in range(3):
                            for col in range(K):
                                dFl[j - off, a, col] -= gJ[s, a, col]
                    if do_s:
                        for col in range(K):
                            gx = gJ[s, 0, col]
                            gy = gJ[s, 1, col]
                            gz = gJ[s, 2, col]
                            dvir[0, col] += gx * dd[s, 0]
                            dvir[1, col] += gy * dd[s, 1]
                            dvir[2, col] += gz * dd[s, 2]
                            dvir[3, col] += gy * dd[s, 2]
                            dvir[4, col] += gx * dd[s, 2]
                            dvir[5, col] += gx * dd[s, 1]
            energy[c] = e
            if grad:
                de = ew[c] * (e - eref[c])
                for col in range(K):
                    gcfg[c, col] = de * d_energy[c, col]
                if fjac and fw.shape[0] > 0:
                    for a in range(nat):
                        for x in range(3):
                            wv = fw[off + a, x] * (forces[off + a, x] - fref[off + a, x])
                            for col in range(K):
                                gcfg[c, col] += wv * dFl[a, x, col]
            elif fjac:
                d_forces[off:off + nat, :, :] = dFl[:nat, :, :]
            if want_stress:
                vol = volumes[c]
                for a in range(6):
                    stress[c, a] = vir[a] / vol if do_s else np.nan
                    if jacf:
                        for col in range(K):
                            d_stress[c, a, col] = dvir[a, col] / vol if do_s else np.nan
