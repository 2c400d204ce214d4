"""ParameterTable driven from Python: every edit reaches the model through its API, invalid
edits are shown in the row and leave the model untouched."""

import numpy as np
import pytest

from workbench.models import StillingerWeber
from workbench.ui.parameter_table import ParameterTable


@pytest.fixture
def model():
    m = StillingerWeber()
    m.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                     gamma=[[1.5]])
    return m


@pytest.fixture
def table(model):
    return ParameterTable(model)


def state(model, name):
    p = model.model_params[name]
    return (p.get_value("original").tolist(), p.get_bounds("original"), p.fixed.tolist(),
            p.transform, list(model.get_opt_param_names()))


def test_rows_show_the_model(table, model):
    labels = [r.label for r in table.rows]
    assert labels == list(model.model_params)  # SW for one species: one component each
    a = table.row("A")
    assert a.value_w.value == "5"
    assert (a.lower_w.value, a.upper_w.value) == ("1", "20")
    assert a.fit_w.value is True
    assert table.row("sigma").fit_w.value is False  # fixed
    assert table.row("lambda").fit_w.value is False  # not optimized
    assert table.row("B").value_w.value == "0.60222456"


def test_setting_a_bound_reaches_the_model(table, model):
    row = table.row("gamma")
    row.upper_w.value = "3.5"
    assert model.model_params["gamma"].get_bounds("original") == [(None, 3.5)]
    assert model.get_opt_params_bounds()[2] == (None, 3.5)
    row.lower_w.value = "0.5"
    assert model.model_params["gamma"].get_bounds("original") == [(0.5, 3.5)]
    assert row.error == ""
    row.lower_w.value = ""  # empty = unbounded
    assert model.model_params["gamma"].get_bounds("original") == [(None, 3.5)]


@pytest.mark.parametrize("field,text,reason", [
    ("upper_w", "abc", "upper bound: 'abc' is not a number"),
    ("value_w", "", "value: a number is required"),
    ("value_w", "nan", "value: 'nan' is not a finite number"),
    ("value_w", "1,5", "value: '1,5' is not a number"),
])
def test_text_that_is_not_a_number_stays_and_marks_the_row_invalid(table, model, field,
                                                                   text, reason):
    before = state(model, "A")
    version = model.params_version
    row = table.row("A")
    getattr(row, field).value = text
    assert row.error == reason and row.invalid
    assert getattr(row, field).value == text  # what was typed stays, to be corrected
    assert "invalid" in row.error_w.value
    assert "wb-invalid" in row.value_w._dom_classes
    assert table.invalid_reasons() == [f"A: {reason}"]
    assert state(model, "A") == before
    assert model.params_version == version
    # a valid edit afterwards clears the message
    if field == "upper_w":
        row.upper_w.value = "20"
    row.value_w.value = "7.5"
    assert row.error == "" and not row.invalid and table.invalid_reasons() == []
    assert "wb-invalid" not in row.value_w._dom_classes
    assert model.model_params["A"].value[0] == 7.5
    assert row.value_w.value == "7.5"


@pytest.mark.parametrize("field,text,reason", [
    ("upper_w", "3", "the value 5 is above the new upper bound 3; change the value first"),
    ("lower_w", "30", "lower bound 30 is above the upper bound 20"),
    ("value_w", "25", "25 is above the upper bound 20"),
    ("value_w", "0.5", "0.5 is below the lower bound 1"),
])
def test_refused_edits_are_reverted_with_the_reason(table, model, field, text, reason):
    before = state(model, "A")
    row = table.row("A")
    getattr(row, field).value = text
    assert row.error == reason and not row.invalid
    assert "not applied" in row.error_w.value
    # the boxes show what the model holds again
    assert (row.value_w.value, row.lower_w.value, row.upper_w.value) == ("5", "1", "20")
    assert state(model, "A") == before
    row.value_w.value = "7.5"
    assert row.error == "" and model.model_params["A"].value[0] == 7.5


def test_toggle_log_transform(table, model):
    x_before = model.get_opt_params().copy()
    row = table.row("B")
    row.log_w.value = True
    p = model.model_params["B"]
    assert p.transform is not None
    assert p.value[0] == pytest.approx(0.6022245584)  # original value kept exactly
    x = model.get_opt_params()
    assert x[1] == pytest.approx(np.log(0.6022245584))
    assert x[0] == x_before[0] and x[2] == x_before[2]
    assert row.value_w.value == "0.60222456"  # the table shows the original space
    row.log_w.value = False
    assert p.transform is None
    assert model.get_opt_params()[1] == pytest.approx(0.6022245584)


def test_log_of_a_negative_parameter_is_refused(table, model):
    before = state(model, "costheta0")
    row = table.row("costheta0")
    row.log_w.value = True
    assert row.error and "costheta0" in row.error
    assert row.log_w.value is False  # the refused tick does not stay
    assert state(model, "costheta0") == before


def test_fit_toggle_frees_and_fixes(table, model):
    table.row("lambda").fit_w.value = True
    assert model.get_opt_param_names() == ["A", "B", "gamma", "lambda"]
    table.row("A").fit_w.value = False
    assert model.get_opt_param_names() == ["B", "gamma", "lambda"]
    assert model.model_params["A"].fixed[0]
    table.row("sigma").fit_w.value = True
    assert "sigma" in model.get_opt_param_names()


def test_locked_table_refuses_edits_and_live_values_do_not_touch_the_model(table, model):
    table.lock(True)
    assert table.row("A").value_w.disabled
    table.row("A").value_w.value = "6"
    assert "fit is running" in table.row("A").error
    assert model.model_params["A"].value[0] == 5.0
    table.update_values({"A": np.array([11.25]), "gamma": np.array([2.0])})
    assert table.row("A").value_w.value == "11.25"
    assert table.row("gamma").value_w.value == "2"
    assert model.model_params["A"].value[0] == 5.0  # display only
    table.lock(False)
    table.refresh()
    assert table.row("A").value_w.value == "5"
    assert table.row("A").error == ""


def test_on_change_called_after_valid_edits_only(model):
    calls = []
    table = ParameterTable(model, on_change=calls.append)
    table.row("A").upper_w.value = "x"
    assert calls == []
    table.row("A").upper_w.value = "15"
    assert calls == [model]
