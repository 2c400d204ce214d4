"""A Weight that puts a larger weight on configurations with cracks (KLIFF's example).

A training set for fracture studies mixes bulk configurations with configurations that
contain cracks; the latter matter more.  Any configuration whose identifier contains
``pattern`` (default ``"with_cracks"``) has its configuration weight multiplied by
``crack_factor`` (default 10).  Registered as ``WeightForCracks`` under the
``workbench.weights`` entry-point group.
"""

from __future__ import annotations

from workbench.data.weight import Weight
from workbench.errors import DatasetError


class WeightForCracks(Weight):
    """Weight x ``crack_factor`` for configurations whose identifier contains ``pattern``."""

    def __init__(self, config_weight=1.0, energy_weight=1.0, forces_weight=1.0,
                 stress_weight=1.0, crack_factor=10.0, pattern="with_cracks"):
        super().__init__(config_weight=config_weight, energy_weight=energy_weight,
                         forces_weight=forces_weight, stress_weight=stress_weight)
        try:
            factor = float(crack_factor)
        except (TypeError, ValueError):
            raise DatasetError(f"crack_factor={crack_factor!r}; expected a number >= 0") from None
        if not factor >= 0 or factor == float("inf"):
            raise DatasetError(f"crack_factor={crack_factor!r}; expected a finite number >= 0")
        if not isinstance(pattern, str) or not pattern:
            raise DatasetError(f"pattern={pattern!r}; expected a non-empty string")
        self.crack_factor = factor
        self.pattern = pattern

    def compute_weight(self, config) -> None:
        super().compute_weight(config)
        identifier = str(getattr(config, "identifier", "") or "")
        if self.pattern in identifier:
            self._config_weight = self._config_weight * self.crack_factor
