"""``workbench warmup``: compile the numba kernels of the default workflows now.

Run once after installing (``make setup`` does), so the first fit starts at once; with
a filled cache it finishes in a few seconds.  ``workbench lab`` and ``workbench app``
start it in the background.  See ``workbench.warmup`` and docs/shared_install.md.
"""

from __future__ import annotations

import argparse
import sys


def _add_arguments(p) -> None:
    p.add_argument("tasks", nargs="*", default=None,
                   help="what to compile (default: everything): read, SW, LJ, Morse, "
                        "Tersoff, 'symmetry functions'")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "warmup", help="compile the numba kernels now (first fits then start at once)",
        description="Compile the numba kernels of the default workflows (reading data, "
                    "neighbor lists, SW, LJ, Morse, Tersoff, symmetry functions) into "
                    "numba's cache, showing what is being compiled.")
    _add_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench warmup")
    _add_arguments(p)
    return p


def run(args) -> int:
    from workbench import warmup

    names = args.tasks or None
    if args.quiet:
        warmup.warmup(names)
        return 0
    from tqdm import tqdm

    total = len(warmup._check(names))
    bar = tqdm(total=total, unit="task", file=sys.stderr, dynamic_ncols=True)

    def progress(step):
        if step.phase == "start":
            bar.set_description(step.message)
        else:
            bar.update(1)
            bar.write(f"  {step.message}", file=sys.stderr)

    try:
        seconds = warmup.warmup(names, progress)
    finally:
        bar.close()
    print(f"compiled in {sum(seconds.values()):.1f} s; kernels cached", file=sys.stderr)
    return 0
