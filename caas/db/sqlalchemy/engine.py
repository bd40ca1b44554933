"""Engine and sessions for the one caas database, one engine per process."""

import contextlib
import os
import sqlite3
import sys
import threading
import time

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import orm

from caas.conf import CONF

_lock = threading.Lock()
_engines = {}
_sessionmakers = {}


class WriterQueue:
    """The turn to write on one SQLite engine, for the threads of a process.

    SQLite's own wait for its write lock polls with sleeps of up to 100 ms
    and wakes nobody when the lock is freed: with tens of threads writing
    (the embedded mode's flows, API and sweeps in one process) the lock sat
    unused between polls (a profile of caas-all during a fill: 37 % of the
    samples in BEGIN IMMEDIATE). Here the next writer is woken as soon as a
    transaction ends, and a writer that answers a client (an API request
    thread) goes before the queued background writers (flows, sweeps), so
    that a POST does not wait behind every flow's progress writes.
    SQLite's lock still orders the writers of other processes.
    """

    def __init__(self):
        self._mutex = threading.Lock()
        self._urgent_turn = threading.Condition(self._mutex)
        self._turn = threading.Condition(self._mutex)
        self._held = False
        self.urgent_waiting = 0
        self.waiting = 0

    @staticmethod
    def urgent():
        """An API request thread (waitress names its workers so)?"""
        return threading.current_thread().name.startswith('waitress')

    def acquire(self, timeout):
        urgent = self.urgent()
        deadline = time.monotonic() + timeout
        with self._mutex:
            if urgent:
                self.urgent_waiting += 1
            else:
                self.waiting += 1
            try:
                while self._held or (not urgent and self.urgent_waiting):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        # Handing on a wake-up this thread may have taken.
                        self._wake_next()
                        return False
                    (self._urgent_turn if urgent else self._turn).wait(left)
                self._held = True
                return True
            finally:
                if urgent:
                    self.urgent_waiting -= 1
                else:
                    self.waiting -= 1

    def release(self):
        with self._mutex:
            self._held = False
            self._wake_next()

    def _wake_next(self):
        if self._held:
            return
        if self.urgent_waiting:
            self._urgent_turn.notify()
        elif self.waiting:
            self._turn.notify()

    def locked(self):
        return self._held


