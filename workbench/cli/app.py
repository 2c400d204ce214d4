"""``workbench app``: the workbench notebook served as a standalone page with Voila.

Voila runs every cell and shows only the widgets, which suits teaching labs: students get
the panels without the code.
"""

from __future__ import annotations

import sys

from workbench.cli.lab import add_server_arguments, find_notebook, launch


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "app", help="serve the workbench as a standalone web page (Voila)",
        description="Serve notebooks/workbench.ipynb with Voila. "
                    "Options after `--` go to Voila unchanged.",
    )
    add_server_arguments(parser)
    parser.set_defaults(func=run)


def app_command(args) -> list[str]:
    notebook = find_notebook(args.notebook)
    cmd = [sys.executable, "-m", "voila", str(notebook), f"--Voila.ip={args.ip}",
           # the Notebook 7 front-end plugin is for notebook pages, not Voila's
           "--VoilaConfiguration.extension_denylist=['@jupyter-notebook/lab-extension']"]
    if args.port is not None:
        cmd += [f"--port={args.port}", "--Voila.port_retries=0"]
    if args.no_browser:
        cmd.append("--no-browser")
    if args.token is not None:
        cmd.append(f"--token={args.token}")
    return cmd + list(args.server_args)


def run(args) -> int:
    cmd = app_command(args)
    from workbench.warmup import start_process

    start_process()  # compile the kernels in the background while the server starts
    return launch(cmd)
