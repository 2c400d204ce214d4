"""``workbench dataset``: count the files of a data set per directory, or split it."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import DatasetError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dataset", help="count, split and inspect data sets",
        description="Count the configuration files of a data set per directory, or split "
                    "it into train/ and test/ copies, or into N folds OUT/subset0 ... "
                    "(--nfold N, or KLIFF's form --split INPUT OUTPUT N).")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("-c", "--count", metavar="PATH", help="print the per-directory count tree")
    what.add_argument("-s", "--split", metavar="PATH", nargs="+",
                      help="split PATH into OUT/train, OUT/test (or into --nfold folds); "
                           "KLIFF's 'INPUT OUTPUT N' splits INPUT into N folds in OUTPUT")
    p.add_argument("--fraction", type=float, default=0.8,
                   help="share of configurations in train/ (default 0.8)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the split (default 0)")
    p.add_argument("--nfold", type=int, metavar="N",
                   help="split into N folds OUT/subset0 ... OUT/subset{N-1} instead")
    p.add_argument("--pattern", metavar="GLOB",
                   help="split by identifier instead: matching configurations go to test/")
    p.add_argument("--regex", action="store_true", help="--pattern is a regular expression")
    p.add_argument("--out", metavar="DIR", help="output directory of --split")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out")
    p.add_argument("--format", default="xyz", dest="file_format",
                   help="file format (default xyz; or an ASE format name)")
    p.set_defaults(func=run)


def count_tree(path, file_format="xyz") -> list[str]:
    """Lines ``-name (a/b)`` indented by depth: a = files directly in the directory,
    b = files in it and all its subdirectories."""
    from workbench.data.ase_io import PATTERNS
    import fnmatch

    pats = PATTERNS.get(file_format, ("*",))
    root = Path(path)
    if not root.is_dir():
        raise DatasetError("not a directory; expected the top directory of a data set", root)

    def kind(e):
        try:
            return "dir" if e.is_dir() else "file" if e.is_file() else None
        except OSError as exc:  # a symbolic link loop
            raise DatasetError(f"cannot resolve the symbolic link ({exc.strerror}); "
                               "expected a link to an existing file or directory",
                               e.path) from None

    def visit(d, depth, out):
        entries = sorted((e for e in os.scandir(d) if not e.name.startswith(".")),
                         key=lambda e: e.name)
        kinds = [kind(e) for e in entries]
        here = sum(1 for e, k in zip(entries, kinds) if k == "file"
                   and any(fnmatch.fnmatch(e.name, p) for p in pats))
        line_at = len(out)
        out.append(None)
        total = here
        for e in sorted((e for e, k in zip(entries, kinds) if k == "dir"),
                        key=lambda e: e.name):
            total += visit(e.path, depth + 1, out)
        out[line_at] = f"{'  ' * depth}-{Path(d).name} ({here}/{total})"
        return total

    lines: list = []
    visit(root, 0, lines)
    return lines


def run(args) -> int:
    if args.count:
        ext = {"xyz": ".xyz"}.get(args.file_format, args.file_format)
        lines = count_tree(args.count, args.file_format)  # errors before any output
        print("Workbench Dataset Count")
        print('Notation: "-dir_name (a/b)"')
        print(f'a: number of {ext} files in the directory "dir_name"')
        print(f'b: number of {ext} files in the directory "dir_name" and its subdirectories')
        for line in lines:
            print(line)
        return 0
    from workbench.data.dataset import Dataset
    from workbench.data.split import kfold_split, random_split, split_by_pattern, write_split

    source, out, nfold = _split_args(args)
    ds = Dataset(source, file_format=args.file_format)
    root = source if Path(source).is_dir() else Path(source).parent
    if nfold is not None:
        folds = kfold_split(ds, nfold, args.seed)
        write_split({f"subset{k}": f for k, f in enumerate(folds)}, out, root=root,
                    force=args.force)
        sizes = ", ".join(str(len(f.get_configs())) for f in folds)
        print(f"wrote {nfold} folds of {sizes} configurations to "
              f"{Path(out) / 'subset0'} ... {Path(out) / f'subset{nfold - 1}'}")
        return 0
    if args.pattern:
        test, train = split_by_pattern(ds, args.pattern, regex=args.regex)
    else:
        train, test = random_split(ds, args.fraction, args.seed)
    write_split({"train": train, "test": test}, out, root=root, force=args.force)
    print(f"wrote {len(train)} configurations to {Path(out) / 'train'} and "
          f"{len(test)} to {Path(out) / 'test'}")
    return 0


def _split_args(args):
    """(source, out, nfold or None) from ``--split PATH [--out DIR] [--nfold N]`` or
    KLIFF's ``--split INPUT OUTPUT N``."""
    if len(args.split) == 3:
        source, out, n = args.split
        try:
            nfold = int(n)
        except ValueError:
            raise DatasetError(f"--split INPUT OUTPUT N: N must be an integer, got {n!r}") \
                from None
        return source, out, nfold
    if len(args.split) != 1:
        raise DatasetError("--split takes PATH (with --out DIR) or INPUT OUTPUT N, got "
                           f"{len(args.split)} values")
    if not args.out:
        raise DatasetError("--split needs --out DIR")
    return args.split[0], args.out, args.nfold
