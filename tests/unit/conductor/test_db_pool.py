"""A process keeps open as many database connections as it has threads
that use the database at once (issue 11): a smaller pool closes and opens
a connection - on PostgreSQL a server process - for each transaction
beyond it."""

import threading

import pytest
import sqlalchemy as sa

from caas.clients import cloud
from caas.conductor import service
from caas.db.sqlalchemy import engine


@pytest.fixture(autouse=True)
def default_pool(monkeypatch):
    # size_pool_for sets a process-wide default: undone after each test.
    monkeypatch.setitem(engine._POOL, 'size', 10)


def _connections_opened(url, threads, rounds=4):
    """Connections ``threads`` threads open in ``rounds`` rounds of one
    transaction each: all threads in a transaction at once, then none (as
    a conductor's flow workers, all busy, then all waiting for the
    cloud)."""
    eng = engine.create_engine(url)
    opened = []
    sa.event.listen(eng, 'connect', lambda *_: opened.append(1))
    barrier = threading.Barrier(threads)

    def work():
        for _ in range(rounds):
            with eng.begin() as conn:
                conn.execute(sa.text('SELECT 1'))
                # Every thread holds its connection at the same moment.
                barrier.wait(timeout=30)
            # And none.
            barrier.wait(timeout=30)
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(60)
        assert not any(t.is_alive() for t in workers)
    finally:
        eng.dispose()
    return len(opened)


def _url(eng):
    return eng.url.render_as_string(hide_password=False)


def test_a_pool_sized_for_the_threads_opens_each_connection_once(pg_db):
    engine.size_pool_for(12)
    assert _connections_opened(_url(pg_db), 12) == 12


def test_a_smaller_pool_opens_connections_again_and_again(pg_db):
    # What the conductor did with its 32 flow workers and 10 connections.
    engine.size_pool_for(4)
    assert _connections_opened(_url(pg_db), 12) > 12


def test_a_conductor_keeps_a_connection_per_worker_and_some(db, sim, conf):
    conf('workers', 5, group='conductor')
    svc = service.ConductorService(host='c1', clients=cloud.CloudClients())
    try:
        assert engine.pool_size() == 13
    finally:
        svc.runner.shutdown(wait=True, timeout=10)


def test_the_operators_pool_size_wins(conf):
    conf('pool_size', 3, group='database')
    engine.size_pool_for(50)
    assert engine.pool_size() == 3
    assert engine.create_engine(
        'postgresql+psycopg2://u@127.0.0.1:1/x').pool.size() == 3