class _QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions take their turn in the
    engine's WriterQueue first (BEGIN IMMEDIATE), and give it back when a
    commit, rollback or close ends them."""

    writers = None          # a WriterQueue per engine (a subclass each)
    wait_timeout = None

    def queue_for_write(self):
        # After the timeout SQLite's own busy wait decides (and fails as
        # it always did if the lock is still held).
        self._queued = self.writers.acquire(self.wait_timeout)

    def end_write(self):
        if getattr(self, '_queued', False):
            self._queued = False
            self.writers.release()

    def commit(self):
        try:
            super().commit()
        finally:
            self.end_write()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self.end_write()

    def close(self):
        try:
            super().close()
        finally:
            self.end_write()


def _configure_sqlite(engine, readonly, autocommit=False):
    timeout_ms = int(CONF.database.sqlite_busy_timeout * 1000)

    @event.listens_for(engine, 'connect')
    def _on_connect(dbapi_conn, _record):
        # The stdlib driver opens its own transactions lazily and lets a
        # reader upgrade to a writer, which deadlocks under concurrency;
        # BEGIN IMMEDIATE takes the write lock up front instead.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute('PRAGMA journal_mode=WAL')
        cur.execute('PRAGMA busy_timeout=%d' % timeout_ms)
        cur.execute('PRAGMA foreign_keys=ON')
        cur.execute('PRAGMA synchronous=NORMAL')
        cur.close()

    @event.listens_for(engine, 'begin')
    def _on_begin(conn):
        # Readers need no lock in WAL mode; writers take it up front. An
        # autocommit engine's statements are each their own transaction.
        if autocommit:
            return
        if readonly:
            conn.exec_driver_sql('BEGIN')
        else:
            dbapi_conn = conn.connection.dbapi_connection
            dbapi_conn.queue_for_write()
            try:
                conn.exec_driver_sql('BEGIN IMMEDIATE')
            except BaseException:
                dbapi_conn.end_write()
                raise


def _is_sqlite(url):
    return sa.engine.make_url(url).get_backend_name() == 'sqlite'


# Connections a process keeps open when [database] pool_size is not set:
# the number of its threads that may use the database at once, which the
# service gives at its start (size_pool_for).
_POOL = {'size': 10}


def size_pool_for(threads):
    """Keep ``threads`` connections open in this process's pools (its
    threads that may use the database at once), unless [database]
    pool_size is set. Call before the first engine is made.

    A pool smaller than that opens and closes a connection for every
    transaction beyond it (SQLAlchemy closes an overflow connection when
    it is returned): on PostgreSQL a new server process each time, which
    loads its caches and compiles the trigger functions again - a fifth of
    the server's CPU per cluster created with 32 flow workers and 10 kept
    connections (issue 11).
    """
    _POOL['size'] = max(1, int(threads))


def pool_size():
    """Connections kept open per pool (not SQLite)."""
    return CONF.database.pool_size or _POOL['size']


def application_name():
    """This process's name for the database server: its program's
    (``caas-api``, ``caas-conductor``), at most 63 characters (what
    PostgreSQL keeps)."""
    return os.path.basename(sys.argv[0] or 'caas')[:63] or 'caas'


def create_engine(url=None, readonly=False, autocommit=False):
    url = url or CONF.database.connection
    kwargs = {'echo': CONF.database.connection_debug, 'future': True}
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == 'sqlite':
        kwargs['connect_args'] = {'check_same_thread': False,
                                  'timeout': CONF.database.sqlite_busy_timeout}
        if not (readonly or autocommit):
            kwargs['connect_args']['factory'] = type(
                '_QueuedWriter', (_QueuedWriterConnection,), {
                    'writers': WriterQueue(),
                    'wait_timeout': CONF.database.sqlite_busy_timeout})
        kwargs['poolclass'] = sa.pool.QueuePool
        kwargs['pool_size'] = 8
        kwargs['max_overflow'] = 32
    else:
        kwargs['pool_size'] = pool_size()
        kwargs['max_overflow'] = CONF.database.max_overflow
        # No ping per checkout: on PostgreSQL it cost a SELECT 1 and a SET
        # on every transaction. A connection the server dropped fails its
        # statement as a disconnect, and SQLAlchemy then invalidates the
        # whole pool, so only that request fails.
        kwargs['pool_pre_ping'] = False
        kwargs['pool_recycle'] = CONF.database.connection_recycle_time
        if parsed.get_backend_name() == 'postgresql' and \
                parsed.get_driver_name() == 'psycopg2':
            # READ COMMITTED (the compare-and-set updates rely on it) as a
            # startup option of each connection: set once, not per BEGIN.
            kwargs['connect_args'] = {
                'options': '-c default_transaction_isolation=read\\ '
                           'committed'}
            # Which service holds a connection, in pg_stat_activity (and
            # the server's log lines with %a): the program's name, unless
            # the URL names it.
            if 'application_name' not in parsed.query:
                kwargs['connect_args']['application_name'] = \
                    application_name()
        else:
            kwargs['isolation_level'] = 'READ COMMITTED'
        if autocommit:
            # Set once per connection, not per checkout.
            kwargs['isolation_level'] = 'AUTOCOMMIT'
    engine = sa.create_engine(url, **kwargs)
    if parsed.get_backend_name() == 'sqlite':
        _configure_sqlite(engine, readonly, autocommit)
    else:
        event.listen(engine, 'handle_error', _on_error)
    return engine


def _on_error(context):
    """A connection the server dropped: SQLAlchemy invalidates the pool it
    came from; the process's other engines (same server) drop their idle
    connections too (``dispose(close=False)``: connections in use finish
    their work and are not reused). Without it, each engine's first
    request after a database restart failed with a 503 when it came,
    however long after the restart (a DELETE after minutes of GETs served
    by the other engine)."""
    if not context.is_disconnect:
        return
    with _lock:
        others = [e for e in _engines.values() if e is not context.engine]
    for other in others:
        other.dispose(close=False)


def _made_once(key, make):
    """The process's engine under ``key``, made by ``make`` the first time
    (by one thread only)."""
    engine = _engines.get(key)
    if engine is None:
        with _lock:
            engine = _engines.get(key)
            if engine is None:
                engine = _engines[key] = make()
    return engine


def get_engine(readonly=False):
    """The process's engine; on SQLite a separate one for read-only work."""
    readonly = readonly and _is_sqlite(CONF.database.connection)

    def make():
        engine = create_engine(readonly=readonly)
        _sessionmakers[readonly] = orm.sessionmaker(
            bind=engine, expire_on_commit=False)
        return engine
    return _made_once(readonly, make)


