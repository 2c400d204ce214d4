"""What a ``FitSession`` records in the run store (``workbench.runs``).

``start_fields(session)`` describes the run when it starts (model, data set, settings,
the set-up that reruns it); ``final_fields(session)`` completes it at the end (best
parameters, train RMSE, the complete loss history).  Kept out of ``session.py`` so the
session stays about running the optimizer.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from ..runs.describe import describe_dataset, describe_model, jsonable, model_values
from .checkpoint import split_options


def setup_key(setup: dict | None) -> str | None:
    """A hash naming a set-up: runs of the same set-up share it (``fit --resume``)."""
    if not setup:
        return None
    text = json.dumps(jsonable(setup), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _uniform_weight(configs) -> dict | None:
    """The ``dataset.weight`` section when every configuration has the same scalar weights."""
    keys = ("config_weight", "energy_weight", "forces_weight", "stress_weight")
    first = None
    for c in configs:
        vals = tuple(getattr(c, k, None) for k in keys)
        if any(v is not None and not np.isscalar(v) for v in vals):
            return None
        if first is None:
            first = vals
        elif vals != first:
            return None
    if first is None:
        return None
    return {"type": "Weight", **{k: float(v) for k, v in zip(keys, first) if v is not None}}


def loss_settings(loss) -> dict:
    """The ``fit`` section's residual settings of a ``Loss``."""
    calc = getattr(loss, "calculator", None)
    fn = getattr(loss, "residual_fn", None)
    return {
        "residual": getattr(fn, "__name__", None),
        "normalize_by_natoms": bool((getattr(loss, "residual_data", None) or {}).get(
            "normalize_by_natoms", True)),
        "use_energy": bool(getattr(calc, "use_energy", True)),
        "use_forces": bool(getattr(calc, "use_forces", True)),
        "use_stress": bool(getattr(calc, "use_stress", False)),
    }


def dataset_name(root) -> str | None:
    """How a set-up file names the data set under ``root``: a bundled set's name, else the
    directory itself (one ``realpath``, not one per file as ``dataset_path_name``)."""
    from workbench import datasets

    if root is None:
        return None
    real = os.path.realpath(root)
    for name in datasets.names():
        bundled = datasets.cache_dir() / datasets.AVAILABLE[name][1]
        if real == os.path.realpath(bundled):
            return name
    return real


def api_setup(loss, fit: dict, root=None) -> dict | None:
    """A set-up file mapping for a fit built in Python: the folder ``root`` holding the
    training files, uniform weights and the model's start state.  It reruns the same fit
    when the training set is that whole folder; the recorded data-set hash tells."""
    from .setup_file import model_section

    calc = getattr(loss, "calculator", None)
    model = getattr(calc, "model", None)
    configs = getattr(calc, "configs", None)
    if model is None or not configs or getattr(model, "model_params", None) is None:
        return None
    path = dataset_name(root)
    if path is None:
        return None
    dataset = {"path": path}
    weight = _uniform_weight(configs)
    if weight:
        dataset["weight"] = weight
    return {"dataset": dataset, "model": model_section(model), "fit": fit}


def loss_fields(loss, test_configs=None) -> dict:
    """The model and data-set fields of a run over ``loss`` (a Loss or a torch loss)."""
    calc = getattr(loss, "calculator", None)
    model = getattr(calc, "model", None) or getattr(loss, "model", None)
    fields = {}
    if model is not None:
        desc = describe_model(model)
        fields.update(model=desc, model_kind=desc["kind"], species=desc["species"])
    configs = getattr(calc, "configs", None)
    if configs:
        data = describe_dataset(configs, test_configs)
        fields.update(dataset=data, dataset_hash=data["hash"])
    return fields


