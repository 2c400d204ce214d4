"""Hardening of the model layer: parameter values enter only finite and in domain, saved
files cannot disagree with themselves, changes are all-or-nothing, KIM export never
replaces what it did not write, and atomic writes leave the process umask alone."""

import os
import stat
import threading

import numpy as np
import pytest
import yaml

from workbench.atomic import write_text_atomic
from workbench.errors import ConfigFileError, ModelBusyError, ModelError, ParameterError
from workbench.models import LennardJones, StillingerWeber, load_model, ownership
from workbench.models.kim_export import MARKER

KIM_NAME = "SW_Test_Si__MO_000000000000_000"


def _sw():
    model = StillingerWeber()
    model.set_opt_params(A=[[15.0, 1.0, 20.0]], sigma=[[2.0951]])
    return model


# ------------------------------------------------------------------ values at entry
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, "nan", "1_0", "abc"])
def test_set_opt_params_refuses_non_finite_values(bad):
    model = _sw()
    with pytest.raises(ParameterError, match="Parameter 'A'"):
        model.set_opt_params(A=[[bad]])
    assert model.get_params_dict()["A"][0] == 15.0


def test_set_param_value_and_bounds_refuse_nan():
    model = _sw()
    with pytest.raises(ParameterError, match=r"Parameter 'gamma'.*finite number, got nan"):
        model.set_param_value("gamma", [np.nan])
    with pytest.raises(ParameterError, match=r"Parameter 'A'.*bound.*finite number, got nan"):
        model.set_opt_params(A=[[15.0, np.nan, 20.0]])
    # infinite bounds still mean "unbounded"
    model.set_opt_params(A=[[15.0, "-inf", np.inf]])
    assert model.get_opt_params_bounds()[0] == (None, None)


def test_set_opt_params_is_all_or_nothing():
    model = _sw()
    before = model.get_params_dict()
    with pytest.raises(ParameterError, match="Parameter 'gamma'"):
        model.set_opt_params(A=[[7.0]], B=[[0.5]], gamma=[["x"]])
    after = model.get_params_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert model.get_opt_param_names() == ["A", "sigma"]


def test_read_opt_params_is_all_or_nothing(tmp_path):
    model = _sw()
    path = tmp_path / "opt.txt"
    path.write_text("A\n7.0\nB\n0.5 fix\ngamma\n1.2 3.0 2.0\n")
    with pytest.raises(ParameterError, match=r"opt.txt, line 6.*lower bound 3.0 is greater"):
        model.read_opt_params(path)
    assert model.get_params_dict()["A"][0] == 15.0
    assert model.get_opt_param_names() == ["A", "sigma"]


def test_log_underflow_is_refused_and_changes_nothing():
    model = _sw()
    model.set_param_transform("sigma", "log")
    x = model.get_opt_params()
    with pytest.raises(ParameterError, match=r"'sigma'.*transformed value -800.0 is 0.0"):
        model.update_model_params([16.0, -800.0])
    np.testing.assert_array_equal(model.get_opt_params(), x)
    with pytest.raises(ParameterError, match="'A'"):
        model.update_model_params([np.nan, x[1]])
    np.testing.assert_array_equal(model.get_opt_params(), x)


# ------------------------------------------------------------------ saved model YAML
def _saved(tmp_path):
    model = _sw()
    model.set_param_transform("sigma", "log")
    path = model.save(tmp_path / "model.yaml")
    return path, yaml.safe_load(path.read_text())


@pytest.mark.parametrize("flag", ["flase", "false", "0", 0, 1, None])
def test_fixed_flags_must_be_booleans(tmp_path, flag):
    path, d = _saved(tmp_path)
    d["params"]["gamma"]["fixed"] = [flag]
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigFileError) as err:
        load_model(path)
    msg = str(err.value)
    assert str(path) in msg and "parameter 'gamma'" in msg and "true or false" in msg


def test_edited_value_disagreeing_with_transformed_value_is_refused(tmp_path):
    path, d = _saved(tmp_path)
    d["params"]["sigma"]["value"] = [2.5]
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigFileError, match=r"model.yaml: parameter 'sigma'.*disagree"):
        load_model(path)
    # deleting the transformed value lets the edited value rule
    del d["params"]["sigma"]["transformed_value"]
    path.write_text(yaml.safe_dump(d))
    loaded = load_model(path)
    assert loaded.get_params_dict()["sigma"][0] == 2.5
    assert loaded.model_params["sigma"].transformed_value[0] == pytest.approx(np.log(2.5))


