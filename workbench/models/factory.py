"""Models by name: built-ins, plugins (entry points ``workbench.models``) and installed
OpenKIM models — what the CLI, the set-up files and the UI's model picker share."""

from __future__ import annotations

import inspect

from workbench.errors import ModelError


def make_model(name: str, species=("Si",)):
    """A built-in, plugin or KIM model called ``name`` (``species`` for those that take it)."""
    from workbench.models.builtin import BUILTIN_MODELS

    if name in BUILTIN_MODELS:
        return BUILTIN_MODELS[name](species=tuple(species))
    from workbench import plugins

    cls = plugins.available_models().get(name)
    if cls is not None:
        takes_species = "species" in inspect.signature(cls).parameters
        return cls(species=tuple(species)) if takes_species else cls()
    try:
        from workbench.models.kim import KIMModel
    except ImportError as exc:
        raise ModelError(
            f"'{name}' is not a built-in model ({', '.join(BUILTIN_MODELS)}), and KIM "
            f"models cannot be opened here: {exc}") from exc
    return KIMModel(name)
