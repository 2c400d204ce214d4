"""``workbench fit CONFIG.yaml``: run a fit described by a set-up file.

Writes, into the output directory: the fitted model (YAML), a KIM model directory for the
matching OpenKIM driver (when the model has one), and an HTML report.  A neural-network
set-up (``model: network:``, as the Workbench's Export panel writes it) is trained by
:mod:`workbench.cli.fit_network` instead.  The run is recorded
in the run store (``--store``, ``$WORKBENCH_RUNS`` or ./workbench-runs; see
``workbench.runs``) with its checkpoint kept per run in the store's artifacts folder, so
no run overwrites another's; ``--resume`` continues the last interrupted or stopped run
of the same set-up from that checkpoint.  Without a store (``--no-store``) the checkpoint
goes to the output directory.  The set-up file schema is in docs/fit_config.md.
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
    p.add_argument("--store", help="run store directory (default: $WORKBENCH_RUNS or "
                                   "./workbench-runs)")
    p.add_argument("--no-store", action="store_true", help="do not record the run")
    p.add_argument("--resume", action="store_true",
                   help="continue the last interrupted (or stopped) run of this set-up from "
                        "its checkpoint instead of starting over")
    p.add_argument("--properties", nargs="?", const="diamond", default=None,
                   metavar="STRUCTURE", help="add the fitted model's properties (workbench "
                   "validate's default suite) for STRUCTURE (default diamond) to the report")
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


def run_fit(config, out=None, progress=True, write_kim=True, stream=None, store="default",
            resume=False, properties=None, on_setup=None) -> FitOutcome:
    """Run the fit of ``config`` (path, YAML text or dict) and write its outputs; the
    summary goes to ``stream`` (standard output by default).  ``store``: the run store
    (see ``FitSession``); ``resume``: continue the last interrupted run of this set-up;
    ``properties``: a structure (e.g. "diamond") whose properties the report then shows;
    ``on_setup(setup)`` runs once the data, model and loss are built, before the fit."""
    stream = stream or sys.stdout
    from workbench.fit.progress import TqdmReporter
    from workbench.fit.report import predictions, write_report
    from workbench.fit.setup_file import build_setup
    from workbench.runs import resolve_store

    from workbench.fit.setup_checks import check_writable_directory

    def output_directory(cfg):
        return Path(out) if out is not None else cfg.base / cfg.section("output").get(
            "directory", "fit-output")

    # the output directory is checked with the rest of the set-up, before the data load
    setup = build_setup(config, lambda cfg: check_writable_directory(output_directory(cfg)))
    model, loss, train, test = setup.model, setup.loss, setup.train, setup.test
    if on_setup is not None:
        on_setup(setup)
    fit, output = setup.fit, dict(setup.output or {})
    directory = output_directory(setup.config)
    if getattr(model, "is_torch", False):
        from workbench.cli.fit_network import run_training

        if properties:
            from workbench.errors import LossError

            raise LossError("--properties is for physics models: for a network, name a "
                            "KIM model in output.kim_model, install it and run "
                            "`workbench validate NAME`")
        return run_training(setup, directory, progress=progress, write_kim=write_kim,
                            stream=stream, store=resolve_store(store), resume=resume)

    print(f"fitting {model.get_num_opt_params()} parameters "
          f"({', '.join(loss.names())}) of {type(model).__name__} to {len(train)} "
          f"configurations with {fit['method']}", file=stream)
    store = resolve_store(store)
    session = _make_session(setup, directory, store, resume, stream)
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
        # replaces only a KIM directory the workbench wrote (an earlier run's)
        kim_dir = Path(model.write_kim_model(directory / kim_name, overwrite=True))
    splits = [predictions("train", model, train, getattr(loss, "calculator", None)),
              predictions("test", model, test)]
    rmse = {s.label: s.rmse() for s in splits if s is not None}
    lines = [f"{name} = {value:.8g}" for name, value in zip(loss.names(), result.x)]
    lines.append(f"final loss = {session.best_loss:.10g} after {session.iteration} "
                 f"iterations, {session.n_eval} evaluations")
    extra, validation = "", None
    if properties:
        from workbench.validation import validate
        from workbench.validation.report import properties_html

        validation = validate(model, properties, list(model.get_supported_species()))
        extra = properties_html(validation, include_plotlyjs=False)
    report = write_report(directory / output.get("report", "report.html"),
                          f"Fit of {type(model).__name__}", session.history, splits, lines,
                          extra_html=extra)
    model.echo_opt_params(stream)
    for line in lines[-1:]:
        print(line, file=stream)
    print_outputs(stream, rmse, model_yaml, kim_dir, report)
    if session.recorder is not None:
        from workbench.fit.run_record import record_cli_outputs

        record_cli_outputs(session, model_yaml, kim_dir, report, rmse)
        if validation is not None:
            store.add_result(session.run_id, "validation", validation.to_dict())
        print(f"run: {session.run_id} in {store.path}", file=stream)
    return FitOutcome(model, result, session, directory, model_yaml, report, kim_dir, rmse)


def print_outputs(stream, rmse: dict, model_file, kim_dir, report) -> None:
    """The RMSE lines and where the outputs went."""
    for label, (e, f) in rmse.items():
        print(f"{label} RMSE: energy {e:.6g} eV/atom, forces {f:.6g} eV/A", file=stream)
    print(f"model: {model_file}", file=stream)
    if kim_dir is not None:
        print(f"KIM model: {kim_dir} (install with: kim-api-collections-management install "
              f"user {kim_dir})", file=stream)
    print(f"report: {report}", file=stream)


def _make_session(setup, directory, store, resume, stream):
    """A new FitSession for ``setup``, or (``resume``) one continuing the last
    interrupted run of the same set-up from its checkpoint."""
    from workbench.fit.run_record import cli_setup, find_resumable, setup_key
    from workbench.fit.session import FitSession

    fit, output = setup.fit, dict(setup.output or {})
    recorded = cli_setup(setup, directory)
    common = dict(max_iter=fit.get("max_iter"), time_limit=fit.get("time_limit"),
                  checkpoint_every=fit.get("checkpoint_every", 10), store=store,
                  setup=recorded, test_configs=setup.test)
    if resume:
        if store is None:
            from workbench.errors import LossError

            raise LossError("--resume needs the run store (it finds the run there)")
        run = find_resumable(store, setup_key(recorded))
        if run is not None:
            print(f"resuming run {run['id']} ({run['status']}) from its checkpoint at "
                  f"iteration {run['checkpoint_iteration']}", file=stream)
            session = FitSession.from_checkpoint(run["checkpoint"], setup.loss,
                                                 resume_run=run["id"], **common)
            session.record_test_rmse = False
            return session
        print("no interrupted run of this set-up to resume: starting a new run", file=stream)
    session = FitSession(setup.loss, method=fit["method"], options=fit.get("options") or {},
                         **common)
    session.record_test_rmse = False  # run_fit records both splits' RMSEs from its report
    if store is None:
        session.checkpoint_path = _unused(directory / output.get("checkpoint",
                                                                 "checkpoint.json"))
    else:
        session.checkpoint_path = store.artifact_dir(session.run_id) / "checkpoint.json"
    return session


def _unused(path: Path) -> Path:
    """``path``, or ``stem-2.json``, ``stem-3.json``... if taken: a new run never
    overwrites the checkpoint an earlier (perhaps killed) run left there."""
    k = 1
    candidate = path
    while candidate.exists():
        k += 1
        candidate = path.with_name(f"{path.stem}-{k}{path.suffix}")
    return candidate


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch system's time limit) handled like Ctrl-C; ``signum`` is kept."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def run(args) -> int:
    """The command: SIGTERM and SIGINT stop the fit cleanly (best parameters, model and
    report written) and the exit code is 128 + the signal number."""
    import signal

    received = {}

    def on_signal(signum, frame):
        received["signum"] = signum
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        outcome = run_fit(args.config, out=args.out, progress=not args.no_progress,
                          write_kim=not args.no_kim,
                          store=None if args.no_store else (args.store or "default"),
                          resume=args.resume, properties=args.properties)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    session = outcome.session
    if "signum" in received and session.stop_reason == "interrupted":
        name = signal.Signals(received["signum"]).name
        print(f"workbench fit: interrupted by {name}: the best parameters found were written "
              f"to {outcome.model_yaml} (report: {outcome.report})", file=sys.stderr)
        return 128 + received["signum"]
    return 0 if session.state in ("finished", "stopped") else 1
