"""The ``workbench`` command line.

Each subcommand lives in its own module ``workbench.cli.<name>`` exposing
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from workbench._version import __version__

#: Subcommands listed first by ``--help``, in this order; any other module of this package
#: with a ``register`` function follows alphabetically, so a new subcommand needs no edit here.
PREFERRED_ORDER = ("dataset", "model", "fit", "runs", "demo", "analyze", "validate", "warmup",
                   "lab", "app", "notebooks", "plugins")


def command_modules() -> list[str]:
    """Names of the subcommand modules, in ``--help`` order."""
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    first = [name for name in PREFERRED_ORDER if name in found]
    return first + sorted(found - set(first))


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the subcommands ``commands`` (default: all of them)."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Potential Workbench: fit interatomic potentials to DFT data.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in commands or command_modules():
        module = importlib.import_module(f"workbench.cli.{name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # A named subcommand needs only its own module: importing every command's (the
    # property suite's imports ASE's builders) would cost each command half a second.
    only = argv[:1] if argv and argv[0] in command_modules() else None
    parser = build_parser(only)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from workbench.errors import WorkbenchError

    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file or folder the user named cannot be read or written
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM where a command handles it
        print(f"workbench {args.command}: interrupted", file=sys.stderr)
        return 128 + getattr(exc, "signum", 2)
