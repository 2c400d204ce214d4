"""Checks of a fit set-up that need no data: run before the data set is read.

``build_setup`` builds the model first (cheap), then calls :func:`check_fit_settings`, so a
misspelt method, a text where a number belongs, bounds on a method that cannot take
them, or an invalid KIM model name for the output is reported in seconds, naming the key
and line of the set-up file, instead of after loading the data or after the whole fit.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from workbench.errors import ConfigFileError, LossError, ModelError

_FLAGS = ("normalize_by_natoms", "use_energy", "use_forces", "use_stress")


def _positive(cfg, key, value, whole):
    if value is None:
        return
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0
    if ok and whole and float(value) != int(value):
        ok = False
    if not ok:
        kind = "a positive whole number" if whole else "a positive number of seconds"
        raise cfg.error(("fit", key), f"expected {kind}, got {value!r}")


def check_fit_settings(cfg, model) -> None:
    """The ``fit`` and ``output`` sections against ``model`` (already built)."""
    from workbench.fit.objective import normalize_bounds
    from workbench.fit.optimizers import BOUNDED_METHODS, canonical_method
    from workbench.fit.options import check_bounds, check_options

    fit = cfg.section("fit")
    method = fit.get("method", "L-BFGS-B")
    try:
        method = canonical_method(method)
    except LossError as exc:
        raise cfg.error(("fit", "method"), str(exc)) from None
    options = fit.get("options") or {}
    if not isinstance(options, dict):
        raise cfg.error(("fit", "options"), f"expected a mapping, got {options!r}")
    try:
        check_options(method, options)
    except LossError as exc:
        raise cfg.error(("fit", "options"), str(exc)) from None
    if model.get_num_opt_params():
        names = model.get_opt_param_names()
        try:
            bounds = normalize_bounds(model.get_opt_params_bounds(), len(names), names)
            check_bounds(method, names, bounds, BOUNDED_METHODS)
        except LossError as exc:
            raise cfg.error(("fit", "method"), str(exc)) from None
    for key in _FLAGS:
        if key in fit and not isinstance(fit[key], bool):
            raise cfg.error(("fit", key), f"expected true or false, got {fit[key]!r}")
    _positive(cfg, "max_iter", fit.get("max_iter"), whole=True)
    _positive(cfg, "checkpoint_every", fit.get("checkpoint_every"), whole=True)
    _positive(cfg, "time_limit", fit.get("time_limit"), whole=False)
    kim_name = cfg.section("output").get("kim_model")
    if kim_name:
        from workbench.models.kim_export import resolve_path

        try:
            resolve_path(Path("/") / str(kim_name), "")
        except ModelError as exc:
            raise cfg.error(("output", "kim_model"), str(exc)) from None


def check_writable_directory(directory) -> Path:
    """Create ``directory`` if needed and prove a file can be written there (the probe is
    removed); ConfigFileError naming the directory otherwise."""
    directory = Path(directory)
    probe = directory / f".workbench-probe-{secrets.token_hex(4)}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigFileError(f"cannot write into the output directory {directory}: "
                              f"{exc.strerror or exc}") from None
    return directory
