"""The run store's SQLite schema and its migrations.

``PRAGMA user_version`` holds the schema version.  ``migrate(conn)`` brings any older
database up to ``VERSION`` in one transaction, step by step (``_STEPS[v]`` turns version v
into v + 1), so a store written by an older workbench opens in a newer one.  A database
newer than this code is refused rather than guessed at.

Version 1 (the first release): ``runs`` with id, name, status, times, model kind, best
loss, best parameters (one JSON mapping) and notes; ``history`` with (iteration, loss).
Version 2: the full record (data set, model, settings, set-up, RMSEs, process liveness
for "interrupted" detection, tags), evaluations / elapsed / parameters per history row,
``artifacts`` and ``results``.
"""

from __future__ import annotations

VERSION = 2

#: columns of ``runs`` added by version 2, with their SQL types
_RUN_COLUMNS_V2 = (
    ("kind", "TEXT NOT NULL DEFAULT 'fit'"),
    ("message", "TEXT NOT NULL DEFAULT ''"),
    ("heartbeat", "REAL"),
    ("pid", "INTEGER"),
    ("host", "TEXT"),
    ("proc_start", "TEXT"),
    ("species", "TEXT"),
    ("method", "TEXT"),
    ("final_loss", "REAL"),
    ("iterations", "INTEGER"),
    ("n_eval", "INTEGER"),
    ("elapsed", "REAL"),
    ("train_e_rmse", "REAL"),
    ("train_f_rmse", "REAL"),
    ("test_e_rmse", "REAL"),
    ("test_f_rmse", "REAL"),
    ("dataset_hash", "TEXT"),
    ("setup_key", "TEXT"),
    ("checkpoint", "TEXT"),
    ("parent", "TEXT"),
    ("tags", "TEXT NOT NULL DEFAULT '[]'"),
    ("dataset_json", "TEXT"),
    ("model_json", "TEXT"),
    ("settings_json", "TEXT"),
    ("setup_json", "TEXT"),
    ("start_params_json", "TEXT"),
    ("final_params_json", "TEXT"),
)

V1 = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    model_kind TEXT,
    best_loss REAL,
    best_params_json TEXT,
    notes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE history (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    loss REAL,
    PRIMARY KEY (run_id, iteration)
);
CREATE INDEX runs_started ON runs(started);
PRAGMA user_version = 1;
"""

_V1_TO_V2_TABLES = """
ALTER TABLE history ADD COLUMN best_loss REAL;
ALTER TABLE history ADD COLUMN n_eval INTEGER;
ALTER TABLE history ADD COLUMN elapsed REAL;
ALTER TABLE history ADD COLUMN params_json TEXT;
CREATE TABLE artifacts (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT,
    size INTEGER,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    data_json TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX results_run ON results(run_id, kind);
CREATE INDEX runs_status ON runs(status);
CREATE INDEX runs_setup ON runs(setup_key, started);
"""


def _v1_to_v2(conn) -> None:
    for name, sql_type in _RUN_COLUMNS_V2:
        conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {sql_type}")
    conn.executescript_in_tx(_V1_TO_V2_TABLES)
    # a version-1 run that was still "running" has no process to check: call it interrupted
    conn.execute("UPDATE runs SET status = 'interrupted', "
                 "message = 'recorded by an older version; its process is gone' "
                 "WHERE status = 'running'")


_STEPS = {0: None, 1: _v1_to_v2}


class _Tx:
    """A connection wrapper whose ``executescript_in_tx`` runs statements one by one
    (``sqlite3.executescript`` would commit the open transaction first)."""

    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql, params=()):
        return self._conn.execute(sql, params)

    def executescript_in_tx(self, script: str) -> None:
        for stmt in script.split(";"):
            if stmt.strip():
                self._conn.execute(stmt)


def create_current(conn) -> None:
    """A fresh database at ``VERSION``: the version-1 tables migrated forward."""
    tx = _Tx(conn)
    tx.executescript_in_tx(V1.replace("PRAGMA user_version = 1;", ""))
    for v in range(1, VERSION):
        _STEPS[v](tx)
    conn.execute(f"PRAGMA user_version = {VERSION}")


def migrate(conn, from_version: int) -> None:
    """Bring a database at ``from_version`` up to ``VERSION`` (inside the caller's
    transaction)."""
    tx = _Tx(conn)
    for v in range(from_version, VERSION):
        _STEPS[v](tx)
    conn.execute(f"PRAGMA user_version = {VERSION}")
