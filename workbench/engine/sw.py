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
its own (local) parameters, scattered into the flat parameter columns.  Only requested
columns are computed (``columns``; ``compact=True`` returns just those), and
:func:`gradient` contracts the force Jacobian with a weighted force error inside the pass,
which is all a gradient-based fit needs (``Jᵀu``).  The numba kernels are in
``_sw_kernels``.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..errors import EngineError, ParameterError
from ._sw_kernels import sw_kernel
from .threads import num_threads, parallel_ranges, split
from .spec import EngineResult, ParamSpec, PotentialSpec, pair_index_table, per_pair_params

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


# ------------------------------------------------------------------------ python side

def config_chunks(batch, ntasks: int | None = None) -> np.ndarray:
    """Configuration ranges of roughly equal pair counts, several per thread."""
    if ntasks is None:
        ntasks = 8 * num_threads()
    return split(np.diff(batch.pair_offsets[batch.config_offsets]), ntasks)


def stress_mask(batch) -> np.ndarray:
    return np.all(np.asarray(batch.pbc, dtype=bool), axis=1)


def _chunks_for(batch):
    ch = getattr(batch, "_chunks", None)
    if ch is None:
        ch = config_chunks(batch)
        with contextlib.suppress(AttributeError, TypeError):
            object.__setattr__(batch, "_chunks", ch)
    return ch


def param_matrix(params: dict, nspecies: int) -> np.ndarray:
    prm = per_pair_params(params, PARAM_NAMES, nspecies, "Stillinger-Weber")
    if np.any(prm[_ISIG] <= 0) or np.any(prm[_ICUT] <= 0):
        raise ParameterError("Stillinger-Weber sigma and cutoff must be positive, got "
                             f"sigma={prm[_ISIG]}, cutoff={prm[_ICUT]}")
    return prm


def influence_distance(params: dict) -> float:
    return float(np.max(np.asarray(params["cutoff"], dtype=float)))


def _batch_constants(batch):
    """Stress mask and neighbour bound of a batch, computed once per batch."""
    got = getattr(batch, "_sw_constants", None)
    if got is None:
        maxnb = int(np.max(np.diff(batch.pair_offsets))) if len(batch.pair_j) else 1
        got = (stress_mask(batch), max(maxnb, 1))
        with contextlib.suppress(AttributeError, TypeError):
            object.__setattr__(batch, "_sw_constants", got)
    return got


def _setup(batch, params, columns):
    """Parameter matrix, pair table and the sorted unique Jacobian columns (with the
    order that restores ``columns``, None when it is already sorted and unique)."""
    nspecies = len(batch.species_names)
    prm = param_matrix(params, nspecies)
    rc = float(prm[_ICUT].max())
    if batch.cutoff < rc - 1e-12:
        raise EngineError(f"packed batch cutoff {batch.cutoff} is smaller than the "
                          f"Stillinger-Weber cutoff {rc}; repack with a larger cutoff")
    P = prm.size
    if columns is None:
        return prm, pair_index_table(nspecies), np.arange(P, dtype=np.int64), None
    cols = np.asarray(columns, dtype=np.int64).reshape(-1)
    active, order = np.unique(cols, return_inverse=True)
    if active.size and (active[0] < 0 or active[-1] >= P):
        raise ParameterError(f"Jacobian columns {active.tolist()} are outside the {P} "
                             f"flat Stillinger-Weber parameters")
    return prm, pair_index_table(nspecies), active, (
        None if np.array_equal(active, cols) else order)


def _column_map(prm, active):
    """(9, npairs) map: parameter -> its position in ``active``, -1 when absent."""
    m = np.full(prm.size, -1, np.int64)
    m[active] = np.arange(len(active))
    return m.reshape(prm.shape)


def _run(batch, prm, ptab, forces, stress, emap, fmap, dE, dF, dS, weights=None, g=None):
    C = len(batch.config_offsets) - 1
    N = len(batch.species)
    energy = np.zeros(C)
    f = np.zeros((N if forces else 0, 3))
    s = np.zeros((C if stress else 0, 6))
    if weights is None:
        ew = eref = np.zeros(0)
        fw = fref = np.zeros((0, 3))
        g = np.zeros((0, 0))
    else:
        ew, eref, fw, fref = weights
    okmask, maxnb = _batch_constants(batch)
    chunks = _chunks_for(batch)

    def run(ch0, ch1):
        sw_kernel(ch0, ch1, chunks, batch.config_offsets, batch.species, batch.pair_offsets,
                  batch.pair_j, batch.pair_d, okmask, batch.volumes, ptab, prm, maxnb,
                  forces, stress, emap, fmap, energy, f, s, dE, dF, dS, ew, eref, fw, fref,
                  g)

    parallel_ranges(run, range(len(chunks)))
    return energy, (f if forces else None), (s if stress else None)


