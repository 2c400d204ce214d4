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


def _float(v):
    if v is None:
        return None
    if isinstance(v, str):
        return float(v)  # "inf", "nan"
    return float(v)


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
    """Read a checkpoint; arrays come back as float arrays. Raises ``LossError``."""
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
    doc["x"] = np.asarray(doc["x"], dtype=float)
    doc["best_x"] = None if doc["best_x"] is None else np.asarray(doc["best_x"], dtype=float)
    doc["best_loss"] = _float(doc.get("best_loss"))
    doc["history"] = [(int(i), _float(f)) for i, f in doc["history"]]
    doc["iteration"] = int(doc["iteration"])
    return doc
