"""Time reading all 1000 files of the bundled Si set (warm file cache).

Prints the best of several runs for our reader (``Dataset``, i.e. parsing plus building
Configuration objects), files per second, and ratios against ``ase.io.read`` and
KLIFF's reader when those packages are importable.

    python benchmarks/bench_read.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import time


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    from workbench import datasets
    from workbench.data import Dataset
    from workbench.data.dataset import find_files

    root = datasets.path("Si")
    files = find_files(root)
    for f in files:  # warm the page cache
        f.read_bytes()

    ours = best_of(lambda: Dataset(root), args.repeat)
    n = len(files)
    print(f"workbench Dataset: {n} files in {ours:.4f} s (best of {args.repeat}), "
          f"{n / ours:,.0f} files/s   target <= 0.25 s: {'met' if ours <= 0.25 else 'MISSED'}")

    try:
        import ase.io
    except ImportError:
        print("ase not importable: no ase.io.read comparison")
    else:
        t_ase = best_of(lambda: [ase.io.read(f, format="extxyz") for f in files],
                        max(1, min(args.repeat, 2)))
        print(f"ase.io.read:       {t_ase:.4f} s, {n / t_ase:,.0f} files/s   "
              f"ratio ase/workbench = {t_ase / ours:.1f}x")

    try:
        from kliff.dataset import Dataset as KliffDataset
    except ImportError:
        print("kliff not importable: no KLIFF comparison")
    else:
        def kliff_read():
            try:
                return KliffDataset(root, file_format="xyz")
            except TypeError:  # older signature
                return KliffDataset(root, format="extxyz")
        t_kliff = best_of(kliff_read, args.repeat)
        print(f"kliff Dataset:     {t_kliff:.4f} s, {n / t_kliff:,.0f} files/s   "
              f"ratio kliff/workbench = {t_kliff / ours:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
