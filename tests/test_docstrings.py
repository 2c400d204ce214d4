"""Every public name of the KLIFF-shaped API (the alias modules a KLIFF script imports,
plus fit, validation and runs) carries a docstring, including the methods a class
inherits from our own base classes; torch's re-exported classes are not ours."""

import importlib
import inspect

import pytest

MODULES = ["workbench.dataset", "workbench.models", "workbench.calculators", "workbench.loss",
           "workbench.analyzers", "workbench.descriptors", "workbench.nn",
           "workbench.transforms.parameter_transforms",
           "workbench.transforms.property_transforms",
           "workbench.transforms.configuration_transforms.graphs",
           "workbench.transforms.configuration_transforms.descriptors", "workbench.utils",
           "workbench.log", "workbench.fit.session", "workbench.fit.calculator",
           "workbench.fit.loss", "workbench.validation", "workbench.runs", "workbench.warmup"]


def _ours(obj) -> bool:
    return getattr(obj, "__module__", "").startswith("workbench")


def _public_names(module_name):
    mod = importlib.import_module(module_name)
    names = getattr(mod, "__all__", [n for n in dir(mod) if not n.startswith("_")])
    for name in names:
        obj = getattr(mod, name, None)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and _ours(obj):
            yield f"{module_name}.{name}", obj
            if inspect.isclass(obj):
                for attr in dir(obj):
                    member = getattr(obj, attr, None)
                    if not attr.startswith("_") and callable(member) and _ours(member):
                        yield f"{module_name}.{name}.{attr}", member


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_has_a_docstring(module_name):
    names = list(_public_names(module_name))
    assert names, f"{module_name} exports nothing of its own"
    missing = [n for n, obj in names if not (inspect.getdoc(obj) or "").strip()]
    assert missing == []


def test_the_check_sees_a_name_without_a_docstring(monkeypatch):
    import workbench.utils as utils

    def undocumented():
        pass

    undocumented.__module__ = "workbench.utils"
    monkeypatch.setattr(utils, "undocumented", undocumented, raising=False)
    monkeypatch.setattr(utils, "__all__", [*getattr(utils, "__all__", dir(utils)),
                                           "undocumented"], raising=False)
    found = dict(_public_names("workbench.utils"))
    assert "workbench.utils.undocumented" in found
    assert not inspect.getdoc(found["workbench.utils.undocumented"])
