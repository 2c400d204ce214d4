"""``workbench analyze rmse|fisher MODEL.yaml --data PATH``: errors and Fisher information
of a saved model on a data set."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze", help="RMSE per configuration or Fisher information of a saved model",
        description="Evaluate a saved model (workbench YAML) on a data set: energy and "
                    "force RMSEs (KLIFF's EnergyForcesRMSE) or the Fisher information of "
                    "the forces with respect to the model's optimized parameters.")
    p.add_argument("what", choices=("rmse", "fisher"), help="the analysis to run")
    p.add_argument("model", metavar="MODEL.yaml", help="a model saved with model.save()")
    p.add_argument("--data", required=True, metavar="PATH",
                   help="extended-XYZ file or directory of configurations")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="rmse: 0 data-set RMSEs, 1 also per configuration, 2 also per-atom "
                        "difference files; fisher: 1 writes "
                        "analysis_Fisher_info_matrix.txt (default 1)")
    p.add_argument("--sort", choices=("energy", "forces"), default=None,
                   help="rmse: order the per-configuration table")
    p.add_argument("--no-normalize", action="store_true",
                   help="rmse: do not divide by the number of atoms")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="rmse: write the report to FILE instead of stdout; fisher: the "
                        "matrix file (default analysis_Fisher_info_matrix.txt)")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.analysis import EnergyForcesRMSE, Fisher
    from workbench.data import Dataset
    from workbench.fit.calculator import Calculator
    from workbench.models import load_model

    model = load_model(args.model)
    configs = Dataset(args.data).get_configs()
    calc = Calculator(model)
    if args.what == "rmse":
        has_f = all(c.forces is not None for c in configs)
        calc.create(configs, use_energy=True, use_forces=has_f)
        rmse = EnergyForcesRMSE(calc, energy=True, forces=has_f)
        rmse.run(normalize=not args.no_normalize, sort=args.sort, path=args.output,
                 verbose=args.verbose)
        if args.output is not None:
            print(f"wrote {args.output}")
        return 0
    calc.create(configs, use_energy=False, use_forces=True)
    fisher = Fisher(calc)
    kw = {} if args.output is None else {"path": args.output}
    fisher.run(verbose=min(args.verbose, 1), **kw)
    sys.stdout.write(fisher.summary() + "\n")
    return 0
