"""Plain-JSON descriptions of what a run used: its data set and its model.

Duck-typed on the data and model layers (``Configuration`` attributes and a model's
``model_params``), so this package imports neither.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np


def jsonable(value):
    """``value`` with numpy types turned into JSON types (non-finite floats kept as
    JSON's NaN/Infinity, which Python's json reads back)."""
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    return repr(value)


def _update(h, value) -> None:
    if value is None:
        h.update(b"\x00")
    elif isinstance(value, np.ndarray):
        h.update(np.ascontiguousarray(value, dtype=float).tobytes())
    else:
        h.update(repr(float(value)).encode())


def configs_hash(configs) -> str:
    """SHA-256 over every configuration's content and weights (species, cell, PBC,
    coordinates, reference energy/forces/stress, config/energy/force/stress weights).

    Two data sets with equal hashes give the same loss for the same model; the file
    names play no part."""
    h = hashlib.sha256()
    for c in configs:
        h.update("\x1f".join(map(str, c.species)).encode())
        h.update(np.ascontiguousarray(c.cell, dtype=float).tobytes())
        h.update(np.asarray(c.PBC, dtype=np.uint8).tobytes())
        h.update(np.ascontiguousarray(c.coords, dtype=float).tobytes())
        for prop in ("energy", "forces", "stress"):
            v = getattr(c, prop, None)
            _update(h, None if v is None else (np.asarray(v, float) if prop != "energy" else v))
        for w in ("config_weight", "energy_weight", "forces_weight", "stress_weight"):
            v = getattr(c, w, None)
            _update(h, v if v is None or np.isscalar(v) else np.asarray(v, float))
    return h.hexdigest()


def _common_root(paths) -> str | None:
    if not paths:
        return None
    try:
        return os.path.commonpath([os.path.abspath(p) for p in paths])
    except ValueError:
        return None


def _relative(config, root) -> str:
    path = getattr(config, "path", None)
    if root and path is not None:
        rel = os.path.relpath(os.path.abspath(path), root)
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return str(config.identifier)


def describe_dataset(train, test=None) -> dict:
    """Where the data came from, its content hashes and the train/test split."""
    train, test = list(train or ()), list(test or ())
    paths = [str(c.path) for c in train + test if getattr(c, "path", None) is not None]
    root = _common_root(paths)
    out = {"root": root, "n_train": len(train), "n_test": len(test),
           "n_atoms_train": int(sum(len(c.species) for c in train)),
           "train_hash": configs_hash(train)}
    if test:
        out["test_hash"] = configs_hash(test)
        out["test"] = [_relative(c, root) for c in test]
    out["hash"] = hashlib.sha256(
        (out["train_hash"] + out.get("test_hash", "")).encode()).hexdigest()
    return out


def _transform_name(p):
    t = getattr(p, "transform", None)
    if t is None:
        return None
    name = type(t).__name__
    return "log" if "log" in name.lower() else name


def _bound(v):
    return None if v is None or not math.isfinite(float(v)) else float(v)


def describe_model(model) -> dict:
    """Kind, species and every parameter (value in the model's own units, fixed flags,
    bounds in the original space, transform) of a physics model; for a torch model,
    its kind and the number of weights."""
    params = getattr(model, "model_params", None)
    out = {"kind": type(model).__name__,
           "model_name": str(getattr(model, "model_name", "") or ""),
           "species": [str(s) for s in (getattr(model, "species", None) or ())]}
    if params is None:
        try:
            out["n_weights"] = int(sum(p.numel() for p in model.parameters()))
        except Exception:
            pass
        return out
    out["params"] = {}
    for name, p in params.items():
        bounds = p.get_bounds("original")
        out["params"][name] = {
            "value": [float(v) for v in p.get_value("original")],
            "fixed": [bool(f) for f in p.fixed],
            "bounds": [[_bound(lo), _bound(hi)] for lo, hi in bounds],
            "transform": _transform_name(p),
            "fitted": name in getattr(model, "_opt_names", ()),
        }
    return out


def model_values(model) -> dict | None:
    """``{name: [values in the original space]}`` of a physics model (None otherwise)."""
    params = getattr(model, "model_params", None)
    if params is None:
        return None
    return {n: [float(v) for v in p.get_value("original")] for n, p in params.items()}
