"""YAML save/load of models: round trip, wrong type, atomic writes."""

import os

import numpy as np
import pytest
import yaml

from workbench.errors import ConfigFileError, ModelError
from workbench.models import LogParameterTransform, Model, load_model


class Toy(Model):
    def __init__(self, model_name=None, params_transform=None, n=2):
        self.n = n
        super().__init__(model_name, params_transform)

    def init_model_params(self):
        return {"a": list(np.arange(1.0, self.n + 1)), "b": [0.5], "rc": [4.0]}

    def init_kwargs(self):
        return {"model_name": self.model_name, "n": self.n}


class Other(Toy):
    pass


def configured():
    m = Toy(model_name="toy", params_transform=LogParameterTransform(["b"]))
    m.set_opt_params(b=[[np.log(0.7), np.log(0.1), np.log(2.0)]],
                     a=[[1.5, "fix"], ["default", "inf", 9.0]])
    m.set_param_transform("a", "log")
    return m


def test_save_load_round_trip(tmp_path):
    m = configured()
    path = m.save(tmp_path / "sub" / "model.yaml")
    assert path == tmp_path / "sub" / "model.yaml"
    d = yaml.safe_load(path.read_text())
    assert d["type"] == f"{Toy.__module__}:Toy"
    assert d["opt_params"] == ["b", "a"]
    assert d["params"]["b"]["transform"] == "log"
    assert d["params"]["a"]["fixed"] == [True, False]

    loaded = load_model(path)
    assert type(loaded) is Toy and loaded.model_name == "toy"
    for name, p in m.model_params.items():
        q = loaded.model_params[name]
        assert q.as_dict() == p.as_dict()
        assert q.index == p.index
    np.testing.assert_array_equal(loaded.get_opt_params(), m.get_opt_params())
    assert loaded.get_opt_params_bounds() == m.get_opt_params_bounds()
    assert loaded.echo_opt_params(None) == m.echo_opt_params(None)

    # KLIFF form: load into an existing instance; classmethod form builds a new one
    fresh = Toy(model_name="toy")
    assert fresh.load(path) is fresh
    np.testing.assert_array_equal(fresh.get_opt_params(), m.get_opt_params())
    assert Toy.load(path).get_opt_param_names() == ["b", "a[1]"]


def test_wrong_type_and_layout(tmp_path):
    path = configured().save(tmp_path / "m.yaml")
    with pytest.raises(ModelError, match="cannot load it into a Other"):
        Other().load(path)
    with pytest.raises(ModelError, match="holds a Toy, not a Other"):
        Other.load(path)
    with pytest.raises(ModelError, match="'a' has 2 component"):
        Toy(n=3).load(path)
    (tmp_path / "x.yaml").write_text("just: text\n")
    with pytest.raises(ConfigFileError, match="not a saved workbench model"):
        load_model(tmp_path / "x.yaml")
    (tmp_path / "y.yaml").write_text("format: workbench-model\ntype: [\n")
    with pytest.raises(ConfigFileError, match=r"y.yaml, line \d+: not valid YAML"):
        load_model(tmp_path / "y.yaml")
    d = yaml.safe_load(path.read_text())
    d["type"] = "os:system"
    (tmp_path / "evil.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(ModelError, match="'os:system' is not a Model class"):
        load_model(tmp_path / "evil.yaml")
    d["type"] = "some_module_never_imported_xyz:Model"
    (tmp_path / "evil.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(ModelError, match="refusing to import module 'some_module_never_imported_xyz'"):
        load_model(tmp_path / "evil.yaml")


def test_atomic_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.yaml"
    m = configured()
    m.save(path)
    old = path.read_text()
    m.update_model_params(m.get_opt_params() + 0.25)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    assert path.read_text() == old
    assert sorted(os.listdir(tmp_path)) == ["m.yaml"]  # temporary file removed
    monkeypatch.undo()
    m.save(path)
    assert path.read_text() != old
    np.testing.assert_array_equal(load_model(path).get_opt_params(), m.get_opt_params())
