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


def test_an_event_racing_a_claim_is_refused(pg):
    cluster, op = make_cluster()
    with pg.begin() as conn:
        conn.execute(sa.update(models.Operation).values(
            owner='a', epoch=1, state=states.OP_RUNNING))
    old = ownership.Fence(op.id, cluster.uuid, 'a', 1)
    db_events.record(old, 'p1', 'cluster_create', states.EV_STARTED)
    # Another conductor's claim is in flight (row locked, not committed)...
    claimer = pg.connect()
    claim_tx = claimer.begin()
    claimer.execute(sa.update(models.Operation).where(
        models.Operation.id == op.id).values(owner='b', epoch=2))
    outcome = []

    def write():
        try:
            outcome.append(db_events.record(
                old, 'p1', 'cluster_create', states.EV_PROGRESS,
                status_reason='step 3/5 stale'))
        except exceptions.FencedOut as exc:
            outcome.append(exc)
    writer = threading.Thread(target=write)
    writer.start()
    # ...the old owner's event waits for it instead of reading around it.
    writer.join(1.0)
    assert writer.is_alive() and outcome == []
    claim_tx.commit()
    claimer.close()
    writer.join(10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], exceptions.FencedOut)
    rows = db_events.list_events(scope=db_api.ALL_PROJECTS, cluster_id=cluster.uuid)
    assert [(r.conductor, r.epoch, r.state) for r in rows] == [
        ('a', 1, states.EV_STARTED)]
    with pg.connect() as conn:
        reason = conn.execute(sa.select(models.Cluster.status_reason)).scalar()
    assert reason != 'step 3/5 stale'