def compute(batch, params, forces=True, stress=False, jacobian=False,
            columns=None, compact=False) -> EngineResult:
    """Energies, forces, stress and (optionally) the parameter Jacobian.

    ``columns`` (flat parameter indices) restricts the force and stress Jacobian columns
    that are computed; the others are returned as zeros and the energy Jacobian is full.
    With ``compact=True`` the Jacobians have exactly the ``columns`` as columns, in the
    given order (what a model needs for its free parameters), and only those are computed.
    """
    prm, ptab, active, order = _setup(batch, params, columns)
    C = len(batch.config_offsets) - 1
    N = len(batch.species)
    P = prm.size
    K = len(active) if jacobian else 0
    fmap = _column_map(prm, active[:K])
    if not jacobian or compact or columns is None:
        emap, KE = fmap, K
    else:
        emap, KE = np.arange(P, dtype=np.int64).reshape(prm.shape), P
    dE = np.zeros((C if jacobian else 0, KE))
    dF = np.empty((N if (jacobian and forces) else 0, 3, K))  # every row is written
    dS = np.zeros((C if (jacobian and stress) else 0, 6, K))
    energy, f, s = _run(batch, prm, ptab, forces, stress, emap, fmap, dE, dF, dS)
    if jacobian and compact:
        if order is not None:
            dE, dF, dS = (np.ascontiguousarray(a[..., order]) for a in (dE, dF, dS))
    elif jacobian and columns is not None:
        dF, dS = (_widen(a, active, P) for a in (dF, dS))
    return EngineResult(
        energy=energy, forces=f, stress=s,
        d_energy=dE if jacobian else None,
        d_forces=dF if (jacobian and forces) else None,
        d_stress=dS if (jacobian and stress) else None,
    )


def gradient(batch, params, columns, energy_weight, energy_ref, forces_weight=None,
             forces_ref=None):
    """Energies, forces and the gradient, with respect to the flat parameters in
    ``columns`` (in that order), of

        1/2 sum_c energy_weight_c (E_c - energy_ref_c)^2
        + 1/2 sum_i sum_a forces_weight_ia (F_ia - forces_ref_ia)^2

    without forming the force Jacobian (a least-squares loss's ``J^T u`` in one pass).
    ``energy_weight``/``energy_ref`` are (C,), ``forces_weight``/``forces_ref`` (N, 3);
    without ``forces_weight`` forces are neither computed nor part of the sum.

    Returns ``(EngineResult with energy and forces, gradient (len(columns),))``.
    """
    prm, ptab, active, order = _setup(batch, params, columns)
    C = len(batch.config_offsets) - 1
    N = len(batch.species)
    K = len(active)
    forces = forces_weight is not None
    # writable C-ordered copies: the kernel then has one type signature for every mode
    # (a read-only or strided array would make numba compile it a second time)
    ew = _kernel_array(energy_weight, (C,))
    eref = _kernel_array(energy_ref, (C,))
    if forces:
        fw = _kernel_array(forces_weight, (N, 3))
        fref = _kernel_array(np.asarray(forces_ref, float).reshape(N, 3), (N, 3))
    else:
        fw = fref = np.zeros((0, 3))
    fmap = _column_map(prm, active)
    dE = np.zeros((C, K))
    gcfg = np.zeros((C, K))
    energy, f, _ = _run(batch, prm, ptab, forces, False, fmap, fmap, dE,
                        np.zeros((0, 3, K)), np.zeros((0, 6, K)),
                        (ew, eref, fw, fref), gcfg)
    g = gcfg.sum(axis=0)
    if order is not None:
        g = g[order]
    return EngineResult(energy=energy, forces=f), g


def _kernel_array(values, shape):
    return np.array(np.broadcast_to(np.asarray(values, float), shape), dtype=np.float64,
                    order="C")


def _widen(a, active, P):
    out = np.zeros(a.shape[:-1] + (P,))
    out[..., active] = a
    return out


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
    extra={"gradient": gradient},
    description="Stillinger-Weber three-body potential (multi-species, KIM SW driver form)",
)
