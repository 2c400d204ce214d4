"""Fit checkpoints: one JSON file, rewritten atomically (temp file + ``os.replace``).

A checkpoint holds what is needed to continue a fit in a new process: the method and its
options, current and best parameters, best loss, iteration counter, the loss history and
the optimizer state where the method has one worth keeping (geodesiclm's damping ``lam`` and its scaling);
every other method restarts from the best parameters.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..atomic import write_text_atomic
from ..errors import LossError

FORMAT = "workbench-fit-checkpoint"
VERSION = 1


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else repr(v)
    if isinstance(value, (np.integer, int, bool, np.bool_)):
        return value.item() if hasattr(value, "item") else value
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def split_options(options: dict) -> tuple[dict, list[str]]:
    """Options that JSON can hold, and the names of the ones it cannot (e.g. callables)."""
    kept, dropped = {}, []
    for key, value in (options or {}).items():
        try:
            kept[str(key)] = _jsonable(value)
        except TypeError:
            dropped.append(str(key))
    return kept, dropped


def write_checkpoint(path, data: dict) -> Path:
    """Write ``data`` (see ``FitSession``) to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "version": VERSION}
    for key, value in data.items():
        doc[key] = _jsonable(value)
    text = json.dumps(doc, indent=1)
    write_text_atomic(path, text)
    return path


def read_checkpoint(path) -> dict:
    """Read and fully validate a checkpoint; arrays come back as float arrays.

    Raises ``LossError`` naming the file and the field at fault: a checkpoint whose
    ``best_x`` holds NaN, a text where a count belongs or a negative iteration would
    otherwise be written into the model or fail deep inside the optimizer."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise LossError(f"{path}: checkpoint file not found") from None
    except (OSError, ValueError) as exc:
        raise LossError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise LossError(f"{path}: not a workbench fit checkpoint (no format: {FORMAT!r})")
    for key in ("method", "x", "best_x", "iteration", "history"):
        if key not in doc:
            raise LossError(f"{path}: checkpoint misses the key {key!r}")
    return _Validator(path).check(doc)


class _Validator:
    """Field-by-field checks of a checkpoint document, errors naming file and field."""

    def __init__(self, path):
        self.path = path

    def fail(self, field, message):
        return LossError(f"{self.path}: checkpoint field {field!r}: {message}")

    def number(self, field, v, allow_none=False, allow_inf=False):
        if v is None and allow_none:
            return None
        if isinstance(v, str) and v in ("inf", "-inf", "nan"):
            v = float(v)  # how _jsonable writes non-finite floats
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(field, f"expected a number, got {v!r}")
        v = float(v)
        if math.isnan(v) or (math.isinf(v) and not allow_inf):
            raise self.fail(field, f"expected a finite number, got {v!r}")
        return v

    def count(self, field, v, minimum=0, allow_none=False):
        if v is None and allow_none:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(field, f"expected a whole number, got {v!r}")
        if v < minimum:
            raise self.fail(field, f"expected a whole number >= {minimum}, got {v!r}")
        return v

    def vector(self, field, v, allow_none=False):
        if v is None and allow_none:
            return None
        if not isinstance(v, list) or not v:
            raise self.fail(field, f"expected a non-empty list of numbers, got {v!r}")
        return np.array([self.number(f"{field}[{k}]", e) for k, e in enumerate(v)])

    def check(self, doc: dict) -> dict:
        from .optimizers import canonical_method
        from .options import check_options

        if not isinstance(doc["method"], str):
            raise self.fail("method", f"expected a method name, got {doc['method']!r}")
        try:
            canonical_method(doc["method"])
            options = doc.get("options") or {}
            if not isinstance(options, dict):
                raise self.fail("options", f"expected a mapping, got {options!r}")
            check_options(doc["method"], options)
        except LossError as exc:
            raise LossError(f"{self.path}: {exc}") from None
        doc["x"] = self.vector("x", doc["x"])
        doc["best_x"] = self.vector("best_x", doc["best_x"], allow_none=True)
        if doc["best_x"] is not None and doc["best_x"].size != doc["x"].size:
            raise self.fail("best_x", f"has {doc['best_x'].size} values, 'x' has "
                                      f"{doc['x'].size}")
        names = doc.get("names")
        if names is not None and (not isinstance(names, list) or len(names) != doc["x"].size
                                  or not all(isinstance(n, str) for n in names)):
            raise self.fail("names", f"expected {doc['x'].size} parameter names, got {names!r}")
        doc["best_loss"] = self.number("best_loss", doc.get("best_loss"), allow_none=True,
                                       allow_inf=True)
        doc["iteration"] = self.count("iteration", doc["iteration"])
        history = doc["history"]
        if not isinstance(history, list):
            raise self.fail("history", f"expected a list of [iteration, loss], got {history!r}")
        out = []
        for k, item in enumerate(history):
            if not isinstance(item, list) or len(item) != 2:
                raise self.fail(f"history[{k}]", f"expected [iteration, loss], got {item!r}")
            out.append((self.count(f"history[{k}][0]", item[0]),
                        self.number(f"history[{k}][1]", item[1], allow_none=True,
                                    allow_inf=True)))
        doc["history"] = out
        doc["max_iter"] = self.count("max_iter", doc.get("max_iter"), 1, allow_none=True)
        doc["checkpoint_every"] = self.count("checkpoint_every",
                                             doc.get("checkpoint_every", 10), 1)
        for key in ("n_eval", "n_jac"):
            doc[key] = self.count(key, doc.get(key, 0))
        doc["elapsed"] = self.number("elapsed", doc.get("elapsed", 0.0))
        if doc["elapsed"] < 0:
            raise self.fail("elapsed", f"expected seconds >= 0, got {doc['elapsed']!r}")
        state = doc.get("optimizer_state") or {}
        if not isinstance(state, dict):
            raise self.fail("optimizer_state", f"expected a mapping, got {state!r}")
        if state.get("lam") is not None:
            state["lam"] = self.number("optimizer_state.lam", state["lam"])
        if state.get("scale") is not None:
            state["scale"] = self.vector("optimizer_state.scale", state["scale"]).tolist()
        doc["optimizer_state"] = state
        return doc
