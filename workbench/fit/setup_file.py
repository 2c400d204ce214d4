"""The fit set-up file (YAML) shared by the Workbench and ``workbench fit CONFIG.yaml``.

The schema is documented in docs/fit_config.md.  This module imports no widget or plotting
library, so the command line can use it cheaply: :func:`load_config` parses and validates,
:func:`build_setup` builds data, model, calculator and loss, :func:`model_section` and
:func:`write_config` go the other way.  Errors are ConfigFileError naming the file, line
and key.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from workbench.errors import ConfigFileError, DatasetError, WorkbenchError

SECTIONS = {
    "dataset": {"path", "format", "weight", "per_config", "exclude", "test_fraction", "seed"},
    "model": {"name", "species", "transforms", "values", "params", "network"},
    "fit": {"method", "options", "residual", "normalize_by_natoms", "use_energy",
            "use_forces", "use_stress", "max_iter", "time_limit", "checkpoint_every"},
    "output": {"directory", "model_yaml", "kim_model", "report", "checkpoint"},
}
REQUIRED = {"dataset": ("path",), "model": ("name",)}
WEIGHT_TYPES = ("Weight", "MagnitudeInverseWeight")
WEIGHT_KEYS = {"type", "config_weight", "energy_weight", "forces_weight", "stress_weight",
               "weight_params"}
FIT_DEFAULTS = {"method": "L-BFGS-B", "options": {}, "residual": None,
                "normalize_by_natoms": True, "use_energy": True, "use_forces": True,
                "use_stress": False}


@dataclass
class FitConfig:
    """A parsed set-up: the data, where it came from, and the line of every key."""

    data: dict
    path: str = "<fit config>"
    base: Path = field(default_factory=Path.cwd)
    lines: dict = field(default_factory=dict)

    def error(self, keys, message) -> ConfigFileError:
        keys = tuple(keys)
        line = self.lines.get(keys)
        where = self.path + (f", line {line}" if line else "")
        return ConfigFileError(f"{where}: key '{'.'.join(map(str, keys))}': {message}")

    def section(self, name) -> dict:
        return dict(self.data.get(name) or {})


def _lines(node, prefix=(), out=None) -> dict:
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = prefix + (key.value,)
            out[path] = key.start_mark.line + 1
            _lines(value, path, out)
    return out


def parse_config(text: str, path: str = "<fit config>", base=None) -> FitConfig:
    """Parse and validate YAML ``text``; relative data paths are taken from ``base``."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigFileError(f"{path}{line}: not valid YAML: "
                              f"{getattr(exc, 'problem', None) or exc}") from None
    return validate(data, path, base, _lines(node))


def validate(data, path="<fit config>", base=None, lines=None) -> FitConfig:
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: expected a mapping with sections {', '.join(SECTIONS)}")
    cfg = FitConfig(data=data, path=str(path), base=Path(base or Path.cwd()), lines=lines or {})
    for key, value in data.items():
        if key not in SECTIONS:
            raise cfg.error((key,), f"unknown section; expected one of {', '.join(SECTIONS)}")
        if value is not None and not isinstance(value, dict):
            raise cfg.error((key,), "expected a mapping")
        for sub in value or {}:
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
    for k, rule in enumerate(cfg.section("dataset").get("per_config") or []):
        if not isinstance(rule, dict) or "config_weight" not in rule or not (
                ("pattern" in rule) ^ ("identifiers" in rule)):
            raise cfg.error(("dataset", "per_config"), f"entry {k + 1} is {rule!r}; expected "
                            "{pattern: GLOB, config_weight: W} or "
                            "{identifiers: [ID, ...], config_weight: W}")
    for key in ("params", "transforms", "values"):
        if not isinstance(cfg.section("model").get(key) or {}, dict):
            raise cfg.error(("model", key), "expected a mapping from parameter names")
    return cfg


def load_config(source) -> FitConfig:
    """A FitConfig from a file path, YAML text, a mapping or a FitConfig."""
    if isinstance(source, FitConfig):
        return source
    if isinstance(source, dict):
        return validate(source)
    text = str(source)
    if "\n" not in text and (isinstance(source, Path) or text.endswith((".yaml", ".yml"))
                             or Path(text).is_file()):
        p = Path(text)
        try:
            content = p.read_text()
        except OSError as exc:
            raise ConfigFileError(f"{p}: cannot read the fit config: {exc.strerror}") from None
        return parse_config(content, str(p), p.resolve().parent)
    return parse_config(text)


