"""One model parameter: values, fixed mask, bounds and an optional transform.

Spaces
------
A parameter lives in two spaces at once and keeps both in sync:

* the **original** space — the model's own parameterization, used to compute energies
  (``value``, ``lower_bound``, ``upper_bound``);
* the **transformed** space — what an optimizer sees (``transformed_value``,
  ``get_bounds("transformed")``).  Without a transform the two are equal.

Both representations are stored, so whichever space a value or bound was set in is kept
exactly (no ``exp(log(x))`` round-off) and switching the transform on or off never loses a
value or a bound.  Bounds are ``None`` where unbounded.  Values given to KLIFF-style
``set_opt_params`` are in the transformed space; the constructor takes original-space
values and bounds.
"""

from __future__ import annotations

import numbers
import re
from typing import Sequence

import numpy as np

from workbench.errors import ParameterError
from workbench.models.transform import ParameterTransform, make_transform

SPACES = ("original", "transformed")


def _check_space(space: str) -> str:
    if space not in SPACES:
        raise ParameterError(f"Expected params_space 'original' or 'transformed', got {space!r}.")
    return space


_PLAIN_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_INF_WORDS = ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")


def as_number(x, what: str, name: str, allow_inf: bool = False) -> float:
    """``x`` as a finite float (±inf too with ``allow_inf``), or a ParameterError naming
    the parameter.  Strings are read only in plain decimal notation ("1.5e-3", "inf")."""
    value = None
    if isinstance(x, str):
        text = x.strip().lower()
        if _PLAIN_NUMBER.match(text) or text in _INF_WORDS:
            value = float(text)
    elif not isinstance(x, (bool, np.bool_)) and isinstance(x, (numbers.Real, np.floating,
                                                                 np.integer)):
        value = float(x)
    if value is None:
        raise ParameterError(f"Parameter '{name}': {what} must be a number, got {x!r}.")
    if np.isnan(value) or (np.isinf(value) and not allow_inf):
        raise ParameterError(f"Parameter '{name}': {what} must be a finite number, got {x!r}.")
    return value


