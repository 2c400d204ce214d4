"""``workbench notebooks DIR``: copy the bundled tutorial notebooks out of the package."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "notebooks", help="copy the tutorial notebooks into a folder",
        description="Copy the bundled notebooks (tutorials 01-… and workbench.ipynb) into DIR "
                    "so they can be opened and edited. Notebooks already in DIR are kept.",
    )
    parser.add_argument("dest", metavar="DIR", nargs="?",
                        help="folder to copy into (created if needed)")
    parser.add_argument("--list", action="store_true",
                        help="only list the bundled notebooks")
    parser.set_defaults(func=run)


def run(args) -> int:
    from workbench import resources

    if args.list:
        for path in resources.notebooks():
            print(path.name)
        return 0
    if args.dest is None:
        from workbench.errors import WorkbenchError

        raise WorkbenchError("say where to copy the notebooks: workbench notebooks DIR")
    copied, kept = resources.copy_notebooks(args.dest)
    for path in copied:
        print(f"copied  {path}")
    for path in kept:
        print(f"kept    {path} (already there; not overwritten)")
    return 0
