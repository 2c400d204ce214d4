"""``workbench demo``: the Stillinger-Weber tutorial on the bundled Si set, end to end.

Summarises the data set, fits A, B and gamma of SW (L-BFGS-B with exact gradients),
prints the fitted parameters and RMSEs, and writes the fitted model, a KIM model directory
and an HTML report.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="fit Stillinger-Weber to the bundled DFT silicon set",
        description="Run the Stillinger-Weber tutorial on the bundled Si set: summary of "
                    "the data, the fit, RMSEs, and a report.")
    p.add_argument("--out", default="workbench-demo",
                   help="output directory (default ./workbench-demo)")
    p.add_argument("--summary-only", action="store_true",
                   help="only load the data set and print its summary")
    p.add_argument("--data", default="Si", help="bundled set for --summary-only")
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

    root = datasets.path(args.data if args.summary_only else "Si")
    if args.summary_only:
        print("\n".join(summary(Dataset(root), root)))
        return 0
    from workbench.cli.fit import run_fit

    config = resources.files("workbench.fit").joinpath("examples/sw_si.yaml").read_text()
    # the summary describes the data set the fit reads (read once)
    outcome = run_fit(config, out=Path(args.out).resolve(),
                      on_setup=lambda setup: print("\n".join(summary(setup.dataset, root))))
    return 0 if outcome.session.state in ("finished", "stopped") else 1
