"""Parameter, transforms and the KLIFF optimizing-parameter rules of the Model base."""

import io

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.models import LogParameterTransform, Model, Parameter, ParameterTransform

SW_VALUES = {"A": 15.2848479197914, "B": 0.6022245584, "p": 4.0, "q": 0.0, "sigma": 2.0951,
             "gamma": 2.51412, "cutoff": 3.77118, "lambda": 45.5322, "costheta0": -1 / 3}


class ToySW(Model):
    """A parameter-only model with the SW parameter set (no engine needed)."""

    def init_model_params(self):
        return {k: [v] for k, v in SW_VALUES.items()}


class TwoComp(Model):
    def init_model_params(self):
        return {"eps": Parameter([1.0, 2.0, 3.0]), "rc": [4.0]}


def sw_model(**kw):
    return ToySW(model_name="SW_StillingerWeber_1985_Si__MO_405512056662_006", **kw)


# --- KLIFF tutorial examples -----------------------------------------------------------

def test_sw_tutorial_set_opt_params():
    m = sw_model()
    m.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]], gamma=[[1.5]])
    np.testing.assert_allclose(m.get_opt_params(), [5.0, 0.60222456, 1.5], rtol=1e-8)
    assert m.get_opt_params_bounds() == [(1.0, 20.0), (None, None), (None, None)]
    assert m.has_opt_params_bounds()
    assert m.get_num_opt_params() == 3
    assert m.get_opt_param_names() == ["A", "B", "gamma"]
    assert m.get_opt_param_name_value_and_indices(2) == ("gamma", 1.5, 5, 0)
    assert m.model_params["sigma"].fixed.tolist() == [True]
    # the other parameters keep their defaults
    assert m.model_params["lambda"].value[0] == 45.5322


def test_echo_opt_params_text():
    m = sw_model()
    m.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]], gamma=[[1.5]])
    expected = (
        "#" + "=" * 80 + "\n"
        "# Model parameters that are optimized.\n"
        "# Note that the parameters are in the transformed space if \n"
        "# `params_transform` is provided when instantiating the model.\n"
        "#" + "=" * 80 + "\n\n"
        "A 1\n"
        "  5.0000000000000000e+00   1.0000000000000000e+00   2.0000000000000000e+01 \n\n"
        "B 1\n"
        "  6.0222455840000000e-01 \n\n"
        "sigma 1\n"
        "  2.0951000000000000e+00 fix \n\n"
        "gamma 1\n"
        "  1.5000000000000000e+00 \n\n"
    )
    buf = io.StringIO()
    assert m.echo_opt_params(buf) == expected
    assert buf.getvalue() == expected + "\n"


def test_echo_opt_params_log_space_matches_kliff_tutorial():
    m = sw_model(params_transform=LogParameterTransform(["A", "B", "sigma", "gamma"]))
    m.set_opt_params(A=[[np.log(5.0), np.log(1.0), np.log(20)]], B=[["default"]],
                     sigma=[[np.log(2.0951), "fix"]], gamma=[[np.log(1.5)]])
    text = m.echo_opt_params(None)
    assert "  1.6094379124341003e+00   0.0000000000000000e+00   2.9957322735539909e+00 \n" in text
    assert " -5.0712488263019628e-01 \n" in text  # log(0.6022245584), as in KLIFF's output
    assert "  7.3960128493182953e-01 fix \n" in text
    assert "  4.0546510810816438e-01 \n" in text
    # the model computes with original-space values
    np.testing.assert_allclose(m.model_params["A"].value, [5.0], rtol=1e-15)
    np.testing.assert_allclose(m.get_params_dict()["gamma"], [1.5], rtol=1e-15)


def test_echo_model_params_text_both_spaces(tmp_path):
    m = sw_model(params_transform=LogParameterTransform(["A", "sigma"]))
    text = m.echo_model_params(None)
    assert text.startswith("#" + "=" * 80 + "\n# Available parameters to optimize.\n"
                           "# Parameters in `original` space.\n"
                           "# Model: SW_StillingerWeber_1985_Si__MO_405512056662_006\n"
                           + "#" + "=" * 80 + "\n\nname: A\nvalue: [15.28484792]\nsize: 1\n\n"
                           "name: B\nvalue: [0.60222456]\nsize: 1\n\n")
    assert text.endswith("name: costheta0\nvalue: [-0.33333333]\nsize: 1\n\n")
    t = m.echo_model_params(tmp_path / "p.txt", params_space="transformed")
    assert (tmp_path / "p.txt").read_text() == t
    assert "# Parameters in `transformed` space." in t
    assert "name: A\nvalue: [2.72686201]\nsize: 1" in t  # log(15.2848...)
    assert "name: B\nvalue: [0.60222456]\nsize: 1" in t  # not transformed
    with pytest.raises(ParameterError, match="params_space"):
        m.echo_model_params(None, params_space="log")


