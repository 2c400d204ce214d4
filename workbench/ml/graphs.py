"""KLIFF 1.x's ``RadialGraph``: the graph of a configuration for message-passing networks.

Nodes are the N atoms of the cell followed by their padding copies within
``n_layers · cutoff`` (KLIFF's padding scheme, :mod:`workbench.engine.padding`).  Layer 0
holds the edges (both directions) between the cell atoms and their neighbors closer than
``cutoff``; layer l + 1 the edges of the atoms that layer l reached, and so on — so the
layers grow outwards ([14, 50, 146] edges for two-atom diamond Si, cutoff 3.77 Å, three
layers).  Edges are sorted by (source, target).  ``contributions`` is 0 for the cell atoms
(whose energies are summed) and 1 for the copies; ``images`` the cell atom a node copies.

``forward`` returns a ``PyGGraph``: a ``torch_geometric.data.Data`` when PyTorch Geometric
is installed (batched by its ``DataLoader``), else a light container with the same
fields, attribute and item access and the same printed summary.
"""

from __future__ import annotations

import numpy as np

from workbench.engine.padding import create_paddings, pairs_within
from workbench.errors import DatasetError, ParameterError

try:  # optional
    from torch_geometric.data import Data as _Base
except ImportError:
    _Base = None


class _LightGraph:
    """Fields in insertion order; ``repr`` as PyTorch Geometric's ``Data``."""

    def __init__(self):
        object.__setattr__(self, "_store", {})

    def __setattr__(self, key, value):
        self._store[key] = value

    def __getattr__(self, key):
        try:
            return self.__dict__["_store"][key]
        except KeyError:
            raise AttributeError(key) from None

    def __getitem__(self, key):
        return self._store[key]

    def __contains__(self, key):
        return key in self._store

    def keys(self):
        """Names of the graph's fields (positions, edge indices, species, ...)."""
        return list(self._store)

    def to_dict(self):
        """The fields as NumPy arrays (tensors converted)."""
        return {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else v)
                for k, v in self._store.items()}

    def __repr__(self):
        def show(v):
            if hasattr(v, "dim") and v.dim() > 0:
                return str(list(v.shape))
            return str(v.item() if hasattr(v, "item") else v)

        body = ", ".join(f"{k}={show(v)}" for k, v in self._store.items())
        return f"{type(self).__name__}({body})"


if _Base is not None:
    class PyGGraph(_Base):
        """A PyTorch Geometric graph of a configuration (KLIFF's collation rules)."""

        def __inc__(self, key, value, *args, **kwargs):
            if "index" in key:
                return self.num_nodes
            if "contributions" in key:
                return 2
            if "images" in key:
                return int(value.max()) + 1
            return 0

        def __cat_dim__(self, key, value, *args, **kwargs):
            return 1 if "index" in key else 0

        def to_dict(self):
            return {k: v.detach().cpu().numpy() for k, v in self._store.items()}
else:
    class PyGGraph(_LightGraph):
        """The graph of a configuration (PyTorch Geometric is not installed)."""


class RadialGraph:
    """``RadialGraph(species, cutoff, n_layers)``; ``forward(conf)`` (or calling it)
    gives the :class:`PyGGraph` of ``conf``."""

    def __init__(self, species, cutoff: float, n_layers: int = 1, copy_to_config=False):
        if not species:
            raise ParameterError("RadialGraph: expected a non-empty species list")
        if not float(cutoff) > 0:
            raise ParameterError(f"RadialGraph cutoff={cutoff!r}: expected a positive distance")
        if int(n_layers) < 1:
            raise ParameterError(f"RadialGraph n_layers={n_layers!r}: expected >= 1")
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.n_layers = int(n_layers)
        self.infl_dist = self.n_layers * self.cutoff
        self.copy_to_config = copy_to_config

    def __call__(self, conf):
        graph = self.forward(conf)
        if self.copy_to_config:
            conf.fingerprint = graph
        return graph

    def forward(self, conf):
        """The graph of one configuration: the atoms plus the periodic images within
        ``n_layers × cutoff`` (Å) as nodes, and an edge each way between every two nodes
        closer than ``cutoff``; energy and forces (NaN where absent), atomic numbers and
        species indices attached. Raises DatasetError for a species not in the list."""
        import torch
        from ase.data import atomic_numbers

        coords = np.asarray(conf.coords, float).reshape(-1, 3)
        cell = np.asarray(conf.cell, float).reshape(3, 3)
        n = len(coords)
        unknown = sorted(set(conf.species) - set(self.species))
        if unknown:
            raise DatasetError(f"configuration {getattr(conf, 'identifier', None)!r}: "
                               f"species {', '.join(unknown)} not in {self.species}")
        pad, image = create_paddings(coords, cell, conf.PBC, self.infl_dist)
        pos = np.concatenate([coords, pad])
        images = np.concatenate([np.arange(n), image]).astype(np.int64)
        z = np.array([atomic_numbers[conf.species[k]] for k in images], dtype=np.int64)
        # species index: rank of the atomic number among those present (KLIFF's rule)
        species = np.searchsorted(np.unique(z), z).astype(np.int64)
        pairs = pairs_within(pos, self.cutoff)
        src = np.concatenate([pairs[:, 0], pairs[:, 1]])
        dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
        g = PyGGraph()
        energy = getattr(conf, "energy", None)
        forces = getattr(conf, "forces", None)
        g.energy = torch.as_tensor(np.nan if energy is None else float(energy),
                                   dtype=torch.float64)
        g.forces = torch.as_tensor(np.full((n, 3), np.nan) if forces is None
                                   else np.asarray(forces, float))
        g.n_layers = torch.as_tensor(self.n_layers)
        g.coords = torch.as_tensor(pos)
        g.images = torch.as_tensor(images)
        g.species = torch.as_tensor(species)
        g.z = torch.as_tensor(z)
        g.cell = torch.as_tensor(cell.reshape(9))
        g.contributions = torch.as_tensor((np.arange(len(pos)) >= n).astype(np.int64))
        g.num_nodes = torch.as_tensor(len(pos))
        g.idx = torch.as_tensor(int(getattr(conf, "metadata", {}).get("index", -1))
                                if isinstance(getattr(conf, "metadata", None), dict) else -1)
        frontier = np.zeros(len(pos), bool)
        frontier[:n] = True
        for layer in range(self.n_layers):
            out = frontier[src]
            edges = np.unique(np.concatenate([np.column_stack([src[out], dst[out]]),
                                              np.column_stack([dst[out], src[out]])]),
                              axis=0) if out.any() else np.zeros((0, 2), np.int64)
            setattr(g, f"edge_index{layer}",
                    torch.as_tensor(np.ascontiguousarray(edges.T), dtype=torch.long))
            nxt = np.zeros(len(pos), bool)
            nxt[dst[out]] = True
            frontier = nxt
        return g
