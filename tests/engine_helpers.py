"""Shared checks for engine potentials: loading configurations, finite differences of
forces, stress (strain derivative) and parameter Jacobians.

Every check compares a quantity computed by a ``PotentialSpec`` against central finite
differences of the energy (or of the quantity itself) evaluated through the same spec on a
freshly packed batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.engine.batch import pack
from workbench.engine.fd import central_difference_jacobian, flatten_params, unflatten_params


@dataclass
class Config:
    """Minimal configuration (the duck type the engine accepts)."""

    coords: np.ndarray
    cell: np.ndarray
    PBC: tuple
    species: list
    energy: float | None = None
    forces: np.ndarray | None = None
    identifier: str = ""
    extra: dict = field(default_factory=dict)


def from_atoms(atoms, identifier="") -> Config:
    return Config(np.array(atoms.positions, float), np.array(atoms.cell[:], float),
                  tuple(bool(p) for p in atoms.pbc), list(atoms.get_chemical_symbols()),
                  identifier=identifier)


def to_atoms(config):
    import ase

    return ase.Atoms(symbols=list(config.species), positions=np.asarray(config.coords),
                     cell=np.asarray(config.cell), pbc=list(config.PBC))


_KV = re.compile(r'(\w+)=("[^"]*"|\S+)')


def read_xyz(path) -> Config:
    """Read one bundled extended-XYZ file (Lattice, PBC, Energy, species, pos, force)."""
    lines = Path(path).read_text().splitlines()
    n = int(lines[0])
    info = {k: v.strip('"') for k, v in _KV.findall(lines[1])}
    cell = np.array(info["Lattice"].split(), float).reshape(3, 3)
    pbc = tuple(bool(int(p)) for p in info.get("PBC", "1 1 1").split())
    rows = [ln.split() for ln in lines[2:2 + n]]
    species = [r[0] for r in rows]
    data = np.array([r[1:] for r in rows], float)
    forces = data[:, 3:6] if data.shape[1] >= 6 else None
    energy = float(info["Energy"]) if "Energy" in info else None
    return Config(data[:, :3].copy(), cell, pbc, species, energy, forces, identifier=str(path))


def load_dir(path, limit=None, step=1) -> list[Config]:
    files = sorted(Path(path).rglob("*.xyz"))[::step]
    if limit is not None:
        files = files[:limit]
    return [read_xyz(f) for f in files]


def rel_err(a, b) -> float:
    """max |a-b| / max(|b|) (scale of the reference), robust to zero entries."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-300)
    return float(np.max(np.abs(a - b))) / scale if a.size else 0.0


def evaluate(spec, configs, params, species_names, forces=True, stress=False,
             jacobian=False, cutoff=None):
    cutoff = spec.influence_distance(params) if cutoff is None else cutoff
    batch = pack(configs, cutoff, species_names)
    return spec.compute(batch, params, forces=forces, stress=stress, jacobian=jacobian)


def _with(config, coords=None, cell=None) -> Config:
    return Config(np.array(config.coords if coords is None else coords, float),
                  np.array(config.cell if cell is None else cell, float), tuple(config.PBC),
                  list(config.species))


def fd_forces(spec, config, params, species_names, h=1e-5) -> np.ndarray:
    """-dE/dr of one configuration by central differences (N, 3)."""
    x0 = np.asarray(config.coords, float)

    def energy(flat):
        c = _with(config, coords=flat.reshape(-1, 3))
        return evaluate(spec, [c], params, species_names, forces=False).energy[0]

    return -central_difference_jacobian(energy, x0.ravel(), rel_step=0.0,
                                        abs_step=h).reshape(-1, 3)


def fd_stress(spec, config, params, species_names, h=1e-6) -> np.ndarray:
    """Strain derivative of E divided by the volume, Voigt (xx yy zz yz xz xy)."""
    x0 = np.asarray(config.coords, float)
    cell0 = np.asarray(config.cell, float)
    vol = abs(np.linalg.det(cell0))
    out = np.zeros(6)
    for v, (a, b) in enumerate([(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]):
        es = []
        for s in (h, -h):
            f = np.eye(3)
            f[a, b] += s
            c = _with(config, coords=x0 @ f.T, cell=cell0 @ f.T)
            es.append(evaluate(spec, [c], params, species_names, forces=False).energy[0])
        out[v] = (es[0] - es[1]) / (2 * h) / vol
    return out


def fd_param_jacobians(spec, configs, params, species_names, rel_step=1e-6,
                       columns=None):
    """Central differences of energy, forces and stress wrt the flat parameter vector.

    The neighbor list is built once with a cutoff enlarged by 5 % so cutoff-parameter
    steps do not change the candidate pairs.
    """
    names = spec.param_names
    sizes = [np.atleast_1d(params[n]).size for n in names]
    x0 = flatten_params(params, names)
    batch = pack(configs, spec.influence_distance(params) * 1.05, species_names)
    nat = batch.natoms
    ncf = batch.nconfigs

    def quantity(flat):
        p = unflatten_params(flat, names, sizes)
        r = spec.compute(batch, p, forces=True, stress=True, jacobian=False)
        st = np.nan_to_num(r.stress, nan=0.0)
        return np.concatenate([r.energy, r.forces.ravel(), st.ravel()])

    jac = central_difference_jacobian(quantity, x0, columns=columns, rel_step=rel_step)
    return (jac[:ncf], jac[ncf:ncf + 3 * nat].reshape(nat, 3, -1),
            jac[ncf + 3 * nat:].reshape(ncf, 6, -1), batch)


def rattled(config, amplitude, rng) -> Config:
    return _with(config, coords=np.asarray(config.coords) +
                 rng.uniform(-amplitude, amplitude, size=np.shape(config.coords)))
