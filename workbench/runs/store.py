"""``RunStore``: every fit and training kept in one SQLite database plus an artifacts folder.

Layout of a store directory (default ``./workbench-runs/``)::

    runs.sqlite            the database (WAL mode: readers never block the writer)
    artifacts/<run id>/    files a run wrote (model YAML, checkpoint, report, set-up)

Why SQLite from the standard library and not an experiment tracker: the store must work
offline, without a server or account, with several processes (two kernels, a kernel and
a ``workbench fit``) writing at once, and survive a killed process.  SQLite in WAL mode
gives exactly that: every write is one short ``BEGIN IMMEDIATE`` transaction (a second
writer waits up to ``BUSY_TIMEOUT`` seconds instead of failing), readers see a consistent
snapshot, and a process killed mid-run leaves every committed row intact.

A run that a dead process left "running" is marked "interrupted" whenever the store is
opened or listed: each run records the pid, host and start time of its process (the start
time guards against pid reuse) and a heartbeat refreshed with every history write.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from ..atomic import atomic_open
from ..errors import WorkbenchError
from . import schema

DB_NAME = "runs.sqlite"
BUSY_TIMEOUT = 60.0
#: a "running" run of another host whose heartbeat is older than this is interrupted
STALE_SECONDS = 6 * 3600.0
STATUSES = ("running", "finished", "stopped", "failed", "interrupted")
#: columns a listing returns (the JSON documents stay out: listing 10,000 runs is fast)
SUMMARY_COLUMNS = (
    "id", "name", "kind", "status", "message", "started", "ended", "model_kind", "species",
    "method", "best_loss", "final_loss", "iterations", "n_eval", "elapsed", "train_e_rmse",
    "train_f_rmse", "test_e_rmse", "test_f_rmse", "dataset_hash", "setup_key", "tags",
    "notes", "parent", "checkpoint",
)
_JSON_COLUMNS = ("species", "tags", "dataset_json", "model_json", "settings_json",
                 "setup_json", "start_params_json", "best_params_json", "final_params_json")
_SORTABLE = set(SUMMARY_COLUMNS)


class RunStoreError(WorkbenchError, RuntimeError):
    """A run store that cannot be opened, or a run that does not exist."""


def _proc_start(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()
    except (OSError, IndexError):
        return None


def process_alive(pid: int | None, proc_start: str | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if proc_start is not None:
        now = _proc_start(int(pid))
        if now is not None and now != proc_start:
            return False
    return True


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def _rows(cursor) -> list[dict]:
    """The cursor's rows as dicts; JSON columns decoded (``model_json`` -> ``model``)."""
    names = [d[0] for d in cursor.description]
    json_cols = [(k, n[:-5] if n.endswith("_json") else n) for k, n in enumerate(names)
                 if n in _JSON_COLUMNS]
    keys = [n[:-5] if n in _JSON_COLUMNS and n.endswith("_json") else n for n in names]
    out = []
    loads = json.loads
    for row in cursor.fetchall():
        d = dict(zip(keys, row))
        for k, key in json_cols:
            if row[k] is not None:
                d[key] = loads(row[k])
        out.append(d)
    return out


