"""The G4 fast path of the symmetry functions (every angular function a G4) on two
species with different pair cutoffs: values against the brute-force reference of
test_ml_descriptors_sf, derivatives against finite differences, and equality with the
general path (the same functions plus a G5 that is then dropped)."""

import numpy as np
from ase import Atoms
from test_ml_descriptors_sf import _fd_positions, _fd_strain, reference_zeta

from workbench.ml.descriptors import SymmetryFunction

CUT = {"Si-Si": 4.2, "Si-C": 3.6, "C-C": 3.1}
G4 = {"g2": [{"eta": 0.05, "Rs": 0.0}],
      "g4": [{"zeta": 1, "lambda": -1, "eta": 0.01}, {"zeta": 2, "lambda": 1, "eta": 0.01},
             {"zeta": 4, "lambda": 1, "eta": 0.03}, {"zeta": 16, "lambda": -1, "eta": 0.03},
             {"zeta": 2.5, "lambda": 1, "eta": 0.01}, {"zeta": 1, "lambda": -1, "eta": 0.03}]}


def _sic(seed=3):
    rng = np.random.default_rng(seed)
    a = 4.6
    frac = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0],
                     [.25, .25, .25], [.25, .75, .75], [.75, .25, .75], [.75, .75, .25]])
    cell = a * np.eye(3) + rng.normal(scale=0.05, size=(3, 3))
    pos = frac @ cell + rng.normal(scale=0.1, size=(8, 3))
    return Atoms("Si4C4", positions=pos, cell=cell, pbc=True)


def test_fast_path_two_species_values_and_derivatives():
    atoms = _sic()
    full = {f"{a}-{b}": v for k, v in CUT.items() for a, b in [k.split("-"), k.split("-")[::-1]]}
    sf = SymmetryFunction(CUT, "cos", G4, dtype=np.float64)
    # the fast path is taken when (unique eta) x (unique zeta, lambda) <= 2 x (number of G4)
    kinds, _, _, _, _, eta_u, zeta_u, _ = sf._three
    assert len(eta_u) * len(zeta_u) <= 2 * len(kinds) and set(kinds) == {4}
    zeta, dzdr, dzds = sf.transform(atoms, fit_forces=True, fit_stress=True)
    np.testing.assert_allclose(zeta, reference_zeta(atoms, full, sf.hyperparams), rtol=1e-11,
                               atol=1e-12)
    np.testing.assert_allclose(dzdr, _fd_positions(sf, atoms), atol=1e-7 * np.abs(dzdr).max())
    np.testing.assert_allclose(dzds, _fd_strain(sf, atoms), atol=1e-7 * np.abs(dzds).max())

    # the general path (a G5 present) gives the same G2/G4 entries and derivatives
    hp = dict(G4, g5=[{"zeta": 1, "lambda": 1, "eta": 0.02}])
    gen = SymmetryFunction(CUT, "cos", hp, dtype=np.float64)
    z2, r2, s2 = gen.transform(atoms, fit_forces=True, fit_stress=True)
    d = sf.get_size()
    np.testing.assert_allclose(z2[:, :d], zeta, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r2[:, :d], dzdr, rtol=1e-10, atol=1e-12 * np.abs(dzdr).max())
    np.testing.assert_allclose(s2[:, :d], dzds, rtol=1e-10, atol=1e-12 * np.abs(dzds).max())
