"""``workbench runs``: list, show, compare, export and delete recorded runs.

The store is ``--store DIR``, else ``$WORKBENCH_RUNS``, else ./workbench-runs.  A run is
named by its id, a unique prefix of it, or its (unique) name.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LIST_COLUMNS = (("id", "id"), ("name", "name"), ("model", "model_kind"), ("status", "status"),
                ("best loss", "best_loss"), ("train E", "train_e_rmse"),
                ("train F", "train_f_rmse"), ("test E", "test_e_rmse"),
                ("test F", "test_f_rmse"), ("evals", "n_eval"), ("time (s)", "elapsed"),
                ("started", "started"), ("tags", "tags"))


def register(subparsers) -> None:
    p = subparsers.add_parser("runs", help="list, show, compare, export and delete recorded runs",
                              description="The runs recorded in the run store.")
    p.add_argument("--store", help="run store directory (default: $WORKBENCH_RUNS or "
                                   "./workbench-runs)")
    sub = p.add_subparsers(dest="runs_command", metavar="ACTION")
    q = sub.add_parser("list", help="a table of runs, newest first")
    q.add_argument("--json", action="store_true", help="JSON instead of a table")
    q.add_argument("--status", help="only runs with this status")
    q.add_argument("--tag", help="only runs with this tag")
    q.add_argument("--search", help="only runs whose name, model, notes or id contain this")
    q.add_argument("--limit", type=int, help="at most this many runs")
    q = sub.add_parser("show", help="everything recorded about one run")
    q.add_argument("run")
    q.add_argument("--json", action="store_true", help="the whole record as JSON")
    q = sub.add_parser("compare", help="parameters, losses, RMSEs and validated properties "
                                       "of runs side by side")
    q.add_argument("runs", nargs="+")
    q.add_argument("--html", metavar="FILE", help="also write an HTML comparison report")
    q = sub.add_parser("export", help="model, KIM model, set-up YAML and report of a run")
    q.add_argument("run")
    q.add_argument("dir")
    q.add_argument("--no-kim", action="store_true", help="do not write a KIM model")
    q = sub.add_parser("delete", help="delete runs and their artifacts")
    q.add_argument("runs", nargs="+")
    q.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    for action in ("rename", "note"):
        q = sub.add_parser(action, help=f"{'rename' if action == 'rename' else 'annotate'} a run")
        q.add_argument("run")
        q.add_argument("text")
    q = sub.add_parser("tag", help="set a run's tags")
    q.add_argument("run")
    q.add_argument("tags", nargs="*")
    p.set_defaults(func=run, runs_parser=p)


def _store(args):
    from workbench.runs import RunStore, default_store
    from workbench.runs.store import RunStoreError

    store = RunStore(args.store) if args.store else default_store()
    if store is None:
        raise RunStoreError("the run store is disabled (WORKBENCH_RUNS is off); name one "
                            "with --store")
    return store


def _cell(key, value) -> str:
    from workbench.runs.compare import fmt, when

    if key == "started":
        return when(value)
    if key == "tags":
        return ",".join(value or [])
    if key == "elapsed" and value is not None:
        return f"{value:.1f}"
    return fmt(value)


def run(args, out=None) -> int:
    out = out or sys.stdout
    action = args.runs_command
    if action is None:
        args.runs_parser.print_help(out)
        return 0
    store = _store(args)
    return ACTIONS[action](store, args, out)


def _list(store, args, out) -> int:
    runs = store.list_runs(status=args.status, tag=args.tag, search=args.search,
                           limit=args.limit)
    if args.json:
        json.dump(runs, out, indent=1)
        out.write("\n")
        return 0
    from workbench.runs.compare import text_table

    if not runs:
        print(f"no runs in {store.path}", file=out)
        return 0
    rows = [[_cell(k, r.get(k)) for _, k in LIST_COLUMNS] for r in runs]
    print(text_table([h for h, _ in LIST_COLUMNS], rows), file=out)
    return 0


def _show(store, args, out) -> int:
    run = store.get_run(args.run)
    history = store.get_history(run["id"])
    if args.json:
        run = dict(run, history=history, artifacts=store.get_artifacts(run["id"]),
                   results=store.get_results(run["id"]))
        json.dump(run, out, indent=1)
        out.write("\n")
        return 0
    from workbench.runs.compare import compare_text, when

    print(f"run {run['id']}: {run['name']} ({run['kind']}, {run['status']})", file=out)
    print(f"started {when(run['started'])}, ended {when(run['ended'])}", file=out)
    if run.get("message"):
        print(f"message: {run['message'].strip().splitlines()[0]}", file=out)
    data = run.get("dataset") or {}
    if data:
        print(f"data: {data.get('root')} ({data.get('n_train')} train, {data.get('n_test')} "
              f"test configurations; hash {str(data.get('hash'))[:16]})", file=out)
    settings = run.get("settings") or {}
    if settings:
        print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()
                                       if v not in (None, {})), file=out)
    if run.get("tags"):
        print(f"tags: {', '.join(run['tags'])}", file=out)
    if run.get("notes"):
        print(f"notes: {run['notes']}", file=out)
    print(f"history: {len(history)} recorded iterations", file=out)
    for a in store.get_artifacts(run["id"]):
        print(f"artifact {a['name']} ({a['kind']}): {a['path']}", file=out)
    print("", file=out)
    print(compare_text([run]), file=out)
    return 0


def _compare(store, args, out) -> int:
    from workbench.errors import WorkbenchError
    from workbench.runs.compare import compare_html, compare_text, latest_validation

    runs = [store.get_run(r) for r in args.runs]
    if len(runs) < 2:
        raise WorkbenchError("compare needs at least two runs")
    validations = [latest_validation(store, r["id"]) for r in runs]
    print(compare_text(runs, validations), file=out)
    if args.html:
        from workbench.atomic import write_text_atomic

        page = compare_html(runs, [store.get_history(r["id"]) for r in runs],
                            validations=validations)
        write_text_atomic(args.html, page)
        print(f"report: {args.html}", file=out)
    return 0


def export_run(store, ref, directory, write_kim=True) -> dict:
    """Write a run's model YAML, KIM model, set-up YAML (which reruns it with ``workbench
    fit``) and report into ``directory``; returns ``{what: path}``."""
    import shutil

    from workbench.fit.run_record import model_from_run
    from workbench.fit.setup_file import dump_config
    from workbench.runs.compare import compare_html

    run = store.get_run(ref)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    setup = run.get("setup")
    if setup:
        from workbench.atomic import write_text_atomic

        setup = dict(setup)
        output = dict(setup.get("output") or {})
        output["directory"] = "fit-output"
        setup["output"] = output
        written["setup"] = write_text_atomic(directory / "setup.yaml", dump_config(setup))
    artifacts = {a["name"]: a for a in store.get_artifacts(run["id"])}
    model = None
    if "model.yaml" in artifacts and Path(artifacts["model.yaml"]["path"]).is_file():
        from workbench.atomic import write_bytes_atomic

        written["model"] = write_bytes_atomic(directory / "model.yaml",
                                              Path(artifacts["model.yaml"]["path"]).read_bytes())
    if setup and (run.get("model") or {}).get("params") is not None:
        model = model_from_run(run)
        if "model" not in written:
            written["model"] = model.save(directory / "model.yaml")
    if write_kim and model is not None:
        from workbench.errors import WorkbenchError

        name = (setup.get("output") or {}).get("kim_model") or \
            f"{run['model_kind']}_run_{run['id'].replace('-', '_')}__MO_000000000000_000"
        try:
            written["kim_model"] = Path(model.write_kim_model(directory / name))
        except WorkbenchError as exc:
            written["kim_model_error"] = str(exc)
    report = artifacts.get("report.html")
    if report and Path(report["path"]).is_file():
        shutil.copyfile(report["path"], directory / "report.html")
        written["report"] = directory / "report.html"
    else:
        from workbench.atomic import write_text_atomic

        written["report"] = write_text_atomic(
            directory / "report.html",
            compare_html([run], [store.get_history(run["id"])], f"Run {run['id']}"))
    return written


def _export(store, args, out) -> int:
    written = export_run(store, args.run, args.dir, write_kim=not args.no_kim)
    for what, path in written.items():
        print(f"{what}: {path}", file=out)
    return 0


def _delete(store, args, out) -> int:
    ids = [store.resolve(r) for r in args.runs]
    if not args.yes:
        if not sys.stdin.isatty():
            from workbench.errors import WorkbenchError

            raise WorkbenchError("delete asks for confirmation: run it in a terminal or "
                                 "pass --yes")
        answer = input(f"delete {len(ids)} run(s) {', '.join(ids)} and their artifacts? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=out)
            return 1
    for run_id in ids:
        store.delete_run(run_id)
        print(f"deleted {run_id}", file=out)
    return 0


def _rename(store, args, out) -> int:
    store.rename(args.run, args.text)
    return 0


def _note(store, args, out) -> int:
    store.set_notes(args.run, args.text)
    return 0


def _tag(store, args, out) -> int:
    store.set_tags(args.run, args.tags)
    return 0


ACTIONS = {"list": _list, "show": _show, "compare": _compare, "export": _export,
           "delete": _delete, "rename": _rename, "note": _note, "tag": _tag}