def get_autocommit_engine():
    """An engine whose connections run each statement as its own
    transaction (PostgreSQL): a read that is one statement needs no BEGIN
    and no COMMIT, two round trips of three. Only for work that is one
    statement: reads, whose one snapshot is then the same as in a
    transaction, and PostgreSQL's one-statement cluster create
    (``caas.db.cluster_create``, whose quota trigger runs as it commits).
    Its own pool, as large as the main one's (connections
    are opened as concurrent reads need them). On SQLite its statements
    must only read (it takes no write turn): one SELECT outside a
    transaction is its own snapshot there too, and the ``BEGIN`` it saves
    is a call into SQLite, which releases the interpreter's lock and waits
    to get it back behind busy threads (caas-all)."""
    return _made_once('autocommit',
                      lambda: create_engine(autocommit=True))


def dispose():
    """Forget the engines (tests, or after the connection URL changed)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _sessionmakers.clear()


@contextlib.contextmanager
def session_scope(readonly=False):
    """One transaction: commit on success, roll back on any error.

    ``readonly`` transactions must not write; on SQLite they skip the
    write lock so status reads do not queue behind the conductors' writes.
    """
    readonly = readonly and _is_sqlite(CONF.database.connection)
    get_engine(readonly)
    session = _sessionmakers[readonly]()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


def update_returning(session, stmt, key, *columns):
    """Run a conditional UPDATE and return ``columns`` of the row it changed.

    ``stmt.returning(*columns)`` where the database has UPDATE ... RETURNING
    (PostgreSQL, SQLite). MySQL and MariaDB have none: there the UPDATE runs
    alone and, if it matched, the row is read back by ``key`` (a WHERE
    clause naming that one row) in the same transaction. The UPDATE holds
    the row's exclusive lock until commit, so the read sees exactly what
    this transaction wrote. Returns a Row, or None if nothing matched.
    """
    if session.get_bind().dialect.update_returning:
        return session.execute(stmt.returning(*columns)).first()
    if session.execute(stmt).rowcount != 1:
        return None
    return session.execute(sa.select(*columns).where(key)).first()


def reencrypt_column(model, attribute, reencrypt, batch=100):
    """Replace ``attribute`` (a Fernet token) of every row of ``model``
    with ``reencrypt(token, row.cluster_uuid)`` (``caas-manage pki
    rekey``). Keyset-paged by id, one transaction a page: a large table is
    never held in memory or in one transaction. :returns: rows rewritten.
    """
    done, last_id = 0, 0
    while True:
        with session_scope() as session:
            rows = list(session.scalars(sa.select(model).where(
                model.id > last_id).order_by(model.id).limit(batch)))
            if not rows:
                return done
            for row in rows:
                setattr(row, attribute, reencrypt(getattr(row, attribute),
                                                  row.cluster_uuid))
                last_id = row.id
            done += len(rows)
