"""Weights of configurations and of their properties in the loss (KLIFF semantics).

A :class:`Weight` instance is a template: every :class:`Configuration` receives its own
copy, on which ``compute_weight(config)`` is called once.  Subclasses override
``compute_weight`` to set ``self._config_weight`` etc. from the configuration (e.g. a larger
weight for identifiers that contain ``"with_cracks"``).

Weights file format (:func:`read_weights_file`), one configuration per line::

    # identifier              config  energy  forces  stress
    NVT_runs/T300_step0.xyz   1.0     1.0     0.1     0.0

Whitespace separated; an identifier containing spaces is quoted.  ``#`` starts a comment.
An identifier matches a configuration whose ``identifier`` equals it, or whose file is the
identifier taken relative to the weights file's directory.
"""

from __future__ import annotations

import copy
import os
import shlex
from pathlib import Path

import numpy as np

from workbench.errors import DatasetError


def _scalar_or_array(value, name):
    if np.ndim(value) == 0:
        v = float(value)
        if not np.isfinite(v) or v < 0:
            raise DatasetError(f"{name}={value!r}; expected a finite weight >= 0")
        return v
    arr = np.array(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise DatasetError(f"{name} contains negative, NaN or inf entries; expected weights >= 0")
    return arr


class Weight:
    """One weight per configuration and per property.

    ``forces_weight`` may be an array: shape (N,) gives one weight per atom (used for its
    three components), (N, 3) one per component; ``stress_weight`` may be a (6,) array.
    """

    def __init__(self, config_weight=1.0, energy_weight=1.0, forces_weight=1.0,
                 stress_weight=1.0):
        self._config_weight = _scalar_or_array(config_weight, "config_weight")
        self._energy_weight = _scalar_or_array(energy_weight, "energy_weight")
        self._forces_weight = _scalar_or_array(forces_weight, "forces_weight")
        self._stress_weight = _scalar_or_array(stress_weight, "stress_weight")

    def compute_weight(self, config) -> None:
        """Adapt the weights to ``config``; the base class only checks array shapes."""
        n = config.get_num_atoms()
        fw = self._forces_weight
        if isinstance(fw, np.ndarray):
            if fw.shape == (n,):
                fw = np.repeat(fw[:, None], 3, axis=1)
            if fw.shape != (n, 3):
                raise DatasetError(
                    f"{_describe(config)}: per-atom forces_weight has shape "
                    f"{self._forces_weight.shape}; expected ({n},) or ({n}, 3)")
            self._forces_weight = fw
        sw = self._stress_weight
        if isinstance(sw, np.ndarray) and sw.shape != (6,):
            raise DatasetError(f"{_describe(config)}: stress_weight has shape "
                               f"{sw.shape}; expected a float or a (6,) array")

    @property
    def config_weight(self):
        return self._config_weight

    @property
    def energy_weight(self):
        return self._energy_weight

    @property
    def forces_weight(self):
        return self._forces_weight

    @property
    def stress_weight(self):
        return self._stress_weight

    def copy(self) -> "Weight":
        """An independent copy (arrays copied, so per-configuration changes stay local)."""
        new = copy.copy(self)
        for key, value in vars(new).items():
            if isinstance(value, np.ndarray):
                setattr(new, key, value.copy())
            elif isinstance(value, (dict, list)):
                setattr(new, key, copy.deepcopy(value))
        return new

    def __repr__(self):
        def show(v):
            return f"array{v.shape}" if isinstance(v, np.ndarray) else repr(v)
        return (f"{type(self).__name__}(config_weight={show(self._config_weight)}, "
                f"energy_weight={show(self._energy_weight)}, "
                f"forces_weight={show(self._forces_weight)}, "
                f"stress_weight={show(self._stress_weight)})")


def _params(value, key):
    if np.ndim(value) == 0:
        c = [float(value), 0.0]
    else:
        c = [float(v) for v in value]
    if len(c) != 2 or not all(np.isfinite(c)):
        raise DatasetError(f"weight_params[{key!r}]={value!r}; expected a float c1 or a pair "
                           "[c1, c2] of finite numbers")
    if c[0] == 0.0 and c[1] == 0.0:
        raise DatasetError(f"weight_params[{key!r}] has c1 = c2 = 0; the weight "
                           "1/sqrt(c1^2 + c2^2 |p|^2) would be infinite")
    return c


class MagnitudeInverseWeight(Weight):
    """Lenosky et al.'s weights ``1/w^2 = c1^2 + c2^2 |p|^2``.

    ``|p|`` is ``|E|`` for the energy, the norm of each atom's force vector (the same weight for
    its three components, so ``forces_weight`` is an (N, 3) array) and the Frobenius norm of
    the full symmetric stress tensor for the stress.  A bare float for a key means c1 with
    c2 = 0.  A property the configuration lacks gets the weight 1/c1 (or 0 if c1 = 0).
    """

    DEFAULT_PARAMS = {"energy_weight_params": [1.0, 0.0],
                      "forces_weight_params": [1.0, 0.0],
                      "stress_weight_params": [1.0, 0.0]}

    def __init__(self, config_weight=1.0, weight_params=None):
        super().__init__(config_weight=config_weight)
        params = dict(self.DEFAULT_PARAMS)
        for key, value in (weight_params or {}).items():
            if key not in params:
                raise DatasetError(f"unknown weight_params key {key!r}; expected one of "
                                   f"{', '.join(params)}")
            params[key] = value
        self.weight_params = {k: _params(v, k) for k, v in params.items()}

    @staticmethod
    def _inverse(c, norm):
        return 1.0 / np.sqrt(c[0] ** 2 + c[1] ** 2 * np.square(norm))

    def compute_weight(self, config) -> None:
        ce = self.weight_params["energy_weight_params"]
        cf = self.weight_params["forces_weight_params"]
        cs = self.weight_params["stress_weight_params"]
        e = config.energy
        self._energy_weight = float(self._inverse(ce, 0.0 if e is None else abs(e))) \
            if (e is not None or ce[0]) else 0.0
        n = config.get_num_atoms()
        if config.forces is not None:
            norms = np.linalg.norm(np.asarray(config.forces), axis=1)
            w = self._inverse(cf, norms)
        else:
            w = np.full(n, 1.0 / cf[0] if cf[0] else 0.0)
        self._forces_weight = np.repeat(w[:, None], 3, axis=1)
        s = config.stress
        if s is not None:
            s = np.asarray(s, dtype=np.float64)
            frob = np.sqrt(np.sum(s[:3] ** 2) + 2.0 * np.sum(s[3:] ** 2))
            self._stress_weight = float(self._inverse(cs, frob))
        else:  # no reference stress: nothing to weight (KLIFF's rule)
            self._stress_weight = 0.0


def read_weights_file(path) -> list[tuple[str, int, Weight]]:
    """Parse a weights file into ``(identifier, line, Weight)`` rows."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            text = raw.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                parts = shlex.split(text)
            except ValueError as exc:
                raise DatasetError(f"cannot split the line ({exc})", path, lineno) from None
            if len(parts) != 5:
                raise DatasetError(
                    f"found {len(parts)} fields; expected 5: identifier config_weight "
                    "energy_weight forces_weight stress_weight", path, lineno)
            try:
                vals = [float(p) for p in parts[1:]]
                w = Weight(*vals)
            except (ValueError, DatasetError) as exc:
                msg = getattr(exc, "reason", None) or f"non-numeric weight in {parts[1:]}"
                raise DatasetError(f"{msg}; expected four finite numbers >= 0",
                                   path, lineno) from None
            rows.append((parts[0], lineno, w))
    return rows


def apply_weights_file(configs, path) -> int:
    """Give each configuration named in the weights file ``path`` its weights (each gets a
    copy, then ``compute_weight`` runs).  Unknown identifiers raise :class:`DatasetError`
    naming the file and line.  Returns the number of configurations updated."""
    base = Path(path).resolve().parent
    by_id, by_path = {}, {}
    for c in configs:
        by_id[str(c.identifier)] = c
        if c.path is not None:
            by_path[os.path.normpath(str(Path(c.path).resolve()))] = c
    rows = read_weights_file(path)
    seen = 0
    for ident, lineno, w in rows:
        cfg = by_id.get(ident)
        if cfg is None:
            cfg = by_path.get(os.path.normpath(str(base / ident)))
        if cfg is None:
            raise DatasetError(f"identifier {ident!r} matches no configuration of the data set; "
                               "expected a configuration identifier or a path relative to "
                               "the weights file", path, lineno)
        cfg.weight = w
        seen += 1
    return seen


def _describe(config) -> str:
    describe = getattr(config, "describe", None)
    return describe() if describe else f"configuration {getattr(config, 'identifier', '')}"
