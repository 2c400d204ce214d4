"""Name -> :class:`~workbench.engine.spec.PotentialSpec` of every built-in potential.

Each potential module exposes ``SPECS`` (a tuple of specs); the modules are listed below.
"""

from __future__ import annotations

import importlib

from workbench.engine.spec import PotentialSpec
from workbench.errors import ModelError

_MODULES = [
    "workbench.engine.lj",
    "workbench.engine.morse",
    "workbench.engine.sw",
    "workbench.engine.tersoff",
]

_REGISTRY: dict[str, PotentialSpec] = {}


def _load() -> dict[str, PotentialSpec]:
    if _REGISTRY:
        return _REGISTRY
    for modname in _MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:  # the module is not part of this installation
                continue
            raise
        specs = getattr(mod, "SPECS", None)
        if specs is None:
            spec = getattr(mod, "SPEC", None)
            specs = () if spec is None else (spec,)
        for spec in specs:
            _REGISTRY[spec.name] = spec
    return _REGISTRY


def get_spec(name: str) -> PotentialSpec:
    """The spec registered under ``name``."""
    reg = _load()
    if name not in reg:
        raise ModelError(f"unknown built-in potential {name!r}; available: "
                         f"{sorted(reg)}")
    return reg[name]


def list_potentials() -> list[str]:
    """Names of all built-in potentials."""
    return sorted(_load())


def __getattr__(name):
    # ``from workbench.engine.registry import SW`` style access to specs by name
    reg = _load()
    if name in reg:
        return reg[name]
    raise AttributeError(name)
