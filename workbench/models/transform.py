"""Parameter transforms: the map between a parameter's original space and the space an
optimizer works in.

A transform acts element-wise on the components of the parameters it names.  Besides the
forward map (``transform``: original -> transformed) and its inverse (``inverse_transform``)
it provides ``inverse_derivative(y) = d original / d transformed``, which the fitting layer
needs for the chain rule ``J_x = J_original * d_original_d_x``
(see :meth:`workbench.models.model.Model.opt_param_chain`).

As in KLIFF, ``transform``/``inverse_transform`` also accept a mapping of parameter name to
values (or :class:`~workbench.models.parameter.Parameter`); then only the names listed in
``param_names`` are mapped and a new ``dict`` of arrays is returned (nothing is changed in
place).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Iterable

import numpy as np

from workbench.errors import ParameterError


class ParameterTransform:
    """Identity transform and base class of all parameter transforms.

    Subclasses override :meth:`forward`, :meth:`inverse`, :meth:`inverse_derivative` and,
    when the forward map has a restricted domain, :meth:`check_domain`.  ``kind`` is the
    short name written into saved models.
    """

    kind = "identity"

    def __init__(self, param_names: Iterable[str] | None = None):
        if isinstance(param_names, str):
            param_names = [param_names]
        self.param_names = list(param_names or [])

    def for_names(self, names) -> "ParameterTransform":
        """The same transform (same settings) for the parameters ``names``."""
        return type(self)(names)

    # element-wise maps -------------------------------------------------------------
    def forward(self, values) -> np.ndarray:
        """Original -> transformed, element-wise."""
        return np.array(values, dtype=float)

    def inverse(self, values) -> np.ndarray:
        """Transformed -> original, element-wise."""
        return np.array(values, dtype=float)

    def inverse_derivative(self, values) -> np.ndarray:
        """``d original / d transformed`` at the transformed ``values``."""
        return np.ones_like(np.asarray(values, dtype=float))

    def derivative(self, values) -> np.ndarray:
        """``d transformed / d original`` at the original ``values``."""
        return 1.0 / self.inverse_derivative(self.forward(values))

    def check_domain(self, values, name: str = "?") -> None:
        """Raise ParameterError if ``values`` (original space) cannot be transformed."""

    def forward_bound(self, bound: float | None, is_lower: bool, name: str = "?"):
        """Map one bound (original space, None = unbounded) to the transformed space."""
        if bound is None:
            return None
        return float(self.forward(np.array([bound]))[0])

    def inverse_bound(self, bound: float | None, is_lower: bool, name: str = "?"):
        """Map one bound (transformed space, None = unbounded) to the original space."""
        if bound is None:
            return None
        return float(self.inverse(np.array([bound]))[0])

    # KLIFF-style API ---------------------------------------------------------------
    def transform(self, values):
        """Original -> transformed; ``values`` is an array or a name -> values mapping."""
        if isinstance(values, Mapping):
            return self._map(values, self.forward, check=True)
        return self.forward(values)

    def inverse_transform(self, values):
        """Transformed -> original; ``values`` is an array or a name -> values mapping."""
        if isinstance(values, Mapping):
            return self._map(values, self.inverse, check=False)
        return self.inverse(values)

    def __call__(self, values):
        return self.transform(values)

    def _map(self, params: Mapping, func, check: bool) -> dict:
        out = {}
        for name, p in params.items():
            arr = np.array(getattr(p, "value", p), dtype=float)
            if name in self.param_names:
                if check:
                    self.check_domain(arr, name)
                arr = func(arr)
            out[name] = arr
        return out

    def __repr__(self):
        return f"{type(self).__name__}(param_names={self.param_names!r})"


class LogParameterTransform(ParameterTransform):
    """Work with ``log_base(p)`` instead of ``p`` for the named parameters (natural log by
    default; KLIFF 1.x's ``LogParameterTransform(base=10)`` also works, positionally too).

    The optimizer then sees an unbounded variable while the original parameter stays
    positive.  A lower bound of zero or below in the original space means "no lower bound"
    in log space; an upper bound must be positive.
    """

    def __init__(self, param_names: Iterable[str] | None = None, base: float = np.e):
        if isinstance(param_names, numbers.Real) and not isinstance(param_names, bool):
            param_names, base = None, param_names  # KLIFF 1.x: LogParameterTransform(base)
        super().__init__(param_names)
        base = float(base)
        if not (np.isfinite(base) and base > 0 and base != 1.0):
            raise ParameterError(f"LogParameterTransform base={base!r}: expected a positive "
                                 "number other than 1")
        self.base = base
        self._natural = base == np.e
        self._ln_base = float(np.log(base))

    @property
    def kind(self) -> str:
        """``"log"`` (natural) or ``"log:BASE"``; what saved models record."""
        return "log" if self._natural else f"log:{self.base!r}"

    def for_names(self, names):
        return type(self)(names, base=self.base)

    def forward(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(values)
        return out if self._natural else out / self._ln_base

    def inverse(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        return np.exp(values) if self._natural else np.power(self.base, values)

    def inverse_derivative(self, values) -> np.ndarray:
        return self.inverse(values) * self._ln_base

    def derivative(self, values) -> np.ndarray:
        return 1.0 / (np.asarray(values, dtype=float) * self._ln_base)

    def check_domain(self, values, name: str = "?") -> None:
        values = np.atleast_1d(np.asarray(values, dtype=float))
        bad = np.flatnonzero(~(values > 0))
        if bad.size:
            comps = ", ".join(f"[{i}] = {float(values[i])!r}" for i in bad)
            raise ParameterError(
                f"Cannot log-transform parameter '{name}': it needs positive values, "
                f"got {comps}."
            )

    def forward_bound(self, bound, is_lower, name="?"):
        if bound is None:
            return None
        if bound <= 0:
            if is_lower:
                return None
            raise ParameterError(
                f"Cannot log-transform parameter '{name}': its upper bound {bound!r} is "
                f"not positive."
            )
        return float(self.forward([bound])[0])


#: Transforms by ``kind``; used when loading saved models and by ``set_param_transform``.
TRANSFORMS: dict[str, type[ParameterTransform]] = {
    "identity": ParameterTransform,
    "log": LogParameterTransform,
}


def make_transform(kind, name: str) -> ParameterTransform | None:
    """A transform for one parameter from a kind name, a class or an instance."""
    if kind is None:
        return None
    if isinstance(kind, ParameterTransform):
        return kind
    if isinstance(kind, type) and issubclass(kind, ParameterTransform):
        return kind([name])
    if isinstance(kind, str) and kind.lower().startswith("log:"):
        try:
            return LogParameterTransform([name], base=float(kind[4:]))
        except ValueError:
            raise ParameterError(f"Bad transform {kind!r} for parameter '{name}': "
                                 "expected 'log:BASE' with a number BASE") from None
    if isinstance(kind, str):
        cls = TRANSFORMS.get(kind.lower())
        if cls is None:
            raise ParameterError(
                f"Unknown transform {kind!r} for parameter '{name}'; expected one of "
                f"{sorted(TRANSFORMS)} or None."
            )
        return cls([name])
    raise ParameterError(
        f"Bad transform {kind!r} for parameter '{name}'; expected a name such as 'log', "
        f"a ParameterTransform or None."
    )