# ------------------------------------------------------------------------- weights
def make_weight(spec: dict | None, config_weight: float | None = None):
    """A Weight from the ``dataset.weight`` mapping (``type`` Weight or
    MagnitudeInverseWeight, with that class's constructor arguments)."""
    from workbench.data import MagnitudeInverseWeight, Weight

    spec = dict(spec or {})
    kind = spec.pop("type", "Weight")
    if config_weight is not None:
        spec["config_weight"] = config_weight
    try:
        if kind == "Weight":
            spec.pop("weight_params", None)
            return Weight(**spec)
        if kind == "MagnitudeInverseWeight":
            return MagnitudeInverseWeight(config_weight=spec.get("config_weight", 1.0),
                                          weight_params=spec.get("weight_params"))
    except TypeError as exc:
        raise DatasetError(f"weight settings {spec!r}: {exc}") from None
    raise DatasetError(f"weight type {kind!r}; expected one of {', '.join(WEIGHT_TYPES)}")


def matches(identifier: str, pattern: str) -> bool:
    """Glob match of an identifier; a pattern without wildcards matches as a substring."""
    if not any(ch in pattern for ch in "*?["):
        return pattern in identifier
    return fnmatch.fnmatchcase(identifier, pattern) or fnmatch.fnmatchcase(
        identifier, f"*/{pattern}")


