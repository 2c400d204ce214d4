"""``workbench model``: list available models, print a model's parameters."""

from __future__ import annotations

import shutil
import subprocess
import sys

from workbench.errors import KIMError
from workbench.models.factory import make_model

COLLECTIONS_TOOL = "kim-api-collections-management"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "model", help="list models, print a model's parameters",
        description="List the built-in models, plugin models and installed OpenKIM "
                    "portable models, or print the parameters of one model.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--list", action="store_true",
                      help="list built-in, plugin and installed KIM models")
    what.add_argument("--echo-params", metavar="NAME",
                      help="print the parameters of a built-in model (e.g. StillingerWeber) "
                           "or an installed KIM model")
    what.add_argument("-a", "--avail-params", metavar="NAME", dest="echo_params",
                      help="KLIFF's name of --echo-params")
    p.add_argument("--species", nargs="+", default=["Si"],
                   help="species of a built-in model (default: Si)")
    p.add_argument("--space", choices=("original", "transformed"), default="original",
                   help="parameter space to print (default original)")
    p.set_defaults(func=run)


def builtin_models() -> dict:
    from workbench.models.builtin import BUILTIN_MODELS

    try:  # SNAP lives in the ml layer and adds itself to BUILTIN_MODELS when imported
        import workbench.ml.snap  # noqa: F401
    except ImportError:
        pass
    return dict(BUILTIN_MODELS)


def plugin_models() -> list[tuple[str, str]]:
    """(name, target) of the ``workbench.models`` plugins that loaded (see
    ``workbench.plugins``; broken ones are listed by :func:`plugin_model_errors`)."""
    from workbench import plugins

    return sorted((name, info.target)
                  for name, info in plugins.registered("workbench.models").items())


def plugin_model_errors() -> list:
    from workbench import plugins

    return plugins.load_errors("workbench.models")


def kim_models() -> list[str]:
    """Installed KIM portable models, from kimpy's collections or kim-api's tool.

    Raises KIMError when neither kimpy nor kim-api is available.
    """
    try:
        import kimpy
    except ImportError:
        kimpy = None
    if kimpy is not None:
        try:
            col = kimpy.collections.create()
            kind = kimpy.collection_item_type.portableModel
            n = col.cache_list_of_item_names_by_type(kind)
            return sorted({col.get_item_name_by_type(i) for i in range(n)})
        except RuntimeError:
            pass
    if shutil.which(COLLECTIONS_TOOL) is None:
        raise KIMError("kim-api is not installed (neither kimpy nor "
                       f"`{COLLECTIONS_TOOL}` was found); install kim-api "
                       "(Debian: apt install libkim-api-dev openkim-models) and kimpy.")
    out = subprocess.run([COLLECTIONS_TOOL, "list"], capture_output=True, text=True,
                         check=False).stdout
    return parse_collections_list(out)


def parse_collections_list(text: str) -> list[str]:
    """Portable-model names from ``kim-api-collections-management list`` output: the
    tab-indented lines under each collection's ``Portable Models:`` heading."""
    names, in_models = set(), False
    for line in text.splitlines():
        if line.startswith("\t"):
            name = line.strip()
            if in_models and name and name != "--empty--":
                names.add(name)
        elif line.strip():
            in_models = line.startswith("Portable Models:")
    return sorted(names)


def list_text() -> str:
    lines = ["Built-in models:"]
    for name, cls in builtin_models().items():
        lines.append(f"  {name:<18s} {cls.__doc__.strip().splitlines()[0] if cls.__doc__ else ''}")
    lines.append("Plugin models (entry-point group 'workbench.models'):")
    plugins = plugin_models()
    lines += [f"  {n:<18s} {target}" for n, target in plugins]
    errors = plugin_model_errors()
    lines += [f"  {e.name:<18s} {e.target}  LOAD ERROR: {e.reason}" for e in errors]
    if not plugins and not errors:
        lines.append("  (none)")
    try:
        names = kim_models()
    except KIMError as exc:
        lines.append(f"Installed KIM models: unavailable: {exc}")
    else:
        lines.append(f"Installed KIM models ({len(names)}):")
        lines += [f"  {n}" for n in names] or ["  (none)"]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    if args.list:
        sys.stdout.write(list_text())
        return 0
    builtin_models()
    model = make_model(args.echo_params, args.species)
    model.echo_model_params(sys.stdout, params_space=args.space)
    return 0
