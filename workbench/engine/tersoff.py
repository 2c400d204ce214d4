"""Tersoff potential in the parameterization of the OpenKIM driver
Tersoff_LAMMPS__MD_077075034781_004 (the LAMMPS ``pair_style tersoff`` form).

Parameters, in the driver's published order and names, for S species::

    A, B, lambda1, lambda2, beta, n            per ordered pair (i, j):      S*S values
    lambda3, m, gamma, c, d, h, Rc, Dc         per ordered triplet (i,j,k):  S**3 values

stored row-major by species code (pair index ``a*S + b``, triplet ``a*S*S + b*S + c``).
Energy::

    E = sum_i sum_{j != i} 1/2 [ fc(r_ij) A e^{-lambda1 r_ij}
                                 - b_ij fc(r_ij) B e^{-lambda2 r_ij} ]
    b_ij  = (1 + (beta zeta_ij)^n)^(-1/(2n))
    zeta_ij = sum_{k != i,j} fc_ijk(r_ik) g_ijk(cos theta_ijk) exp((lambda3 (r_ij - r_ik))^m)
    g = gamma (1 + c^2/d^2 - c^2 / (d^2 + (h - cos theta)^2))
    fc(r; Rc, Dc) = 1/2 - 1/2 sin(pi/2 (r - Rc)/Dc) on [Rc - Dc, Rc + Dc]

The pair terms use Rc, Dc of the triplet (i, j, j), the zeta terms those of (i, j, k), as
in the driver.  Two deviations without effect on published parameter sets: the repulsive
term is averaged over both orders of a pair (the driver takes it from the lower-indexed
atom; equal when A, lambda1 are symmetric), and b_ij is evaluated in closed form (the
driver switches to truncated series far out in its tails; they agree to ~1e-16).  ``m``
is an integer (1 or 3); its Jacobian column is zero.

The Jacobian is forward-mode: the kernel carries, next to every quantity, its derivative
along one direction in parameter space; ``compute`` runs it once per parameter column.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import EngineError, ParameterError
from .spec import EngineResult, ParamSpec, PotentialSpec
from .sw import _chunks_for, stress_mask
from .threads import parallel_ranges

PAIR_NAMES = ("A", "B", "lambda1", "lambda2", "beta", "n")
TRIPLET_NAMES = ("lambda3", "m", "gamma", "c", "d", "h", "Rc", "Dc")
PARAM_NAMES = PAIR_NAMES + TRIPLET_NAMES
_PI2 = np.pi / 2.0
_PI4 = np.pi / 4.0

# Tersoff_LAMMPS_ErhartAlbe_2005_SiC__MO_903987585848_004 (Erhart & Albe, PRB 71, 035211
# (2005)): the values that model publishes through kim-api, keyed by species.
_EA_PAIR = {
    "A": {"SiSi": 2145.7128, "SiC": 1779.36144, "CSi": 1779.36144, "CC": 2019.8449},
    "B": {"SiSi": 219.521624, "SiC": 225.189481, "CSi": 225.189481, "CC": 175.426651},
    "lambda1": {"SiSi": 2.83318929, "SiC": 3.26563307, "CSi": 3.26563307,
                "CC": 4.18426232},
    "lambda2": {"SiSi": 1.53810493, "SiC": 1.76807421, "CSi": 1.76807421,
                "CC": 1.93090093},
    "beta": {"SiSi": 1.0, "SiC": 1.0, "CSi": 1.0, "CC": 1.0},
    "n": {"SiSi": 1.0, "SiC": 1.0, "CSi": 1.0, "CC": 1.0},
}
_EA_ORDER = ("SiSiSi", "SiSiC", "SiCSi", "SiCC", "CSiSi", "CSiC", "CCSi", "CCC")
_EA_TRIPLET = {
    "lambda3": [0.0] * 8,
    "m": [1.0] * 8,
    "gamma": [0.114354, 0.011877, 0.114354, 0.011877, 0.011877, 0.11233, 0.011877, 0.11233],
    "c": [2.00494, 273987.0, 2.00494, 273987.0, 273987.0, 181.91, 273987.0, 181.91],
    "d": [0.81472, 180.314, 0.81472, 180.314, 180.314, 6.28433, 180.314, 6.28433],
    "h": [-0.259, -0.68, -0.259, -0.68, -0.68, -0.5556, -0.68, -0.5556],
    "Rc": [2.82, 2.4, 2.82, 2.4, 2.4, 2.0, 2.4, 2.0],
    "Dc": [0.14, 0.2, 0.14, 0.2, 0.2, 0.15, 0.2, 0.15],
}
SUPPORTED = ("Si", "C")


def _default(name):
    def default(species):
        species = tuple(species)
        bad = [s for s in species if s not in SUPPORTED]
        if bad:
            raise ParameterError(f"Tersoff has default parameters (Erhart-Albe SiC) only "
                                 f"for {SUPPORTED}; got species {bad}")
        if name in _EA_PAIR:
            return np.array([_EA_PAIR[name][a + b] for a in species for b in species])
        table = dict(zip(_EA_ORDER, _EA_TRIPLET[name]))
        return np.array([table[a + b + c] for a in species for b in species
                         for c in species])
    return default


_DESCRIPTIONS = {
    "A": "repulsive energy scale of pair (i, j)",
    "B": "attractive energy scale of pair (i, j)",
    "lambda1": "decay constant of the repulsive term",
    "lambda2": "decay constant of the attractive term",
    "beta": "bond-order scale",
    "n": "bond-order exponent",
    "lambda3": "decay constant of the zeta exponential of triplet (i, j, k)",
    "m": "integer exponent (1 or 3) of the zeta exponential; not differentiable",
    "gamma": "angular prefactor of triplet (i, j, k)",
    "c": "angular strength",
    "d": "angular width",
    "h": "cosine of the preferred angle (costheta0)",
    "Rc": "cutoff centre (pair terms use the (i, j, j) entry)",
    "Dc": "cutoff half-width",
}
_UNITS = {"A": "eV", "B": "eV", "lambda1": "1/Angstrom", "lambda2": "1/Angstrom",
          "lambda3": "1/Angstrom", "Rc": "Angstrom", "Dc": "Angstrom"}


# --------------------------------------------------------------------------- kernels

@njit(cache=True, nogil=True)
def _fc(r, R, D, Rt, Dt):
    """Cutoff function, its r-derivative and the tangents of both."""
    if r < R - D:
        return 1.0, 0.0, 0.0, 0.0
    if r > R + D:
        return 0.0, 0.0, 0.0, 0.0
    x = _PI2 * (r - R) / D
    xt = -_PI2 * (Rt / D + (r - R) * Dt / (D * D))
    sx = np.sin(x)
    cx = np.cos(x)
    fc = 0.5 * (1.0 - sx)
    fcr = -_PI4 / D * cx
    return fc, fcr, -0.5 * cx * xt, _PI4 * Dt / (D * D) * cx + _PI4 / D * sx * xt


@njit(cache=True, nogil=True)
def tersoff_kernel(ch0, ch1, chunks, config_offsets, species, pair_offsets, pair_j, pair_d, stress_ok,
                   volumes, p2, p3, t2, t3, maxnb, want_forces, want_stress,
                   energy, forces, stress, e_t, f_t, s_t):
    """Values (energy, forces, stress) and their tangents along the parameter direction
    (t2, t3).  ``p2`` is (6, S, S), ``p3`` (8, S, S, S) in PAIR_NAMES / TRIPLET_NAMES order.
    Evaluates chunks ``ch0 .. ch1-1`` of the configuration ranges ``chunks``.
    """
    for ch in range(ch0, ch1):
        nb = np.empty(maxnb, np.int64)
        dd = np.empty((maxnb, 3))
        rr = np.empty(maxnb)
        gN = np.empty((maxnb, 3))
        gT = np.empty((maxnb, 3))
        vir = np.zeros(6)
        vt = np.zeros(6)
        for c in range(chunks[ch], chunks[ch + 1]):
            vir[:] = 0.0
            vt[:] = 0.0
            do_s = want_stress and stress_ok[c]
            e = 0.0
            et = 0.0
            for i in range(config_offsets[c], config_offsets[c + 1]):
                ti = species[i]
                n = 0
                for pp in range(pair_offsets[i], pair_offsets[i + 1]):
                    dx = pair_d[pp, 0]
                    dy = pair_d[pp, 1]
                    dz = pair_d[pp, 2]
                    nb[n] = pair_j[pp]
                    dd[n, 0] = dx
                    dd[n, 1] = dy
                    dd[n, 2] = dz
                    rr[n] = np.sqrt(dx * dx + dy * dy + dz * dz)
                    n += 1
                gN[:n, :] = 0.0
                gT[:n, :] = 0.0
                for s in range(n):
                    tj = species[nb[s]]
                    R2 = p3[6, ti, tj, tj]
                    D2 = p3[7, ti, tj, tj]
                    rij = rr[s]
                    if rij > R2 + D2:
                        continue
                    fc, fcr, fct, fcrt = _fc(rij, R2, D2, t3[6, ti, tj, tj],
                                             t3[7, ti, tj, tj])
                    A = p2[0, ti, tj]
                    At = t2[0, ti, tj]
                    B = p2[1, ti, tj]
                    Bt = t2[1, ti, tj]
                    l1 = p2[2, ti, tj]
                    l1t = t2[2, ti, tj]
                    l2 = p2[3, ti, tj]
                    l2t = t2[3, ti, tj]
                    beta = p2[4, ti, tj]
                    betat = t2[4, ti, tj]
                    nn = p2[5, ti, tj]
                    nnt = t2[5, ti, tj]
                    # repulsive, half per ordered pair
                    e1 = np.exp(-l1 * rij)
                    V = A * e1 * fc
                    Vt = e1 * (At * fc - A * l1t * rij * fc + A * fct)
                    Vr = A * e1 * (fcr - l1 * fc)
                    Vrt = e1 * ((At - A * l1t * rij) * (fcr - l1 * fc)
                                + A * (fcrt - l1t * fc - l1 * fct))
                    # attractive pair function fa = -B e^{-l2 r} fc
                    e2 = np.exp(-l2 * rij)
                    fa = -B * e2 * fc
                    fat = -e2 * ((Bt - B * l2t * rij) * fc + B * fct)
                    far = -B * e2 * (fcr - l2 * fc)
                    fart = -e2 * ((Bt - B * l2t * rij) * (fcr - l2 * fc)
                                  + B * (fcrt - l2t * fc - l2 * fct))
                    # zeta and its tangent
                    z = 0.0
                    zt = 0.0
                    for k in range(n):
                        if k == s:
                            continue
                        tk = species[nb[k]]
                        R3 = p3[6, ti, tj, tk]
                        D3 = p3[7, ti, tj, tk]
                        rik = rr[k]
                        if rik > R3 + D3:
                            continue
                        zk, zkt, Sj, Sjt, Cj, Cjt, Sk, Skt, cs = _zeta_term(
                            p3, t3, ti, tj, tk, rij, rik, dd, s, k)
                        z += zk
                        zt += zkt
                    # bond order b(zeta) and its zeta-derivative, with tangents
                    x = beta * z
                    if x > 0.0:
                        xt = betat * z + beta * zt
                        lx = np.log(x)
                        y = np.exp(nn * lx)
                        w = np.exp((nn - 1.0) * lx)
                        yt = y * (nnt * lx + nn * xt / x)
                        wt = w * (nnt * lx + (nn - 1.0) * xt / x)
                        L = np.log1p(y)
                        b = np.exp(-L / (2.0 * nn))
                        bt = b * (-(yt / (1.0 + y)) / (2.0 * nn) + L * nnt / (2.0 * nn * nn))
                        q = 1.0 / (1.0 + y)
                        bp = -0.5 * b * beta * w * q
                        bpt = -0.5 * q * (bt * beta * w + b * betat * w + b * beta * wt
                                          - b * beta * w * yt * q)
                    else:
                        b = 1.0
                        bt = 0.0
                        bp = 0.0
                        bpt = 0.0
                    e += 0.5 * V + 0.5 * b * fa
                    et += 0.5 * Vt + 0.5 * (bt * fa + b * fat)
                    g = (0.5 * Vr + 0.5 * b * far) / rij
                    gt = (0.5 * Vrt + 0.5 * (bt * far + b * fart)) / rij
                    for a in range(3):
                        gN[s, a] += g * dd[s, a]
                        gT[s, a] += gt * dd[s, a]
                    P = 0.5 * fa * bp
                    Pt = 0.5 * (fat * bp + fa * bpt)
                    if P == 0.0 and Pt == 0.0:
                        continue
                    for k in range(n):
                        if k == s:
                            continue
                        tk = species[nb[k]]
                        R3 = p3[6, ti, tj, tk]
                        D3 = p3[7, ti, tj, tk]
                        rik = rr[k]
                        if rik > R3 + D3:
                            continue
                        zk, zkt, Sj, Sjt, Cj, Cjt, Sk, Skt, cs = _zeta_term(
                            p3, t3, ti, tj, tk, rij, rik, dd, s, k)
                        inv = 1.0 / (rij * rik)
                        for a in range(3):
                            cj = dd[k, a] * inv - cs * dd[s, a] / (rij * rij)
                            ck = dd[s, a] * inv - cs * dd[k, a] / (rik * rik)
                            gzj = Sj * dd[s, a] / rij + Cj * cj
                            gzk = Sk * dd[k, a] / rik + Cj * ck
                            gzjt = Sjt * dd[s, a] / rij + Cjt * cj
                            gzkt = Skt * dd[k, a] / rik + Cjt * ck
                            gN[s, a] += P * gzj
                            gN[k, a] += P * gzk
                            gT[s, a] += Pt * gzj + P * gzjt
                            gT[k, a] += Pt * gzk + P * gzkt
                for s in range(n):
                    j = nb[s]
                    if want_forces:
                        for a in range(3):
                            forces[i, a] += gN[s, a]
                            forces[j, a] -= gN[s, a]
                            f_t[i, a] += gT[s, a]
                            f_t[j, a] -= gT[s, a]
                    if do_s:
                        _virial(vir, gN, dd, s)
                        _virial(vt, gT, dd, s)
            energy[c] = e
            e_t[c] = et
            if want_stress:
                vol = volumes[c]
                for a in range(6):
                    stress[c, a] = vir[a] / vol if do_s else np.nan
                    s_t[c, a] = vt[a] / vol if do_s else np.nan


@njit(cache=True, nogil=True)
def _virial(v, g, dd, s):
    v[0] += g[s, 0] * dd[s, 0]
    v[1] += g[s, 1] * dd[s, 1]
    v[2] += g[s, 2] * dd[s, 2]
    v[3] += g[s, 1] * dd[s, 2]
    v[4] += g[s, 0] * dd[s, 2]
    v[5] += g[s, 0] * dd[s, 1]


@njit(cache=True, nogil=True)
def _zeta_term(p3, t3, ti, tj, tk, rij, rik, dd, s, k):
    """One zeta_ijk term z = fc g ex and the scalar pieces of its gradient:
    grad_{d_ij} z = Sj d_ij/r_ij + Cj grad cos,  grad_{d_ik} z = Sk d_ik/r_ik + Cj grad cos,
    each with its tangent."""
    lam3 = p3[0, ti, tj, tk]
    l3t = t3[0, ti, tj, tk]
    m = p3[1, ti, tj, tk]
    gam = p3[2, ti, tj, tk]
    gamt = t3[2, ti, tj, tk]
    cc = p3[3, ti, tj, tk]
    cct = t3[3, ti, tj, tk]
    dp = p3[4, ti, tj, tk]
    dpt = t3[4, ti, tj, tk]
    h = p3[5, ti, tj, tk]
    ht = t3[5, ti, tj, tk]
    fk, fkr, fkt, fkrt = _fc(rik, p3[6, ti, tj, tk], p3[7, ti, tj, tk],
                             t3[6, ti, tj, tk], t3[7, ti, tj, tk])
    cs = (dd[s, 0] * dd[k, 0] + dd[s, 1] * dd[k, 1] + dd[s, 2] * dd[k, 2]) / (rij * rik)
    # angular function
    c2 = cc * cc
    d2 = dp * dp
    c2t = 2.0 * cc * cct
    d2t = 2.0 * dp * dpt
    hc = h - cs
    den = d2 + hc * hc
    dent = d2t + 2.0 * hc * ht
    inner = 1.0 + c2 / d2 - c2 / den
    innert = c2t / d2 - c2 * d2t / (d2 * d2) - c2t / den + c2 * dent / (den * den)
    g = gam * inner
    gt = gamt * inner + gam * innert
    gp = -2.0 * gam * c2 * hc / (den * den)
    gpt = (-2.0 * (gamt * c2 * hc + gam * c2t * hc + gam * c2 * ht) / (den * den)
           + 4.0 * gam * c2 * hc * dent / (den * den * den))
    # exponential of (lambda3 (r_ij - r_ik))^m
    delta = rij - rik
    if m == 3.0:
        arg = (lam3 * delta) ** 3
        ar = 3.0 * lam3 ** 3 * delta * delta
        argt = 3.0 * (lam3 * delta) ** 2 * delta * l3t
        art = 9.0 * lam3 * lam3 * delta * delta * l3t
    else:
        arg = lam3 * delta
        ar = lam3
        argt = l3t * delta
        art = l3t
    if arg > 69.0776:
        ex = 1.0e30
        ext = 0.0
    elif arg < -69.0776:
        ex = 0.0
        ext = 0.0
    else:
        ex = np.exp(arg)
        ext = ex * argt
    z = fk * g * ex
    zt = fkt * g * ex + fk * gt * ex + fk * g * ext
    Sj = z * ar
    Sjt = zt * ar + z * art
    Cj = fk * ex * gp
    Cjt = fkt * ex * gp + fk * ext * gp + fk * ex * gpt
    u = fkr - fk * ar
    ut = fkrt - fkt * ar - fk * art
    Sk = ex * g * u
    Skt = (ext * g + ex * gt) * u + ex * g * ut
    return z, zt, Sj, Sjt, Cj, Cjt, Sk, Skt, cs


# ------------------------------------------------------------------------ python side

def param_arrays(params: dict, nspecies: int):
    S = nspecies
    p2 = np.empty((6, S, S))
    p3 = np.empty((8, S, S, S))
    for t, name in enumerate(PARAM_NAMES):
        if name not in params:
            raise ParameterError(f"Tersoff parameter {name!r} is missing")
        v = np.atleast_1d(np.asarray(params[name], dtype=float))
        size = S * S if t < 6 else S ** 3
        if v.shape != (size,):
            kind = "ordered species pair" if t < 6 else "ordered species triplet"
            raise ParameterError(f"Tersoff parameter {name!r} has {v.size} value(s); "
                                 f"expected {size} (one per {kind} for {S} species)")
        if t < 6:
            p2[t] = v.reshape(S, S)
        else:
            p3[t - 6] = v.reshape(S, S, S)
    if not np.all(np.isin(p3[1], (1.0, 3.0))):
        raise ParameterError(f"Tersoff parameter 'm' must be 1 or 3, got {p3[1].ravel()}")
    if np.any(p3[7] <= 0) or np.any(p3[7] > p3[6]):
        raise ParameterError("Tersoff parameters need 0 < Dc <= Rc, got Rc="
                             f"{p3[6].ravel()}, Dc={p3[7].ravel()}")
    if np.any(p3[4] == 0) or np.any(p2[5] <= 0):
        raise ParameterError("Tersoff parameters d and n must be nonzero (n > 0)")
    return p2, p3


def influence_distance(params: dict) -> float:
    return float(np.max(np.asarray(params["Rc"], float) + np.asarray(params["Dc"], float)))


def compute(batch, params, forces=True, stress=False, jacobian=False,
            columns=None) -> EngineResult:
    """Energies, forces, stress and (optionally) the parameter Jacobian.

    ``columns`` restricts the Jacobian to those flat-parameter components (others are
    zero); the ``m`` columns are always zero.
    """
    S = len(batch.species_names)
    p2, p3 = param_arrays(params, S)
    rc = float((p3[6] + p3[7]).max())
    if batch.cutoff < rc - 1e-12:
        raise EngineError(f"packed batch cutoff {batch.cutoff} is smaller than the Tersoff "
                          f"cutoff max(Rc + Dc) = {rc}; repack with a larger cutoff")
    C = len(batch.config_offsets) - 1
    N = len(batch.species)
    n2 = 6 * S * S
    P = n2 + 8 * S ** 3
    chunks = _chunks_for(batch)
    okmask = stress_mask(batch)
    maxnb = max(int(np.max(np.diff(batch.pair_offsets))) if len(batch.pair_j) else 1, 1)

    def run(t2, t3):
        out = (np.zeros(C), np.zeros((N, 3)), np.zeros((C, 6)),
               np.zeros(C), np.zeros((N, 3)), np.zeros((C, 6)))
        parallel_ranges(lambda ch0, ch1: tersoff_kernel(
            ch0, ch1, chunks, batch.config_offsets, batch.species, batch.pair_offsets,
            batch.pair_j, batch.pair_d, okmask, batch.volumes, p2, p3, t2, t3, maxnb,
            forces, stress, *out), range(len(chunks)))
        return out

    z2 = np.zeros_like(p2)
    z3 = np.zeros_like(p3)
    energy, f, s, _, _, _ = run(z2, z3)
    res = EngineResult(energy=energy, forces=f if forces else None,
                       stress=s if stress else None)
    if jacobian:
        dE = np.zeros((C, P))
        dF = np.zeros((N, 3, P)) if forces else None
        dS = np.zeros((C, 6, P)) if stress else None
        cols = range(P) if columns is None else columns
        for col in cols:
            col = int(col)
            if n2 + S ** 3 <= col < n2 + 2 * S ** 3:  # m
                continue
            t2 = np.zeros_like(p2)
            t3 = np.zeros_like(p3)
            if col < n2:
                t2.reshape(-1)[col] = 1.0
            else:
                t3.reshape(-1)[col - n2] = 1.0
            _, _, _, et, ft, st = run(t2, t3)
            dE[:, col] = et
            if forces:
                dF[:, :, col] = ft
            if stress:
                dS[:, :, col] = st
        if stress:
            dS[~okmask] = np.nan
        res.d_energy, res.d_forces, res.d_stress = dE, dF, dS
    return res


SPEC = PotentialSpec(
    name="Tersoff",
    params=tuple(
        ParamSpec(name=nm, description=_DESCRIPTIONS[nm], default=_default(nm),
                  unit=_UNITS.get(nm, ""),
                  lower=(0.0 if nm in ("A", "B", "lambda1", "lambda2", "beta", "n", "gamma",
                                       "c", "d", "Rc", "Dc") else None),
                  is_cutoff=nm in ("Rc", "Dc"))
        for nm in PARAM_NAMES),
    compute=compute,
    influence_distance=influence_distance,
    supported_species=SUPPORTED,
    kim_driver="Tersoff_LAMMPS__MD_077075034781_004",
    description="Tersoff bond-order potential (LAMMPS / KIM Tersoff_LAMMPS driver form)",
)
