"""Transforms of data sets for ML models.

Property transforms (fitted on a training set, applied in place, with inverses):

* :class:`EnergyNormalization` — ``E' = (E − N μ) / σ`` with μ, σ the mean and standard
  deviation of the per-atom energies ``E/N`` of the training set;
* :class:`ForceRMSNormalization` — ``F' = F / rms`` with rms the root mean square of all
  force components of the training set.

Configuration transform:

* :class:`RadialGraph` — the graph of a periodic configuration for message-passing
  networks, as plain torch tensors: the atoms of the cell followed by the periodic images
  within ``n_layers · cutoff`` of them, and for each of the ``n_layers`` layers the
  directed edges (both directions) between atoms closer than ``cutoff``.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import DatasetError, ParameterError


def _configs(configs):
    return [configs] if hasattr(configs, "coords") else list(configs)


class EnergyNormalization:
    """Per-atom energy normalization; ``fit`` on the training set first."""

    def __init__(self, mean=None, std=None):
        self.mean = None if mean is None else float(mean)
        self.std = None if std is None else float(std)

    def fit(self, configs):
        e = []
        for c in _configs(configs):
            if c.energy is None:
                raise DatasetError(f"configuration {c.identifier!r} has no energy to fit "
                                   "the energy normalization")
            e.append(float(c.energy) / c.get_num_atoms())
        e = np.asarray(e)
        self.mean = float(e.mean())
        self.std = float(e.std()) if e.std() > 0 else 1.0
        return self

    def _check(self):
        if self.mean is None:
            raise ParameterError("EnergyNormalization is not fitted: call fit(configs)")

    def forward_value(self, energy, natoms):
        self._check()
        return (energy - natoms * self.mean) / self.std

    def inverse_value(self, energy, natoms):
        self._check()
        return energy * self.std + natoms * self.mean

    def transform(self, configs):
        """Normalize the energies of ``configs`` in place; returns them."""
        configs = _configs(configs)
        for c in configs:
            if c.energy is not None:
                c.energy = float(self.forward_value(float(c.energy), c.get_num_atoms()))
        return configs

    def inverse(self, configs):
        configs = _configs(configs)
        for c in configs:
            if c.energy is not None:
                c.energy = float(self.inverse_value(float(c.energy), c.get_num_atoms()))
        return configs

    def state_dict(self):
        return {"mean": self.mean, "std": self.std}


class ForceRMSNormalization:
    """Scale forces by the inverse RMS force component of the training set."""

    def __init__(self, rms=None):
        self.rms = None if rms is None else float(rms)

    def fit(self, configs):
        sq, n = 0.0, 0
        for c in _configs(configs):
            if c.forces is None:
                raise DatasetError(f"configuration {c.identifier!r} has no forces to fit "
                                   "the force normalization")
            f = np.asarray(c.forces, float)
            sq += float((f * f).sum())
            n += f.size
        rms = np.sqrt(sq / n) if n else 0.0
        self.rms = float(rms) if rms > 0 else 1.0
        return self

    def _check(self):
        if self.rms is None:
            raise ParameterError("ForceRMSNormalization is not fitted: call fit(configs)")

    def forward_value(self, forces):
        self._check()
        return np.asarray(forces, float) / self.rms

    def inverse_value(self, forces):
        self._check()
        return np.asarray(forces, float) * self.rms

    def transform(self, configs):
        configs = _configs(configs)
        for c in configs:
            if c.forces is not None:
                c.forces = self.forward_value(c.forces)
        return configs

    def inverse(self, configs):
        configs = _configs(configs)
        for c in configs:
            if c.forces is not None:
                c.forces = self.inverse_value(c.forces)
        return configs

    def state_dict(self):
        return {"rms": self.rms}


class RadialGraph:
    """Graph of a configuration for ``n_layers`` rounds of message passing.

    ``forward(conf)`` returns a dict of torch tensors:

    * ``coords`` (P, 3): the N atoms of the cell, then periodic images within
      ``n_layers · cutoff`` of a cell atom (P ≥ N);
    * ``images`` (P,): the cell atom each entry is a copy of; ``species`` (P,) indices into
      ``species``; ``z`` (P,) atomic numbers; ``contributions`` (P,): 0 for cell atoms, 1 for
      images (sum atomic energies over ``contributions == 0``);
    * ``edge_index0`` … (2, E_l) long: the directed pairs (both directions) closer than
      ``cutoff`` that layer l needs: at least one end within l' = n_layers − 1 − l hops
      of a cell atom (the last layer only feeds the cell atoms);
    * ``cell`` (9,), ``energy``, ``forces`` (N, 3) when the configuration has them,
      ``n_layers``, ``num_nodes``, ``n_atoms``.
    """

    def __init__(self, species, cutoff: float, n_layers: int = 1):
        if not species:
            raise ParameterError("RadialGraph: expected a non-empty species list")
        if not float(cutoff) > 0:
            raise ParameterError(f"RadialGraph cutoff={cutoff!r}: expected a positive distance")
        if int(n_layers) < 1:
            raise ParameterError(f"RadialGraph n_layers={n_layers!r}: expected >= 1")
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.n_layers = int(n_layers)

    def __call__(self, conf):
        return self.forward(conf)

    def forward(self, conf):
        import torch
        from ase.data import atomic_numbers
        from scipy.spatial import cKDTree

        from workbench.engine.neighbors import neighbor_list

        coords = np.asarray(conf.coords, float).reshape(-1, 3)
        cell = np.asarray(conf.cell, float).reshape(3, 3)
        pbc = np.asarray(conf.PBC, bool).reshape(3)
        n = len(coords)
        code = {s: k for k, s in enumerate(self.species)}
        try:
            spec = np.array([code[s] for s in conf.species], dtype=np.int64)
        except KeyError as e:
            raise DatasetError(f"configuration {getattr(conf, 'identifier', '')!r}: species "
                               f"{e.args[0]!r} not in {self.species}") from None
        _, j, shift = neighbor_list(coords, cell, pbc, self.n_layers * self.cutoff)
        ghost = np.any(shift != 0, axis=1)
        key = np.unique(np.column_stack([j[ghost], shift[ghost]]), axis=0)
        images = np.concatenate([np.arange(n), key[:, 0]]).astype(np.int64)
        pos = np.concatenate([coords, coords[key[:, 0]] + key[:, 1:] @ cell])
        pairs = cKDTree(pos).query_pairs(self.cutoff, output_type="ndarray")
        pairs = pairs.reshape(-1, 2)
        # hop distance of every atom from the cell atoms, up to n_layers - 1
        hops = np.full(len(pos), self.n_layers, dtype=np.int64)
        hops[:n] = 0
        for h in range(1, self.n_layers):
            near = np.zeros(len(pos), bool)
            a, b = pairs[:, 0], pairs[:, 1]
            near[b[hops[a] == h - 1]] = True
            near[a[hops[b] == h - 1]] = True
            hops[near & (hops > h)] = h
        out = {"coords": torch.as_tensor(pos), "images": torch.as_tensor(images),
               "species": torch.as_tensor(spec[images]),
               "z": torch.as_tensor(np.array([atomic_numbers[self.species[s]]
                                              for s in spec[images]], dtype=np.int64)),
               "contributions": torch.as_tensor((np.arange(len(pos)) >= n).astype(np.int64)),
               "cell": torch.as_tensor(cell.reshape(9)), "n_layers": self.n_layers,
               "num_nodes": len(pos), "n_atoms": n}
        for layer in range(self.n_layers):
            reach = self.n_layers - 1 - layer
            keep = (hops[pairs[:, 0]] <= reach) | (hops[pairs[:, 1]] <= reach)
            p = pairs[keep]
            edges = np.concatenate([p, p[:, ::-1]]).T if len(p) else np.zeros((2, 0), int)
            out[f"edge_index{layer}"] = torch.as_tensor(np.ascontiguousarray(edges),
                                                        dtype=torch.long)
        if getattr(conf, "energy", None) is not None:
            out["energy"] = torch.tensor(float(conf.energy))
        if getattr(conf, "forces", None) is not None:
            out["forces"] = torch.as_tensor(np.asarray(conf.forces, float))
        return out
