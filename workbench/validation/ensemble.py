"""Properties with uncertainty: the suite for every member of a parameter ensemble.

An ensemble is a set of parameter vectors ``x`` (the model's optimized parameters, in
the order of ``model.get_opt_param_names()``): the ``samples`` of a ``BootstrapResult``
or an ``MCMCResult``, or a file written by :func:`save_ensemble` (``.npz`` or ``.json``
with ``names`` and ``samples``).  The fitted model is validated first (its E-V volume
grid is then shared by every member, so E-V curves and phonon bands of all members lie
on the same axes); the members run in parallel: processes by default (each rebuilds the
model from its saved YAML), threads, or the workers of a ``dask.distributed`` client.
Each property is reported as mean ± standard deviation (ddof 1) with every member's
value (the distribution).
"""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.validation.structures import ValidationError
from workbench.validation.suite import SUMMARY_UNITS, ValidationResult, validate


def ensemble_samples(ensemble) -> np.ndarray:
    """(M, n) parameter vectors of a BootstrapResult/MCMCResult, an array or a file."""
    if isinstance(ensemble, (str, Path)):
        return load_ensemble(ensemble)[1]
    samples = getattr(ensemble, "samples", ensemble)
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    return samples[np.all(np.isfinite(samples), axis=1)]


def save_ensemble(path, ensemble, names) -> Path:
    """Write parameter vectors (and their names) for ``workbench validate --ensemble``."""
    from workbench.atomic import atomic_open

    path = Path(path)
    samples = ensemble_samples(ensemble)
    if path.suffix == ".npz":
        with atomic_open(path, "wb") as f:
            np.savez(f, samples=samples, names=np.array(list(names)))
    else:
        with atomic_open(path, "w") as f:
            json.dump({"names": list(names), "samples": samples.tolist()}, f)
    return path


def load_ensemble(path) -> tuple[list | None, np.ndarray]:
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path) as z:
                names = [str(n) for n in z["names"]] if "names" in z else None
                samples = np.asarray(z["samples"], float)
        else:
            d = json.loads(path.read_text())
            names, samples = d.get("names"), np.asarray(d["samples"], float)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"{path}: not an ensemble file (.npz or .json with "
                              f"'samples' and 'names'): {exc}") from exc
    if samples.ndim != 2 or not len(samples):
        raise ValidationError(f"{path}: 'samples' must be a non-empty (members, "
                              f"parameters) array, got shape {samples.shape}")
    return names, samples


def check_names(model, names, where="ensemble") -> None:
    own = model.get_opt_param_names()
    if names is not None and list(names) != list(own):
        raise ValidationError(f"{where}: parameters {list(names)} do not match the model's "
                              f"optimized parameters {own}")


@dataclass
class EnsembleResult:
    """The fitted model's result, every member's values and the spread."""

    central: ValidationResult
    member_values: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    eos_energies: np.ndarray | None = None  # (M, G) on central.details["eos"]["fit_volumes"]
    phonon_frequencies: np.ndarray | None = None  # (M, K, bands)

    def values_of(self, name) -> np.ndarray:
        """One property's value in each member (NaN where a member failed)."""
        return np.array([v.get(name, np.nan) for v in self.member_values], dtype=float)

    def mean(self) -> dict:
        """Each property's mean over the members (failed members ignored)."""
        names = sorted({k for v in self.member_values for k in v})
        return {k: float(np.nanmean(self.values_of(k))) for k in names}

    def std(self) -> dict:
        """Each property's sample standard deviation over the members."""
        names = sorted({k for v in self.member_values for k in v})
        return {k: float(np.nanstd(self.values_of(k), ddof=1)) if len(self.member_values) > 1
                else float("nan") for k in names}

    def summary(self) -> dict:
        """Mean and ``_std`` of every summary property."""
        mean, std = self.mean(), self.std()
        out = {}
        for k in SUMMARY_UNITS:
            if k in mean:
                out[k] = mean[k]
                out[f"{k}_std"] = std[k]
        return out

    def bands(self) -> dict:
        """E-V and phonon mean ± std curves."""
        out = {}
        if self.eos_energies is not None and len(self.eos_energies):
            e = self.eos_energies
            out["eos"] = {"volumes": self.central.details["eos"]["fit_volumes"],
                          "mean": e.mean(0).tolist(), "std": e.std(0, ddof=1).tolist()
                          if len(e) > 1 else np.zeros(e.shape[1]).tolist()}
        if self.phonon_frequencies is not None and len(self.phonon_frequencies):
            f = self.phonon_frequencies
            out["phonons"] = {"x": self.central.details["phonons"]["x"],
                              "mean": f.mean(0).tolist(),
                              "std": (f.std(0, ddof=1) if len(f) > 1 else 0 * f[0]).tolist()}
        return out

    def to_dict(self) -> dict:
        """A JSON-ready dict: central result, member values, failures, mean and std."""
        return {"central": self.central.to_dict(), "member_values": self.member_values,
                "failed": self.failed, "mean": self.mean(), "std": self.std(),
                "bands": self.bands()}


