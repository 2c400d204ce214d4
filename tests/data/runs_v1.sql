-- A run store as version 1 of the workbench wrote it (schema 1, see workbench/runs/schema.py).
-- tests/data/runs_v1/runs.sqlite was made from this file with
--   python -c "import sqlite3; sqlite3.connect('tests/data/runs_v1/runs.sqlite').executescript(open('tests/data/runs_v1.sql').read())"
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
INSERT INTO runs VALUES ('20251101-101500-0a1b2c', 'SW on Si', 'finished', 1761992100.0,
    1761992102.5, 'StillingerWeber', 0.694078013,
    '{"names":["A","B","gamma"],"x":[14.93864,0.5874032,2.2014636]}', 'published minimum');
INSERT INTO runs VALUES ('20251101-103000-3d4e5f', 'LJ try', 'running', 1761993000.0,
    NULL, 'LennardJones', 12.5, NULL, '');
INSERT INTO history VALUES ('20251101-101500-0a1b2c', 1, 284.1);
INSERT INTO history VALUES ('20251101-101500-0a1b2c', 2, 12.7);
INSERT INTO history VALUES ('20251101-101500-0a1b2c', 3, 0.694078013);
INSERT INTO history VALUES ('20251101-103000-3d4e5f', 1, 40.0);
INSERT INTO history VALUES ('20251101-103000-3d4e5f', 2, 12.5);
PRAGMA user_version = 1;
