"""The one store under the simulated cloud: records persisted one by one.

Each record (a user, a token, a server, a whole stack with its nested
stacks, a counter) is one row of an SQLite table keyed by (kind, id), its
body JSON. A change writes the rows it changed and nothing else, so a change
costs the same with 10 stacks as with 10,000 (the JSON file this replaces
was rewritten whole on every change: O(n) per change, O(n^2) per fill).

WAL mode with ``synchronous=NORMAL``: a committed change survives the
process being killed (kill -9 of caas-all); only an operating-system crash
may lose the last transactions, which a simulated cloud can afford.
Without a path the store keeps nothing (memory-only cloud).
"""

import json
import logging
import os
import sqlite3

import orjson

LOG = logging.getLogger(__name__)

DB_FILE = 'cloudsim.sqlite'
LEGACY_FILE = 'cloudsim.json'

SCHEMA = ('CREATE TABLE IF NOT EXISTS records ('
          'kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, '
          'PRIMARY KEY (kind, id)) WITHOUT ROWID')


def _dumps(record):
    """A record's JSON text. orjson: a stack's record (its templates and
    files, its nested stacks) is tens of kB, written at every change of the
    stack, and the stdlib encoder was a fifth of the simulated cloud's time
    during a fill of caas-all. What orjson refuses (an integer beyond 64
    bits) goes through the stdlib."""
    try:
        return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(record, separators=(',', ':'))


class Store(object):
    """Rows of (kind, id, JSON body); callers serialise access."""

    def __init__(self, state_dir=None):
        self.state_dir = state_dir
        self.conn = None
        # What the last writes cost, for tests and benchmarks.
        self.rows_written = 0
        self.bytes_written = 0
        if state_dir:
            os.makedirs(state_dir, exist_ok=True)
            self.conn = sqlite3.connect(
                os.path.join(state_dir, DB_FILE), check_same_thread=False,
                isolation_level=None)
            self.conn.execute('PRAGMA journal_mode=WAL')
            self.conn.execute('PRAGMA synchronous=NORMAL')
            self.conn.execute(SCHEMA)

    @property
    def path(self):
        return os.path.join(self.state_dir, DB_FILE) if self.conn else None

    def load(self):
        """{kind: {id: record}} of everything stored."""
        data = {}
        if self.conn is None:
            return data
        for kind, rid, body in self.conn.execute(
                'SELECT kind, id, body FROM records'):
            data.setdefault(kind, {})[rid] = json.loads(body)
        if not data:
            data = self._import_legacy()
        return data

    def _import_legacy(self):
        """A state directory written by the JSON-file version, once."""
        path = os.path.join(self.state_dir, LEGACY_FILE)
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            loaded = json.load(f)
        data = {k: v for k, v in loaded.items() if isinstance(v, dict)}
        self.write([(k, rid, rec) for k, table in data.items()
                    for rid, rec in table.items()], [])
        os.replace(path, path + '.imported')
        LOG.info('Imported the simulated cloud state of %s', path)
        return data

    def write(self, upserts, deletes):
        """Write ``upserts`` [(kind, id, record)] and remove ``deletes``
        [(kind, id)] in one transaction."""
        if self.conn is None or not (upserts or deletes):
            return
        rows = [(kind, rid, _dumps(rec)) for kind, rid, rec in upserts]
        with self.conn:
            self.conn.execute('BEGIN')
            if rows:
                self.conn.executemany(
                    'INSERT OR REPLACE INTO records (kind, id, body) '
                    'VALUES (?, ?, ?)', rows)
            if deletes:
                self.conn.executemany(
                    'DELETE FROM records WHERE kind = ? AND id = ?', deletes)
        self.rows_written += len(rows) + len(deletes)
        self.bytes_written += sum(len(r[2]) for r in rows)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
