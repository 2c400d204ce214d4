"""``workbench fit CONFIG.yaml``: run a fit described by a set-up file.

Writes, into the output directory: the fitted model (YAML), a KIM model directory for the
matching OpenKIM driver (when the model has one), a checkpoint, and an HTML report.
The set-up file schema is in docs/fit_config.md.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fit", help="fit a model as described by a YAML set-up file",
        description="Fit a model to a data set as described by CONFIG.yaml (see "
                    "docs/fit_config.md); writes the fitted model, a KIM model directory "
                    "and an HTML report.")
    p.add_argument("config", help="the YAML set-up file")
    p.add_argument("--out", help="output directory (overrides output.directory)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-kim", action="store_true", help="do not write a KIM model")
    p.set_defaults(func=run)


@dataclass
class FitOutcome:
    """What a finished fit produced (returned by :func:`run_fit`)."""

    model: object
    result: object
    session: object
    directory: Path
    model_yaml: Path
    report: Path
    kim_dir: Path | None
    rmse: dict


def run_fit(config, out=None, progress=True, write_kim=True, stream=None) -> FitOutcome:
    """Run the fit of ``config`` (path, YAML text or dict) and write its outputs; the
    summary goes to ``stream`` (standard output by default)."""
    stream = stream or sys.stdout
    from workbench.fit.progress import TqdmReporter
    from workbench.fit.report import predictions, write_report
    from workbench.fit.session import FitSession
    from workbench.fit.setup_file import build_setup

    setup = build_setup(config)
    model, loss, train, test = setup.model, setup.loss, setup.train, setup.test
    fit, output = setup.fit, dict(setup.output or {})
    directory = Path(out) if out is not None else setup.config.base / output.get(
        "directory", "fit-output")
    directory.mkdir(parents=True, exist_ok=True)

    print(f"fitting {model.get_num_opt_params()} parameters "
          f"({', '.join(loss.names())}) of {type(model).__name__} to {len(train)} "
          f"configurations with {fit['method']}", file=stream)
    session = FitSession(loss, method=fit["method"], options=fit.get("options") or {},
                         max_iter=fit.get("max_iter"), time_limit=fit.get("time_limit"),
                         checkpoint_path=directory / output.get("checkpoint", "checkpoint.json"))
    reporter = None
    if progress:
        reporter = TqdmReporter(total=fit.get("max_iter"))
        session.subscribe(reporter)
    result = session.run()
    if session.state == "failed":
        from workbench.errors import LossError

        raise LossError(f"the fit failed: {result.message if result is not None else ''}")

    model_yaml = directory / output.get("model_yaml", "model.yaml")
    model.save(model_yaml)
    kim_dir = None
    kim_name = output.get("kim_model")
    if write_kim and kim_name:
        kim_dir = Path(model.write_kim_model(directory / kim_name))
    splits = [predictions("train", model, train), predictions("test", model, test)]
    rmse = {s.label: s.rmse() for s in splits if s is not None}
    lines = [f"{name} = {value:.8g}" for name, value in zip(loss.names(), result.x)]
    lines.append(f"final loss = {session.best_loss:.10g} after {session.iteration} "
                 f"iterations, {session.n_eval} evaluations")
    report = write_report(directory / output.get("report", "report.html"),
                          f"Fit of {type(model).__name__}", session.history, splits, lines)
    model.echo_opt_params(stream)
    for line in lines[-1:]:
        print(line, file=stream)
    for label, (e, f) in rmse.items():
        print(f"{label} RMSE: energy {e:.6g} eV/atom, forces {f:.6g} eV/A", file=stream)
    print(f"model: {model_yaml}", file=stream)
    if kim_dir is not None:
        print(f"KIM model: {kim_dir} (install with: kim-api-collections-management install "
              f"user {kim_dir})", file=stream)
    print(f"report: {report}", file=stream)
    return FitOutcome(model, result, session, directory, model_yaml, report, kim_dir, rmse)


def run(args) -> int:
    outcome = run_fit(args.config, out=args.out, progress=not args.no_progress,
                      write_kim=not args.no_kim)
    return 0 if outcome.session.state in ("finished", "stopped") else 1
