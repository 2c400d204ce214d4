"""Shared kernel for pair potentials (Lennard-Jones, Morse) with exact parameter Jacobians.

A pair potential has, per unordered species pair k (``spec.species_pairs`` order), up to
three shape parameters ``p[k, 0:3]`` and a cutoff ``p[k, 3]``.  The energy is

    E_c = 1/2 sum over the full neighbor list of phi(r; p) - shift * phi(r_c; p),  r < r_c

Forces use the full list only at the owning atom (``F_i = sum_j phi'(r) d_ij / r``), so
the kernel can run in parallel over configurations without write conflicts.  Jacobian
columns are laid out like the flat parameter vector: shape parameter m of pair type k is
column ``m * npt + k``, the cutoff of pair type k is column ``nshape * npt + k``.

For a truncated (unshifted) potential the cutoff derivative is a Dirac delta at r = r_c;
the Jacobian reports 0 for it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from workbench.engine.spec import EngineResult, pair_index_table
from workbench.engine.threads import num_threads, parallel_ranges, split
from workbench.errors import ParameterError

LJ = 0
MORSE = 1


@njit(cache=True, nogil=True)
def _phi(kind, r, p0, p1, p2):
    """phi, dphi/dr, dphi/dp0..2, d2phi/(dr dp0..2) of one pair distance."""
    if kind == LJ:  # p0 = epsilon, p1 = sigma
        sr = p1 / r
        s6 = sr * sr * sr
        s6 = s6 * s6
        s12 = s6 * s6
        phi = 4.0 * p0 * (s12 - s6)
        dphi = 24.0 * p0 * (s6 - 2.0 * s12) / r
        g0 = 4.0 * (s12 - s6)
        g1 = 24.0 * p0 * (2.0 * s12 - s6) / p1
        h0 = 24.0 * (s6 - 2.0 * s12) / r
        h1 = 144.0 * p0 * (s6 - 4.0 * s12) / (r * p1)
        return phi, dphi, g0, g1, 0.0, h0, h1, 0.0
    # Morse: p0 = D (well depth), p1 = alpha, p2 = r0
    x = r - p2
    e = math.exp(-p1 * x)
    phi = p0 * (e * e - 2.0 * e)
    dphi = 2.0 * p1 * p0 * (e - e * e)
    de_da = -x * e
    de_dr0 = p1 * e
    g0 = e * e - 2.0 * e
    g1 = p0 * 2.0 * (e - 1.0) * de_da
    g2 = p0 * 2.0 * (e - 1.0) * de_dr0
    h0 = 2.0 * p1 * (e - e * e)
    h1 = 2.0 * p0 * (e - e * e) + 2.0 * p1 * p0 * (1.0 - 2.0 * e) * de_da
    h2 = 2.0 * p1 * p0 * (1.0 - 2.0 * e) * de_dr0
    return phi, dphi, g0, g1, g2, h0, h1, h2


@njit(cache=True, nogil=True)
def _pair_range(c0, c1, kind, nshape, shift, prm, pair_type, species, config_offsets,
                pair_offsets, pair_j, pair_d, volumes, periodic3, want_forces, want_stress,
                want_jac, energy, forces, stress, d_energy, d_forces, d_stress):
    """Configurations ``c0 .. c1-1`` of :func:`pair_kernel` (outputs zeroed by it)."""
    npt = prm.shape[0]
    npar = (nshape + 1) * npt
    # energy at the cutoff (shifted variants) and its derivatives, per pair type
    shift_e = np.zeros((npt, 5))
    if shift:
        for k in range(npt):
            ph, dph, a0, a1, a2, _h0, _h1, _h2 = _phi(kind, prm[k, 3], prm[k, 0], prm[k, 1],
                                                      prm[k, 2])
            shift_e[k, 0] = ph
            shift_e[k, 1] = a0
            shift_e[k, 2] = a1
            shift_e[k, 3] = a2
            shift_e[k, 4] = dph
    for c in range(c0, c1):
        e_c = 0.0
        w = np.zeros(6)
        for i in range(config_offsets[c], config_offsets[c + 1]):
            si = species[i]
            for p in range(pair_offsets[i], pair_offsets[i + 1]):
                j = pair_j[p]
                k = pair_type[si, species[j]]
                rc = prm[k, 3]
                dx = pair_d[p, 0]
                dy = pair_d[p, 1]
                dz = pair_d[p, 2]
                r = math.sqrt(dx * dx + dy * dy + dz * dz)
                if r >= rc:
                    continue
                ph, dph, g0, g1, g2, h0, h1, h2 = _phi(kind, r, prm[k, 0], prm[k, 1],
                                                       prm[k, 2])
                e_c += 0.5 * (ph - shift * shift_e[k, 0])
                fr = dph / r
                if want_forces:
                    forces[i, 0] += fr * dx
                    forces[i, 1] += fr * dy
                    forces[i, 2] += fr * dz
                if want_stress:
                    w[0] += 0.5 * fr * dx * dx
                    w[1] += 0.5 * fr * dy * dy
                    w[2] += 0.5 * fr * dz * dz
                    w[3] += 0.5 * fr * dy * dz
                    w[4] += 0.5 * fr * dx * dz
                    w[5] += 0.5 * fr * dx * dy
                if want_jac:
                    gs = (g0, g1, g2)
                    hs = (h0, h1, h2)
                    for m in range(nshape):
                        col = m * npt + k
                        d_energy[c, col] += 0.5 * (gs[m] - shift * shift_e[k, 1 + m])
                        hr = hs[m] / r
                        if want_forces:
                            d_forces[i, 0, col] += hr * dx
                            d_forces[i, 1, col] += hr * dy
                            d_forces[i, 2, col] += hr * dz
                        if want_stress:
                            d_stress[c, 0, col] += 0.5 * hr * dx * dx
                            d_stress[c, 1, col] += 0.5 * hr * dy * dy
                            d_stress[c, 2, col] += 0.5 * hr * dz * dz
                            d_stress[c, 3, col] += 0.5 * hr * dy * dz
                            d_stress[c, 4, col] += 0.5 * hr * dx * dz
                            d_stress[c, 5, col] += 0.5 * hr * dx * dy
                    if shift:
                        d_energy[c, nshape * npt + k] -= 0.5 * shift_e[k, 4]
        energy[c] = e_c
        if want_stress:
            if periodic3[c]:
                for v in range(6):
                    stress[c, v] = w[v] / volumes[c]
                if want_jac:
                    for v in range(6):
                        for col in range(npar):
                            d_stress[c, v, col] /= volumes[c]
            else:
                for v in range(6):
                    stress[c, v] = np.nan
                    if want_jac:
                        for col in range(npar):
                            d_stress[c, v, col] = np.nan


def pair_kernel(kind, nshape, shift, prm, pair_type, species, config_offsets, pair_offsets,
                pair_j, pair_d, volumes, periodic3, want_forces, want_stress, want_jac):
    """Energy (C,), forces (N,3), stress (C,6) and their Jacobians for one pair potential,
    the configurations split over the engine threads (``engine.threads``)."""
    nconf = config_offsets.shape[0] - 1
    natoms = species.shape[0]
    npar = (nshape + 1) * prm.shape[0]
    out = (np.zeros(nconf), np.zeros((natoms if want_forces else 0, 3)),
           np.zeros((nconf if want_stress else 0, 6)),
           np.zeros((nconf if want_jac else 0, npar)),
           np.zeros((natoms if (want_jac and want_forces) else 0, 3, npar)),
           np.zeros((nconf if (want_jac and want_stress) else 0, 6, npar)))
    periodic3 = np.ascontiguousarray(periodic3, dtype=np.bool_)

    def run(c0, c1):
        _pair_range(c0, c1, int(kind), int(nshape), float(shift), prm, pair_type, species,
                    config_offsets, pair_offsets, pair_j, pair_d, volumes, periodic3,
                    bool(want_forces), bool(want_stress), bool(want_jac), *out)

    parallel_ranges(run, split(np.diff(pair_offsets[config_offsets]) + 1,
                               8 * num_threads()))
    return out


def evaluate_pair(kind, shape_names, batch, params, shift, forces, stress, jacobian,
                  potential, sign=None):
    """Run :func:`pair_kernel` for a spec whose parameters are ``shape_names + cutoff``.

    ``sign`` optionally flips shape parameters (a driver convention with the opposite sign
    of the well depth); Jacobian columns are transformed accordingly.
    """
    nsp = len(batch.species_names)
    npt = nsp * (nsp + 1) // 2
    nshape = len(shape_names)
    prm = np.zeros((npt, 4))
    names = list(shape_names) + ["cutoff"]
    for m, name in enumerate(names):
        if name not in params:
            raise ParameterError(f"{potential}: parameter {name!r} is missing")
        v = np.atleast_1d(np.asarray(params[name], dtype=float))
        if v.size != npt:
            raise ParameterError(f"{potential}: parameter {name!r} needs {npt} value(s) "
                                 f"(one per species pair of {list(batch.species_names)}), "
                                 f"got {v.size}")
        prm[:, m if m < nshape else 3] = v
    if sign is not None:
        for m, s in enumerate(sign):
            prm[:, m] *= s
    if np.any(prm[:, 3] > batch.cutoff * (1 + 1e-12)):
        raise ParameterError(f"{potential}: cutoff {prm[:, 3].max()} exceeds the neighbor-"
                             f"list cutoff {batch.cutoff} of the packed batch; rebuild it")
    if np.any(prm[:, 3] <= 0):
        raise ParameterError(f"{potential}: cutoffs must be positive, got {prm[:, 3]}")
    if kind == LJ and np.any(prm[:, 1] <= 0):
        raise ParameterError(f"{potential}: sigma must be positive, got {prm[:, 1]}")
    table = pair_index_table(max(nsp, 1))
    e, f, s, de, df, ds = pair_kernel(
        kind, nshape, 1.0 if shift else 0.0, prm, table, batch.species,
        batch.config_offsets, batch.pair_offsets, batch.pair_j, batch.pair_d,
        batch.volumes, batch.periodic3, bool(forces), bool(stress), bool(jacobian))
    if jacobian and sign is not None:
        scale = np.ones((nshape + 1) * npt)
        for m, sg in enumerate(sign):
            scale[m * npt:(m + 1) * npt] = sg
        de = de * scale
        df = df * scale if forces else df
        ds = ds * scale if stress else ds
    return EngineResult(energy=e, forces=f if forces else None,
                        stress=s if stress else None,
                        d_energy=de if jacobian else None,
                        d_forces=df if (jacobian and forces) else None,
                        d_stress=ds if (jacobian and stress) else None)