def start_fields(session) -> dict:
    loss = session.objective
    options, _dropped = split_options(session.options)
    settings = {"method": session.method, "options": options, "max_iter": session.max_iter,
                "time_limit": session.time_limit, **loss_settings(loss),
                "backend": "dask" if getattr(loss, "backend", None) is not None else None}
    # a Workbench hands its set-up and test split over on the Loss it builds
    setup = session.setup if session.setup is not None else getattr(loss, "run_setup", None)
    test = session.test_configs
    data = loss_fields(loss, getattr(loss, "run_test_configs", None) if test is None else test)
    if setup is None:
        fit = {k: settings[k] for k in ("method", "options", "residual", "normalize_by_natoms",
                                        "use_energy", "use_forces", "use_stress")}
        if session.max_iter is not None:
            fit["max_iter"] = session.max_iter
        try:
            setup = api_setup(loss, fit, (data.get("dataset") or {}).get("root"))
        except Exception:  # noqa: BLE001 - a set-up we cannot describe is left out
            setup = None
    fields = {"method": session.method, "settings": settings, "setup": setup,
              "setup_key": setup_key(setup),
              "start_params": {"names": session.names, "x": _x0(session)}}
    if session.checkpoint_path is not None:
        fields["checkpoint"] = str(session.checkpoint_path)
    fields.update(data)
    if setup is not None:
        from .setup_file import dump_config

        fields["artifacts"] = {"setup.yaml": {"text": dump_config(setup), "kind": "setup"}}
    return fields


def model_artifacts(model, params: dict) -> dict:
    """The artifacts a fit keeps when it ends, whatever started it (the API, the
    Workbench, ``workbench fit``): the model file with its final values and the
    parameters as JSON."""
    import yaml

    from ..models.io import model_to_dict

    out = {"params.json": {"text": json.dumps(jsonable(params), indent=1), "kind": "params"}}
    if model is not None:
        try:
            text = yaml.safe_dump(model_to_dict(model), sort_keys=False, default_flow_style=None)
        except Exception:  # noqa: BLE001 - a model that cannot be saved keeps its params
            text = None
        if text is not None:
            out["model.yaml"] = {"text": text, "kind": "model"}
    return out


def _x0(session):
    if session._x_start is not None:
        return session._x_start
    try:
        return np.asarray(session.objective.x0(), float)
    except Exception:  # noqa: BLE001
        return None


def cached_result(loss, x):
    """The calculator's last result when the loss last evaluated exactly ``x`` (an
    optimizer's last evaluation is usually its best point: no extra evaluation then)."""
    key = getattr(loss, "_cache_key", None)
    calc = getattr(loss, "calculator", None)
    if key is None or x is None or getattr(calc, "result_", None) is None:
        return None
    try:
        same = np.array_equal(np.frombuffer(key[0], dtype=float), np.asarray(x, float))
    except (TypeError, ValueError):
        return None
    return calc.result_ if same else None


def calculator_rmse(calc, result=None) -> tuple[float, float] | None:
    """(energy RMSE per atom, force component RMSE) of a created ``Calculator`` with the
    model's current parameters: ``result`` if given, else one evaluation without
    derivatives."""
    if calc is None or getattr(calc, "state_", None) is None or not hasattr(calc, "ref_energy"):
        return None
    res = result if result is not None and getattr(result, "energy", None) is not None \
        else calc.compute()
    e = (np.asarray(res.energy, float) - calc.ref_energy) / calc.natoms
    e_rmse = float(np.sqrt(np.nanmean(e ** 2))) if np.isfinite(e).any() else None
    f_rmse = None
    if calc.use_forces and res.forces is not None:
        d = np.asarray(res.forces, float) - calc.ref_forces
        f_rmse = float(np.sqrt(np.nanmean(d ** 2)))
    return e_rmse, f_rmse


def job_fields(loss, method, options=None) -> dict:
    """Start fields of an analysis job (bootstrap, MCMC) over a fitted ``loss``."""
    opts, _ = split_options(options or {})
    x = np.asarray(loss.x0(), float)
    return {**loss_fields(loss), "method": method,
            "settings": {"method": method, "options": opts, **loss_settings(loss)},
            "start_params": {"names": list(loss.names()), "x": x.tolist()}}


