"""``workbench lab``: JupyterLab opened on the workbench notebook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workbench.errors import WorkbenchError

def find_notebook(given: str | None) -> Path:
    """The notebook to open: ``given``; else ``workbench.ipynb`` in the current directory
    (or its ``notebooks/``, as in a source checkout); else the bundled workbench notebook,
    copied into the current directory first so the user can edit and keep it."""
    from workbench import resources

    if given:
        path = Path(given).expanduser().resolve()
        if not path.is_file():
            raise WorkbenchError(f"notebook {given!r} does not exist")
        return path
    name = resources.WORKBENCH_NOTEBOOK
    for path in (Path.cwd() / name, Path.cwd() / "notebooks" / name):
        if path.is_file():
            return path.resolve()
    copied, kept = resources.copy_notebooks(Path.cwd(), [name])
    return (copied or kept)[0].resolve()


def add_server_arguments(parser) -> None:
    parser.add_argument("--notebook", default=None,
                        help="notebook to open (default: ./workbench.ipynb, copied from the package "
                             "if absent)")
    parser.add_argument("--port", type=int, default=None, help="port to listen on")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a web browser")
    parser.add_argument("--token", default=None,
                        help="access token (default: the server generates one)")
    parser.add_argument("server_args", nargs="*", default=[],
                        help="further options for the server, after `--`")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lab", help="start JupyterLab on the interactive workbench notebook",
        description="Start JupyterLab with the workbench notebook open (./workbench.ipynb, "
                    "copied from the package into the current directory if absent). "
                    "Options after `--` go to JupyterLab unchanged.",
    )
    add_server_arguments(parser)
    parser.set_defaults(func=run)


def lab_command(args) -> list[str]:
    notebook = find_notebook(args.notebook)
    root = notebook.parent.parent if notebook.parent.name == "notebooks" else notebook.parent
    cmd = [sys.executable, "-m", "jupyterlab", str(notebook),
           f"--ServerApp.root_dir={root}", f"--ServerApp.ip={args.ip}"]
    if args.port is not None:
        cmd.append(f"--ServerApp.port={args.port}")
        cmd.append("--ServerApp.port_retries=0")
    if args.no_browser:
        cmd.append("--no-browser")
    if args.token is not None:
        cmd.append(f"--IdentityProvider.token={args.token}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI runners often run as root
    return cmd + list(args.server_args)


def launch(cmd: list[str]) -> int:
    """Run the server in place of this process where possible, so that signals (Ctrl-C,
    a service manager's SIGTERM) reach it directly and no server outlives the command."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(cmd[0], cmd)
    return subprocess.call(cmd)


def run(args) -> int:
    cmd = lab_command(args)
    from workbench.warmup import start_process

    start_process()  # compile the kernels in the background while the server starts
    return launch(cmd)
