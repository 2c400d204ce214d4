"""Numba kernels of the spline EAM potential (see ``workbench.engine.eam``).

Every function is a cubic spline stored as knot positions ``kx``, knot values ``ky`` and
second derivatives ``km`` (flat arrays; function f owns ``lo[f] .. lo[f] + n[f]``).  On the
interval [x_i, x_i+1] with h = x_i+1 - x_i, A = (x_i+1 - t)/h, B = 1 - A::

    f   = A y_i + B y_i+1 + ((A^3 - A) m_i + (B^3 - B) m_i+1) h^2/6
    f'  = (y_i+1 - y_i)/h - (3A^2 - 1) h/6 m_i + (3B^2 - 1) h/6 m_i+1
    f'' = A m_i + B m_i+1

so value and slope are linear in the four *raw* unknowns (y_i, y_i+1, m_i, m_i+1).  The
kernels accumulate Jacobians with respect to these raw unknowns (column g for the value
of flat knot g, column G + g for its second derivative); the Python side maps them to the
knot values through m = S y (``eam.py``).  Outside the knots a spline continues linearly
(the natural end condition makes that C2); radial functions are zero at and beyond their
last knot and beyond the cutoff.

The helpers are ordinary (not ``inline="always"``) numba functions: LLVM still inlines
them, and the cold compile takes ~7 s CPU instead of ~17 s.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _interval(kx, lo, n, t):
    """Index i (absolute) of the interval holding t; -1 left of the knots, -2 right."""
    if t < kx[lo]:
        return -1
    if t >= kx[lo + n - 1]:
        return -2
    a = lo
    b = lo + n - 1
    while b - a > 1:
        mid = (a + b) // 2
        if kx[mid] <= t:
            a = mid
        else:
            b = mid
    return a


@njit(cache=True, nogil=True)
def _coefs(kx, lo, n, t, radial):
    """(i, ok, c0..c3, d0..d3, e2, e3): value = c . (y_i, y_i+1, m_i, m_i+1), slope = d .,
    second derivative = e2 m_i + e3 m_i+1.  ``ok`` False: the function is zero here
    (a radial function at or beyond its last knot)."""
    i = _interval(kx, lo, n, t)
    if i == -2:
        if radial:
            return lo, False, 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.
        # linear continuation beyond the last knot (slope there, natural end)
        i = lo + n - 2
        h = kx[i + 1] - kx[i]
        u = t - kx[i + 1]
        ih = 1.0 / h
        return (i, True, -u * ih, 1.0 + u * ih, u * h / 6.0, u * h / 3.0,
                -ih, ih, h / 6.0, h / 3.0, 0.0, 0.0)
    if i == -1:
        i = lo
        h = kx[i + 1] - kx[i]
        u = t - kx[i]
        ih = 1.0 / h
        return (i, True, 1.0 - u * ih, u * ih, -u * h / 3.0, -u * h / 6.0,
                -ih, ih, -h / 3.0, -h / 6.0, 0.0, 0.0)
    h = kx[i + 1] - kx[i]
    A = (kx[i + 1] - t) / h
    B = 1.0 - A
    h6 = h * h / 6.0
    return (i, True, A, B, (A * A * A - A) * h6, (B * B * B - B) * h6,
            -1.0 / h, 1.0 / h, -(3.0 * A * A - 1.0) * h / 6.0, (3.0 * B * B - 1.0) * h / 6.0,
            A, B)


@njit(cache=True, nogil=True)
def eam_kernel(config_offsets, species, pair_offsets, pair_j, pair_d, stress_ok, volumes,
               cutoff, kx, ky, km, flo, fn, fF, frho, fphi, G, rlo, nr, want_forces,
               want_stress, jac, energy, forces, stress, d_energy, d_forces, d_stress,
               ew, eref, fw, fref, gcfg):
    """Evaluate the EAM on a packed batch (configurations in turn).

    ``fF[a]``, ``frho[b]``, ``fphi[a, b]`` are the spline indices of F_a, rho_b and
    r*phi_ab.  Density knots are flat knots ``rlo .. rlo + nr`` (contiguous).  With ``jac``
    the raw Jacobians (``G`` = number of knots, 2G raw columns) go to ``d_energy`` (C, 2G),
    ``d_forces`` (N, 3, 2G) and ``d_stress`` (C, 6, 2G).  Gradient mode (``gcfg`` has C
    rows): row c receives the raw gradient of configuration c's share of
    1/2 ew (E - eref)^2 + 1/2 sum fw (F - fref)^2 (no force term when ``fw`` is empty),
    without any force Jacobian.
    """
    R = 2 * G
    grad = gcfg.shape[0] > 0
    rc2 = cutoff * cutoff
    nrr = 2 * nr
    maxat = 1
    for c in range(config_offsets.shape[0] - 1):
        maxat = max(maxat, config_offsets[c + 1] - config_offsets[c])
    rho = np.zeros(maxat)
    dF = np.zeros(maxat)
    d2F = np.zeros(maxat)
    fjac = jac and want_forces
    sjac = jac and want_stress
    drho = np.zeros((maxat if (jac or grad) else 1, nrr if jac else 1))
    dFl = np.zeros((maxat if fjac else 1, 3, R if fjac else 1))
    dvir = np.zeros((6, R if sjac else 1))
    dE = np.zeros(R if (jac or grad) else 1)
    vir = np.zeros(6)
    u = np.zeros((maxat if grad else 1, 3))
    for c in range(config_offsets.shape[0] - 1):
        off = config_offsets[c]
        nat = config_offsets[c + 1] - off
        do_s = want_stress and stress_ok[c]
        vir[:] = 0.0
        if jac or grad:
            dE[:] = 0.0
        if jac:
            drho[:nat, :] = 0.0
        if fjac:
            dFl[:nat, :, :] = 0.0
        if sjac:
            dvir[:, :] = 0.0
        e = 0.0
        # densities
        for i in range(off, off + nat):
            s = 0.0
            for p in range(pair_offsets[i], pair_offsets[i + 1]):
                dx = pair_d[p, 0]
                dy = pair_d[p, 1]
                dz = pair_d[p, 2]
                r2 = dx * dx + dy * dy + dz * dz
                if r2 >= rc2:
                    continue
                r = np.sqrt(r2)
                f = frho[species[pair_j[p]]]
                (k, ok, c0, c1, c2, c3, d0, d1, d2, d3, e2, e3) = _coefs(kx, flo[f], fn[f],
                                                                        r, True)
                if not ok:
                    continue
                s += c0 * ky[k] + c1 * ky[k + 1] + c2 * km[k] + c3 * km[k + 1]
                if jac:
                    q = k - rlo
                    drho[i - off, q] += c0
                    drho[i - off, q + 1] += c1
                    drho[i - off, nr + q] += c2
                    drho[i - off, nr + q + 1] += c3
            rho[i - off] = s
            f = fF[species[i]]
            (k, ok, c0, c1, c2, c3, d0, d1, d2, d3, e2, e3) = _coefs(kx, flo[f], fn[f], s,
                                                                    False)
            e += c0 * ky[k] + c1 * ky[k + 1] + c2 * km[k] + c3 * km[k + 1]
            dF[i - off] = d0 * ky[k] + d1 * ky[k + 1] + d2 * km[k] + d3 * km[k + 1]
            d2F[i - off] = e2 * km[k] + e3 * km[k + 1]
            if jac or grad:
                dE[k] += c0
                dE[k + 1] += c1
                dE[G + k] += c2
                dE[G + k + 1] += c3
            if jac:
                fi = dF[i - off]
                for q in range(nr):
                    dE[rlo + q] += fi * drho[i - off, q]
                    dE[G + rlo + q] += fi * drho[i - off, nr + q]
        # pair terms, embedding forces
        for i in range(off, off + nat):
            si = species[i]
            fi = dF[i - off]
            fI = fF[si]
            (kF, ok, c0, c1, c2, c3, dF0, dF1, dF2, dF3, e2, e3) = _coefs(
                kx, flo[fI], fn[fI], rho[i - off], False)
            for p in range(pair_offsets[i], pair_offsets[i + 1]):
                dx = pair_d[p, 0]
                dy = pair_d[p, 1]
                dz = pair_d[p, 2]
                r2 = dx * dx + dy * dy + dz * dz
                if r2 >= rc2:
                    continue
                r = np.sqrt(r2)
                ir = 1.0 / r
                j = pair_j[p]
                fr = frho[species[j]]
                (kr, okr, a0, a1, a2, a3, b0, b1, b2, b3, e2, e3) = _coefs(
                    kx, flo[fr], fn[fr], r, True)
                drj = 0.0
                if okr:
                    drj = b0 * ky[kr] + b1 * ky[kr + 1] + b2 * km[kr] + b3 * km[kr + 1]
                fp = fphi[si, species[j]]
                (kp, okp, z0, z1, z2, z3, w0, w1, w2, w3, e2, e3) = _coefs(
                    kx, flo[fp], fn[fp], r, True)
                phi = 0.0
                dphi = 0.0
                if okp:
                    z = z0 * ky[kp] + z1 * ky[kp + 1] + z2 * km[kp] + z3 * km[kp + 1]
                    dz_ = w0 * ky[kp] + w1 * ky[kp + 1] + w2 * km[kp] + w3 * km[kp + 1]
                    phi = z * ir
                    dphi = (dz_ - phi) * ir
                e += 0.5 * phi
                g = (fi * drj + 0.5 * dphi) * ir
                gx = g * dx
                gy = g * dy
                gz = g * dz
                if want_forces:
                    forces[i, 0] += gx
                    forces[i, 1] += gy
                    forces[i, 2] += gz
                    forces[j, 0] -= gx
                    forces[j, 1] -= gy
                    forces[j, 2] -= gz
                if do_s:
                    vir[0] += gx * dx
                    vir[1] += gy * dy
                    vir[2] += gz * dz
                    vir[3] += gy * dz
                    vir[4] += gx * dz
                    vir[5] += gx * dy
                if (jac or grad) and okp:
                    # energy: 1/2 phi = 1/2 z / r
                    hr = 0.5 * ir
                    dE[kp] += hr * z0
                    dE[kp + 1] += hr * z1
                    dE[G + kp] += hr * z2
                    dE[G + kp + 1] += hr * z3
                if grad and okr:
                    # F'_i d rho_i (the Jacobian mode sums it from drho per atom)
                    dE[kr] += fi * a0
                    dE[kr + 1] += fi * a1
                    dE[G + kr] += fi * a2
                    dE[G + kr + 1] += fi * a3
                if not (fjac or sjac):
                    continue
                # d g / d(raw) = q * d / r for every raw column: collect (col, q) lists
                a = i - off
                b = j - off
                # pair part: q = 1/2 (dz' - dz / r) / r
                if okp:
                    hq = 0.5 * ir
                    _scatter(dFl, dvir, fjac, do_s, a, b, kp, hq * (w0 - z0 * ir), ir, dx, dy, dz)
                    _scatter(dFl, dvir, fjac, do_s, a, b, kp + 1, hq * (w1 - z1 * ir), ir, dx,
                             dy, dz)
                    _scatter(dFl, dvir, fjac, do_s, a, b, G + kp, hq * (w2 - z2 * ir), ir, dx,
                             dy, dz)
                    _scatter(dFl, dvir, fjac, do_s, a, b, G + kp + 1, hq * (w3 - z3 * ir), ir,
                             dx, dy, dz)
                if okr:
                    # embedding slope: q = dF'_i * rho'_j
                    _scatter(dFl, dvir, fjac, do_s, a, b, kF, dF0 * drj, ir, dx, dy, dz)
                    _scatter(dFl, dvir, fjac, do_s, a, b, kF + 1, dF1 * drj, ir, dx, dy, dz)
                    _scatter(dFl, dvir, fjac, do_s, a, b, G + kF, dF2 * drj, ir, dx, dy, dz)
                    _scatter(dFl, dvir, fjac, do_s, a, b, G + kF + 1, dF3 * drj, ir, dx, dy,
                             dz)
                    # density slope of j's species: q = F'_i d rho'_j
                    _scatter(dFl, dvir, fjac, do_s, a, b, kr, fi * b0, ir, dx, dy, dz)
                    _scatter(dFl, dvir, fjac, do_s, a, b, kr + 1, fi * b1, ir, dx, dy, dz)
                    _scatter(dFl, dvir, fjac, do_s, a, b, G + kr, fi * b2, ir, dx, dy, dz)
                    _scatter(dFl, dvir, fjac, do_s, a, b, G + kr + 1, fi * b3, ir, dx, dy, dz)
                    # density of i: q = F''_i rho'_j d rho_i
                    t = d2F[a] * drj
                    if t != 0.0:
                        for q in range(nr):
                            _scatter(dFl, dvir, fjac, do_s, a, b, rlo + q, t * drho[a, q], ir,
                                     dx, dy, dz)
                            _scatter(dFl, dvir, fjac, do_s, a, b, G + rlo + q,
                                     t * drho[a, nr + q], ir, dx, dy, dz)
        energy[c] = e
        if grad:
            _gradient_pass(c, off, nat, e, pair_offsets, pair_j, pair_d, species, rc2, kx,
                           ky, km, flo, fn, fF, frho, fphi, G, rho, dF, d2F, dE, forces, ew,
                           eref, fw, fref, u, gcfg)
        if jac:
            for col in range(R):
                d_energy[c, col] = dE[col]
        if fjac:
            d_forces[off:off + nat, :, :] = dFl[:nat, :, :]
        if want_stress:
            vol = volumes[c]
            for k in range(6):
                stress[c, k] = vir[k] / vol if do_s else np.nan
                if sjac:
                    for col in range(R):
                        d_stress[c, k, col] = dvir[k, col] / vol if do_s else np.nan


@njit(cache=True, nogil=True)
def _scatter(dFl, dvir, fjac, do_s, a, b, col, q, ir, dx, dy, dz):
    """Add q d/r (the change of one pair's gradient g) to the force and virial Jacobians:
    F_a += g, F_b -= g, virial += g (x) d."""
    if q == 0.0:
        return
    s = q * ir
    gx = s * dx
    gy = s * dy
    gz = s * dz
    if fjac:
        dFl[a, 0, col] += gx
        dFl[a, 1, col] += gy
        dFl[a, 2, col] += gz
        dFl[b, 0, col] -= gx
        dFl[b, 1, col] -= gy
        dFl[b, 2, col] -= gz
    if do_s:
        dvir[0, col] += gx * dx
        dvir[1, col] += gy * dy
        dvir[2, col] += gz * dz
        dvir[3, col] += gy * dz
        dvir[4, col] += gx * dz
        dvir[5, col] += gx * dy


@njit(cache=True, nogil=True)
def _gradient_pass(c, off, nat, e, pair_offsets, pair_j, pair_d, species, rc2, kx, ky, km,
                   flo, fn, fF, frho, fphi, G, rho, dF, d2F, dE, forces, ew, eref, fw, fref,
                   u, gcfg):
    """Raw gradient of configuration c's weighted squared error (see ``eam_kernel``).

    With u_k = fw (F_k - fref) and s_ij = (u_i - u_j) . d_ij / r_ij, the force part is
    sum over pairs of s_ij q_ij(col), where q is the radial factor of d g_ij / d col; the
    density-of-i part F''_i rho'_j d rho_i / d col sums to A_i d rho_i / d col with
    A_i = F''_i sum_j s_ij rho'_j, scattered neighbor by neighbor."""
    de = ew[c] * (e - eref[c])
    for col in range(2 * G):
        gcfg[c, col] = de * dE[col]
    if fw.shape[0] == 0:
        return
    for a in range(nat):
        for x in range(3):
            u[a, x] = fw[off + a, x] * (forces[off + a, x] - fref[off + a, x])
    for i in range(off, off + nat):
        a = i - off
        si = species[i]
        fi = dF[a]
        fI = fF[si]
        (kF, ok, c0, c1, c2, c3, dF0, dF1, dF2, dF3, e2, e3) = _coefs(
            kx, flo[fI], fn[fI], rho[a], False)
        acc = 0.0
        for p in range(pair_offsets[i], pair_offsets[i + 1]):
            dx = pair_d[p, 0]
            dy = pair_d[p, 1]
            dz = pair_d[p, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 >= rc2:
                continue
            r = np.sqrt(r2)
            ir = 1.0 / r
            j = pair_j[p]
            b = j - off
            sij = ((u[a, 0] - u[b, 0]) * dx + (u[a, 1] - u[b, 1]) * dy
                   + (u[a, 2] - u[b, 2]) * dz) * ir
            fr = frho[species[j]]
            (kr, okr, a0, a1, a2, a3, b0, b1, b2, b3, e2, e3) = _coefs(
                kx, flo[fr], fn[fr], r, True)
            fp = fphi[si, species[j]]
            (kp, okp, z0, z1, z2, z3, w0, w1, w2, w3, e2, e3) = _coefs(
                kx, flo[fp], fn[fp], r, True)
            if okp:
                hq = 0.5 * ir * sij
                gcfg[c, kp] += hq * (w0 - z0 * ir)
                gcfg[c, kp + 1] += hq * (w1 - z1 * ir)
                gcfg[c, G + kp] += hq * (w2 - z2 * ir)
                gcfg[c, G + kp + 1] += hq * (w3 - z3 * ir)
            if okr:
                drj = b0 * ky[kr] + b1 * ky[kr + 1] + b2 * km[kr] + b3 * km[kr + 1]
                t = sij * drj
                gcfg[c, kF] += dF0 * t
                gcfg[c, kF + 1] += dF1 * t
                gcfg[c, G + kF] += dF2 * t
                gcfg[c, G + kF + 1] += dF3 * t
                t = sij * fi
                gcfg[c, kr] += b0 * t
                gcfg[c, kr + 1] += b1 * t
                gcfg[c, G + kr] += b2 * t
                gcfg[c, G + kr + 1] += b3 * t
                acc += sij * drj
        A = d2F[a] * acc
        if A == 0.0:
            continue
        # d rho_i / d col, neighbor by neighbor
        for p in range(pair_offsets[i], pair_offsets[i + 1]):
            dx = pair_d[p, 0]
            dy = pair_d[p, 1]
            dz = pair_d[p, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 >= rc2:
                continue
            r = np.sqrt(r2)
            fr = frho[species[pair_j[p]]]
            (kr, okr, a0, a1, a2, a3, b0, b1, b2, b3, e2, e3) = _coefs(
                kx, flo[fr], fn[fr], r, True)
            if okr:
                gcfg[c, kr] += A * a0
                gcfg[c, kr + 1] += A * a1
                gcfg[c, G + kr] += A * a2
                gcfg[c, G + kr + 1] += A * a3
