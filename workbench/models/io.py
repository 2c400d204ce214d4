"""Saving and loading models as YAML.

The file records the model class (``module:qualname``), its constructor arguments
(``init_kwargs``: model name, species, ...), and per parameter the values, fixed flags,
bounds and transform in both spaces, plus the list of optimized parameters.  Files are
written atomically (temporary file in the same directory, then ``os.replace``), so a
failed save leaves an existing file untouched.

Loading instantiates only Model classes from the ``workbench`` package, registered
``workbench.models`` plugins, or modules the program has already imported (a user's own
model class is found once its module is imported); no other module is imported because a
file names it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import yaml

from workbench.atomic import write_text_atomic
from workbench.errors import ConfigFileError, ModelError

FORMAT = "workbench-model"
VERSION = 1


def model_to_dict(model) -> dict:
    cls = type(model)
    return {
        "format": FORMAT,
        "version": VERSION,
        "type": f"{cls.__module__}:{cls.__qualname__}",
        "model_name": model.model_name,
        "init_kwargs": _plain(model.init_kwargs()),
        "opt_params": list(model._opt_names),
        "params": {name: p.as_dict() for name, p in model.model_params.items()},
    }


def save_model(model, path) -> Path:
    text = yaml.safe_dump(model_to_dict(model), sort_keys=False, default_flow_style=None)
    return write_text_atomic(path, text)


def read_model_file(path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ModelError(f"Cannot read saved model {path}: {exc}") from exc
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigFileError(f"{path}{line}: not valid YAML ({exc})") from exc
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ConfigFileError(f"{path}: not a saved workbench model (missing 'format: {FORMAT}').")
    for key in ("type", "params"):
        if key not in d:
            raise ConfigFileError(f"{path}: saved model lacks the '{key}' key.")
    return d


def _resolve_class(type_name: str, path):
    from workbench.models.model import Model

    module, _, qualname = str(type_name).partition(":")
    allowed = (module in sys.modules or module == "workbench" or module.startswith("workbench.")
               or module in _plugin_modules())
    if not allowed:
        raise ModelError(
            f"{path}: model type {type_name!r} is not a workbench model, a registered "
            f"'workbench.models' plugin or a class already imported; refusing to import "
            f"module {module!r}.  Import the module that defines it first.")
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"{path}: cannot find model type {type_name!r}: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, Model)):
        raise ModelError(f"{path}: {type_name!r} is not a Model class.")
    return obj


def _plugin_modules() -> set[str]:
    from importlib.metadata import entry_points

    return {ep.value.split(":")[0] for ep in entry_points(group="workbench.models")}


def load_model(path):
    """Build the saved model (right class, constructor arguments, parameter state)."""
    d = read_model_file(path)
    cls = _resolve_class(d["type"], path)
    kwargs = dict(d.get("init_kwargs") or {})
    try:
        model = cls(**kwargs)
    except TypeError as exc:
        raise ModelError(f"{path}: cannot rebuild {cls.__name__} from {kwargs}: {exc}") from exc
    _apply(model, d, path)
    return model


def load_into(model, path):
    """Load a saved file into an existing model of the same type and parameter layout."""
    d = read_model_file(path)
    cls = type(model)
    expected = f"{cls.__module__}:{cls.__qualname__}"
    if d["type"] != expected:
        raise ModelError(f"{path} holds a model of type {d['type']!r}; cannot load it into a "
                         f"{cls.__name__} ({expected}).")
    saved_species = (d.get("init_kwargs") or {}).get("species")
    own_species = model.init_kwargs().get("species")
    if saved_species is not None and own_species is not None and list(saved_species) != list(own_species):
        raise ModelError(f"{path} was saved for species {list(saved_species)}, this model has "
                         f"{list(own_species)}.")
    _apply(model, d, path)
    return model


def _apply(model, d: dict, path) -> None:
    from workbench.models.parameter import Parameter

    model._check_mutable(f"load {path} into the parameters")
    params = d["params"] or {}
    if not isinstance(params, dict):
        raise ConfigFileError(f"{path}: 'params' must be a mapping from parameter names.")
    if set(params) != set(model.model_params):
        raise ModelError(f"{path}: saved parameters {sorted(params)} do not match the model's "
                         f"{sorted(model.model_params)}.")
    new = {}
    for name, pd in params.items():
        if not isinstance(pd, dict) or "value" not in pd:
            raise ConfigFileError(f"{path}: parameter '{name}' must be a mapping with at least "
                                  "a 'value'.")
        try:
            p = Parameter.from_dict(dict(pd, name=name))
        except Exception as exc:
            raise ConfigFileError(f"{path}: parameter '{name}' is malformed: {exc}") from exc
        if len(p) != len(model.model_params[name]):
            raise ModelError(f"{path}: parameter '{name}' has {len(p)} component(s), the model "
                             f"expects {len(model.model_params[name])}.")
        new[name] = p
    opt = d.get("opt_params") or []
    if not isinstance(opt, list) or not all(isinstance(n, str) for n in opt):
        raise ConfigFileError(f"{path}: 'opt_params' must be a list of parameter names, "
                              f"got {opt!r}.")
    unknown = [n for n in opt if n not in model.model_params]
    if unknown:
        raise ConfigFileError(f"{path}: opt_params lists unknown parameters {unknown}.")
    for name, p in new.items():
        target = model.model_params[name]
        index = target.index
        target.__dict__.update(p.__dict__)
        target._name, target._index = name, index
    model._opt_names = opt
    if d.get("model_name") is not None:
        model.model_name = d["model_name"]
    model._params_changed(list(new))


def _plain(x):
    """Tuples -> lists, numpy scalars -> Python, for yaml.safe_dump."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        return x.item()
    return x
