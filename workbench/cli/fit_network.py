"""``workbench fit`` for a neural-network set-up (``model: network:``).

The set-up the Workbench's Export panel writes for a network (architecture and seed,
data set with its test split, fit flags, torch optimizer and ``{epochs, batch_size,
lr}``) is trained here exactly as the Fit tab trains it (both build it through
:mod:`workbench.ml.network_setup`): same starting weights, same shuffled batches, same
best epoch kept.  Writes the trained network (``model.pkl``, loads with
``NeuralNetwork.load``), a KIM model for the DUNN driver when ``output.kim_model`` names
one, and the HTML report with train and test errors.
"""

from __future__ import annotations

import sys
from pathlib import Path


def run_training(setup, directory: Path, progress=True, write_kim=True, stream=None,
                 store=None, resume=False):
    from workbench.cli.fit import FitOutcome, print_outputs
    from workbench.errors import LossError
    from workbench.fit.progress import TqdmReporter
    from workbench.fit.report import write_report
    from workbench.fit.run_record import cli_setup
    from workbench.ml.network_setup import predictions, split_options, training_session

    stream = stream or sys.stdout
    if resume:
        raise LossError("--resume continues physics fits; a network set-up trains from its "
                        "seed again (rerun without --resume)")
    model, loss, test_loss = setup.model, setup.loss, setup.test_loss
    fit_section = setup.config.section("fit")
    method = fit_section.get("method", "Adam")
    options = fit_section.get("options") or {}
    output = dict(setup.output or {})
    loss.run_setup = cli_setup(setup, directory)
    loss.run_test_configs = setup.test
    epochs = split_options(options)[0]["num_epochs"]
    print(f"training {type(model).__name__} ({loss.x0().size} weights) on "
          f"{len(setup.train)} configurations ({len(setup.test)} held out) with {method} "
          f"for {epochs} epochs", file=stream)
    session = training_session(loss, test_loss, method, options, store=store)
    if progress:
        session.subscribe(TqdmReporter(total=epochs))
    result = session.run()
    if session.state == "failed":
        raise LossError(f"the training failed: {result.message}")
    directory.mkdir(parents=True, exist_ok=True)
    model_file = directory / output.get("model_file", "model.pkl")
    model.save(model_file)
    kim_dir = None
    kim_name = output.get("kim_model")
    if write_kim and kim_name:
        kim_dir = Path(model.write_kim_model(directory / kim_name))
    splits = [predictions("train", loss), predictions("test", test_loss)]
    rmse = {s.label: s.rmse() for s in splits if s is not None}
    curves = session.curves()
    lines = [f"best epoch {session.best_epoch}: loss {session.best_loss:.10g} "
             f"({session.iteration} epochs, {session.n_eval} batches)"]
    if curves["test"]:
        lines.append(f"test loss per configuration after the last epoch: "
                     f"{curves['test'][-1]:.10g}")
    report = write_report(directory / output.get("report", "report.html"),
                          f"Training of {type(model).__name__}", session.history, splits,
                          lines)
    for line in lines:
        print(line, file=stream)
    print_outputs(stream, rmse, model_file, kim_dir, report)
    if session.recorder is not None:
        store.add_artifact(session.run_id, model_file.name, source=model_file, kind="model")
        store.register_artifact(session.run_id, "report.html", report, kind="report")
        print(f"run: {session.run_id} in {store.path}", file=stream)
    return FitOutcome(model, result, session, directory, model_file, report, kim_dir, rmse)
