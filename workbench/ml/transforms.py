"""Transforms of data sets for ML models.

Property transforms (fitted on a training set, applied in place, with inverses):

* :class:`EnergyNormalization` — ``E' = (E − N μ) / σ`` with μ, σ the mean and standard
  deviation of the per-atom energies ``E/N`` of the training set;
* :class:`ForceRMSNormalization` — ``F' = F / rms`` with rms the root mean square of all
  force components of the training set.

KLIFF 1.x's property transforms (``NormalizedPropertyTransform`` on total energies,
``RMSMagnitudeNormalizePropertyTransform`` on forces, ...) are in
:mod:`workbench.ml.property_transforms`; its ``RadialGraph`` in :mod:`workbench.ml.graphs`
(importable from here too).
"""

from __future__ import annotations

import numpy as np

from workbench.errors import DatasetError, ParameterError
from workbench.ml.graphs import PyGGraph, RadialGraph  # noqa: F401


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
