"""Guard rails before Fit and the parameter table's edits: every refusal is a message in
words in the status area or beside the row, and nothing starts."""

import numpy as np
import pytest

from workbench.data import Dataset, Weight
from workbench.models import StillingerWeber
from workbench.ui.guards import option_names, options_problem
from workbench.ui.workbench import Workbench


@pytest.fixture
def wb(si4_path):
    ds = Dataset(si4_path, Weight(energy_weight=1.0, forces_weight=0.1))
    model = StillingerWeber()
    model.set_opt_params(A=[[5.0, 1.0, 20]], B=[["default"]], sigma=[[2.0951, "fix"]],
                         gamma=[[1.5]])
    return Workbench(dataset=ds, model=model)


def press_fit(wb):
    wb.monitor.start_w.click()
    wb.monitor.wait(300)
    return wb.monitor.status_w.value


def test_physical_limits_are_default_bounds(wb):
    table = wb.params
    assert table.row("sigma").lower_w.value == "0" and table.row("cutoff").lower_w.value == "0"
    assert wb.model.model_params["sigma"].get_bounds("original") == [(0.0, None)]
    r = table.row("cutoff")
    r.value_w.value = "0"
    assert r.error == "cutoff must be greater than 0" and not r.invalid
    assert r.value_w.value == "3.77118"  # reverted to what the model holds
    assert "not applied" in r.error_w.value
    r.lower_w.value = "1"  # editable
    assert wb.model.model_params["cutoff"].get_bounds("original") == [(1.0, None)]


def test_edits_are_applied_or_reverted_with_a_reason(wb):
    table = wb.params
    a = table.row("A")
    a.lower_w.value = "10"
    assert a.error == "the value 5 is below the new lower bound 10; change the value first"
    assert a.lower_w.value == "1"  # the rejected bound does not stay in its box
    a.value_w.value = "30"
    assert a.error == "30 is above the upper bound 20" and a.value_w.value == "5"
    g = table.row("gamma")
    g.upper_w.value = "2"
    g.lower_w.value = "3"
    assert g.error == "lower bound 3 is above the upper bound 2" and g.lower_w.value == ""
    # a rejected log box does not stay ticked
    lam = table.row("costheta0")
    lam.log_w.value = True
    assert lam.log_w.value is False and lam.error
    assert "component" not in lam.error and "space" not in lam.error


def test_invalid_text_disables_fit_until_fixed(wb):
    b = wb.params.row("B")
    b.value_w.value = "1,5"
    assert b.invalid and b.value_w.value == "1,5"
    assert wb.monitor.start_w.disabled
    assert "cannot fit yet" in wb.monitor.status_w.value
    assert "B: value: '1,5' is not a number" in wb.monitor.status_w.value
    b.value_w.value = "0.7"
    assert not b.invalid and not wb.monitor.start_w.disabled
    assert wb.model.model_params["B"].value[0] == pytest.approx(0.7)
    assert "cannot fit" not in wb.monitor.status_w.value


def test_zero_weights_are_refused(wb):
    wb.weights.energy_w.value = 0.0
    wb.weights.forces_w.value = 0.0
    wb.weights.apply_w.click()
    assert all(c.energy_weight == 0 for c in wb.browser.configs)
    status = press_fit(wb)
    assert wb.session is None
    assert "every weight is zero" in status and "Weights tab" in status


def test_no_free_parameter_is_refused(wb):
    for name in ("A", "B", "gamma"):
        wb.params.row(name).fit_w.value = False
    status = press_fit(wb)
    assert wb.session is None
    assert "no parameter is free to fit: tick the 'fit' box" in status


def test_species_the_model_does_not_cover_are_refused(wb):
    from workbench.models import Tersoff

    wb.set_model(Tersoff(species=("C",)))
    status = press_fit(wb)
    assert wb.session is None
    assert "Tersoff covers C but the fitted configurations also contain Si" in status


def test_unknown_optimizer_options_are_refused_with_the_valid_names(wb):
    wb.monitor.options_w.value = "{maxiterations: 5}"
    status = press_fit(wb)
    assert wb.session is None
    assert "L-BFGS-B has no option 'maxiterations' (did you mean 'maxiter'?)" in status
    assert "maxfun" in status
    assert {"maxiter", "ftol", "gtol", "maxfun", "tol"} <= option_names("L-BFGS-B")
    assert {"max_nfev", "ftol", "x_scale"} <= option_names("trf")
    assert options_problem("trf", {"max_nfev": 3}) is None
    assert "maxiter" in option_names("geodesiclm")


def test_non_finite_starting_loss_names_the_parameters(wb):
    wb.params.row("gamma").value_w.value = "1e308"
    wb.params.row("A").value_w.value = "20"
    status = press_fit(wb)
    assert "not finite" in status and "gamma = 1e+308" in status, status
    assert wb.session is None
    assert np.isfinite(wb.model.model_params["A"].value[0])
