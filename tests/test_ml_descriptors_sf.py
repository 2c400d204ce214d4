"""Symmetry functions: values against an independent NumPy implementation, analytic
derivatives against central finite differences, invariances, multi-species layout."""

import math

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list

from workbench.data.dataset import read_config
from workbench.errors import ParameterError
from workbench.ml.descriptors import Descriptor, SymmetryFunction
from workbench.ml.descriptors.hyperparams import get_set30, get_set51

SMALL = {
    "g1": None,
    "g2": [{"eta": 0.05, "Rs": 0.0}, {"eta": 0.3, "Rs": 2.3}],
    "g3": [{"kappa": 1.3}],
    "g4": [{"zeta": 1, "lambda": -1, "eta": 0.01}, {"zeta": 2.5, "lambda": 1, "eta": 0.05}],
    "g5": [{"zeta": 4, "lambda": 1, "eta": 0.02}, {"zeta": 1, "lambda": -1, "eta": 0.0}],
}


# ---- independent reference: plain loops over an ASE neighbor list -----------------------
def ref_cutoff(r, rc, name):
    if r >= rc:
        return 0.0
    x = r / rc
    if name == "cos":
        return 0.5 * (math.cos(math.pi * r / rc) + 1.0)
    if name == "P3":
        return 1 - 3 * x**2 + 2 * x**3
    return 1 - 35 * x**4 + 84 * x**5 - 70 * x**6 + 20 * x**7


def reference_zeta(atoms, cut, hp, cut_name="cos", first=None):
    """G1..G5 by brute force; cut maps 'A-B' (both orders) to a distance."""
    rmax = max(cut.values())
    ii, jj, DD = neighbor_list("ijD", atoms, rmax)
    sym = atoms.get_chemical_symbols()
    rows = []
    for i in range(len(atoms) if first is None else first):
        nbr = [(j, D) for a, j, D in zip(ii, jj, DD) if a == i
               and np.linalg.norm(D) < cut[f"{sym[i]}-{sym[j]}"]]
        out = []
        for name, params in hp.items():
            for p in (params if params is not None else [None]):
                total = 0.0
                if name in ("g1", "g2", "g3"):
                    for j, D in nbr:
                        r = np.linalg.norm(D)
                        fc = ref_cutoff(r, cut[f"{sym[i]}-{sym[j]}"], cut_name)
                        if name == "g1":
                            total += fc
                        elif name == "g2":
                            total += math.exp(-p["eta"] * (r - p["Rs"]) ** 2) * fc
                        else:
                            total += math.cos(p["kappa"] * r) * fc
                else:
                    for a in range(len(nbr)):
                        for b in range(a + 1, len(nbr)):
                            (j, Dj), (k, Dk) = nbr[a], nbr[b]
                            rij, rik = np.linalg.norm(Dj), np.linalg.norm(Dk)
                            rjk = np.linalg.norm(Dk - Dj)
                            cos_t = float(Dj @ Dk) / (rij * rik)
                            base = 1 + p["lambda"] * cos_t
                            if base <= 0:
                                continue
                            ang = 2 ** (1 - p["zeta"]) * base ** p["zeta"]
                            fij = ref_cutoff(rij, cut[f"{sym[i]}-{sym[j]}"], cut_name)
                            fik = ref_cutoff(rik, cut[f"{sym[i]}-{sym[k]}"], cut_name)
                            if name == "g4":
                                fjk = ref_cutoff(rjk, cut[f"{sym[j]}-{sym[k]}"], cut_name)
                                total += ang * math.exp(-p["eta"] * (rij**2 + rik**2 + rjk**2)) \
                                    * fij * fik * fjk
                            else:
                                total += ang * math.exp(-p["eta"] * (rij**2 + rik**2)) * fij * fik
                out.append(total)
        rows.append(out)
    return np.array(rows)


def rattled_si(seed=0, scale=0.12):
    rng = np.random.default_rng(seed)
    a = 5.43
    frac = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0],
                     [.25, .25, .25], [.25, .75, .75], [.75, .25, .75], [.75, .75, .25]])
    cell = a * np.eye(3) + rng.normal(scale=0.05, size=(3, 3))
    pos = frac @ cell + rng.normal(scale=scale, size=(8, 3))
    return Atoms("Si8", positions=pos, cell=cell, pbc=True)


@pytest.fixture(scope="module")
def si_config(si_path):
    return read_config(si_path / "varying_alat" / "Si_alat5.409_scale0.0015_perturb1.xyz")


def test_set51_values_match_independent_numpy(si_config):
    sf = SymmetryFunction({"Si-Si": 5.0}, "cos", "set51", dtype=np.float64)
    zeta, dzdr, dzds = sf.transform(si_config)
    assert zeta.shape == (len(si_config.species), 51) and dzdr is None and dzds is None
    atoms = Atoms(si_config.species, positions=si_config.coords, cell=si_config.cell,
                  pbc=si_config.PBC)
    ref = reference_zeta(atoms, {"Si-Si": 5.0}, get_set51(), first=6)
    np.testing.assert_allclose(zeta[:6], ref, rtol=1e-11, atol=1e-13)
    # widest G2 (eta = 0.00357 Å^-2): about 4 for the 16 neighbors within 5 Å
    assert 3.85 < zeta[:, 0].min() and zeta[:, 0].max() < 4.0