def test_one_two_three_item_rules_and_inf():
    m = TwoComp()
    m.set_one_opt_param("eps", [["DEFAULT", "INF", 5.0], [2.5, "FIX"], [3.5, 0.5, "inf"]])
    p = m.model_params["eps"]
    assert p.value.tolist() == [1.0, 2.5, 3.5]
    assert p.fixed.tolist() == [False, True, False]
    assert p.get_bounds() == [(None, 5.0), (None, None), (0.5, None)]
    np.testing.assert_array_equal(m.get_opt_params(), [1.0, 3.5])
    assert m.get_opt_params_bounds() == [(None, 5.0), (0.5, None)]
    assert m.get_opt_param_name_value_and_indices(1) == ("eps", 3.5, 0, 2)
    flat, d = m.opt_param_chain()
    assert flat.tolist() == [0, 2] and d.tolist() == [1.0, 1.0]
    m.set_opt_params(rc=[[4.2, None, None]])
    assert not m.get_opt_params_bounds()[2][0] and m.get_opt_params_bounds()[2] == (None, None)
    m.update_model_params([1.1, 3.3, 4.4])
    assert m.model_params["eps"].value.tolist() == [1.1, 2.5, 3.3]
    assert m.model_params["rc"].value.tolist() == [4.4]
    flat, _ = m.opt_param_chain()
    assert flat.tolist() == [0, 2, 3]


def test_no_opt_params_and_no_bounds():
    m = TwoComp()
    with pytest.raises(ParameterError, match="No parameters"):
        m.get_opt_params()
    m.set_opt_params(rc=[["default"]])
    assert not m.has_opt_params_bounds()


# --- read_opt_params --------------------------------------------------------------------

def test_read_opt_params_file(tmp_path):
    f = tmp_path / "opt.txt"
    f.write_text("# fitting parameters\n"
                 "eps\n"
                 "  default  0.1  INF   # first\n"
                 "  2.0      FIX\n"
                 "  Default\n"
                 "\n"
                 "rc\n"
                 "4.5 Inf 6\n")
    m = TwoComp()
    m.read_opt_params(f)
    assert m.model_params["eps"].value.tolist() == [1.0, 2.0, 3.0]
    assert m.model_params["eps"].fixed.tolist() == [False, True, False]
    assert m.get_opt_params_bounds() == [(0.1, None), (None, None), (None, 6.0)]
    np.testing.assert_array_equal(m.get_opt_params(), [1.0, 3.0, 4.5])


@pytest.mark.parametrize("content, line, match", [
    ("eps\n1\n2\n3\nbogus\n1\n", 5, "'bogus' is not a parameter"),
    ("eps\n1\n2 fox\n3\n", 3, "must be 'fix'"),
    ("eps\n1\nabc\n3\n", 3, "must be a number"),
    ("eps\n1\n2 3 1\n3\n", 3, "lower bound 3.0 is greater than upper bound 1.0"),
    ("eps\n1\n2 2.5 4\n3\n", 3, "initial value 2.0 is outside its bounds"),
    ("eps\n1\n2 3 4 5\n3\n", 3, "expected 1, 2 or 3 items"),
])
def test_read_opt_params_bad_files_name_file_and_line(tmp_path, content, line, match):
    f = tmp_path / "bad.txt"
    f.write_text(content)
    m = TwoComp()
    with pytest.raises(ParameterError, match=match) as err:
        m.read_opt_params(f)
    assert f"{f}, line {line}" in str(err.value)


def test_read_opt_params_truncated_file(tmp_path):
    f = tmp_path / "short.txt"
    f.write_text("rc\n4\neps\n1\n2\n")
    with pytest.raises(ParameterError, match=r"line 3: parameter 'eps' needs 3 component"):
        TwoComp().read_opt_params(f)


# --- errors name the parameter ----------------------------------------------------------

def test_parameter_errors():
    m = TwoComp()
    with pytest.raises(ParameterError, match="'nope' is not a parameter"):
        m.set_opt_params(nope=[[1.0]])
    with pytest.raises(ParameterError, match="'eps' has 3 component"):
        m.set_opt_params(eps=[[1.0]])
    with pytest.raises(ParameterError, match="'eps' component 1: lower bound 5.0 is greater"):
        m.set_opt_params(eps=[[1.0], [2.0, 5.0, 3.0], [3.0]])
    with pytest.raises(ParameterError, match="'rc' component 0: initial value 7.0 is outside"):
        m.set_opt_params(rc=[[7.0, 1.0, 6.0]])
    with pytest.raises(ParameterError, match="'rc'.*must be a number, got 'x'"):
        m.set_opt_params(rc=[["x"]])
    with pytest.raises(ParameterError, match="'rc'.*must be a number, got \\[1.0\\]"):
        m.set_opt_params(rc=[[[1.0]]])
    neg = TwoComp()
    neg.set_param_value("eps", [1.0, -2.0, 3.0])
    with pytest.raises(ParameterError, match=r"Cannot log-transform parameter 'eps'.*\[1\] = -2.0"):
        neg.set_param_transform("eps", "log")
    assert neg.model_params["eps"].transform is None
    with pytest.raises(ParameterError, match="Cannot log-transform parameter 'rc'.*0.0"):
        TwoCompZero(params_transform=LogParameterTransform(["rc"]))
    with pytest.raises(ParameterError, match="Expected 1 optimizing"):
        m.set_opt_params(rc=[["default"]])
        m.update_model_params([1.0, 2.0])
    with pytest.raises(ParameterError, match="Parameter 'q'.*got shape"):
        Parameter([[1.0]], name="q")
    with pytest.raises(ParameterError, match="'eps' component 0: lower bound 2.0 is greater"):
        m.set_bounds("eps", 0, 2.0, 1.0)


