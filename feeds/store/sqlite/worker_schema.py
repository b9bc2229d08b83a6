"""The tables of workers sharing one store (see :mod:`feeds.store.sql.workers`).

``sources`` gains its host (politeness across workers counts per host), when it is next
due, its lease (worker and end) and its last expired lease; ``host_leases`` says which
worker holds a host until when; ``workers`` is the registry; ``publisher`` holds the one
publisher's lease and whether changes wait to be published.
"""

from __future__ import annotations

__all__ = ["MIGRATION"]

MIGRATION = """
ALTER TABLE sources ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE sources ADD COLUMN next_due TEXT;
ALTER TABLE sources ADD COLUMN lease_worker TEXT;
ALTER TABLE sources ADD COLUMN lease_until TEXT;
ALTER TABLE sources ADD COLUMN expired_leases INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN expired_worker TEXT;
ALTER TABLE sources ADD COLUMN expired_until TEXT;
ALTER TABLE sources ADD COLUMN expired_at TEXT;
CREATE INDEX sources_due ON sources(next_due);
CREATE INDEX sources_leased ON sources(lease_worker);
CREATE TABLE host_leases (
    host TEXT PRIMARY KEY,
    worker TEXT NOT NULL,
    until TEXT NOT NULL,
    in_flight INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    heartbeat TEXT NOT NULL,
    last_activity TEXT
);
CREATE TABLE publisher (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    worker TEXT,
    until TEXT,
    needed_since TEXT
);
INSERT INTO publisher (id) VALUES (1);
"""