def _member_task(model_yaml, x, structure, species, properties, settings, volumes):
    """Validate one member (runs in a worker process, a thread or on a Dask worker)."""
    from workbench.models import load_model

    with tempfile.TemporaryDirectory(prefix="wb-member-") as tmp:
        path = Path(tmp) / "model.yaml"
        path.write_text(model_yaml)
        model = load_model(path)
    return _validate_member(model, x, structure, species, properties, settings, volumes)


def _validate_member(model, x, structure, species, properties, settings, volumes):
    model.update_model_params(np.asarray(x, float))
    res = validate(model, structure, species, properties, settings, eos_volumes=volumes,
                   references=False)
    eos = res.details.get("eos")
    ph = res.details.get("phonons")
    return (res.values, None if eos is None else eos["fit_energies"],
            None if ph is None else ph["frequencies"])


def validate_ensemble(model, ensemble, structure="diamond", species=("Si",),
                      properties=None, settings=None, workers=None, executor="process",
                      client=None, progress=None, should_stop=None,
                      members=None) -> EnsembleResult:
    """Validate the fitted ``model`` and every member of ``ensemble`` (see the module
    docstring).  ``executor``: "process", "thread" or "serial"; ``client``: a Dask
    client (overrides ``executor``).  ``progress(done, total, message)``.  ``members``:
    use at most this many, evenly spaced through the samples (an MCMC chain has
    thousands)."""
    from workbench.models.io import model_to_dict
    from workbench.validation.settings import ValidationSettings

    if isinstance(ensemble, (str, Path)):
        names, samples = load_ensemble(ensemble)
        check_names(model, names, str(ensemble))
    else:
        samples = ensemble_samples(ensemble)
    if members is not None and len(samples) > int(members):
        samples = samples[np.unique(np.linspace(0, len(samples) - 1, int(members)).round()
                                    .astype(int))]
    if samples.shape[1] != model.get_num_opt_params():
        raise ValidationError(f"ensemble members have {samples.shape[1]} parameters, the "
                              f"model optimizes {model.get_num_opt_params()}")
    if not isinstance(settings, ValidationSettings):
        settings = ValidationSettings.from_dict(settings)
    total = len(samples) + 1
    if progress is not None:
        progress(0, total, "fitted model")
    central = validate(model, structure, species, properties, settings,
                       should_stop=should_stop)
    eos = central.details.get("eos")
    volumes = None if eos is None else eos["volumes"]
    props = central.properties
    out = EnsembleResult(central)
    results: dict[int, tuple] = {}

    def collect(k, fut_result):
        results[k] = fut_result
        if progress is not None:
            progress(len(results) + len(out.failed) + 1, total, f"member {k}")

    args = (structure, species, props, settings, volumes)
    if client is not None:
        import yaml

        text = yaml.safe_dump(model_to_dict(model), sort_keys=False)
        futures = client.map(_member_task, [text] * len(samples), list(samples),
                             *[[a] * len(samples) for a in args], pure=False)
        for k, fut in enumerate(futures):
            if should_stop is not None and should_stop():
                client.cancel(futures[k:])
                break
            try:
                collect(k, fut.result())
            except Exception as exc:  # one bad member must not lose the others
                out.failed.append((k, repr(exc)))
    elif executor == "serial":
        from workbench.analysis.bootstrap import clone_model

        for k, x in enumerate(samples):
            if should_stop is not None and should_stop():
                break
            try:
                collect(k, _validate_member(clone_model(model), x, *args))
            except Exception as exc:
                out.failed.append((k, repr(exc)))
    else:
        _run_pool(model, samples, args, executor, workers, collect, out, should_stop)
    order = sorted(results)
    out.member_values = [results[k][0] for k in order]
    if eos is not None and order:
        out.eos_energies = np.array([results[k][1] for k in order])
    if central.details.get("phonons") is not None and order:
        out.phonon_frequencies = np.array([results[k][2] for k in order])
    return out


def _run_pool(model, samples, args, executor, workers, collect, out, should_stop):
    import multiprocessing

    import yaml

    from workbench.analysis.bootstrap import clone_model
    from workbench.models.io import model_to_dict

    workers = int(workers or min(os.cpu_count() or 1, len(samples)))
    if executor == "process":
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        text = yaml.safe_dump(model_to_dict(model), sort_keys=False)
        submit = lambda x: pool.submit(_member_task, text, x, *args)  # noqa: E731
    elif executor == "thread":
        pool = ThreadPoolExecutor(workers)
        submit = lambda x: pool.submit(_validate_member, clone_model(model), x, *args)  # noqa
    else:
        raise ValidationError(f"executor must be 'process', 'thread' or 'serial', got "
                              f"{executor!r}")
    with pool:
        pending = {submit(x): k for k, x in enumerate(samples)}
        while pending:
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                k = pending.pop(fut)
                try:
                    collect(k, fut.result())
                except Exception as exc:
                    out.failed.append((k, repr(exc)))
            if should_stop is not None and should_stop():
                for fut in pending:
                    fut.cancel()
                break
