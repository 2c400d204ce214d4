"""Buckingham pair potential with an energy-shifted cutoff, and its parameter Jacobian.

Per unordered species pair (order of ``workbench.engine.spec.species_pairs``) there are
four parameters, concatenated parameter by parameter into the flat vector::

    A (eV), rho (Angstrom), C (eV Angstrom^6), cutoff (Angstrom)

Pair energy, for ``r < cutoff``::

    V(r)   = A exp(-r/rho) - C / r^6
    phi(r) = V(r) - V(cutoff)

so the energy is continuous at the cutoff (the force ``-V'(r)`` jumps there, as in every
energy-shifted pair potential).  The configuration energy is ``1/2 sum_i sum_j phi(r_ij)``
over the full neighbor list.

Derivatives used by the kernel (``e = exp(-r/rho)``)::

    dV/dA = e            dV/drho = A e r / rho^2         dV/dC = -r^-6
    V'(r) = -A e / rho + 6 C r^-7
    dV'/dA = -e / rho    dV'/drho = A e (1/rho^2 - r/rho^3)   dV'/dC = 6 r^-7
    dphi/dcutoff = -V'(cutoff),   dphi'/dcutoff = 0

Every term is exact; the Jacobian of the forces follows from differentiating ``V'``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from workbench.engine.spec import (EngineResult, ParamSpec, PotentialSpec, pair_index_table,
                                   per_pair_params)
from workbench.errors import EngineError, ParameterError

PARAM_NAMES = ("A", "rho", "C", "cutoff")
NPARAM = len(PARAM_NAMES)

#: Defaults for every species pair: a soft Si-Si set (short-range repulsion, r^-6
#: attraction) that gives finite, fit-able energies and forces on the bundled Si data.
DEFAULTS = {"A": 1500.0, "rho": 0.35, "C": 150.0, "cutoff": 4.5}

_DESCRIPTIONS = {
    "A": "prefactor of the exponential repulsion",
    "rho": "decay length of the exponential repulsion",
    "C": "coefficient of the r^-6 (dispersion) attraction",
    "cutoff": "cutoff distance of the pair; the energy is shifted to zero there",
}
_UNITS = {"A": "eV", "rho": "Angstrom", "C": "eV*Angstrom^6", "cutoff": "Angstrom"}


@njit(cache=True, nogil=True, parallel=True)
def buckingham_kernel(config_offsets, species, pair_offsets, pair_j, pair_d, stress_ok,
                      volumes, ptab, prm, want_forces, want_stress, want_jac,
                      energy, forces, stress, d_energy, d_forces, d_stress):
    """Accumulate energies, forces, stress and Jacobians; parallel over configurations.

    ``prm`` is (4, npairs): rows A, rho, C, cutoff.  Pairs never cross configurations,
    so each configuration's atoms are written by one thread only.
    """
    npairs = prm.shape[1]
    nconf = config_offsets.shape[0] - 1
    for c in prange(nconf):
        e = 0.0
        vir = np.zeros(6)
        dvir = np.zeros((6, NPARAM * npairs)) if (want_jac and want_stress) else np.zeros((6, 0))
        de = np.zeros(NPARAM * npairs) if want_jac else np.zeros(0)
        for i in range(config_offsets[c], config_offsets[c + 1]):
            si = species[i]
            for p in range(pair_offsets[i], pair_offsets[i + 1]):
                j = pair_j[p]
                q = ptab[si, species[j]]
                rc = prm[3, q]
                dx = pair_d[p, 0]
                dy = pair_d[p, 1]
                dz = pair_d[p, 2]
                r = np.sqrt(dx * dx + dy * dy + dz * dz)
                if r >= rc:
                    continue
                A = prm[0, q]
                rho = prm[1, q]
                C = prm[2, q]
                ex = np.exp(-r / rho)
                exc = np.exp(-rc / rho)
                r6 = r ** -6
                rc6 = rc ** -6
                # half of each directed pair: the full list counts every bond twice;
                # forces[i] += g d (d = r_j - r_i) is -dE/dr_i, and -dE/dr_j for j
                e += 0.5 * (A * ex - C * r6 - (A * exc - C * rc6))
                dv = -A * ex / rho + 6.0 * C * r6 / r  # V'(r)
                g = 0.5 * dv / r  # dE/dd per displacement component
                if want_forces:
                    forces[i, 0] += g * dx
                    forces[i, 1] += g * dy
                    forces[i, 2] += g * dz
                    forces[j, 0] -= g * dx
                    forces[j, 1] -= g * dy
                    forces[j, 2] -= g * dz
                if want_stress:
                    vir[0] += g * dx * dx
                    vir[1] += g * dy * dy
                    vir[2] += g * dz * dz
                    vir[3] += g * dy * dz
                    vir[4] += g * dx * dz
                    vir[5] += g * dx * dy
                if want_jac:
                    cA = q
                    cR = npairs + q
                    cC = 2 * npairs + q
                    cK = 3 * npairs + q
                    # energy: d(phi)/d(theta) = dV/dtheta(r) - dV/dtheta(rc)
                    de[cA] += 0.5 * (ex - exc)
                    de[cR] += 0.5 * A * (ex * r - exc * rc) / (rho * rho)
                    de[cC] += 0.5 * (rc6 - r6)
                    dvc = -A * exc / rho + 6.0 * C * rc6 / rc
                    de[cK] += -0.5 * dvc
                    # gradient factor g = 0.5 V'(r) / r
                    gA = 0.5 * (-ex / rho) / r
                    gR = 0.5 * A * ex * (1.0 / (rho * rho) - r / (rho * rho * rho)) / r
                    gC = 0.5 * 6.0 * r6 / (r * r)
                    if want_forces:
                        d_forces[i, 0, cA] += gA * dx
                        d_forces[i, 1, cA] += gA * dy
                        d_forces[i, 2, cA] += gA * dz
                        d_forces[j, 0, cA] -= gA * dx
                        d_forces[j, 1, cA] -= gA * dy
                        d_forces[j, 2, cA] -= gA * dz
                        d_forces[i, 0, cR] += gR * dx
                        d_forces[i, 1, cR] += gR * dy
                        d_forces[i, 2, cR] += gR * dz
                        d_forces[j, 0, cR] -= gR * dx
                        d_forces[j, 1, cR] -= gR * dy
                        d_forces[j, 2, cR] -= gR * dz
                        d_forces[i, 0, cC] += gC * dx
                        d_forces[i, 1, cC] += gC * dy
                        d_forces[i, 2, cC] += gC * dz
                        d_forces[j, 0, cC] -= gC * dx
                        d_forces[j, 1, cC] -= gC * dy
                        d_forces[j, 2, cC] -= gC * dz
                    if want_stress:
                        dvir[0, cA] += gA * dx * dx
                        dvir[1, cA] += gA * dy * dy
                        dvir[2, cA] += gA * dz * dz
                        dvir[3, cA] += gA * dy * dz
                        dvir[4, cA] += gA * dx * dz
                        dvir[5, cA] += gA * dx * dy
                        dvir[0, cR] += gR * dx * dx
                        dvir[1, cR] += gR * dy * dy
                        dvir[2, cR] += gR * dz * dz
                        dvir[3, cR] += gR * dy * dz
                        dvir[4, cR] += gR * dx * dz
                        dvir[5, cR] += gR * dx * dy
                        dvir[0, cC] += gC * dx * dx
                        dvir[1, cC] += gC * dy * dy
                        dvir[2, cC] += gC * dz * dz
                        dvir[3, cC] += gC * dy * dz
                        dvir[4, cC] += gC * dx * dz
                        dvir[5, cC] += gC * dx * dy
        energy[c] = e
        if want_jac:
            for k in range(de.shape[0]):
                d_energy[c, k] = de[k]
        if want_stress:
            vol = volumes[c]
            for a in range(6):
                stress[c, a] = vir[a] / vol if stress_ok[c] else np.nan
                if want_jac:
                    for k in range(dvir.shape[1]):
                        d_stress[c, a, k] = dvir[a, k] / vol if stress_ok[c] else np.nan


def _default(name):
    def default(species):
        n = len(species)
        return np.full(n * (n + 1) // 2, DEFAULTS[name])
    return default


def param_matrix(params: dict, nspecies: int) -> np.ndarray:
    """(4, npairs) array of the parameters; checks sizes and signs."""
    prm = per_pair_params(params, PARAM_NAMES, nspecies, "Buckingham")
    if np.any(prm[1] <= 0) or np.any(prm[3] <= 0):
        raise ParameterError(f"Buckingham rho and cutoff must be positive, got rho={prm[1]}, "
                             f"cutoff={prm[3]}")
    return prm


def influence_distance(params: dict) -> float:
    return float(np.max(np.asarray(params["cutoff"], dtype=float)))


def compute(batch, params, forces=True, stress=False, jacobian=False) -> EngineResult:
    """Energies, forces, stress and (optionally) the Jacobian w.r.t. all 4*npairs values."""
    nspecies = len(batch.species_names)
    prm = param_matrix(params, nspecies)
    if batch.cutoff < prm[3].max() - 1e-12:
        raise EngineError(f"packed batch cutoff {batch.cutoff} is smaller than the Buckingham "
                          f"cutoff {prm[3].max()}; repack with a larger cutoff")
    C = batch.nconfigs
    N = batch.natoms
    P = prm.size
    energy = np.zeros(C)
    f = np.zeros((N if forces else 0, 3))
    s = np.zeros((C if stress else 0, 6))
    dE = np.zeros((C if jacobian else 0, P))
    dF = np.zeros((N if (jacobian and forces) else 0, 3, P))
    dS = np.zeros((C if (jacobian and stress) else 0, 6, P))
    stress_ok = np.all(np.asarray(batch.pbc, dtype=bool), axis=1)
    buckingham_kernel(batch.config_offsets, batch.species, batch.pair_offsets, batch.pair_j,
                      batch.pair_d, stress_ok, batch.volumes, pair_index_table(nspecies), prm,
                      forces, stress, jacobian, energy, f, s, dE, dF, dS)
    return EngineResult(
        energy=energy,
        forces=f if forces else None,
        stress=s if stress else None,
        d_energy=dE if jacobian else None,
        d_forces=dF if (jacobian and forces) else None,
        d_stress=dS if (jacobian and stress) else None,
    )


SPEC = PotentialSpec(
    name="Buckingham",
    params=tuple(
        ParamSpec(name=n, description=_DESCRIPTIONS[n], default=_default(n), unit=_UNITS[n],
                  lower=(0.0 if n in ("rho", "cutoff") else None), is_cutoff=(n == "cutoff"))
        for n in PARAM_NAMES),
    compute=compute,
    influence_distance=influence_distance,
    description="Buckingham pair potential A exp(-r/rho) - C/r^6, energy shifted at the cutoff",
)
