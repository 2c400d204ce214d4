"""KLIFF 1.x's property transforms (``kliff.transforms.property_transforms``), same names
and definitions; each maps one property of every configuration of a data set in place
and can map it back (``inverse``) with the statistics it computed.

* ``NormalizedPropertyTransform("energy")``: ``x' = (x − mean) / std`` over the data set's
  (total) values;
* ``RMSNormalizePropertyTransform("forces")``: ``x' = x / sqrt(mean(x²))`` over all
  components;
* ``RMSMagnitudeNormalizePropertyTransform("forces")``: ``x' = x / sqrt(mean ‖x_i‖²)``
  over all atoms (the root-mean-square force magnitude).

The per-atom-energy variant the Workbench uses itself is
:class:`workbench.ml.transforms.EnergyNormalization`.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import DatasetError, ParameterError


class PropertyTransformError(ParameterError):
    pass


class PropertyTransform:
    """Base: ``transform(dataset)`` / ``inverse(dataset)`` on ``property_key``."""

    def __init__(self, property_key: str = "energy", keep_original: bool = False):
        self.property_key = property_key
        self._keep_original = keep_original
        self.original_values = None

    @property
    def keep_original(self):
        return self._keep_original

    def transform(self, dataset):
        """Transform the property of every configuration in place (subclasses define how).
        Raises DatasetError naming a configuration that lacks the property."""
        raise PropertyTransformError("This method is not implemented.")

    def inverse(self, dataset):
        """Undo ``transform`` in place, with the statistics it computed."""
        raise PropertyTransformError("This method is not implemented.")

    def __call__(self, dataset):
        self.transform(dataset)

    @staticmethod
    def get_configuration_list(dataset) -> list:
        """The configurations of a Dataset, or the list itself. Raises
        PropertyTransformError for anything else."""
        if hasattr(dataset, "get_configs"):
            return list(dataset.get_configs())
        if isinstance(dataset, (list, tuple)):
            return list(dataset)
        raise PropertyTransformError(f"expected a Dataset or a list of configurations, "
                                     f"got {type(dataset).__name__}")

    def _values(self, dataset) -> list:
        out = []
        for k, c in enumerate(self.get_configuration_list(dataset)):
            v = getattr(c, self.property_key, None)
            if v is None:
                raise DatasetError(f"configuration {getattr(c, 'identifier', None) or k!r} "
                                   f"has no {self.property_key} to transform")
            out.append(np.asarray(v, float))
        if self._keep_original and self.original_values is None:
            self.original_values = [v.copy() for v in out]
        return out

    def _set(self, dataset, values) -> None:
        for c, v in zip(self.get_configuration_list(dataset), values):
            setattr(c, self.property_key, float(v) if np.ndim(v) == 0 else v)


class NormalizedPropertyTransform(PropertyTransform):
    """Zero mean, unit standard deviation over the data set."""

    def __init__(self, property_key: str = "energy", keep_original: bool = False):
        super().__init__(property_key, keep_original)
        self.mean, self.std = 0.0, 1.0

    def transform(self, dataset):
        values = self._values(dataset)
        flat = np.concatenate([v.ravel() for v in values])
        self.mean, self.std = float(flat.mean()), float(flat.std())
        self._set(dataset, [(v - self.mean) / self.std for v in values])

    def inverse(self, dataset):
        self._set(dataset, [v * self.std + self.mean for v in self._values(dataset)])


class RMSNormalizePropertyTransform(PropertyTransform):
    """Divide by the root mean square of all components."""

    def __init__(self, property_key: str = "forces", keep_original: bool = False):
        super().__init__(property_key, keep_original)
        self.rms_mean = 0.0

    def transform(self, dataset):
        values = self._values(dataset)
        flat = np.concatenate([v.ravel() for v in values])
        self.rms_mean = float(np.sqrt(np.mean(flat ** 2)))
        self._set(dataset, [v / self.rms_mean for v in values])

    def inverse(self, dataset):
        self._set(dataset, [v * self.rms_mean for v in self._values(dataset)])


class RMSMagnitudeNormalizePropertyTransform(PropertyTransform):
    """Divide by the root mean square of the per-atom vector magnitudes."""

    def __init__(self, property_key: str = "forces", keep_original: bool = False):
        super().__init__(property_key, keep_original)
        self.rms_mean_magnitude = 0.0

    def transform(self, dataset):
        values = self._values(dataset)
        sq = np.concatenate([np.sum(v.reshape(-1, 3) ** 2, axis=1) for v in values])
        self.rms_mean_magnitude = float(np.sqrt(np.mean(sq)))
        self._set(dataset, [v / self.rms_mean_magnitude for v in values])

    def inverse(self, dataset):
        self._set(dataset, [v * self.rms_mean_magnitude for v in self._values(dataset)])