def _as_vector(value, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ParameterError(f"Parameter '{name}' must be a scalar or a 1-D array, got shape {arr.shape}.")
    return np.array([as_number(v, f"component {i}", name) for i, v in enumerate(arr)], dtype=float)


class Parameter:
    """A model parameter (KLIFF semantics) with per-component fixed flags and bounds.

    Args:
        value: original-space values (scalar or 1-D).
        fixed: per-component flags; fixed components are not optimized.
        lower_bound, upper_bound: per-component original-space bounds, None = unbounded.
        name, index: the parameter's name and position in its model.
        transform: None, a kind name ("log") or a ParameterTransform.
        description, unit: free text shown by the UI.
    """

    def __init__(self, value, fixed=None, lower_bound=None, upper_bound=None, name=None,
                 index=None, transform=None, description: str = "", unit: str = ""):
        self._name = name
        self._index = index
        self.description = description
        self.unit = unit
        self._value = _as_vector(value, self.label)
        n = len(self._value)
        self._fixed = np.zeros(n, dtype=bool) if fixed is None else self._mask(fixed)
        self._lower = self._bounds_list(lower_bound, "lower_bound")
        self._upper = self._bounds_list(upper_bound, "upper_bound")
        for i in range(n):
            self._validate_pair(i, self._lower[i], self._upper[i], "original")
        self._transform: ParameterTransform | None = None
        self._tvalue = self._value.copy()
        self._tlower = list(self._lower)
        self._tupper = list(self._upper)
        if transform is not None:
            self.set_transform(transform)

    # identity ----------------------------------------------------------------------
    @property
    def name(self) -> str | None:
        return self._name

    @property
    def index(self) -> int | None:
        return self._index

    @property
    def label(self) -> str:
        return self._name if self._name is not None else "?"

    def __len__(self) -> int:
        return len(self._value)

    @property
    def size(self) -> int:
        return len(self._value)

    # values --------------------------------------------------------------------------
    @property
    def value(self) -> np.ndarray:
        """Original-space values (a read-only view; use ``set_value`` to change them)."""
        v = self._value.view()
        v.flags.writeable = False
        return v

    @value.setter
    def value(self, values):
        self.set_value(values, "original")

    @property
    def transformed_value(self) -> np.ndarray:
        """Transformed-space values (read-only view)."""
        v = self._tvalue.view()
        v.flags.writeable = False
        return v

    def get_value(self, space: str = "original") -> np.ndarray:
        """The parameter's components as a new array, in the ``'original'`` (physical)
        or ``'transformed'`` (optimizer) space; ParameterError for another space name."""
        return (self._value if _check_space(space) == "original" else self._tvalue).copy()

    def set_value(self, values, space: str = "original") -> None:
        """Set all components at once in the given space."""
        vec = _as_vector(values, self.label)
        if len(vec) != len(self):
            raise ParameterError(
                f"Parameter '{self.label}' has {len(self)} component(s), got {len(vec)} value(s).")
        for i, v in enumerate(vec):
            self.set_component(i, v, space)

    def set_component(self, i: int, v, space: str = "original") -> None:
        """Set component ``i`` in the given space (the other space follows)."""
        self._check_component(i)
        self._value[i], self._tvalue[i] = self.convert(i, v, space)

    def convert(self, i: int, v, space: str = "original") -> tuple[float, float]:
        """``(original, transformed)`` for value ``v`` of component ``i`` given in
        ``space``, without changing anything.  ParameterError (naming the parameter) if
        ``v`` is not a finite number or maps outside the transform's domain (e.g. a log
        value so negative that its exponential underflows to 0)."""
        what = f"value of component {i}"
        v = as_number(v, what, self.label)
        t = self._transform
        if _check_space(space) == "original":
            if t is None:
                return v, v
            t.check_domain([v], self.label)
            return v, float(t.forward([v])[0])
        if t is None:
            return v, v
        with np.errstate(over="ignore", under="ignore"):
            orig = float(t.inverse([v])[0])
        try:
            as_number(orig, what, self.label)
            t.check_domain([orig], self.label)
        except ParameterError:
            raise ParameterError(
                f"Parameter '{self.label}' component {i}: transformed value {v!r} is "
                f"{orig!r} in the original space, outside the {t.kind} transform's "
                "domain.") from None
        return orig, v

    def __getitem__(self, i):
        return self._value[i]

    def __setitem__(self, i, v):
        self.set_component(i, v, "original")

    # fixed mask ----------------------------------------------------------------------
    @property
    def fixed(self) -> np.ndarray:
        f = self._fixed.view()
        f.flags.writeable = False
        return f

    def set_fixed(self, i: int, flag: bool = True) -> None:
        """Fix (``flag=True``) or free component ``i``; a fixed component keeps its value
        during a fit. ParameterError if ``i`` is out of range."""
        self._check_component(i)
        self._fixed[i] = bool(flag)

    # bounds --------------------------------------------------------------------------
    @property
    def lower_bound(self) -> list:
        """Original-space lower bounds (None = unbounded)."""
        return list(self._lower)

    @property
    def upper_bound(self) -> list:
        """Original-space upper bounds (None = unbounded)."""
        return list(self._upper)

    def get_bounds(self, space: str = "original") -> list[tuple]:
        """Per-component ``(lower, upper)`` in the given space, None = unbounded."""
        if _check_space(space) == "original":
            return list(zip(self._lower, self._upper))
        return list(zip(self._tlower, self._tupper))

    def set_bounds(self, i: int, lower, upper, space: str = "original") -> None:
        """Set both bounds of component ``i`` (None = unbounded); checks lower <= upper."""
        self._check_component(i)
        lo = None if lower is None else as_number(lower, f"lower bound of component {i}",
                                                  self.label, allow_inf=True)
        hi = None if upper is None else as_number(upper, f"upper bound of component {i}",
                                                  self.label, allow_inf=True)
        lo = None if lo is not None and lo == -np.inf else lo
        hi = None if hi is not None and hi == np.inf else hi
        self._validate_pair(i, lo, hi, space)
        t = self._transform
        if _check_space(space) == "original":
            tlo = lo if t is None else t.forward_bound(lo, True, self.label)
            thi = hi if t is None else t.forward_bound(hi, False, self.label)
            self._lower[i], self._upper[i], self._tlower[i], self._tupper[i] = lo, hi, tlo, thi
        else:
            olo = lo if t is None else t.inverse_bound(lo, True, self.label)
            ohi = hi if t is None else t.inverse_bound(hi, False, self.label)
            self._lower[i], self._upper[i], self._tlower[i], self._tupper[i] = olo, ohi, lo, hi

    def set_lower_bound(self, i: int, v, space: str = "original") -> None:
        """Set the lower bound of component ``i`` (in ``space``); ParameterError if it
        is above the upper bound or not a finite number."""
        self.set_bounds(i, v, self.get_bounds(space)[i][1], space)

    def set_upper_bound(self, i: int, v, space: str = "original") -> None:
        """Set the upper bound of component ``i`` (in ``space``); ParameterError if it
        is below the lower bound or not a finite number."""
        self.set_bounds(i, self.get_bounds(space)[i][0], v, space)

    def check_in_bounds(self, space: str = "transformed") -> None:
        """Raise ParameterError if a component's value lies outside its bounds."""
        values = self._value if space == "original" else self._tvalue
        for i, (lo, hi) in enumerate(self.get_bounds(space)):
            if (lo is not None and values[i] < lo) or (hi is not None and values[i] > hi):
                raise ParameterError(
                    f"Parameter '{self.label}' component {i}: value {float(values[i])!r} is outside "
                    f"its bounds [{lo}, {hi}] ({space} space).")

    # transform -----------------------------------------------------------------------
    @property
    def transform(self) -> ParameterTransform | None:
        return self._transform

    def set_transform(self, transform) -> None:
        """Attach (or with None remove) a transform, keeping values and bounds.

        Original-space values and bounds stay exactly as they are; the transformed-space
        ones are recomputed.  Raises ParameterError (and changes nothing) when a value or
        bound is outside the transform's domain.
        """
        t = make_transform(transform, self.label)
        if t is not None and type(t) is ParameterTransform:
            t = None
        if t is None:
            tvalue, tlower, tupper = self._value.copy(), list(self._lower), list(self._upper)
        else:
            t.check_domain(self._value, self.label)
            tvalue = np.asarray(t.forward(self._value), dtype=float)
            tlower = [t.forward_bound(b, True, self.label) for b in self._lower]
            tupper = [t.forward_bound(b, False, self.label) for b in self._upper]
        self._transform, self._tvalue, self._tlower, self._tupper = t, tvalue, tlower, tupper

    def inverse_derivative(self) -> np.ndarray:
        """``d original / d transformed`` per component at the current value."""
        if self._transform is None:
            return np.ones(len(self))
        return np.asarray(self._transform.inverse_derivative(self._tvalue), dtype=float)

    # serialization -------------------------------------------------------------------
    def as_dict(self) -> dict:
        """The parameter as plain data (name, values, fixed flags, bounds, transform) for
        YAML files and run records."""
        t = self._transform
        return {
            "name": self._name,
            "index": self._index,
            "value": self._value.tolist(),
            "transformed_value": self._tvalue.tolist(),
            "fixed": self._fixed.tolist(),
            "lower_bound": list(self._lower),
            "upper_bound": list(self._upper),
            "transformed_lower_bound": list(self._tlower),
            "transformed_upper_bound": list(self._tupper),
            "transform": None if t is None else t.kind,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Parameter":
        """Rebuild a Parameter from ``to_dict()``'s output (value, fixed, bounds, name,
        index, transform); values are validated as in the constructor."""
        p = cls(d["value"], fixed=d.get("fixed"), lower_bound=d.get("lower_bound"),
                upper_bound=d.get("upper_bound"), name=d.get("name"), index=d.get("index"),
                transform=d.get("transform"))
        p._restore_transformed(d)
        return p

    def _restore_transformed(self, d: dict) -> None:
        """Take the stored transformed-space numbers verbatim (exact round trip), after
        checking that they agree with the original-space ones: a file whose ``value`` was
        edited without its ``transformed_value`` would otherwise compute with one and fit
        from the other."""
        t = self._transform
        if "transformed_value" in d:
            stored = _as_vector(d["transformed_value"], self.label)
            if stored.shape != self._tvalue.shape or not np.allclose(
                    stored, self._tvalue, rtol=1e-9, atol=1e-12):
                raise ParameterError(
                    f"Parameter '{self.label}': 'value' {self._value.tolist()} and "
                    f"'transformed_value' {stored.tolist()} disagree (with "
                    f"{'no transform' if t is None else f'the {t.kind} transform'} the "
                    f"value is {self._tvalue.tolist()} in the transformed space); edit "
                    "both together or delete 'transformed_value' (it is recomputed).")
            self._tvalue = stored
        for key, attr in (("transformed_lower_bound", "_tlower"),
                          ("transformed_upper_bound", "_tupper")):
            if key not in d:
                continue
            stored = self._bounds_list(d[key], key)
            expected = getattr(self, attr)
            for k, (a, b) in enumerate(zip(stored, expected)):
                if (a is None) != (b is None) or (a is not None and not np.isclose(
                        a, b, rtol=1e-9, atol=1e-12)):
                    raise ParameterError(
                        f"Parameter '{self.label}' component {k}: '{key}' {a!r} disagrees "
                        f"with the original-space bound (which is {b!r} in the transformed "
                        f"space); edit both together or delete '{key}'.")
            setattr(self, attr, stored)

    # helpers -------------------------------------------------------------------------
    def _check_component(self, i: int) -> None:
        if not isinstance(i, (int, np.integer)) or not -len(self) <= i < len(self):
            raise ParameterError(
                f"Parameter '{self.label}' has {len(self)} component(s); no component {i!r}.")

    def _mask(self, fixed) -> np.ndarray:
        """Fixed flags: true booleans only (a hand-edited ``'false'`` or ``0`` is refused,
        never read as "fixed")."""
        flags = np.atleast_1d(np.asarray(fixed, dtype=object))
        if flags.shape != (len(self._value),):
            raise ParameterError(
                f"Parameter '{self.label}': 'fixed' needs {len(self._value)} flag(s), got "
                f"{flags.size}.")
        for k, flag in enumerate(flags):
            if not isinstance(flag, (bool, np.bool_)):
                raise ParameterError(
                    f"Parameter '{self.label}': 'fixed' flag of component {k} must be true "
                    f"or false, got {flag!r}.")
        return flags.astype(bool)

    def _bounds_list(self, bounds, what: str) -> list:
        n = len(self._value)
        if bounds is None:
            return [None] * n
        if not isinstance(bounds, (Sequence, np.ndarray)) or isinstance(bounds, str):
            bounds = [bounds]
        bounds = list(bounds)
        if len(bounds) != n:
            raise ParameterError(f"Parameter '{self.label}': {what} needs {n} value(s), got {len(bounds)}.")
        out = []
        for i, b in enumerate(bounds):
            b = None if b is None else as_number(b, f"{what} of component {i}", self.label,
                                                 allow_inf=True)
            out.append(None if b is None or np.isinf(b) else b)
        return out

    def _validate_pair(self, i, lo, hi, space) -> None:
        if lo is not None and hi is not None and lo > hi:
            raise ParameterError(
                f"Parameter '{self.label}' component {i}: lower bound {lo!r} is greater than "
                f"upper bound {hi!r} ({space} space).")

    def __repr__(self):
        t = "" if self._transform is None else f", transform={self._transform.kind!r}"
        return f"Parameter(name={self._name!r}, value={self._value.tolist()}{t})"


def __getattr__(name):
    # KLIFF keeps OptimizingParameters in this module; ours builds on Model (imported late)
    if name == "OptimizingParameters":
        from workbench.models.optimizing_parameters import OptimizingParameters

        return OptimizingParameters
    raise AttributeError(f"module 'workbench.models.parameter' has no attribute {name!r}")
