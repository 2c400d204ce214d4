"""Plain-language names and messages the Workbench shows: model titles, the page title,
and optimizer stop reasons in words."""

from __future__ import annotations

import html
import re

#: class name -> what a user calls the potential
PLAIN_NAMES = {
    "StillingerWeber": "Stillinger-Weber",
    "LennardJones": "Lennard-Jones",
    "Morse": "Morse",
    "Tersoff": "Tersoff",
    "NeuralNetwork": "neural network",
    "LinearRegression": "linear regression",
}

#: (pattern in an optimizer's stop message, the same in words)
_STOP_REASONS = (
    (r"RELATIVE REDUCTION OF F <= FACTR\*EPSMCH",
     "converged: the loss changed by less than the tolerance (ftol) between steps"),
    (r"NORM OF PROJECTED GRADIENT <= PGTOL",
     "converged: the gradient is below the tolerance (gtol)"),
    (r"(STOP: )?TOTAL NO\.? (of|OF) ITERATIONS REACHED LIMIT|[Mm]aximum number of "
     r"iterations", "stopped at the iteration limit (maxiter): raise it to continue"),
    (r"TOTAL NO\.? (of|OF) f AND g EVALUATIONS EXCEEDS LIMIT|[Mm]aximum number of "
     r"(function )?evaluations", "stopped at the evaluation limit (maxfun / max_nfev)"),
    (r"ABNORMAL_TERMINATION_IN_LNSRCH|ABNORMAL",
     "stopped: the line search found no lower loss (often converged as far as the "
     "numbers allow)"),
    (r"`ftol` termination condition", "converged: the loss changed by less than ftol"),
    (r"`xtol` termination condition", "converged: the parameters changed by less than xtol"),
    (r"`gtol` termination condition", "converged: the gradient is below gtol"),
    (r"Optimization terminated successfully", "converged"),
    (r"Desired error not necessarily achieved due to precision loss",
     "stopped: no further progress possible at this precision"),
    (r"stopped by the user|stop requested", "stopped by you; the best parameters are kept"),
)


def plain_name(model) -> str:
    """``Stillinger-Weber``, ``Lennard-Jones``, a KIM model's own name, ..."""
    if model is None:
        return "no model"
    kind = type(model).__name__
    if kind == "KIMModel":
        return str(getattr(model, "model_name", kind))
    return PLAIN_NAMES.get(kind, kind)


def model_species(model) -> tuple[str, ...]:
    species = getattr(model, "species", None)
    if species is None:
        desc = getattr(model, "descriptor", None)
        species = getattr(desc, "species", None)
    if species is None and hasattr(model, "get_supported_species"):
        try:
            species = list(model.get_supported_species())
        except Exception:  # noqa: BLE001 - only a label
            species = None
    try:
        return tuple(str(s) for s in species) if species is not None and \
            all(isinstance(s, str) for s in species) else ()
    except TypeError:
        return ()


def model_title(model) -> str:
    """``Stillinger-Weber (Si)``: the model's plain name and its species; a network also
    with its layer sizes and weight count (``neural network 30→5→1 (Si, 161 weights)``)."""
    species = list(model_species(model))
    name = plain_name(model)
    if getattr(model, "is_torch", False):
        from workbench.ui.training import layer_sizes, n_weights

        sizes = layer_sizes(model)
        if sizes:
            name += " " + "→".join(str(s) for s in sizes)
        species.append(f"{n_weights(model)} weights")
    return name + (f" ({', '.join(species)})" if species else "")


def page_title(model, n_configs: int, n_fitted: int, fit_state: str | None) -> str:
    """``Stillinger-Weber (Si) · 1000 configurations · not fitted yet``."""
    configs = f"{n_configs} configuration{'s' if n_configs != 1 else ''}"
    if n_fitted != n_configs:
        configs += f" ({n_fitted} fitted)"
    status = {None: "not fitted yet", "preparing": "preparing the fit",
              "running": "fitting…", "paused": "fit paused", "finished": "fitted",
              "stopped": "fit stopped (best parameters kept)",
              "failed": "fit failed"}.get(fit_state, fit_state)
    return f"{model_title(model)} · {configs} · {status}"


def stop_reason(message: str) -> str:
    """An optimizer's stop message in words (the message itself when unknown)."""
    text = (message or "").strip()
    for pattern, words in _STOP_REASONS:
        if re.search(pattern, text):
            return words
    return text.splitlines()[0] if text else ""


def escape_html(text) -> str:
    """``text`` (any object, as ``str``) safe inside an HTML widget; quotes are kept."""
    return html.escape(str(text), quote=False)