class RunStore:
    """The run store at ``path`` (a directory; created if missing).

    Thread-safe: one connection per process, serialized by a lock (the recorder writes
    from a session's event thread while the notebook reads).  Safe across processes
    through SQLite's locking.  See the module docstring for the layout.
    """

    def __init__(self, path):
        self.path = Path(path).expanduser()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunStoreError(f"{self.path}: cannot create the run store: {exc}") from None
        self.db_path = self.path / DB_NAME
        self.artifacts_dir = self.path / "artifacts"
        self._lock = threading.RLock()
        self._conn = None
        self._pid = None
        self._host = socket.gethostname()
        self._connect()
        self.refresh_liveness()

    # ------------------------------------------------------------------ connection
    def _connect(self):
        try:
            conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._conn, self._pid = conn, os.getpid()
            with self._write() as c:
                version = c.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    schema.create_current(c)
                elif version < schema.VERSION:
                    schema.migrate(c, version)
                elif version > schema.VERSION:
                    raise RunStoreError(
                        f"{self.db_path}: run store schema version {version} is newer than "
                        f"this workbench understands ({schema.VERSION}); upgrade the workbench")
        except sqlite3.DatabaseError as exc:
            raise RunStoreError(f"{self.db_path}: not a usable run store: {exc}") from None

    def _db(self):
        if self._pid != os.getpid():  # a forked child needs its own connection
            self._connect()
        return self._conn

    class _Write:
        def __init__(self, store):
            self.store = store

        def __enter__(self):
            self.store._lock.acquire()
            try:
                self.conn = self.store._db()
                self.conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.store._lock.release()
                raise
            return self.conn

        def __exit__(self, exc_type, exc, tb):
            try:
                self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.store._lock.release()

    def _write(self):
        """``with store._write() as conn:`` one immediate transaction."""
        return RunStore._Write(self)

    def _read(self, sql, params=()):
        with self._lock:
            return _rows(self._db().execute(sql, params))

    def close(self):
        """Close this process's connection (the store can be reopened by the next call)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __repr__(self):
        return f"RunStore({str(self.path)!r})"

    # ------------------------------------------------------------------ runs
    @staticmethod
    def new_run_id() -> str:
        """A short id, sortable by creation time: ``YYYYmmdd-HHMMSS-xxxxxx``."""
        return time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + uuid.uuid4().hex[:6]

    def begin_run(self, run_id=None, name=None, kind="fit", **fields) -> str:
        """Insert a "running" run owned by this process; returns its id."""
        run_id = run_id or self.new_run_id()
        now = time.time()
        pid = os.getpid()
        row = {"id": run_id, "name": name or f"{kind} {run_id}", "kind": kind,
               "status": "running", "message": "", "started": now, "heartbeat": now,
               "pid": pid, "host": self._host, "proc_start": _proc_start(pid)}
        row.update(self._encode(fields))
        cols = ", ".join(row)
        marks = ", ".join("?" * len(row))
        with self._write() as c:
            c.execute(f"INSERT INTO runs ({cols}) VALUES ({marks})", tuple(row.values()))
        return run_id

    def reopen_run(self, run_id) -> None:
        """This process continues run ``run_id`` (``workbench fit --resume``)."""
        pid = os.getpid()
        self.update_run(run_id, status="running", message="", ended=None, pid=pid,
                        host=self._host, proc_start=_proc_start(pid), heartbeat=time.time())

    def _encode(self, fields: dict) -> dict:
        out = {}
        for key, value in fields.items():
            col = f"{key}_json" if f"{key}_json" in _JSON_COLUMNS else key
            if col in _JSON_COLUMNS:
                value = None if value is None else _dumps(value)
            out[col] = value
        return out

    def update_run(self, run_id, **fields) -> None:
        """Set columns of a run (``model=``, ``dataset=`` ... go to their JSON columns)."""
        if not fields:
            return
        enc = self._encode(fields)
        sets = ", ".join(f"{k} = ?" for k in enc)
        with self._write() as c:
            n = c.execute(f"UPDATE runs SET {sets} WHERE id = ?",
                          (*enc.values(), run_id)).rowcount
        if n == 0:
            raise RunStoreError(f"no run {run_id!r} in {self.path}")

    def record_history(self, run_id, rows, **summary) -> None:
        """Append history rows ``(iteration, loss, best_loss, n_eval, elapsed, params)``
        and refresh the run's heartbeat and ``summary`` columns, in one transaction."""
        data = [(run_id, int(i), loss, best, n_eval, elapsed,
                 None if params is None else _dumps(params))
                for i, loss, best, n_eval, elapsed, params in rows]
        enc = self._encode(summary)
        enc["heartbeat"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in enc)
        with self._write() as c:
            c.executemany("INSERT OR REPLACE INTO history (run_id, iteration, loss, best_loss, "
                          "n_eval, elapsed, params_json) VALUES (?, ?, ?, ?, ?, ?, ?)", data)
            c.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*enc.values(), run_id))

    def fill_history(self, run_id, history) -> None:
        """Add ``(iteration, loss)`` pairs missing from the recorded history (the
        throttled live recording skips some; the final state is always complete)."""
        with self._write() as c:
            c.executemany("INSERT OR IGNORE INTO history (run_id, iteration, loss) "
                          "VALUES (?, ?, ?)",
                          [(run_id, int(i), None if f is None else float(f))
                           for i, f in history])

    def finish_run(self, run_id, status, message="", **fields) -> None:
        """Mark a run ended with ``status`` (one of STATUSES) and a message, updating
        any other fields given. Raises RunStoreError for an unknown status or run."""
        if status not in STATUSES:
            raise RunStoreError(f"unknown run status {status!r}; expected one of {STATUSES}")
        self.update_run(run_id, status=status, message=message, ended=time.time(),
                        heartbeat=time.time(), **fields)

    def get_run(self, run_id) -> dict:
        """Every recorded field of a run (JSON documents decoded: ``model``, ``dataset``,
        ``settings``, ``setup``, ``start_params``, ``best_params``, ``final_params``)."""
        run_id = self.resolve(run_id)
        rows = self._read("SELECT * FROM runs WHERE id = ?", (run_id,))
        if rows[0]["status"] == "running" and self.refresh_liveness():
            rows = self._read("SELECT * FROM runs WHERE id = ?", (run_id,))
        return rows[0]

    def list_runs(self, status=None, kind=None, tag=None, search=None, setup_key=None,
                  order_by="started", descending=True, limit=None) -> list[dict]:
        """Summaries of the runs (no history, no JSON documents), newest first.

        ``search`` matches name, model, notes or id (substring, case-insensitive)."""
        self.refresh_liveness()
        where, params = [], []
        for col, value in (("status", status), ("kind", kind), ("setup_key", setup_key)):
            if value is not None:
                values = [value] if isinstance(value, str) else list(value)
                where.append(f"{col} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if tag is not None:
            where.append("tags LIKE ?")
            params.append(f'%{_dumps(str(tag))}%')
        if search:
            where.append("(name LIKE ? OR model_kind LIKE ? OR notes LIKE ? OR id LIKE ?)")
            params.extend([f"%{search}%"] * 4)
        if order_by not in _SORTABLE:
            raise RunStoreError(f"cannot sort runs by {order_by!r}")
        sql = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # runs without a value (e.g. no loss yet) come last either way
        sql += f" ORDER BY {order_by} IS NULL, {order_by} {'DESC' if descending else 'ASC'}, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._read(sql, params)

    def count_runs(self) -> int:
        """Number of runs in the store."""
        with self._lock:
            return self._db().execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def resolve(self, ref) -> str:
        """The id of the run named by ``ref``: an id, a unique id prefix or a unique name."""
        ref = str(ref)
        with self._lock:
            db = self._db()
            hits = [r[0] for r in db.execute("SELECT id FROM runs WHERE id = ?", (ref,))]
            if not hits:
                hits = [r[0] for r in db.execute(
                    "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\'",
                    (ref.replace("%", "\\%").replace("_", "\\_") + "%",))]
            if not hits:
                hits = [r[0] for r in db.execute("SELECT id FROM runs WHERE name = ?", (ref,))]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise RunStoreError(f"no run {ref!r} in {self.path}")
        raise RunStoreError(f"{ref!r} names {len(hits)} runs ({', '.join(hits[:5])}); "
                            "give more of the id")

    def get_history(self, run_id) -> list[dict]:
        """History rows (iteration, loss, best_loss, n_eval, elapsed, params) in order."""
        rows = self._read("SELECT iteration, loss, best_loss, n_eval, elapsed, params_json "
                          "FROM history WHERE run_id = ? ORDER BY iteration",
                          (self.resolve(run_id),))
        for r in rows:
            p = r.pop("params_json")
            r["params"] = None if p is None else json.loads(p)
        return rows

    # ------------------------------------------------------------------ annotations
    def rename(self, run_id, name: str) -> None:
        """Give a run a display name (the id stays). Raises RunStoreError for an
        unknown or ambiguous id."""
        self.update_run(self.resolve(run_id), name=str(name))

    def set_notes(self, run_id, notes: str) -> None:
        """Replace a run's free-text notes."""
        self.update_run(self.resolve(run_id), notes=str(notes))

    def set_tags(self, run_id, tags) -> None:
        """Replace a run's tags (stripped, deduplicated, sorted; empty ones dropped)."""
        clean = sorted({str(t).strip() for t in tags if str(t).strip()})
        self.update_run(self.resolve(run_id), tags=clean)

    def delete_run(self, run_id) -> None:
        """Remove a run, its history, results and artifacts folder."""
        run_id = self.resolve(run_id)
        with self._write() as c:
            for table in ("history", "artifacts", "results"):
                c.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self.artifacts_dir / run_id, ignore_errors=True)

    # ------------------------------------------------------------------ results
    def add_result(self, run_id, kind: str, data: dict) -> int:
        """Attach a JSON-serializable result (e.g. validation properties) to a run."""
        run_id = self.resolve(run_id)
        with self._write() as c:
            cur = c.execute("INSERT INTO results (run_id, kind, data_json, created) "
                            "VALUES (?, ?, ?, ?)", (run_id, str(kind), _dumps(data), time.time()))
            return cur.lastrowid

    def get_results(self, run_id, kind=None) -> list[dict]:
        """``[{"id", "kind", "data", "created"}, ...]`` in the order they were added."""
        sql = "SELECT id, kind, data_json, created FROM results WHERE run_id = ?"
        params = [self.resolve(run_id)]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        rows = self._read(sql + " ORDER BY id", params)
        for r in rows:
            r["data"] = json.loads(r.pop("data_json"))
        return rows

    # ------------------------------------------------------------------ artifacts
    def artifact_dir(self, run_id) -> Path:
        """The folder holding a run's artifact files."""
        return self.artifacts_dir / str(run_id)

    def add_artifact(self, run_id, name: str, source=None, text=None, data=None,
                     kind="file") -> Path:
        """Keep a file with the run: copy ``source`` (a file), or write ``text``/``data``,
        to ``artifacts/<run>/<name>`` atomically (a reader never sees a half file)."""
        import hashlib

        target = self.artifact_dir(run_id) / name
        digest = hashlib.sha256()
        with atomic_open(target, "wb") as fh:
            if source is not None:
                with open(source, "rb") as src:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        fh.write(chunk)
                        digest.update(chunk)
            else:
                payload = data if data is not None else str(text).encode("utf-8")
                fh.write(payload)
                digest.update(payload)
        self._record_artifact(run_id, name, kind, target, digest.hexdigest())
        return target

    def register_artifact(self, run_id, name: str, path, kind="file") -> None:
        """Record a file or directory the run wrote elsewhere (not copied)."""
        self._record_artifact(run_id, name, kind, Path(path).resolve(), None)

    def _record_artifact(self, run_id, name, kind, path: Path, sha256) -> None:
        size = path.stat().st_size if path.is_file() else None
        with self._write() as c:
            c.execute("INSERT OR REPLACE INTO artifacts (run_id, name, kind, path, sha256, "
                      "size, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (run_id, name, kind, str(path), sha256, size, time.time()))

    def get_artifacts(self, run_id) -> list[dict]:
        """A run's artifacts (name, kind, path, sha256, size, created), oldest first."""
        return self._read("SELECT name, kind, path, sha256, size, created FROM artifacts "
                          "WHERE run_id = ? ORDER BY created", (self.resolve(run_id),))

    # ------------------------------------------------------------------ liveness
    def refresh_liveness(self) -> int:
        """Mark "running" runs whose process is gone as "interrupted"; returns how many."""
        rows = self._read("SELECT id, pid, host, proc_start, heartbeat, iterations FROM runs "
                          "WHERE status = 'running'")
        now = time.time()
        dead = []
        for r in rows:
            if r["host"] == self._host:
                gone = not process_alive(r["pid"], r["proc_start"])
            else:
                gone = r["heartbeat"] is not None and now - r["heartbeat"] > STALE_SECONDS
            if gone:
                dead.append(r)
        for r in dead:
            with self._write() as c:
                c.execute("UPDATE runs SET status = 'interrupted', message = ?, "
                          "ended = COALESCE(heartbeat, started) WHERE id = ? AND "
                          "status = 'running'",
                          (f"process {r['pid']} on {r['host']} ended during the run "
                           f"(last recorded iteration {r['iterations'] or 0})", r["id"]))
        return len(dead)


# ---------------------------------------------------------------------- default store
_OPEN: dict[str, RunStore] = {}
_OPEN_LOCK = threading.Lock()
DISABLED_VALUES = ("", "none", "off", "0", "false", "no")


def open_store(path) -> RunStore:
    """The process-wide ``RunStore`` for ``path`` (one connection per store per process)."""
    key = str(Path(path).expanduser().resolve())
    with _OPEN_LOCK:
        store = _OPEN.get(key)
        if store is None or store._conn is None:
            store = _OPEN[key] = RunStore(key)
        return store


def default_store() -> RunStore | None:
    """The store runs go to when none is named: ``$WORKBENCH_RUNS`` or ``./workbench-runs``;
    ``WORKBENCH_RUNS=off`` (or none, 0, false, no, empty) disables recording."""
    env = os.environ.get("WORKBENCH_RUNS")
    if env is not None and env.strip().lower() in DISABLED_VALUES:
        return None
    return open_store(env or "workbench-runs")


#: the ``store=`` default of sessions: the default store at the time the session starts
DEFAULT = "default"


def resolve_store(store) -> RunStore | None:
    """``store=`` as sessions take it: ``"default"``, ``None`` (no recording), a
    directory path or a ``RunStore``."""
    if store is None or isinstance(store, RunStore):
        return store
    if isinstance(store, str) and store == DEFAULT:
        return default_store()
    if isinstance(store, (str, os.PathLike)):
        return open_store(store)
    raise RunStoreError(f"store={store!r}: expected a RunStore, a directory, 'default' or None")
