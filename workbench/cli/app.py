"""``workbench app``: the Workbench as a standalone page for teaching labs (Voila).

The page is ``workbench/app/workbench_app.ipynb``, shipped inside the package, so an
installed wheel can serve it: five guided steps (data, model, fit, check, export) and
nothing else.  Every visitor gets a kernel of their own; closing (or reloading) a page
shuts its kernel down, and kernels of pages that vanished without closing are shut down
after ``--cull-idle`` seconds without activity (see workbench/app/serve.py).  Fits are
recorded in the run store ``--runs`` (tagged with the page's ``?student=NAME``, which a
reopened page restores).  See docs/classroom.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from workbench.cli.lab import add_server_arguments, find_notebook, launch


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "app", help="serve the workbench as a standalone web page (Voila)",
        description="Serve the Workbench app page with Voila (one kernel per visitor). "
                    "Options after `--` go to Voila unchanged.",
    )
    add_server_arguments(parser)
    parser.add_argument("--config", default=None,
                        help="set-up file the page starts from (default: Stillinger-Weber "
                             "on the bundled Si set)")
    parser.add_argument("--cull-idle", type=int, default=600, metavar="SECONDS",
                        help="shut down the kernel of a page closed or idle this long "
                             "(default 600; 0 keeps kernels)")
    parser.add_argument("--runs", default=None,
                        help="run store directory (default: $WORKBENCH_RUNS or "
                             "./workbench-runs)")
    parser.set_defaults(func=run)


def app_environment(args) -> dict[str, str]:
    """Environment variables the page's kernels read (set-up file, run store)."""
    env = {}
    if getattr(args, "config", None):
        env["WORKBENCH_APP_CONFIG"] = str(Path(args.config).expanduser().resolve())
    runs = getattr(args, "runs", None) or os.environ.get("WORKBENCH_RUNS") or "workbench-runs"
    if runs.strip().lower() not in ("off", "none", "0", "false", "no", ""):
        runs = str(Path(runs).expanduser().resolve())
    env["WORKBENCH_RUNS"] = runs
    return env


def app_command(args) -> list[str]:
    if args.notebook:
        notebook = find_notebook(args.notebook)
    else:
        from workbench.app import NOTEBOOK as notebook
    # Voila with the page's XSRF cookie set, so closing a page shuts its kernel down
    cmd = [sys.executable, "-m", "workbench.app.serve", str(notebook), f"--Voila.ip={args.ip}",
           # the Notebook 7 front-end plugin is for notebook pages, not Voila's
           "--VoilaConfiguration.extension_denylist=['@jupyter-notebook/lab-extension']"]
    if args.port is not None:
        cmd += [f"--port={args.port}", "--Voila.port_retries=0"]
    if args.no_browser:
        cmd.append("--no-browser")
    if args.token is not None:
        cmd.append(f"--token={args.token}")
    cull = int(getattr(args, "cull_idle", 0) or 0)
    if cull > 0:
        cmd += [f"--MappingKernelManager.cull_idle_timeout={cull}",
                f"--MappingKernelManager.cull_interval={max(5, min(60, cull // 4))}",
                "--MappingKernelManager.cull_connected=False"]
    return cmd + list(args.server_args)


def run(args) -> int:
    os.environ.update(app_environment(args))
    cmd = app_command(args)
    from workbench.warmup import start_process

    start_process()  # compile the kernels in the background while the server starts
    return launch(cmd)