class TwoCompZero(Model):
    def init_model_params(self):
        return {"rc": [0.0]}


def test_failed_setting_changes_nothing():
    m = TwoComp()
    m.set_opt_params(eps=[[1.5, 1.0, 2.0], [2.0], [3.0, "fix"]])
    before = m.model_params["eps"].as_dict()
    with pytest.raises(ParameterError):
        m.set_opt_params(eps=[[1.7], [2.2], [9.0, 1.0, 5.0]])
    assert m.model_params["eps"].as_dict() == before
    with pytest.raises(ParameterError, match="outside"):
        m.set_bounds("eps", 0, 1.6, 3.0)
    assert m.model_params["eps"].as_dict() == before


# --- transforms -------------------------------------------------------------------------

def test_log_transform_round_trip_and_derivatives():
    t = LogParameterTransform(["a"])
    x = np.array([0.3, 1.0, 17.5])
    y = t.transform(x)
    np.testing.assert_allclose(y, np.log(x), rtol=1e-15)
    np.testing.assert_allclose(t.inverse_transform(y), x, rtol=1e-15)
    h = 1e-6
    fd = (t.inverse(y + h) - t.inverse(y - h)) / (2 * h)
    np.testing.assert_allclose(t.inverse_derivative(y), fd, rtol=1e-8)
    fd2 = (t.forward(x + h * x) - t.forward(x - h * x)) / (2 * h * x)
    np.testing.assert_allclose(t.derivative(x), fd2, rtol=1e-8)
    # KLIFF's mapping form: only named entries are mapped
    out = t.transform({"a": [2.0], "b": [3.0]})
    assert out["a"].tolist() == [np.log(2.0)] and out["b"].tolist() == [3.0]
    assert ParameterTransform(["a"]).inverse_transform(np.array([2.0])).tolist() == [2.0]


def test_chain_factor_matches_finite_differences():
    m = sw_model(params_transform=LogParameterTransform(["A", "sigma"]))
    m.set_opt_params(A=[["default"]], sigma=[["default"]], p=[["default"]])
    flat, d = m.opt_param_chain()
    assert flat.tolist() == [0, 4, 2]
    x = m.get_opt_params()
    h = 1e-6
    for k in range(len(x)):
        vals = []
        for s in (+1, -1):
            xs = x.copy()
            xs[k] += s * h
            m.update_model_params(xs)
            vals.append(np.concatenate(list(m.get_params_dict().values()))[flat[k]])
        assert (vals[0] - vals[1]) / (2 * h) == pytest.approx(d[k], rel=1e-8)
    m.update_model_params(x)
    np.testing.assert_allclose(m.model_params["A"].value, [SW_VALUES["A"]], rtol=1e-15)


def test_switching_log_keeps_value_and_bounds():
    m = sw_model()
    m.set_opt_params(A=[[5.0, 1.0, 20.0]], gamma=[[1.5, 0.0, 3.0]])
    m.set_param_transform("A", "log")
    np.testing.assert_allclose(m.get_opt_params(), [np.log(5.0), 1.5], rtol=1e-15)
    np.testing.assert_allclose(m.get_opt_params_bounds()[0], (0.0, np.log(20.0)), rtol=1e-15)
    assert m.model_params["A"].value.tolist() == [5.0]
    m.set_param_transform("gamma", "log")  # lower bound 0 -> unbounded in log space
    assert m.get_opt_params_bounds()[1] == (None, np.log(3.0))
    m.update_model_params([np.log(6.0), np.log(2.0)])
    m.set_param_transform("A", None)
    m.set_param_transform("gamma", None)
    np.testing.assert_allclose(m.get_opt_params(), [6.0, 2.0], rtol=1e-14)
    assert m.get_opt_params_bounds() == [(1.0, 20.0), (0.0, 3.0)]  # exact original bounds
    assert m.model_params["A"].transform is None


def test_ui_set_fixed_and_bounds():
    m = TwoComp()
    m.set_fixed("eps", 1, False)  # adds eps with only component 1 free
    assert m.get_opt_param_names() == ["eps[1]"]
    m.set_fixed("eps", 2, False)
    m.set_bounds("eps", 2, "inf", 10)
    assert m.get_opt_params_bounds() == [(None, None), (None, 10.0)]
    m.set_fixed("eps", 1, True)
    assert m.get_opt_param_names() == ["eps[2]"]
    m.set_param_transform("eps", "log")
    m.set_bounds("eps", 2, 0.0, 9.0, space="original")
    assert m.get_opt_params_bounds() == [(None, np.log(9.0))]
    with pytest.raises(ParameterError, match="no component 3"):
        m.set_fixed("eps", 3, False)
