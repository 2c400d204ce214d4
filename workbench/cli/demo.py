"""``workbench demo``: load the bundled Si training set and summarise it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="load a bundled data set and print a summary",
        description="Load a bundled DFT data set and print counts per directory, atoms, "
                    "species, the energy-per-atom range and the largest force.")
    p.add_argument("--data", default="Si", help="bundled set: Si, Si_4 or SiC (default Si)")
    p.set_defaults(func=run)


def summary(ds, root) -> list[str]:
    import numpy as np

    root = Path(root)
    per_dir = Counter(str(Path(c.path).parent.relative_to(root)) if c.path else "."
                      for c in ds)
    natoms = np.array([c.get_num_atoms() for c in ds])
    species = Counter()
    for c in ds:
        species.update(c.species)
    epa = np.array([c.energy / c.get_num_atoms() for c in ds if c.energy is not None])
    fmax = max((float(np.max(np.linalg.norm(c.forces, axis=1))) for c in ds
                if c.forces is not None), default=float("nan"))
    lines = [f"{len(ds)} configurations in {root}"]
    lines += [f"  {d}: {n}" for d, n in sorted(per_dir.items())]
    lines.append(f"atoms: {int(natoms.sum())} total, {int(natoms.min())}-{int(natoms.max())} "
                 "per configuration")
    lines.append("species: " + ", ".join(f"{s} {n}" for s, n in sorted(species.items())))
    if epa.size:
        lines.append(f"energy per atom: {epa.min():.6f} to {epa.max():.6f} eV")
    lines.append(f"max |force|: {fmax:.6f} eV/A")
    return lines


def run(args) -> int:
    from workbench import datasets
    from workbench.data.dataset import Dataset

    root = datasets.path(args.data)
    ds = Dataset(root)
    for line in summary(ds, root):
        print(line)
    return 0
