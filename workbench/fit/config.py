"""Fit set-up files (YAML): read with line numbers, validate, build the objects.

The schema is documented in ``docs/fit_config.md``.  The same file is read by
``workbench fit CONFIG.yaml`` and written/read by the UI's ``Workbench.to_config`` /
``from_config``, so a fit found by clicking can be rerun as a script.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workbench.errors import ConfigFileError

SECTIONS = {
    "dataset": {"path", "format", "weight", "test_fraction", "seed", "exclude"},
    "model": {"name", "species", "params", "transform", "kim_name"},
    "fit": {"method", "options", "residual", "normalize_by_natoms", "use_energy",
            "use_forces", "use_stress", "max_iter", "time_limit", "checkpoint_every"},
    "output": {"directory", "model_yaml", "kim_model", "report", "checkpoint"},
}
REQUIRED = {"dataset": {"path"}, "model": {"name"}}
WEIGHT_KEYS = {"type", "config_weight", "energy_weight", "forces_weight", "stress_weight",
               "weight_params"}


@dataclass
class FitConfig:
    """A parsed set-up file: plain data plus the line of every key (for messages)."""

    data: dict
    path: str = "<memory>"
    lines: dict = field(default_factory=dict)

    def line(self, *keys) -> int | None:
        return self.lines.get(tuple(keys))

    def error(self, keys, message) -> ConfigFileError:
        line = self.line(*keys)
        where = self.path + (f", line {line}" if line else "")
        return ConfigFileError(f"{where}: key '{'.'.join(keys)}': {message}")

    def section(self, name) -> dict:
        return dict(self.data.get(name) or {})


def _lines(node, prefix=(), out=None):
    """Map key paths to 1-based line numbers by walking the composed YAML node tree."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = prefix + (key.value,)
            out[path] = key.start_mark.line + 1
            _lines(value, path, out)
    return out


def parse_fit_config(text: str, path: str = "<memory>") -> FitConfig:
    """Parse and validate the YAML ``text``; errors name the key and its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigFileError(f"{path}{line}: not valid YAML: "
                              f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: expected a mapping with sections "
                              f"{', '.join(SECTIONS)}")
    cfg = FitConfig(data=data, path=str(path), lines=_lines(node))
    for key, value in data.items():
        if key not in SECTIONS:
            raise cfg.error((key,), f"unknown section; expected one of {', '.join(SECTIONS)}")
        if value is not None and not isinstance(value, dict):
            raise cfg.error((key,), "expected a mapping")
        for sub in (value or {}):
            if sub not in SECTIONS[key]:
                raise cfg.error((key, sub), f"unknown key; {key} takes "
                                            f"{', '.join(sorted(SECTIONS[key]))}")
    for sec, keys in REQUIRED.items():
        if sec not in data:
            raise ConfigFileError(f"{path}: missing section '{sec}'")
        for k in keys:
            if k not in (data[sec] or {}):
                raise cfg.error((sec,), f"missing key '{k}'")
    weight = cfg.section("dataset").get("weight")
    if weight is not None:
        if not isinstance(weight, dict):
            raise cfg.error(("dataset", "weight"), "expected a mapping of weights")
        for k in weight:
            if k not in WEIGHT_KEYS:
                raise cfg.error(("dataset", "weight", k),
                                f"unknown weight key; use {', '.join(sorted(WEIGHT_KEYS))}")
    params = cfg.section("model").get("params") or {}
    if not isinstance(params, dict):
        raise cfg.error(("model", "params"), "expected name: [[value, ...], ...] entries")
    return cfg


def load_fit_config(path) -> FitConfig:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_fit_config(text, str(path))


def dump_fit_config(data: dict, path) -> None:
    """Write ``data`` as YAML atomically (temp file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(data, fh, sort_keys=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
