"""Stillinger-Weber potential, multi-species, in the parameterization of the OpenKIM
driver SW__MD_335816936951_004.

Per unordered species pair (KIM order (0,0), (0,1), ..., see ``spec.species_pairs``) the
parameters are, in the driver's published order::

    A, B, p, q, sigma, gamma, cutoff, lambda, costheta0

Energy::

    E = 1/2 sum_i sum_j phi2_ij(r_ij) + sum_i sum_{j<k} phi3_ijk
    phi2 = A (B (r/sigma)^-p - (r/sigma)^-q) exp(sigma / (r - cutoff))
    phi3 = sqrt(|lambda_ij| |lambda_ik|) exp(gamma_ij/(r_ij - cutoff_ij)
                                            + gamma_ik/(r_ik - cutoff_ik))
           (cos theta_jik - costheta0)^2

with each leg inside its own pair cutoff, as in the driver.  The driver takes
``costheta0`` of the (i, j) pair, where j is whichever neighbour comes first in its
neighbour list; that is only well defined when costheta0 is equal for all pairs of a
centre (the driver's documented assumption, true of every published parameter set).  Here
the mean of costheta0_ij and costheta0_ik is used, which is identical in that case and
keeps the energy invariant under atom permutations otherwise.

The Jacobian with respect to every parameter component is analytic: each two- and
three-body term carries the derivatives of its value and of its gradient with respect to
its own (local) parameters, scattered into the flat parameter columns.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..errors import EngineError, ParameterError
from .spec import EngineResult, ParamSpec, PotentialSpec, pair_index_table

PARAM_NAMES = ("A", "B", "p", "q", "sigma", "gamma", "cutoff", "lambda", "costheta0")
_IA, _IB, _IP, _IQ, _ISIG, _IGAM, _ICUT, _ILAM, _ICOS = range(9)

# SW_StillingerWeber_1985_Si__MO_405512056662_005 (Stillinger & Weber 1985, Si), the
# values that model publishes through kim-api; used for every species pair by default.
SI_1985 = {
    "A": 15.2848479197914,
    "B": 0.6022245584,
    "p": 4.0,
    "q": 0.0,
    "sigma": 2.0951,
    "gamma": 2.51412,
    "cutoff": 3.77118,
    "lambda": 45.5322,
    "costheta0": -1.0 / 3.0,
}


def _npairs(species) -> int:
    n = len(species)
    return n * (n + 1) // 2


def _default(name):
    def default(species):
        return np.full(_npairs(species), SI_1985[name])
    return default


_DESCRIPTIONS = {
    "A": "energy scale of the two-body term (A*epsilon of the original SW form)",
    "B": "weight of the repulsive r^-p part of the two-body term",
    "p": "exponent of the repulsive two-body part",
    "q": "exponent of the attractive two-body part",
    "sigma": "length scale of the two-body term",
    "gamma": "length scale of the three-body exponential of each leg",
    "cutoff": "cutoff distance of the pair (both two- and three-body terms)",
    "lambda": "three-body strength; a triplet uses sqrt(|lambda_ij| |lambda_ik|)",
    "costheta0": "cosine of the preferred bond angle",
}
_UNITS = {"A": "eV", "sigma": "Angstrom", "gamma": "Angstrom", "cutoff": "Angstrom",
          "lambda": "eV"}


# --------------------------------------------------------------------------- kernels

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


@njit(cache=True, nogil=True)
def _two_body(r, A, B, p, q, sig, rc, want_jac, dphi, dphir):
    """phi2 and dphi2/dr; with ``want_jac`` fill the derivatives of both with respect to
    (A, B, p, q, sigma, cutoff) into ``dphi``/``dphir``."""
    s = r / sig
    sp = _inv_pow(s, p)
    sq = _inv_pow(s, q)
    u = r - rc
    E = np.exp(sig / u)
    su2 = sig / (u * u)
    P = B * sp - sq
    Pr = (-p * B * sp + q * sq) / r
    G = Pr - P * su2
    phi = A * P * E
    phir = A * E * G
    if want_jac:
        L = np.log(s)
        dphi[0] = P * E
        dphir[0] = E * G
        # (P_t, Pr_t, e_t = dlnE/dt, w_t = d(sig/u^2)/dt) for B, p, q, sigma, cutoff
        for t in range(1, 6):
            if t == 1:
                Pt = sp
                Prt = -p * sp / r
                et = 0.0
                wt = 0.0
            elif t == 2:
                Pt = -B * sp * L
                Prt = B * sp * (p * L - 1.0) / r
                et = 0.0
                wt = 0.0
            elif t == 3:
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
            dphi[t] = A * E * (Pt + P * et)
            dphir[t] = A * E * (et * G + Gt)
    return phi, phir


@njit(cache=True, nogil=True, inline="always")
def _jac3(gJ, d_energy, c, col, s, k, Qt, sj, sk, xj, xk, cw, Gjx, Gjy, Gjz, Gkx, Gky, Gkz,
          dxj, dyj, dzj, dxk, dyk, dzk, cjx, cjy, cjz, ckx, cky, ckz):
    """Add one parameter column of a three-body term: energy derivative ``Qt`` and the
    gradients with respect to d_ij (slot s) and d_ik (slot k)."""
    d_energy[c, col] += Qt
    gJ[s, col, 0] += sj * Gjx + xj * dxj + cw * cjx
    gJ[s, col, 1] += sj * Gjy + xj * dyj + cw * cjy
    gJ[s, col, 2] += sj * Gjz + xj * dzj + cw * cjz
    gJ[k, col, 0] += sk * Gkx + xk * dxk + cw * ckx
    gJ[k, col, 1] += sk * Gky + xk * dyk + cw * cky
    gJ[k, col, 2] += sk * Gkz + xk * dzk + cw * ckz


@njit(cache=True, nogil=True, parallel=True)
def sw_kernel(chunks, config_offsets, species, pair_offsets, pair_j, pair_d, stress_ok,
              volumes, ptab, prm, maxnb, want_forces, want_stress, want_jac, active,
              energy, forces, stress, d_energy, d_forces, d_stress):
    """Evaluate SW on a packed batch.

    ``prm`` is (9, npairs) in PARAM_NAMES order; flat column of parameter t, pair k is
    ``t * npairs + k``.  Jacobian arrays may be empty when ``want_jac`` is False.
    ``chunks`` are configuration ranges, one per task; ``maxnb`` bounds the neighbour
    count of any atom.  Forces and stress Jacobians are filled for the flat columns in
    ``active`` only (the energy Jacobian for all).

    For each centre i the gradient of its terms with respect to every bond vector d_ij is
    gathered per neighbour slot first, then scattered once into forces (F_i += g,
    F_j -= g) and the virial (g (x) d_ij); the Jacobian does the same per column.
    """
    npairs = prm.shape[1]
    ncol = 9 * npairs
    for ch in prange(chunks.shape[0] - 1):
        dphi = np.empty(6)
        dphir = np.empty(6)
        cols2 = np.empty(6, np.int64)
        vir = np.zeros(6)
        nb = np.empty(maxnb, np.int64)
        kp = np.empty(maxnb, np.int64)
        dd = np.empty((maxnb, 3))
        rr = np.empty(maxnb)
        uu = np.empty(maxnb)
        ee = np.empty(maxnb)
        aa = np.empty(maxnb)
        gN = np.empty((maxnb, 3))
        if want_jac:
            gJ = np.zeros((maxnb, ncol, 3))
            dvir = np.zeros((6, ncol))
        else:
            gJ = np.zeros((1, 1, 3))
            dvir = np.zeros((6, 1))
        for c in range(chunks[ch], chunks[ch + 1]):
            vir[:] = 0.0
            if want_jac:
                dvir[:, :] = 0.0
            do_s = want_stress and stress_ok[c]
            e = 0.0
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
                    uu[n] = u
                    ee[n] = np.exp(g / u)
                    aa[n] = -g / (u * u)
                    n += 1
                gN[:n, :] = 0.0
                if want_jac:
                    gJ[:n, :, :] = 0.0
                # two-body, half weight per ordered pair
                for s in range(n):
                    kij = kp[s]
                    r = rr[s]
                    phi, phir = _two_body(r, prm[_IA, kij], prm[_IB, kij], prm[_IP, kij],
                                          prm[_IQ, kij], prm[_ISIG, kij], prm[_ICUT, kij],
                                          want_jac, dphi, dphir)
                    e += 0.5 * phi
                    g = 0.5 * phir / r
                    gN[s, 0] += g * dd[s, 0]
                    gN[s, 1] += g * dd[s, 1]
                    gN[s, 2] += g * dd[s, 2]
                    if want_jac:
                        cols2[0] = _IA * npairs + kij
                        cols2[1] = _IB * npairs + kij
                        cols2[2] = _IP * npairs + kij
                        cols2[3] = _IQ * npairs + kij
                        cols2[4] = _ISIG * npairs + kij
                        cols2[5] = _ICUT * npairs + kij
                        for t in range(6):
                            col = cols2[t]
                            d_energy[c, col] += 0.5 * dphi[t]
                            gt = 0.5 * dphir[t] / r
                            gJ[s, col, 0] += gt * dd[s, 0]
                            gJ[s, col, 1] += gt * dd[s, 1]
                            gJ[s, col, 2] += gt * dd[s, 2]
                # three-body, j before k in i's list
                for s in range(n):
                    kij = kp[s]
                    lij = prm[_ILAM, kij]
                    rij = rr[s]
                    uij = uu[s]
                    aij = aa[s]
                    dxj = dd[s, 0]
                    dyj = dd[s, 1]
                    dzj = dd[s, 2]
                    for t3 in range(s + 1, n):
                        kik = kp[t3]
                        lik = prm[_ILAM, kik]
                        lam = np.sqrt(abs(lij) * abs(lik))
                        c0 = 0.5 * (prm[_ICOS, kij] + prm[_ICOS, kik])
                        rik = rr[t3]
                        uik = uu[t3]
                        aik = aa[t3]
                        dxk = dd[t3, 0]
                        dyk = dd[t3, 1]
                        dzk = dd[t3, 2]
                        X = ee[s] * ee[t3]
                        inv = 1.0 / (rij * rik)
                        cs = (dxj * dxk + dyj * dyk + dzj * dzk) * inv
                        D = cs - c0
                        XDD = X * D * D
                        e += lam * XDD
                        # gradients of cos with respect to d_ij and d_ik
                        fj = cs / (rij * rij)
                        fk = cs / (rik * rik)
                        cjx = dxk * inv - fj * dxj
                        cjy = dyk * inv - fj * dyj
                        cjz = dzk * inv - fj * dzj
                        ckx = dxj * inv - fk * dxk
                        cky = dyj * inv - fk * dyk
                        ckz = dzj * inv - fk * dzk
                        # grad Q = X (D^2 a d/r + 2 D grad cos)
                        hj = XDD * aij / rij
                        hk = XDD * aik / rik
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
                        if not want_jac:
                            continue
                        # 8 local parameters: lambda_ij, lambda_ik, gamma_ij, gamma_ik,
                        # cutoff_ij, cutoff_ik, costheta0_ij, costheta0_ik.  The gradient
                        # of each is sj*G_j + xj*d_ij + cw*grad_j cos (likewise for k).
                        fj_ = 0.5 * lam / lij if lij != 0.0 else 0.0
                        _jac3(gJ, d_energy, c, _ILAM * npairs + kij, s, t3, fj_ * XDD,
                              fj_, fj_, 0.0, 0.0, 0.0, Gjx, Gjy, Gjz, Gkx, Gky, Gkz,
                              dxj, dyj, dzj, dxk, dyk, dzk, cjx, cjy, cjz, ckx, cky, ckz)
                        fk_ = 0.5 * lam / lik if lik != 0.0 else 0.0
                        _jac3(gJ, d_energy, c, _ILAM * npairs + kik, s, t3, fk_ * XDD,
                              fk_, fk_, 0.0, 0.0, 0.0, Gjx, Gjy, Gjz, Gkx, Gky, Gkz,
                              dxj, dyj, dzj, dxk, dyk, dzk, cjx, cjy, cjz, ckx, cky, ckz)
                        sg = lam / uij
                        _jac3(gJ, d_energy, c, _IGAM * npairs + kij, s, t3, sg * XDD,
                              sg, sg, -lam * XDD / (uij * uij * rij), 0.0, 0.0,
                              Gjx, Gjy, Gjz, Gkx, Gky, Gkz,
                              dxj, dyj, dzj, dxk, dyk, dzk, cjx, cjy, cjz, ckx, cky, ckz)
                        sg = lam / uik
                        _jac3(gJ, d_energy, c, _IGAM * npairs + kik, s, t3, sg * XDD,
                              sg, sg, 0.0, -lam * XDD / (uik * uik * rik), 0.0,
                              Gjx, Gjy, Gjz, Gkx, Gky, Gkz,
                              dxj, dyj, dzj, dxk, dyk, dzk, cjx, cjy, cjz, ckx, cky, ckz)
                        # d/dcutoff: w = gamma/u^2 = -a
                        sg = -lam * aij
                        _jac3(gJ, d_energy, c, _ICUT * npairs + kij, s, t3, sg * XDD,
                              sg, sg, 2.0 * lam * XDD * aij / (uij * rij), 0.0, 0.0,
                              Gjx, Gjy, Gjz, Gkx, Gky, Gkz,
                              dxj, dyj, dzj, dxk, dyk, dzk, cjx, cjy, cjz, ckx, cky, ckz)
                        sg = -lam * aik
                        _jac3(gJ, d_energy, c, _ICUT * npairs + kik, s, t3, sg * XDD,
                              sg, sg, 0.0, 2.0 * lam * XDD * aik / (uik * rik), 0.0,
                              Gjx, Gjy, Gjz, Gkx, Gky, Gkz,
                              dxj, dyj, dzj, dxk, dyk, dzk, cjx, cjy, cjz, ckx, cky, ckz)
                        # d/dcostheta0_ij = d/dcostheta0_ik: dD = -1/2 each
                        LX = lam * X
                        for kc in (kij, kik):
                            _jac3(gJ, d_energy, c, _ICOS * npairs + kc, s, t3, -LX * D,
                                  0.0, 0.0, -LX * D * aij / rij, -LX * D * aik / rik, -LX,
                                  Gjx, Gjy, Gjz, Gkx, Gky, Gkz,
                                  dxj, dyj, dzj, dxk, dyk, dzk, cjx, cjy, cjz, ckx, cky, ckz)
                # scatter the per-bond gradients
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
                    if want_jac:
                        for col in active:
                            gx = gJ[s, col, 0]
                            gy = gJ[s, col, 1]
                            gz = gJ[s, col, 2]
                            if want_forces:
                                d_forces[i, 0, col] += gx
                                d_forces[i, 1, col] += gy
                                d_forces[i, 2, col] += gz
                                d_forces[j, 0, col] -= gx
                                d_forces[j, 1, col] -= gy
                                d_forces[j, 2, col] -= gz
                            if do_s:
                                dvir[0, col] += gx * dd[s, 0]
                                dvir[1, col] += gy * dd[s, 1]
                                dvir[2, col] += gz * dd[s, 2]
                                dvir[3, col] += gy * dd[s, 2]
                                dvir[4, col] += gx * dd[s, 2]
                                dvir[5, col] += gx * dd[s, 1]
            energy[c] = e
            if want_stress:
                vol = volumes[c]
                for a in range(6):
                    stress[c, a] = vir[a] / vol if do_s else np.nan
                    if want_jac:
                        for col in active:
                            d_stress[c, a, col] = dvir[a, col] / vol if do_s else np.nan


# ------------------------------------------------------------------------ python side

def config_chunks(batch, ntasks: int | None = None) -> np.ndarray:
    """Configuration ranges of roughly equal pair counts, several per thread."""
    import numba

    nconf = len(batch.config_offsets) - 1
    if ntasks is None:
        ntasks = 8 * numba.get_num_threads()
    ntasks = max(1, min(ntasks, nconf))
    work = batch.pair_offsets[batch.config_offsets]  # cumulative pairs at config starts
    targets = np.linspace(0, work[-1], ntasks + 1)[1:-1]
    cuts = np.searchsorted(work, targets)
    return np.unique(np.concatenate(([0], cuts, [nconf]))).astype(np.int64)


def stress_mask(batch) -> np.ndarray:
    return np.all(np.asarray(batch.pbc, dtype=bool), axis=1)


def _chunks_for(batch):
    ch = getattr(batch, "_chunks", None)
    if ch is None:
        ch = config_chunks(batch)
        try:
            object.__setattr__(batch, "_chunks", ch)
        except Exception:
            pass
    return ch


def param_matrix(params: dict, nspecies: int) -> np.ndarray:
    npairs = nspecies * (nspecies + 1) // 2
    rows = []
    for name in PARAM_NAMES:
        if name not in params:
            raise ParameterError(f"Stillinger-Weber parameter {name!r} is missing")
        v = np.atleast_1d(np.asarray(params[name], dtype=float))
        if v.shape != (npairs,):
            raise ParameterError(
                f"Stillinger-Weber parameter {name!r} has {v.size} value(s); expected "
                f"{npairs} (one per unordered species pair for {nspecies} species)")
        rows.append(v)
    prm = np.ascontiguousarray(np.vstack(rows))
    if np.any(prm[_ISIG] <= 0) or np.any(prm[_ICUT] <= 0):
        raise ParameterError("Stillinger-Weber sigma and cutoff must be positive, got "
                             f"sigma={prm[_ISIG]}, cutoff={prm[_ICUT]}")
    return prm


def influence_distance(params: dict) -> float:
    return float(np.max(np.asarray(params["cutoff"], dtype=float)))


def compute(batch, params, forces=True, stress=False, jacobian=False,
            columns=None) -> EngineResult:
    """Energies, forces, stress and (optionally) the parameter Jacobian.

    ``columns`` (flat parameter indices) restricts the force and stress Jacobian columns
    that are filled; the others are returned as zeros.  The energy Jacobian is always full.
    """
    nspecies = len(batch.species_names)
    prm = param_matrix(params, nspecies)
    rc = float(prm[_ICUT].max())
    if batch.cutoff < rc - 1e-12:
        raise EngineError(f"packed batch cutoff {batch.cutoff} is smaller than the "
                          f"Stillinger-Weber cutoff {rc}; repack with a larger cutoff")
    ptab = pair_index_table(nspecies)
    C = len(batch.config_offsets) - 1
    N = len(batch.species)
    P = prm.size
    energy = np.zeros(C)
    f = np.zeros((N, 3)) if forces else np.zeros((0, 3))
    s = np.zeros((C, 6)) if stress else np.zeros((0, 6))
    if jacobian:
        dE = np.zeros((C, P))
        dF = np.zeros((N, 3, P)) if forces else np.zeros((0, 3, P))
        dS = np.zeros((C, 6, P)) if stress else np.zeros((0, 6, P))
    else:
        dE = np.zeros((0, P))
        dF = np.zeros((0, 3, P))
        dS = np.zeros((0, 6, P))
    if columns is None:
        active = np.arange(P, dtype=np.int64)
    else:
        active = np.unique(np.asarray(columns, dtype=np.int64).reshape(-1))
        if active.size and (active[0] < 0 or active[-1] >= P):
            raise ParameterError(f"Jacobian columns {active.tolist()} are outside the {P} "
                                 f"flat Stillinger-Weber parameters")
    maxnb = int(np.max(np.diff(batch.pair_offsets))) if len(batch.pair_j) else 1
    sw_kernel(_chunks_for(batch), batch.config_offsets, batch.species, batch.pair_offsets,
              batch.pair_j, batch.pair_d, stress_mask(batch), batch.volumes, ptab, prm,
              max(maxnb, 1), forces, stress, jacobian, active, energy, f, s, dE, dF, dS)
    return EngineResult(
        energy=energy,
        forces=f if forces else None,
        stress=s if stress else None,
        d_energy=dE if jacobian else None,
        d_forces=dF if (jacobian and forces) else None,
        d_stress=dS if (jacobian and stress) else None,
    )


SPEC = PotentialSpec(
    name="SW",
    params=tuple(
        ParamSpec(name=n, description=_DESCRIPTIONS[n], default=_default(n),
                  unit=_UNITS.get(n, ""), lower=(0.0 if n in ("sigma", "cutoff") else None),
                  is_cutoff=(n == "cutoff"))
        for n in PARAM_NAMES),
    compute=compute,
    influence_distance=influence_distance,
    supported_species=(),
    kim_driver="SW__MD_335816936951_004",
    description="Stillinger-Weber three-body potential (multi-species, KIM SW driver form)",
)
