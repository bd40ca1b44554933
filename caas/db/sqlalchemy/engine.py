"""Engine and sessions for the one caas database, one engine per process."""

import contextlib
import threading

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import orm

from caas.conf import CONF

_lock = threading.Lock()
_engine = None
_sessionmaker = None


def _configure_sqlite(engine):
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
        conn.exec_driver_sql('BEGIN IMMEDIATE')


def create_engine(url=None):
    url = url or CONF.database.connection
    kwargs = {'echo': CONF.database.connection_debug, 'future': True}
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == 'sqlite':
        kwargs['connect_args'] = {'check_same_thread': False,
                                  'timeout': CONF.database.sqlite_busy_timeout}
        kwargs['poolclass'] = sa.pool.QueuePool
        kwargs['pool_size'] = 8
        kwargs['max_overflow'] = 32
    else:
        kwargs['pool_size'] = CONF.database.pool_size
        kwargs['max_overflow'] = CONF.database.max_overflow
        kwargs['pool_pre_ping'] = True
        kwargs['isolation_level'] = 'READ COMMITTED'
    engine = sa.create_engine(url, **kwargs)
    if parsed.get_backend_name() == 'sqlite':
        _configure_sqlite(engine)
    return engine


def get_engine():
    global _engine, _sessionmaker
    if _engine is None:
        with _lock:
            if _engine is None:
                _engine = create_engine()
                _sessionmaker = orm.sessionmaker(
                    bind=_engine, expire_on_commit=False)
    return _engine


def dispose():
    """Forget the engine (tests, or after the connection URL changed)."""
    global _engine, _sessionmaker
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _sessionmaker = None


@contextlib.contextmanager
def session_scope():
    """One transaction: commit on success, roll back on any error."""
    get_engine()
    session = _sessionmaker()
    try:
        with session.begin():
            yield session
    finally:
        session.close()
