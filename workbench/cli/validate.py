"""``workbench validate MODEL --structure diamond --species Si``: the property suite of a
saved model file or an installed KIM model, with references and (given an ensemble file)
uncertainties."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    from workbench.validation.settings import ALL_PROPERTIES, DEFAULT_PROPERTIES

    p = subparsers.add_parser(
        "validate", help="predict lattice constant, elastic constants, phonons, ... of a model",
        description="Compute physical properties of a model (saved YAML file or installed "
                    "KIM model name) for a crystal, next to reference values: lattice "
                    "constant, cohesive energy, E-V curve and bulk modulus, elastic "
                    "constants, phonons, vacancy and surface energies, dimer/trimer "
                    "curves, MD stability.  See docs/validation.md.")
    p.add_argument("model", metavar="MODEL", help="model file (model.save()) or KIM model name")
    p.add_argument("--structure", default="diamond",
                   help="diamond, zincblende, rocksalt, fcc, bcc, hcp, or a structure file "
                        "ASE reads (default diamond)")
    p.add_argument("--species", default="Si", help="species, e.g. Si or 'Si C' (default Si)")
    p.add_argument("--properties", nargs="+", default=None, metavar="NAME",
                   help=f"any of {', '.join(ALL_PROPERTIES)} "
                        f"(default: {' '.join(DEFAULT_PROPERTIES)})")
    p.add_argument("--ensemble", metavar="FILE", default=None,
                   help="parameter ensemble (.npz/.json from save_ensemble): mean ± std")
    p.add_argument("--workers", type=int, default=None, help="processes for the ensemble")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a numerical setting, e.g. --set strain=0.0005 (repeatable)")
    p.add_argument("--run", default=None, metavar="RUN",
                   help="attach the result to this recorded run (see workbench runs)")
    p.add_argument("--store", default=None, metavar="DIR",
                   help="run store of --run (default: $WORKBENCH_RUNS or ./workbench-runs)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--html", metavar="OUT", default=None, help="write an HTML report")
    p.set_defaults(func=run)


def load_any_model(spec: str, species=("Si",)):
    """A saved model file, else an installed KIM (or built-in/plugin) model by name."""
    from workbench.models import load_model
    from workbench.models.factory import make_model

    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return load_model(path)
    return make_model(spec, species)


def _settings(items) -> dict:
    import yaml

    from workbench.validation import ValidationError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return out


def run(args) -> int:
    from workbench.validation import validate
    from workbench.validation.structures import species_list

    species = species_list(args.species)
    structure = args.structure
    if Path(structure).is_file():
        import ase.io

        structure = ase.io.read(structure)
    model = load_any_model(args.model, species)
    settings = _settings(args.settings)
    progress = None if args.json else _printer()
    if args.ensemble:
        from workbench.validation.ensemble import validate_ensemble

        ens = validate_ensemble(model, args.ensemble, structure, species, args.properties,
                                settings, workers=args.workers, progress=progress)
        result, summary = ens.central, ens.summary()
    else:
        ens = None
        result = validate(model, structure, species, args.properties, settings,
                          progress=progress)
        summary = result.summary()
    if args.run:
        from workbench.runs import default_store, open_store

        store = open_store(args.store) if args.store else default_store()
        data = ens.to_dict() if ens is not None else result.to_dict()
        store.add_result(args.run, "validation", data)
    if args.html:
        from workbench.validation.report import write_validation_report

        write_validation_report(args.html, result, ens)
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
        return 0
    from workbench.validation.report import summary_table

    sys.stdout.write(summary_table(result, ens) + "\n")
    if args.html:
        print(f"report: {args.html}")
    return 0


def _printer():
    def progress(done, total, message):
        print(f"[{done}/{total}] {message}", file=sys.stderr, flush=True)
    return progress