def relative_identifier(config, root) -> str:
    """The name a config file uses for a configuration: its file below the data set
    directory ``root`` when it has one, else its identifier."""
    if root and config.path is not None:
        try:
            return Path(config.path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return str(config.identifier)


def apply_weights(configs, spec: dict | None, rules=(), root=None) -> None:
    """Give every configuration its weight: ``spec``, with the config weight of the last
    matching ``per_config`` rule.  Every weight is built before any configuration changes,
    so invalid settings leave the configurations as they were."""
    base = make_weight(spec)
    per_rule = []
    for rule in rules:
        if "config_weight" not in rule or ("pattern" not in rule and "identifiers" not in rule):
            raise DatasetError(f"per-configuration weight rule {rule!r}; expected "
                               "{pattern: ..., config_weight: ...} or "
                               "{identifiers: [...], config_weight: ...}")
        per_rule.append(make_weight(spec, config_weight=rule["config_weight"]))
    chosen = []
    for c in configs:
        weight = base
        if rules:  # resolving every configuration's path costs 0.2 s for the Si set
            ident, rel = str(c.identifier), relative_identifier(c, root)
        for rule, rule_weight in zip(rules, per_rule):
            if "pattern" in rule:
                if matches(ident, rule["pattern"]) or matches(rel, rule["pattern"]):
                    weight = rule_weight
            elif ident in rule["identifiers"] or rel in rule["identifiers"]:
                weight = rule_weight
        chosen.append(weight)
    for c, weight in zip(configs, chosen):
        c.weight = weight


# ------------------------------------------------------------------------- data set
def resolve_dataset_path(value, base: Path) -> Path:
    from workbench import datasets

    if str(value) in datasets.names():
        return datasets.path(str(value))
    p = Path(os.path.expanduser(str(value)))
    return p if p.is_absolute() else (Path(base) / p)


def dataset_root(configs) -> str | None:
    """The directory (or single file) holding every configuration's file."""
    paths = [str(Path(c.path).resolve()) for c in configs if c.path is not None]
    if not paths or len(paths) != len(configs):
        return None
    root = os.path.commonpath(paths)
    return root if len(paths) > 1 or not os.path.isfile(root) else root


def dataset_path_name(configs) -> str | None:
    """How a config file names the data set: a bundled name when the files are a bundled
    set, else the directory holding them all."""
    from workbench import datasets

    root = dataset_root(configs)
    if root is None:
        return None
    for name in datasets.names():
        bundled = datasets.cache_dir() / datasets.AVAILABLE[name][1]
        if bundled.exists() and Path(root) == bundled.resolve():
            return name
    return root


def excluded_indices(configs, entries, root, cfg: FitConfig | None = None) -> list[int]:
    """Indices of the configurations named by ``exclude`` entries (identifier, file below
    the data set directory, or glob pattern)."""
    out = set()
    for entry in entries or ():
        entry = str(entry)
        hit = [k for k, c in enumerate(configs)
               if entry in (str(c.identifier), relative_identifier(c, root))
               or (any(ch in entry for ch in "*?[")
                   and (matches(str(c.identifier), entry)
                        or matches(relative_identifier(c, root), entry)))]
        if not hit:
            msg = f"{entry!r} matches no configuration of the data set"
            if cfg is not None:
                raise cfg.error(("dataset", "exclude"), msg)
            raise DatasetError(msg)
        out.update(hit)
    return sorted(out)


def build_dataset(cfg: FitConfig):
    """``(Dataset, root, excluded indices, test indices)`` with the weights applied."""
    from workbench.data import Dataset
    from workbench.data.split import random_split

    sec = cfg.section("dataset")
    path = resolve_dataset_path(sec["path"], cfg.base)
    if not path.exists():
        raise cfg.error(("dataset", "path"),
                        f"{path} does not exist and is not a bundled data set name")
    root = str(path.resolve()) if path.is_dir() else None
    try:
        ds = Dataset(path, file_format=sec.get("format", "xyz"))
        apply_weights(ds.get_configs(), sec.get("weight"), sec.get("per_config") or [], root)
    except WorkbenchError as exc:
        raise ConfigFileError(f"{cfg.path}: dataset: {exc}") from None
    configs = ds.get_configs()
    excluded = excluded_indices(configs, sec.get("exclude"), root, cfg)
    test = []
    fraction = float(sec.get("test_fraction") or 0.0)
    if not 0.0 <= fraction < 1.0:
        raise cfg.error(("dataset", "test_fraction"), f"{fraction}; expected 0 <= f < 1")
    if fraction > 0:
        _, test_ds = random_split(configs, fraction=1.0 - fraction, seed=int(sec.get("seed", 0)))
        ids = {id(c) for c in test_ds.get_configs()}
        test = [k for k, c in enumerate(configs) if id(c) in ids]
    return ds, root, excluded, test


# ------------------------------------------------------------------------- model
def build_model(cfg: FitConfig):
    """The model of the ``model`` section with its transforms, values and fit settings."""
    from workbench.models.factory import make_model

    sec = cfg.section("model")
    if "network" in sec:
        raise cfg.error(("model", "network"), "a neural network is built by "
                        "build_network_model, not build_model")
    try:
        model = make_model(str(sec["name"]), tuple(sec.get("species") or ("Si",)))
    except WorkbenchError as exc:
        raise cfg.error(("model", "name"), str(exc)) from None
    apply_model_settings(model, sec, cfg)
    return model


def apply_model_settings(model, sec: dict, cfg: FitConfig | None = None) -> None:
    """Transforms first, then original-space values, then the KLIFF ``params`` lists
    (whose values and bounds are in the transformed space, as in set_opt_params)."""
    def fail(keys, exc):
        if cfg is None:
            raise exc
        raise cfg.error(("model",) + keys, str(exc)) from None

    for name, kind in (sec.get("transforms") or {}).items():
        try:
            model.set_param_transform(name, None if kind in (None, "none") else kind)
        except WorkbenchError as exc:
            fail(("transforms", name), exc)
    for name, values in (sec.get("values") or {}).items():
        try:
            model.set_param_value(name, values, "original")
        except WorkbenchError as exc:
            fail(("values", name), exc)
    for name, settings in (sec.get("params") or {}).items():
        try:
            model.set_one_opt_param(name, settings)
        except WorkbenchError as exc:
            fail(("params", name), exc)


def model_name(model) -> str:
    """The ``model.name`` that rebuilds ``model``: built-in class, plugin or KIM name."""
    from importlib.metadata import entry_points

    from workbench.models.builtin import BUILTIN_MODELS

    for key, cls in BUILTIN_MODELS.items():
        if type(model) is cls:
            return key
    if type(model).__name__ == "KIMModel":
        return str(model.model_name)
    target = f"{type(model).__module__}:{type(model).__qualname__}"
    for ep in entry_points(group="workbench.models"):
        if ep.value == target:
            return ep.name
    return str(model.model_name or type(model).__name__)


def model_section(model) -> dict:
    """The ``model`` section that rebuilds ``model``'s current state."""
    from workbench.models.factory import make_model

    name = model_name(model)
    species = list(model.init_kwargs().get("species") or [])
    sec = {"name": name}
    if species:
        sec["species"] = species
    transforms = {n: "log" for n, p in model.model_params.items() if _is_log(p)}
    if transforms:
        sec["transforms"] = transforms
    opt = [n for n in model.model_params if n in getattr(model, "_opt_names", ())]
    try:
        defaults = make_model(name, tuple(species or ("Si",))).get_params_dict("original")
    except WorkbenchError:
        defaults = {}
    values = {n: [float(v) for v in p.get_value("original")]
              for n, p in model.model_params.items()
              if n not in opt and not np.array_equal(p.get_value("original"), defaults.get(n))}
    if values:
        sec["values"] = values
    params = {}
    for n in opt:
        p = model.model_params[n]
        rows = []
        for c, (lo, hi) in enumerate(p.get_bounds("transformed")):
            v = float(p.transformed_value[c])
            if p.fixed[c]:
                rows.append([v, "fix"])
            elif lo is not None or hi is not None:
                rows.append([v, None if lo is None else float(lo),
                             None if hi is None else float(hi)])
            else:
                rows.append([v])
        params[n] = rows
    sec["params"] = params
    return sec


def _is_log(p) -> bool:
    return p.transform is not None and "log" in type(p.transform).__name__.lower()


# ------------------------------------------------------------------------- the whole fit
@dataclass
class FitSetup:
    """Everything a fit needs, built from a FitConfig."""

    config: FitConfig
    dataset: object
    train: list
    test: list
    model: object
    calculator: object
    loss: object
    fit: dict
    output: dict
    test_loss: object = None  # a network's loss over the test configurations


def build_loss(model, configs, fit: dict):
    """``(calculator, loss)`` for ``configs`` with the ``fit`` section's settings."""
    from workbench.fit.calculator import Calculator
    from workbench.fit.loss import Loss

    fit = {**FIT_DEFAULTS, **(fit or {})}
    calc = Calculator(model)
    calc.create(configs, use_energy=bool(fit["use_energy"]), use_forces=bool(fit["use_forces"]),
                use_stress=bool(fit["use_stress"]))
    loss = Loss(calc, residual_fn=fit["residual"] or None,
                residual_data={"normalize_by_natoms": bool(fit["normalize_by_natoms"])})
    return calc, loss


def build_setup(source, before_data=None) -> FitSetup:
    """Read a fit config and build data (train/test), model, calculator and loss.

    Everything that needs no data is checked first (the model and its settings, the
    method, options and bounds, the output names: ``setup_checks``), then
    ``before_data(cfg)`` runs (e.g. the CLI's output-directory check), and only then is
    the data set read."""
    from workbench.fit.setup_checks import check_fit_settings

    cfg = load_config(source)
    network = "network" in cfg.section("model")
    if network:
        model = build_network_model(cfg)
    else:
        model = build_model(cfg)
        model.start_compiling()  # on a fresh install: meanwhile, in a child process
        check_fit_settings(cfg, model)
    if before_data is not None:
        before_data(cfg)
    ds, _root, excluded, test_idx = build_dataset(cfg)
    configs = ds.get_configs()
    skip, test_set = set(excluded), set(test_idx)
    train = [c for k, c in enumerate(configs) if k not in skip and k not in test_set]
    test = [c for k, c in enumerate(configs) if k not in skip and k in test_set]
    if not train:
        raise cfg.error(("dataset",), "no training configurations left after exclude/test split")
    fit = {**FIT_DEFAULTS, **cfg.section("fit")}
    test_loss = None
    try:
        if network:
            from workbench.ml.network_setup import training_losses

            loss, test_loss = training_losses(model, train, test, fit)
            calc = loss.calculator
        else:
            calc, loss = build_loss(model, train, fit)
    except WorkbenchError as exc:
        raise cfg.error(("fit",), str(exc)) from None
    return FitSetup(cfg, ds, train, test, model, calc, loss, fit, cfg.section("output"),
                    test_loss)


def build_network_model(cfg: FitConfig):
    """The network of a ``model: network:`` section, with the ``fit`` section's torch
    optimizer and training options checked (before any data is read)."""
    from workbench.ml.network_setup import TORCH_METHODS, network_from_section, split_options

    net = cfg.section("model")["network"]
    if not isinstance(net, dict):
        raise cfg.error(("model", "network"), f"expected a mapping, got {net!r}")
    try:
        model = network_from_section(net)
    except WorkbenchError as exc:
        raise cfg.error(("model", "network"), str(exc)) from None
    fit = cfg.section("fit")
    method = fit.get("method", "Adam")
    if method not in TORCH_METHODS:
        raise cfg.error(("fit", "method"), f"{method!r} does not train a network; expected "
                        f"one of {', '.join(TORCH_METHODS)}")
    try:
        split_options(fit.get("options") or {})
    except WorkbenchError as exc:
        raise cfg.error(("fit", "options"), str(exc)) from None
    return model


# ------------------------------------------------------------------------- writing
def dump_config(data: dict) -> str:
    return yaml.safe_dump(_plain(data), sort_keys=False, default_flow_style=None)


def write_config(path, data: dict) -> Path:
    """Write ``data`` as YAML atomically (temporary file + rename)."""
    from workbench.models.io import write_text_atomic

    return write_text_atomic(path, dump_config(data))


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    return x
