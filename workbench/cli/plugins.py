"""``workbench plugins``: what each entry-point group provides, and what failed to load."""

from __future__ import annotations

import sys
import warnings


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plugins", help="list installed plugins per entry-point group",
        description="List the models, weights, residual functions and descriptors that "
                    "installed packages register through entry points, with the errors "
                    "of plugins that could not be loaded.")
    p.add_argument("--group", choices=("models", "weights", "residuals", "descriptors"),
                   help="show one group only")
    p.set_defaults(func=run)


def plugins_text(group: str | None = None) -> tuple[str, int]:
    """The listing and the number of load errors shown."""
    from workbench import plugins

    groups = plugins.GROUPS if group is None else (f"workbench.{group}",)
    lines, nerr = [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", plugins.PluginWarning)
        for g in groups:
            items = plugins.registered(g)
            errors = plugins.load_errors(g)
            lines.append(f"{g}:")
            for name, info in items.items():
                src = f" [{info.dist} {info.version}]" if info.dist else ""
                lines.append(f"  {name:<20s} {info.target}{src}")
                if info.summary:
                    lines.append(f"  {'':<20s} {info.summary}")
            for err in errors:
                lines.append(f"  {err.name:<20s} {err.target}  LOAD ERROR: {err.reason}")
            if not items and not errors:
                lines.append("  (none)")
            nerr += len(errors)
    return "\n".join(lines) + "\n", nerr


def run(args) -> int:
    text, nerr = plugins_text(args.group)
    sys.stdout.write(text)
    return 1 if nerr else 0