def test_set51_and_set30_data():
    s51, s30 = get_set51(), get_set30()
    assert (len(s51["g2"]), len(s51["g4"])) == (8, 43)
    assert (len(s30["g2"]), len(s30["g4"])) == (8, 22)
    assert s51["g2"][0]["eta"] == pytest.approx(0.001 / 0.529177**2)
    assert s30["g2"][0]["eta"] == pytest.approx(0.0009 / 0.529177**2)
    assert s51["g4"][-1] == {"zeta": 16, "lambda": 1, "eta": pytest.approx(0.08 / 0.529177**2)}
    assert SymmetryFunction({"Si-Si": 5.0}, hyperparams="set30").get_size() == 30


@pytest.mark.parametrize("cut_name", ["cos", "P3", "P7"])
def test_small_set_values_all_kinds(cut_name):
    atoms = rattled_si(1)
    sf = SymmetryFunction({"Si-Si": 4.2}, cut_name, SMALL, dtype=np.float64)
    zeta, _, _ = sf.transform(atoms)
    assert zeta.shape == (8, 8)
    np.testing.assert_allclose(zeta, reference_zeta(atoms, {"Si-Si": 4.2}, SMALL, cut_name),
                               rtol=1e-11, atol=1e-12)


def _fd_positions(sf, atoms, h=1e-5):
    n = len(atoms)
    out = np.zeros((n, sf.get_size(), 3 * n))
    for k in range(n):
        for c in range(3):
            p, m = atoms.copy(), atoms.copy()
            p.positions[k, c] += h
            m.positions[k, c] -= h
            out[:, :, 3 * k + c] = (sf.transform(p)[0] - sf.transform(m)[0]) / (2 * h)
    return out


VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (2, 0), (0, 1)]


def _fd_strain(sf, atoms, h=1e-5):
    out = np.zeros((len(atoms), sf.get_size(), 6))
    for v, (a, b) in enumerate(VOIGT):
        confs = []
        for sgn in (1, -1):
            F = np.eye(3)
            F[a, b] += sgn * h
            c = atoms.copy()
            c.set_cell(atoms.cell.array @ F.T, scale_atoms=True)
            confs.append(c)
        out[:, :, v] = (sf.transform(confs[0])[0] - sf.transform(confs[1])[0]) / (2 * h)
    return out


@pytest.mark.parametrize("cut_name,hp", [("cos", "set51"), ("P3", SMALL), ("P7", SMALL)])
def test_derivatives_match_finite_differences(cut_name, hp):
    atoms = rattled_si(2)
    sf = SymmetryFunction({"Si-Si": 4.5}, cut_name, hp, dtype=np.float64)
    zeta, dzdr, dzds = sf.transform(atoms, fit_forces=True, fit_stress=True)
    n, d = zeta.shape
    assert dzdr.shape == (n, d, 3 * n) and dzds.shape == (n, d, 6)
    scale = np.abs(dzdr).max()
    np.testing.assert_allclose(dzdr, _fd_positions(sf, atoms), atol=1e-7 * scale)
    np.testing.assert_allclose(dzds, _fd_strain(sf, atoms), atol=1e-7 * np.abs(dzds).max())
    # translation invariance of the analytic derivative: columns sum to zero per xyz
    np.testing.assert_allclose(dzdr.reshape(n, d, n, 3).sum(axis=2), 0.0, atol=1e-12 * scale)


def test_small_cell_sees_own_images():
    """A cell thinner than the cutoff: an atom's own periodic images are neighbors."""
    atoms = Atoms("Si2", positions=[[0, 0, 0], [1.3, 1.4, 1.2]],
                  cell=[[2.7, 0.1, 0], [0, 2.8, 0.2], [0.1, 0, 2.9]], pbc=True)
    sf = SymmetryFunction({"Si-Si": 3.5}, "cos", SMALL, dtype=np.float64)
    zeta, dzdr, dzds = sf.transform(atoms, True, True)
    np.testing.assert_allclose(zeta, reference_zeta(atoms, {"Si-Si": 3.5}, SMALL),
                               rtol=1e-11)
    np.testing.assert_allclose(dzdr, _fd_positions(sf, atoms), atol=1e-7 * np.abs(dzdr).max())
    np.testing.assert_allclose(dzds, _fd_strain(sf, atoms), atol=1e-7 * np.abs(dzds).max())


