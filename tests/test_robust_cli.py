"""``workbench fit`` hardening: the whole set-up is checked before any data are read, user
errors are one line with exit code 2, and SIGTERM/SIGINT stop the fit like Ctrl-C with
the best parameters, the model and the report written and exit code 128 + signal."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main
from workbench.models import load_model

GOOD_MODEL = """\
model:
  name: StillingerWeber
  species: [Si]
  params:
    A: [[12.0, 1.0, 20.0]]
    gamma: [[2.0]]
"""


def run_cli(tmp_path, capsys, text, *extra):
    cfg = tmp_path / "fit.yaml"
    cfg.write_text(text)
    rc = main(["fit", str(cfg), "--no-progress", "--no-store", *extra])
    err = capsys.readouterr().err
    return rc, err, cfg


# The data set path does not exist: every error below is found before it would matter.
NO_DATA = "dataset:\n  path: /nonexistent/data\n"


@pytest.mark.parametrize("section, key, line, message", [
    ("fit:\n  method: geodesiclm\n", "fit.method", 10,
     "method 'geodesiclm' cannot take bounds, but bounds are set on A"),
    ("fit:\n  options: {maxiter: abc}\n", "fit.options", 10,
     "option 'maxiter' of method 'L-BFGS-B' must be a number, got 'abc'"),
    ("fit:\n  method: L-BFGS-B\n  use_forces: 'no'\n", "fit.use_forces", 11,
     "expected true or false, got 'no'"),
    ("fit:\n  max_iter: 0\n", "fit.max_iter", 10, "expected a positive whole number, got 0"),
    ("output:\n  kim_model: my-model\n", "output.kim_model", 10,
     "KIM model directory name 'my-model' is not a valid C identifier"),
])
def test_setup_errors_come_before_the_data_and_name_key_and_line(tmp_path, capsys, section,
                                                                 key, line, message):
    rc, err, cfg = run_cli(tmp_path, capsys, NO_DATA + GOOD_MODEL + section)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"workbench fit: error: {cfg}, line {line}: key '{key}': ")
    assert message in err


def test_unknown_kim_model_is_found_before_the_data(tmp_path, capsys):
    text = NO_DATA + "model:\n  name: SW_NoSuchThing__MO_000000000000_000\n"
    rc, err, cfg = run_cli(tmp_path, capsys, text)
    assert rc == 2 and "Traceback" not in err
    assert err.startswith(f"workbench fit: error: {cfg}, line 4: key 'model.name': ")
    assert "SW_NoSuchThing__MO_000000000000_000" in err


def test_unwritable_output_directory_is_found_before_the_data(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    rc, err, _ = run_cli(tmp_path, capsys, NO_DATA + GOOD_MODEL, "--out",
                         str(blocker / "out"))
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1
    assert f"cannot write into the output directory {blocker / 'out'}: " in err


SLOW_FIT = """\
dataset:
  path: Si
  weight: {energy_weight: 1.0, forces_weight: 0.1}
model:
  name: StillingerWeber
  species: [Si]
  params:
    A: [[5.0, 1.0, 20]]
    B: [["default"]]
    gamma: [[1.5]]
fit:
  method: L-BFGS-B
  options: {maxiter: 400, ftol: 1.0e-15, gtol: 1.0e-10}
  checkpoint_every: 1
output:
  kim_model: SW_Term_Si__MO_000000000000_000
"""


def _interrupted_fit(tmp_path, sig):
    cfg = tmp_path / "fit.yaml"
    cfg.write_text(SLOW_FIT)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from workbench.cli import main; sys.exit(main())",
         "fit", str(cfg), "--out", str(out), "--no-progress", "--no-store"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ck = out / "checkpoint.json"
    deadline = time.monotonic() + 300
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the fit never reached iteration 3"
        try:
            if json.loads(ck.read_text())["iteration"] >= 3:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stdout, stderr, out


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_fit_writing_model_and_report(tmp_path, sig):
    rc, stdout, stderr, out = _interrupted_fit(tmp_path, sig)
    assert rc == 128 + sig, stderr
    assert f"workbench fit: interrupted by {signal.Signals(sig).name}: the best parameters " \
           f"found were written to {out / 'model.yaml'}" in stderr
    assert "Traceback" not in stderr
    ck = json.loads((out / "checkpoint.json").read_text())
    assert ck["state"] == "stopped" and ck["iteration"] >= 3
    first_loss = ck["history"][0][1]
    model = load_model(out / "model.yaml")
    np.testing.assert_allclose(model.get_opt_params(), ck["best_x"], rtol=0, atol=0)
    assert ck["best_loss"] < first_loss
    assert (out / "report.html").read_text().count("<html") == 1
    assert (out / "SW_Term_Si__MO_000000000000_000" / "CMakeLists.txt").is_file()
    assert f"final loss = {ck['best_loss']:.10g}" in stdout

    # a new run into the same folder keeps the interrupted run's checkpoint
    before = (out / "checkpoint.json").read_text()
    cfg = tmp_path / "short.yaml"
    cfg.write_text(SLOW_FIT.replace("checkpoint_every: 1", "max_iter: 2"))
    assert main(["fit", str(cfg), "--out", str(out), "--no-progress", "--no-store"]) == 0
    assert (out / "checkpoint.json").read_text() == before
    assert json.loads((out / "checkpoint-2.json").read_text())["iteration"] == 2