def test_nan_value_in_saved_model_is_refused(tmp_path):
    path, d = _saved(tmp_path)
    d["params"]["A"]["value"] = [".nan"]
    path.write_text(yaml.safe_dump(d).replace("'.nan'", ".nan"))
    with pytest.raises(ConfigFileError, match=r"parameter 'A'.*finite number"):
        load_model(path)


# ------------------------------------------------------------------ ownership
def test_owned_model_refuses_other_threads_and_second_claims():
    model = _sw()
    errors = []
    with ownership.owned(model, "a test fit"):
        model.update_model_params([16.0, 2.1])  # the owner's own thread may change it

        def other():
            try:
                model.set_opt_params(A=[[3.0]])
            except ModelBusyError as exc:
                errors.append(str(exc))

        t = threading.Thread(target=other)
        t.start()
        t.join()
        with pytest.raises(ModelBusyError, match="already being fitted by a test fit"):
            ownership.claim(model, "another fit")
    assert errors and "cannot set_opt_params of model SW: it is being fitted by a test " \
                      "fit" in errors[0]
    assert model.get_params_dict()["A"][0] == 16.0
    model.set_opt_params(A=[[3.0]])  # released: free again
    assert model.get_params_dict()["A"][0] == 3.0


# ------------------------------------------------------------------ KIM export safety
def test_kim_export_replaces_only_its_own_directories(tmp_path):
    model = _sw()
    path = model.write_kim_model(tmp_path / KIM_NAME)
    assert (path / MARKER).is_file()
    with pytest.raises(ModelError, match=f"{KIM_NAME} already holds a KIM model written by "
                                         "the workbench; pass overwrite=True"):
        model.write_kim_model(path)
    model.set_opt_params(A=[[16.5]])
    model.write_kim_model(path, overwrite=True)
    assert "Si Si 16.5 " in (path / f"{KIM_NAME}.params").read_text()

    # a project folder with a CMakeLists.txt is not ours: refused even with overwrite
    project = tmp_path / "My_Project"
    project.mkdir()
    (project / "CMakeLists.txt").write_text("project(mine)\n")
    (project / "main.c").write_text("int main(){}\n")
    with pytest.raises(ModelError, match=f"{project} exists and is not a KIM model "
                                         "directory written by the workbench"):
        model.write_kim_model(project, overwrite=True)
    assert sorted(p.name for p in project.iterdir()) == ["CMakeLists.txt", "main.c"]
    afile = tmp_path / "Plain_File"
    afile.write_text("keep")
    with pytest.raises(ModelError, match=f"{afile} exists and is not a directory"):
        model.write_kim_model(afile, overwrite=True)
    assert afile.read_text() == "keep"


def test_kim_export_unwritable_parent_names_the_path(tmp_path):
    """A parent that cannot hold a directory (here a file: fails for every user, root
    included) gives one clear error naming the target, not a temporary name."""
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(ModelError) as err:
        _sw().write_kim_model(blocker / KIM_NAME)
    msg = str(err.value)
    assert msg.startswith(f"cannot write the KIM model directory {blocker / KIM_NAME}: ")
    assert ".tmp" not in msg and f".{KIM_NAME}." not in msg


def test_kim_export_refuses_invalid_parameters(tmp_path):
    model = LennardJones()
    model.set_param_value("sigma", [-1.0])
    with pytest.raises(ModelError, match=r"LennardJones parameter 'sigma' must be positive"):
        model.write_kim_model(tmp_path / "LJ_Bad__MO_000000000000_000")
    model = _sw()
    model.model_params["gamma"]._value[0] = np.nan  # bypassing every setter
    with pytest.raises(ModelError, match=r"parameter 'gamma' is not finite"):
        model.write_kim_model(tmp_path / KIM_NAME)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ atomic writes
def test_atomic_write_never_touches_the_umask(tmp_path, monkeypatch):
    def no_umask(*args):
        raise AssertionError("os.umask was called")

    old = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", no_umask)
        path = write_text_atomic(tmp_path / "a.txt", "data")
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert path.read_text() == "data"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
