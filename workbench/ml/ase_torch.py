"""The torch back end of :class:`workbench.models.ase_calculator.WorkbenchCalculator`.

Neural networks and linear models evaluate one structure the way ``CalculatorTorch``
evaluates its data set: the descriptor's fingerprints (normalized with the descriptor's
mean and standard deviation, in the descriptor's dtype) go through the network, which
gives the energy of each atom; forces are ``-(dE/dzeta) · (dzeta/dr)`` and the stress is
``(dE/dzeta) · (dzeta/dstrain) / V``.  The descriptor's neighbor list is kept between
calls while atoms move less than half the skin (``ml.ase_neighbors.SkinDescriptor``).
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.errors import ModelError
from workbench.ml.ase_neighbors import SkinDescriptor


class TorchBackend:
    has_energies = True

    def __init__(self, model, skin=0.5):
        from workbench.models.ase_calculator import _Backend

        if not hasattr(model, "descriptor"):
            raise ModelError(f"ase_calculator: {type(model).__name__} has no descriptor")
        self.model = model
        self._skin_state = _Backend()
        self.features = SkinDescriptor(model.descriptor, self._skin_state, skin)

    @property
    def rebuilds(self) -> int:
        return self._skin_state.rebuilds

    def evaluate(self, atoms, stress):
        from workbench.models.ase_calculator import atoms_to_config

        desc = self.model.descriptor
        config = atoms_to_config(atoms)
        zeta, dzdr, dzds = self.features.transform(atoms, config, stress)
        if desc.normalize:
            if desc.mean is None or desc.stdev is None:
                raise ModelError("ase_calculator: the descriptor has no mean/stdev yet; "
                                 "create a CalculatorTorch on the training set first")
            zeta = (zeta - desc.mean) / desc.stdev
            inv = (1.0 / desc.stdev)[None, :, None]
            dzdr = dzdr * inv
            dzds = None if dzds is None else dzds * inv
        dt = self.model.dtype
        z = torch.as_tensor(np.asarray(zeta, desc.dtype), dtype=dt).requires_grad_(True)
        was_training = self.model.training
        self.model.train(False)
        try:
            with torch.enable_grad():
                if hasattr(self.model, "set_segments"):
                    self.model.set_segments(None)
                e_atom = self.model(z).reshape(-1)
                (g,) = torch.autograd.grad(e_atom.sum(), z)
        finally:
            self.model.train(was_training)
        g = g.detach().cpu().numpy().astype(float)
        n = len(atoms)
        dz = np.asarray(dzdr, desc.dtype).astype(float)
        forces = -np.einsum("id,idk->k", g, dz).reshape(n, 3)
        s = None
        if stress:
            vol = abs(float(np.linalg.det(config.cell)))
            s = np.einsum("id,ids->s", g, np.asarray(dzds, desc.dtype).astype(float)) / vol
        energies = e_atom.detach().cpu().numpy().astype(float)
        return float(energies.sum()), forces, s, energies
