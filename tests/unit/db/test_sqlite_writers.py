"""SQLite write transactions queue on a lock of the process's engine."""

import threading

import pytest
import sqlalchemy as sa

from caas.db.sqlalchemy import engine as engine_mod


def _writer_lock(engine):
    with engine.connect() as conn:
        return type(conn.connection.dbapi_connection).writers


@pytest.fixture
def counter(db):
    with db.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE bench_counter (n INTEGER)')
        conn.exec_driver_sql('INSERT INTO bench_counter VALUES (0)')
    return db


def _value(engine):
    with engine.connect() as conn:
        return conn.exec_driver_sql('SELECT n FROM bench_counter').scalar()


def test_concurrent_writers_lose_no_update(counter):
    # A read-modify-write in each transaction: only serialised writers
    # (the lock, then SQLite's) keep every increment.
    def bump():
        for _ in range(25):
            with counter.begin() as conn:
                n = conn.exec_driver_sql(
                    'SELECT n FROM bench_counter').scalar()
                conn.exec_driver_sql('UPDATE bench_counter SET n = ?',
                                     (n + 1,))
    threads = [threading.Thread(target=bump) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _value(counter) == 300
    assert not _writer_lock(counter).locked()


def test_the_lock_is_held_for_the_transaction_only(counter):
    lock = _writer_lock(counter)
    with counter.begin() as conn:
        conn.exec_driver_sql('UPDATE bench_counter SET n = 1')
        assert lock.locked()
    assert not lock.locked()


def test_a_failed_transaction_releases_the_lock(counter):
    lock = _writer_lock(counter)
    with pytest.raises(sa.exc.OperationalError):
        with counter.begin() as conn:
            conn.exec_driver_sql('UPDATE no_such_table SET n = 1')
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        with counter.begin() as conn:
            conn.exec_driver_sql('UPDATE bench_counter SET n = 7')
            raise RuntimeError('a bug inside the transaction')
    assert not lock.locked()
    assert _value(counter) == 0


@pytest.mark.parametrize('invalidate', [False, True],
                         ids=['returned', 'invalidated'])
def test_a_connection_dropped_mid_transaction_releases_the_lock(counter,
                                                                invalidate):
    # Returned: the pool's reset rolls back what was left open.
    lock = _writer_lock(counter)
    conn = counter.connect()
    conn.begin()
    conn.exec_driver_sql('UPDATE bench_counter SET n = 5')
    assert lock.locked()
    if invalidate:
        conn.invalidate()
    conn.close()
    assert not lock.locked()
    assert _value(counter) == 0


def test_a_failed_begin_releases_the_lock(counter, tmp_path, conf):
    # Another process's write lock (here a connection outside the engine)
    # makes BEGIN IMMEDIATE fail after the busy timeout.
    import sqlite3
    conf('sqlite_busy_timeout', 1, group='database')
    path = tmp_path / 'caas.sqlite'
    engine = engine_mod.create_engine('sqlite:///%s' % path)
    other = sqlite3.connect(str(path), isolation_level=None)
    other.execute('BEGIN IMMEDIATE')
    try:
        with pytest.raises(sa.exc.OperationalError):
            with engine.begin() as conn:
                conn.exec_driver_sql('UPDATE bench_counter SET n = 1')
        assert not _writer_lock(engine).locked()
    finally:
        other.rollback()
        other.close()
    with engine.begin() as conn:
        conn.exec_driver_sql('UPDATE bench_counter SET n = 1')
    assert _value(engine) == 1
    engine.dispose()


def test_readers_do_not_queue_behind_a_writer(counter):
    reader = engine_mod.get_engine(readonly=True)
    with counter.begin() as conn:
        conn.exec_driver_sql('UPDATE bench_counter SET n = 3')
        # The writer holds the lock; a read still answers (the last
        # committed value).
        assert _value(reader) == 0
    assert _value(reader) == 3


def test_each_engine_has_its_own_lock(db, tmp_path, conf):
    other = engine_mod.create_engine('sqlite:///%s' % (tmp_path / 'x.db'))
    try:
        assert _writer_lock(other) is not _writer_lock(db)
    finally:
        other.dispose()


def _run_named(name, target):
    t = threading.Thread(target=target, name=name)
    t.start()
    return t


def _wait_until(predicate):
    for _ in range(2000):
        if predicate():
            return
        threading.Event().wait(0.005)
    raise AssertionError('never happened')


def test_an_api_writer_goes_before_queued_background_writers():
    queue = engine_mod.WriterQueue()
    order = []

    def write(label):
        def run():
            assert queue.acquire(timeout=30)
            order.append(label)
            queue.release()
        return run
    assert queue.acquire(timeout=1)
    flows = [_run_named('flow_%d' % i, write('flow')) for i in range(3)]
    _wait_until(lambda: queue.waiting == 3)
    api = _run_named('waitress-0', write('api'))
    _wait_until(lambda: queue.urgent_waiting == 1)
    queue.release()
    for t in flows + [api]:
        t.join(10)
    assert order == ['api', 'flow', 'flow', 'flow']
    assert not queue.locked()


def test_a_writer_that_gives_up_hands_its_turn_on():
    queue = engine_mod.WriterQueue()
    got = []
    assert queue.acquire(timeout=1)
    impatient = _run_named('flow_a', lambda: got.append(
        ('impatient', queue.acquire(timeout=0.2))))
    patient = _run_named('flow_b', lambda: got.append(
        ('patient', queue.acquire(timeout=30))))
    impatient.join(10)
    queue.release()
    patient.join(10)
    assert got == [('impatient', False), ('patient', True)]
    assert queue.locked()