def final_fields(session) -> dict:
    loss = session.objective
    calc = getattr(loss, "calculator", None)
    model = getattr(calc, "model", None)
    best = session.best_params
    fields = {"history": list(session.history),
              "best_params": {"names": session.names,
                              "x": None if best is None else best.tolist(),
                              "values": None if model is None else model_values(model)}}
    # the session has put its best parameters into the model: the final model
    fields["artifacts"] = model_artifacts(model, {
        **fields["best_params"], "best_loss": session.best_loss,
        "iterations": session.iteration})
    if getattr(loss, "backend", None) is None:
        try:
            rmse = calculator_rmse(calc, getattr(session, "_result_at_best", None))
        except Exception:  # noqa: BLE001 - no RMSE rather than no record
            rmse = None
        if rmse is not None:
            fields["train_e_rmse"], fields["train_f_rmse"] = rmse
        test = session.test_configs
        test = getattr(loss, "run_test_configs", None) if test is None else test
        if test and model is not None and getattr(session, "record_test_rmse", True):
            from .report import predictions

            try:
                fields["test_e_rmse"], fields["test_f_rmse"] = \
                    predictions("test", model, test).rmse()
            except Exception:  # noqa: BLE001 - no RMSE rather than no record
                pass
    return fields


# ------------------------------------------------------------------ workbench fit
def cli_setup(setup, directory) -> dict:
    """The set-up a ``workbench fit`` run records: the config file's mapping with the data
    set path and output directory made absolute, so it reruns from anywhere."""
    import copy
    from pathlib import Path

    from workbench import datasets

    from .setup_file import resolve_dataset_path

    cfg = setup.config
    data = copy.deepcopy(jsonable(cfg.data))
    path = str(data["dataset"]["path"])
    if path not in datasets.names():
        data["dataset"]["path"] = str(resolve_dataset_path(path, cfg.base).resolve())
    data.setdefault("output", {})
    data["output"] = dict(data["output"] or {}, directory=str(Path(directory).resolve()))
    return data


def find_resumable(store, key) -> dict | None:
    """The newest interrupted or stopped fit of set-up ``key`` whose checkpoint exists,
    with ``checkpoint_iteration`` added; None when there is none."""
    from pathlib import Path

    from .checkpoint import read_checkpoint

    if key is None:
        return None
    for run in store.list_runs(setup_key=key, kind="fit", status=("interrupted", "stopped")):
        ck = run.get("checkpoint")
        if ck and Path(ck).is_file():
            try:
                run["checkpoint_iteration"] = read_checkpoint(ck)["iteration"]
            except Exception:  # noqa: BLE001 - an unreadable checkpoint: try an older run
                continue
            return run
    return None


def record_cli_outputs(session, model_yaml, kim_dir, report, rmse: dict) -> None:
    """Keep what ``workbench fit`` wrote with its run: a copy of the model file, the
    paths of the KIM model, report and checkpoint, and the train/test RMSEs."""
    store, run_id = session.store, session.run_id
    store.add_artifact(run_id, "model.yaml", source=model_yaml, kind="model")
    if kim_dir is not None:
        store.register_artifact(run_id, "kim_model", kim_dir, kind="kim_model")
    store.register_artifact(run_id, "report.html", report, kind="report")
    if session.checkpoint_path is not None:
        store.register_artifact(run_id, "checkpoint.json", session.checkpoint_path,
                                kind="checkpoint")
    fields = {}
    for label, (e, f) in rmse.items():
        fields[f"{label}_e_rmse"], fields[f"{label}_f_rmse"] = float(e), float(f)
    store.update_run(run_id, **fields)


# ------------------------------------------------------------------ restoring a run
def model_from_run(run, which="best"):
    """The model of a recorded run: rebuilt from its set-up (kind, species, fixed flags,
    bounds, transforms) with its ``which`` ("best" or "start") parameter values."""
    from workbench.errors import ModelError

    from .setup_file import build_model, load_config

    setup = run.get("setup")
    if not setup or "model" not in setup:
        raise ModelError(f"run {run.get('id')} has no recorded set-up to rebuild its model from")
    model = build_model(load_config(setup))
    values = (run.get("best_params") or {}).get("values") if which == "best" else None
    for name, value in (values or {}).items():
        if name in model.model_params:
            model.set_param_value(name, value, "original")
    return model
