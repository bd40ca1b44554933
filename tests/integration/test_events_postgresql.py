"""Fenced events on PostgreSQL: a claim that commits while an event is being
written wins; the event is refused, not written under the old epoch."""

import threading

import pytest
import sqlalchemy as sa

from caas.common import exceptions
from caas.common import states
from caas.conductor import ownership
from caas.conf import CONF
from caas.db import api as db_api
from caas.db import events as db_events
from caas.db import migration
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.integration import deployment
from tests.unit.conductor.conftest import make_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
def pg(services):
    CONF.set_override('connection', deployment.create_database(
        services['db_url']), group='database')
    engine.dispose()
    migration.upgrade()
    yield engine.get_engine()
    engine.dispose()
    CONF.clear_override('connection', group='database')


def _running_fence(pg):
    """A cluster whose create conductor 'a' holds at epoch 1."""
    cluster, op = make_cluster()
    with pg.begin() as conn:
        conn.execute(sa.update(models.Operation).values(
            owner='a', epoch=1, state=states.OP_RUNNING))
    return cluster, op, ownership.Fence(op.id, cluster.uuid, 'a', 1)


def _write_during_a_claim(pg, op, write):
    """``write()`` while conductor 'b''s claim of ``op`` is in flight (row
    locked, not committed): asserts the write waits for the claim, then
    returns what it returned or raised once the claim committed."""
    claimer = pg.connect()
    claim_tx = claimer.begin()
    claimer.execute(sa.update(models.Operation).where(
        models.Operation.id == op.id).values(owner='b', epoch=2))
    outcome = []

    def run():
        try:
            outcome.append(write())
        except exceptions.FencedOut as exc:
            outcome.append(exc)
    writer = threading.Thread(target=run)
    writer.start()
    # The write waits for the claim's lock on the operation row instead
    # of reading around it...
    writer.join(1.0)
    assert writer.is_alive() and outcome == []
    claim_tx.commit()
    claimer.close()
    writer.join(10)
    assert len(outcome) == 1
    return outcome[0]


def test_an_event_racing_a_claim_is_refused(pg):
    cluster, op, old = _running_fence(pg)
    db_events.record(old, 'p1', 'cluster_create', states.EV_STARTED)
    # Another conductor's claim is in flight; the old owner's event waits
    # for it, then sees the new epoch.
    outcome = _write_during_a_claim(pg, op, lambda: db_events.record(
        old, 'p1', 'cluster_create', states.EV_PROGRESS,
        status_reason='step 3/5 stale'))
    assert isinstance(outcome, exceptions.FencedOut)
    rows = db_events.list_events(scope=db_api.ALL_PROJECTS, cluster_id=cluster.uuid)
    assert [(r.conductor, r.epoch, r.state) for r in rows] == [
        ('a', 1, states.EV_STARTED)]
    with pg.connect() as conn:
        reason = conn.execute(sa.select(models.Cluster.status_reason)).scalar()
    assert reason != 'step 3/5 stale'


def _two_events():
    return [db_events.event(states.EV_SUCCEEDED, 'make-credential', 2, 7,
                            data={'trust': 't-1'}),
            db_events.event(states.EV_STARTED, 'create-stack', 3, 7)]


def test_several_events_are_one_statement_in_their_order(pg):
    cluster, _op, fence = _running_fence(pg)
    inserts = []

    def count(conn, cursor, statement, *args):
        if statement.startswith('INSERT INTO events'):
            inserts.append(statement)
    sa.event.listen(pg, 'before_cursor_execute', count)
    try:
        ids = db_events.record_all(fence, 'p1', 'cluster_create',
                                   _two_events() + [db_events.event(
                                       states.EV_PROGRESS, 'create-stack',
                                       3, 7, message='m')],
                                   status_reason='step 3/7')
    finally:
        sa.event.remove(pg, 'before_cursor_execute', count)
    assert len(inserts) == 1
    rows = db_events.list_events(scope=db_api.ALL_PROJECTS,
                                 cluster_id=cluster.uuid)
    assert [r.id for r in rows] == ids
    assert [(r.step, r.step_index, r.step_count, r.state, r.data,
             r.message, r.conductor, r.epoch, r.kind) for r in rows] == [
        ('make-credential', 2, 7, states.EV_SUCCEEDED, {'trust': 't-1'},
         None, 'a', 1, 'cluster_create'),
        ('create-stack', 3, 7, states.EV_STARTED, None, None, 'a', 1,
         'cluster_create'),
        ('create-stack', 3, 7, states.EV_PROGRESS, None, 'm', 'a', 1,
         'cluster_create')]
    assert all(r.created_at is not None for r in rows)
    with pg.connect() as conn:
        assert conn.execute(sa.select(
            models.Cluster.status_reason)).scalar() == 'step 3/7'


def test_several_events_racing_a_claim_are_all_refused(pg):
    cluster, op, old = _running_fence(pg)
    outcome = _write_during_a_claim(pg, op, lambda: db_events.record_all(
        old, 'p1', 'cluster_create', _two_events(), status_reason='stale'))
    # ...then sees the new epoch: no event is written.
    assert isinstance(outcome, exceptions.FencedOut)
    assert db_events.list_events(scope=db_api.ALL_PROJECTS,
                                 cluster_id=cluster.uuid) == []
    with pg.connect() as conn:
        assert conn.execute(sa.select(
            models.Cluster.status_reason)).scalar() != 'stale'


def test_the_status_line_of_an_operation_no_longer_current_is_not_written(
        pg):
    # The cluster moved on to another operation: the old one's events are
    # still recorded (its own history), its progress line is not shown.
    cluster, op, fence = _running_fence(pg)
    with pg.begin() as conn:
        conn.execute(sa.update(models.Cluster).values(
            operation_id='another', status_reason='theirs'))
    ids = db_events.record_all(fence, 'p1', 'cluster_create', _two_events(),
                               status_reason='mine')
    assert len(ids) == 2
    with pg.connect() as conn:
        assert conn.execute(sa.select(
            models.Cluster.status_reason)).scalar() == 'theirs'


def test_the_operation_is_locked_before_the_cluster(pg):
    """A progress write takes its locks in one order: the operation row
    (the claim, by the events' insert), then the cluster row (the status
    line). While another transaction holds the cluster row, the write
    waits with the operation row already locked; it then completes."""
    cluster, op, fence = _running_fence(pg)
    holder = pg.connect()
    hold = holder.begin()
    holder.execute(sa.update(models.Cluster).where(
        models.Cluster.uuid == cluster.uuid).values(health_status='UNKNOWN'))
    outcome = []
    writer = threading.Thread(target=lambda: outcome.append(
        db_events.record_all(fence, 'p1', 'cluster_create', _two_events(),
                             status_reason='step 3/7')))
    writer.start()
    try:
        writer.join(1.0)
        assert writer.is_alive() and outcome == []
        with pg.connect() as probe:
            with pytest.raises(sa.exc.OperationalError, match='(?i)lock'):
                # PostgreSQL: "could not obtain lock on row"; MariaDB:
                # 1205 "Lock wait timeout exceeded", at once too.
                probe.execute(sa.text(
                    'SELECT id FROM operations WHERE id = :id '
                    'FOR UPDATE NOWAIT'), {'id': op.id})
    finally:
        hold.commit()
        holder.close()
        writer.join(10)
    assert len(outcome) == 1 and len(outcome[0]) == 2
    with pg.connect() as conn:
        assert conn.execute(sa.select(
            models.Cluster.status_reason)).scalar() == 'step 3/7'
