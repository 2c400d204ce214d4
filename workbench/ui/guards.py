"""Guard rails before Fit: each check returns a plain-language reason (None when fine).

The checks read the set-up (weights, free parameters, species, optimizer options); only
:func:`starting_loss_problem` evaluates the model, and it runs in the fit's preparing
thread, never in a widget callback.
"""

from __future__ import annotations

import difflib
import functools
import re

import numpy as np

#: keys the fit itself understands for every method (FitSession / run_optimizer)
COMMON_OPTIONS = {"tol", "options"}


@functools.cache
def option_names(method: str) -> frozenset[str] | None:
    """The options ``method`` accepts (None when they cannot be listed)."""
    from workbench.fit.optimizers import (GEODESIC_METHODS, LEAST_SQUARES_METHODS,
                                          MINIMIZE_METHODS)

    if method in LEAST_SQUARES_METHODS:
        import inspect

        from scipy.optimize import least_squares

        skip = {"fun", "x0", "jac", "bounds", "method", "args", "kwargs", "callback"}
        return frozenset(p for p in inspect.signature(least_squares).parameters
                         if p not in skip)
    if method in GEODESIC_METHODS:
        import inspect

        from workbench.fit.geodesic_lm import geodesic_lm

        skip = {"fun", "jac", "x0", "bounds", "callback"}
        return frozenset(p for p in inspect.signature(geodesic_lm).parameters
                         if p not in skip)
    if method in MINIMIZE_METHODS:
        from scipy.optimize import show_options

        text = show_options("minimize", method, disp=False) or ""
        names = set()
        for line in re.findall(r"^(\w+(?:, \w+)*) : ", text, re.M):
            names.update(n.strip() for n in line.split(","))
        return frozenset(names | COMMON_OPTIONS) if names else None
    return None


def options_problem(method: str, options: dict) -> str | None:
    """Unknown option names for ``method``, with the valid ones (and a likely meant one)."""
    valid = option_names(method)
    if valid is None:
        return None
    unknown = [k for k in options if k not in valid]
    if not unknown:
        return None
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, sorted(valid), n=1)
        parts.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return (f"{method} has no option {', '.join(parts)}; its options are: "
            f"{', '.join(sorted(valid))}")


def weight_problem(configs, settings: dict) -> str | None:
    """All weights of what is fitted are zero: the loss would be zero whatever the
    parameters."""
    total = 0.0
    for c in configs:
        cw = float(np.sum(c.config_weight))
        parts = []
        if settings.get("use_energy", True):
            parts.append(float(np.sum(c.energy_weight)))
        if settings.get("use_forces", True) and c.forces is not None:
            parts.append(float(np.sum(c.forces_weight)))
        if settings.get("use_stress", False) and c.stress is not None:
            parts.append(float(np.sum(c.stress_weight)))
        total += cw * sum(abs(p) for p in parts)
    if total == 0:
        used = [q for q in ("energy", "forces", "stress") if settings.get(f"use_{q}",
                                                                           q != "stress")]
        return (f"every weight is zero (config weights × {' and '.join(used)} weights "
                f"of the {len(configs)} fitted configurations): the loss would be 0 whatever "
                "the parameters. Set a weight above 0 in the Weights tab.")
    return None


def free_parameter_problem(model) -> str | None:
    if getattr(model, "is_torch", False):
        return None
    if model.get_num_opt_params() == 0:
        return ("no parameter is free to fit: tick the 'fit' box of at least one parameter "
                "in the table")
    return None


def supported_species(model) -> set[str] | None:
    """The chemical species ``model`` can compute (None when it does not say)."""
    if getattr(model, "is_torch", False):
        species = getattr(getattr(model, "descriptor", None), "species", None)
        return set(species) if species else None
    try:
        return set(model.get_supported_species())
    except Exception:  # noqa: BLE001 - a model that cannot tell is not refused
        return None


def species_problem(model, data_species) -> str | None:
    from workbench.ui.names import plain_name

    supported = supported_species(model)
    missing = sorted(set(data_species) - supported) if supported is not None else []
    if not missing:
        return None
    return (f"{plain_name(model)} covers {', '.join(sorted(supported))} but the fitted "
            f"configurations also contain {', '.join(missing)}: choose a model for "
            f"{', '.join(sorted(data_species))} in the Model tab, or exclude those "
            "configurations in the Data tab")


def starting_loss_problem(objective, configs) -> str | None:
    """The loss at the starting point is not finite: name the configurations whose
    predictions are not finite, or the parameters when none is."""
    x0 = np.asarray(objective.x0(), float)
    try:
        loss = float(objective.loss(x0))
    except Exception as exc:  # noqa: BLE001 - reported in words
        return f"the loss cannot be evaluated at the starting parameters: {exc}"
    if np.isfinite(loss):
        return None
    bad = []
    calc = getattr(objective, "calculator", None)
    try:
        result = calc.compute() if calc is not None else None
    except Exception:  # noqa: BLE001
        result = None
    if result is not None:
        energy = np.asarray(result.energy, float)
        bad = [str(c.identifier) for c, e in zip(configs, energy) if not np.isfinite(e)]
    names = ", ".join(f"{n} = {v:.6g}" for n, v in zip(objective.names(), x0))
    where = (f"the predictions of {len(bad)} configuration(s) are not finite "
             f"({', '.join(bad[:5])}{', …' if len(bad) > 5 else ''})") if bad else \
        "the residuals are not finite"
    return (f"the loss at the starting parameters is not finite: {where}. Starting "
            f"values: {names}. Change the values in the table (or their bounds).")
