"""Plugin registry fed by Python entry points.

Installed packages extend the workbench by declaring entry points in their
``pyproject.toml``::

    [project.entry-points."workbench.models"]
    Buckingham = "workbench_buckingham:Buckingham"

Groups and what an entry point must load to:

* ``workbench.models``: a :class:`workbench.models.model.Model` subclass;
* ``workbench.weights``: a :class:`workbench.data.weight.Weight` subclass;
* ``workbench.residuals``: a callable with KLIFF's residual signature
  ``fn(identifier, natoms, weight, prediction, reference, data)``;
* ``workbench.descriptors``: a descriptor class (any class; the ML layer decides how to
  use it).

Entry points are loaded lazily, once per process (``refresh()`` forgets them).  A plugin
that fails to import, names a missing attribute or loads to the wrong kind of object is
recorded as a :class:`PluginError` (with its entry-point name and target), a warning is
issued, and every other plugin still loads.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points

from workbench.errors import WorkbenchError

GROUPS = ("workbench.models", "workbench.weights", "workbench.residuals",
          "workbench.descriptors")


class PluginError(WorkbenchError):
    """A plugin that could not be loaded; ``group``, ``name``, ``target``, ``reason``."""

    def __init__(self, group: str, name: str, target: str, reason: str):
        self.group, self.name, self.target, self.reason = group, name, target, reason
        super().__init__(f"plugin {name!r} ({group} = {target!r}) could not be loaded: "
                         f"{reason}")


class PluginWarning(UserWarning):
    """Issued once per broken plugin."""


@dataclass(frozen=True)
class PluginInfo:
    """One registered item: entry-point name and target, the package providing it
    (distribution name and version), and the loaded object."""

    group: str
    name: str
    target: str
    obj: object
    dist: str = ""
    version: str = ""

    @property
    def summary(self) -> str:
        doc = getattr(self.obj, "__doc__", None) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


_LOCK = threading.Lock()
_LOADED: dict[str, dict[str, PluginInfo]] = {}
_ERRORS: dict[str, list[PluginError]] = {}


def _check(group: str, obj) -> str | None:
    """Why ``obj`` is not acceptable for ``group`` (None when it is)."""
    if group == "workbench.models":
        from workbench.models.model import Model

        if not (isinstance(obj, type) and issubclass(obj, Model)):
            return f"expected a subclass of workbench.models.model.Model, got {obj!r}"
    elif group == "workbench.weights":
        from workbench.data.weight import Weight

        if not (isinstance(obj, type) and issubclass(obj, Weight)):
            return f"expected a subclass of workbench.data.weight.Weight, got {obj!r}"
    elif group == "workbench.residuals":
        if not callable(obj):
            return f"expected a residual function, got {obj!r}"
    elif group == "workbench.descriptors":
        if not isinstance(obj, type):
            return f"expected a descriptor class, got {obj!r}"
    return None


def _load_group(group: str) -> None:
    items: dict[str, PluginInfo] = {}
    errors: list[PluginError] = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        dname = getattr(dist, "name", "") or "" if dist is not None else ""
        dver = getattr(dist, "version", "") or "" if dist is not None else ""
        try:
            obj = ep.load()
        except Exception as exc:  # a plugin's import may fail in any way
            reason = f"{type(exc).__name__}: {exc}"
            errors.append(PluginError(group, ep.name, ep.value, reason))
            continue
        bad = _check(group, obj)
        if bad is not None:
            errors.append(PluginError(group, ep.name, ep.value, bad))
            continue
        if ep.name in items:
            errors.append(PluginError(group, ep.name, ep.value,
                                      f"the name is already registered by "
                                      f"{items[ep.name].target!r}"))
            continue
        items[ep.name] = PluginInfo(group, ep.name, ep.value, obj, dname, dver)
    _LOADED[group] = items
    _ERRORS[group] = errors
    for err in errors:
        warnings.warn(str(err), PluginWarning, stacklevel=4)


def registered(group: str) -> dict[str, PluginInfo]:
    """name -> :class:`PluginInfo` of the plugins of ``group`` that loaded."""
    if group not in GROUPS:
        raise WorkbenchError(f"unknown plugin group {group!r}; groups: {', '.join(GROUPS)}")
    with _LOCK:
        if group not in _LOADED:
            _load_group(group)
        return dict(_LOADED[group])


def _objects(group: str) -> dict:
    return {name: info.obj for name, info in registered(group).items()}


def available_models() -> dict:
    """name -> Model subclass from ``workbench.models`` plugins."""
    return _objects("workbench.models")


def available_weights() -> dict:
    """name -> Weight subclass from ``workbench.weights`` plugins."""
    return _objects("workbench.weights")


def available_residuals() -> dict:
    """name -> residual function from ``workbench.residuals`` plugins."""
    return _objects("workbench.residuals")


def available_descriptors() -> dict:
    """name -> descriptor class from ``workbench.descriptors`` plugins."""
    return _objects("workbench.descriptors")


def get(group: str, name: str):
    """The object registered as ``name`` in ``group``; a clear error otherwise."""
    items = registered(group)
    if name in items:
        return items[name].obj
    for err in load_errors(group):
        if err.name == name:
            raise err
    raise WorkbenchError(f"no plugin {name!r} in group {group!r}; registered: "
                         f"{', '.join(items) or '(none)'}")


def load_errors(group: str | None = None) -> list[PluginError]:
    """Errors of the plugins that failed to load (all groups, or one)."""
    groups = GROUPS if group is None else (group,)
    out = []
    for g in groups:
        registered(g)
        out.extend(_ERRORS.get(g, []))
    return out


def refresh() -> None:
    """Forget loaded plugins (e.g. after installing a package in a running process)."""
    with _LOCK:
        _LOADED.clear()
        _ERRORS.clear()