def test_invariances():
    atoms = rattled_si(3)
    sf = SymmetryFunction({"Si-Si": 4.5}, "cos", "set51", dtype=np.float64)
    z0 = sf.transform(atoms)[0]
    # rotation of coordinates and cell together
    th = 0.7
    R = np.array([[math.cos(th), -math.sin(th), 0], [math.sin(th), math.cos(th), 0], [0, 0, 1]])
    R = R @ np.array([[1, 0, 0], [0, math.cos(0.3), -math.sin(0.3)],
                      [0, math.sin(0.3), math.cos(0.3)]])
    rot = atoms.copy()
    rot.set_cell(atoms.cell.array @ R.T)
    rot.positions = atoms.positions @ R.T
    np.testing.assert_allclose(sf.transform(rot)[0], z0, rtol=1e-10, atol=1e-12)
    # translation (positions may leave the cell)
    tr = atoms.copy()
    tr.positions += np.array([3.1, -7.7, 12.5])
    np.testing.assert_allclose(sf.transform(tr)[0], z0, rtol=1e-10, atol=1e-12)
    # permutation of atoms permutes the rows
    perm = np.random.default_rng(0).permutation(len(atoms))
    pa = atoms[perm]
    np.testing.assert_allclose(sf.transform(pa)[0], z0[perm], rtol=1e-12)


def test_multi_species_sic(sic_path):
    conf = read_config(sorted(sic_path.glob("*.xyz"))[0])
    cut = {"Si-Si": 3.5, "Si-C": 3.0, "C-C": 2.6}
    sf = SymmetryFunction(cut, "cos", SMALL, dtype=np.float64)
    assert sf.species == ["Si", "C"]
    zeta, dzdr, dzds = sf.transform(conf, fit_forces=True, fit_stress=True)
    n = len(conf.species)
    assert zeta.shape == (n, 8) and dzdr.shape == (n, 8, 3 * n) and dzds.shape == (n, 8, 6)
    full = dict(cut, **{"C-Si": 3.0})
    atoms = Atoms(conf.species, positions=conf.coords, cell=conf.cell, pbc=conf.PBC)
    np.testing.assert_allclose(zeta[:12], reference_zeta(atoms, full, SMALL, first=12),
                               rtol=1e-10, atol=1e-12)
    # the C-C cutoff matters: the nearest C-C pairs (about 3.74 Å) enter at 4.0 Å
    sf2 = SymmetryFunction(dict(cut, **{"C-C": 4.0}), "cos", SMALL, dtype=np.float64)
    z2 = sf2.transform(conf)[0]
    assert not np.allclose(z2, zeta)
    # derivative of one atom's descriptor along one coordinate vs finite difference
    h = 1e-5
    p, m = atoms.copy(), atoms.copy()
    p.positions[5, 1] += h
    m.positions[5, 1] -= h
    fd = (sf.transform(p)[0] - sf.transform(m)[0]) / (2 * h)
    np.testing.assert_allclose(dzdr[:, :, 3 * 5 + 1], fd, atol=1e-7 * np.abs(dzdr).max())


def test_errors_name_the_problem():
    with pytest.raises(ParameterError, match="set51"):
        SymmetryFunction({"Si-Si": 5.0}, "cos", "set99")
    with pytest.raises(ParameterError, match="cut_name"):
        SymmetryFunction({"Si-Si": 5.0}, "gauss", "set51")
    with pytest.raises(ParameterError, match="g4"):
        SymmetryFunction({"Si-Si": 5.0}, "cos", {"g4": [{"zeta": 1, "eta": 0.1}]})
    with pytest.raises(ParameterError, match="Si-C"):
        SymmetryFunction({"Si-Si": 5.0, "C-C": 4.0}, "cos", "set51")
    sf = SymmetryFunction({"Si-Si": 5.0}, "cos", "set51")
    with pytest.raises(Exception, match="'C'"):
        sf.transform(Atoms("SiC", positions=[[0, 0, 0], [1.8, 0, 0]]))


def test_descriptor_forward_backward():
    atoms = rattled_si(4)
    desc = Descriptor(cutoff=4.5, species=["Si"], descriptor="SymmetryFunctions")
    zeta = desc.forward(atoms)
    assert zeta.shape == (8, 51)
    _, dzdr = desc.forward_and_jacobian(atoms)
    ones = desc.backward(atoms, np.ones_like(zeta))
    np.testing.assert_allclose(ones, dzdr.sum(axis=(0, 1)), rtol=1e-12, atol=1e-14)
    # forces of E = sum w * zeta against finite differences of E
    w = np.random.default_rng(1).normal(size=zeta.shape)
    forces = -desc.backward(atoms, w)
    h = 1e-5
    for k, c in [(0, 0), (3, 2), (7, 1)]:
        p, m = atoms.copy(), atoms.copy()
        p.positions[k, c] += h
        m.positions[k, c] -= h
        fd = -((w * desc.forward(p)).sum() - (w * desc.forward(m)).sum()) / (2 * h)
        assert forces[k, c] == pytest.approx(fd, rel=1e-6, abs=1e-9)
