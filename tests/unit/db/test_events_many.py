"""Several events in one fenced INSERT (SQLite; PostgreSQL in
tests/integration/test_events_postgresql.py)."""

import sqlalchemy as sa

from caas.common import exceptions
from caas.common import states
from caas.conductor import ownership
from caas.db import api as db_api
from caas.db import events as db_events
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
from tests.unit.conductor.conftest import make_cluster


def _events(n):
    return [db_events.event(states.EV_PROGRESS, 'step-%d' % i, i, n,
                            message='m%d' % i, data={'i': i})
            for i in range(n)]


def _inserts(fn):
    seen = []

    def count(conn, cursor, statement, *args):
        if statement.startswith('INSERT INTO events'):
            seen.append(statement)
    eng = engine.get_engine()
    sa.event.listen(eng, 'before_cursor_execute', count)
    try:
        return fn(), seen
    finally:
        sa.event.remove(eng, 'before_cursor_execute', count)


def test_several_events_go_in_one_insert_in_their_order(db):
    cluster, op = make_cluster(driver=None)
    fence = ownership.Fence(op.id, cluster.uuid, 'c1',
                            db_ops.claim(op.id, 'c1'))
    for n in (1, 2, 3):
        ids, inserts = _inserts(lambda: db_events.record_all(
            fence, 'p', 'cluster_create', _events(n)))
        assert len(inserts) == 1 and len(ids) == n
    rows = db_events.list_events(scope=db_api.ALL_PROJECTS,
                                 operation_id=op.id)
    assert [(r.step, r.step_index, r.step_count, r.message, r.data,
             r.epoch) for r in rows] == [
        ('step-%d' % i, i, n, 'm%d' % i, {'i': i}, 1)
        for n in (1, 2, 3) for i in range(n)]


def test_several_events_of_a_lost_claim_are_none_written(db):
    cluster, op = make_cluster(driver=None)
    fence = ownership.Fence(op.id, cluster.uuid, 'c1',
                            db_ops.claim(op.id, 'c1'))
    assert db_ops.claim(op.id, 'c2', expect_owner='c1', expect_epoch=1)
    for n in (1, 2, 3):
        try:
            db_events.record_all(fence, 'p', 'cluster_create', _events(n),
                                 status_reason='stale')
        except exceptions.FencedOut:
            pass
        else:
            raise AssertionError('%d events written under a lost claim' % n)
    assert db_events.list_events(scope=db_api.ALL_PROJECTS,
                                 operation_id=op.id) == []
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS) \
        .status_reason != 'stale'
