"""The cluster quota on PostgreSQL: creates of one project racing at the
limit are counted one after the other, so they cannot all pass."""

import threading

import pytest
import sqlalchemy as sa

from caas.common import exceptions
from caas.conf import CONF
from caas.db import api as db_api
from caas.db import migration
from caas.db import quotas
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.integration import deployment

pytestmark = pytest.mark.integration

PROJECT = 'p-race'


@pytest.fixture
def pg(services):
    CONF.set_override('connection', deployment.create_database(
        services['db_url']), group='database')
    engine.dispose()
    migration.upgrade()
    yield engine.get_engine()
    engine.dispose()
    CONF.clear_override('connection', group='database')


def _template():
    return db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'img',
        'project_id': PROJECT, 'server_type': 'vm', 'driver': 'fake',
        'labels': {}})


def _create(template, name, limit):
    return db_api.create_cluster(
        {'name': name, 'project_id': PROJECT,
         'cluster_template_id': template.uuid, 'node_count': 1,
         'master_count': 1, 'labels': {}},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1,
          'is_default': True},
         {'name': 'default-worker', 'role': 'worker', 'node_count': 1,
          'is_default': True}],
        timeout_minutes=5,
        quota_check=quotas.cluster_quota_check(limit))


def _count():
    with engine.session_scope(readonly=True) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(
            models.Cluster).where(models.Cluster.project_id == PROJECT))


def _race(template, threads, limit):
    """Start ``threads`` creates at once; returns (created, refused)."""
    barrier = threading.Barrier(threads)
    created, refused, other = [], [], []

    def one(i):
        barrier.wait()
        try:
            created.append(_create(template, 'c%d' % i, limit))
        except exceptions.QuotaExceeded as exc:
            refused.append(exc)
        except Exception as exc:    # noqa: BLE001 - reported below
            other.append(exc)
    workers = [threading.Thread(target=one, args=(i,))
               for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert other == []
    assert not any(w.is_alive() for w in workers)
    return created, refused


def test_concurrent_first_creates_at_a_limit_of_one(pg):
    # No lock row yet: both creates try to make it.
    template = _template()
    for attempt in range(5):
        # The clusters' deletes are counted as their transaction commits:
        # the lock rows go once that is done.
        with pg.begin() as conn:
            conn.execute(sa.delete(models.Cluster))
        with pg.begin() as conn:
            conn.execute(sa.delete(models.QuotaLock))
        created, refused = _race(template, 2, limit=1)
        assert (len(created), len(refused)) == (1, 1), attempt
        assert _count() == 1


def test_many_concurrent_creates_never_pass_the_limit(pg):
    template = _template()
    created, refused = _race(template, 8, limit=3)
    assert len(created) == 3
    assert len(refused) == 5
    assert _count() == 3
    for exc in refused:
        assert exc.code == 403
        assert PROJECT in str(exc) and '3' in str(exc)


def test_a_create_waits_for_one_that_holds_the_project(pg):
    template = _template()
    _create(template, 'first', limit=5)         # the lock row exists now
    # A create at the limit is in flight: counted, inserted, not committed.
    holder = engine.session_scope()
    session = holder.__enter__()
    quotas.check_cluster_quota(session, PROJECT, 2)
    session.add(models.Cluster(
        uuid='00000000-0000-0000-0000-000000000002', name='second',
        project_id=PROJECT, cluster_template_id=template.uuid, node_count=1,
        master_count=1, status='CREATE_IN_PROGRESS', labels={}))
    session.flush()
    outcome = []

    def third():
        try:
            outcome.append(_create(template, 'third', limit=2))
        except exceptions.QuotaExceeded as exc:
            outcome.append(exc)
    racer = threading.Thread(target=third)
    racer.start()
    # It waits on the project's lock instead of counting around it...
    racer.join(1.0)
    assert racer.is_alive() and outcome == []
    holder.__exit__(None, None, None)
    racer.join(10)
    # ...and once the second committed, it sees two clusters.
    assert len(outcome) == 1
    assert isinstance(outcome[0], exceptions.QuotaExceeded)
    assert _count() == 2


def test_a_quota_row_is_read_under_the_lock(pg):
    template = _template()
    quotas.create_quota(PROJECT, quotas.CLUSTER, 1)
    _create(template, 'one', limit=100)
    with pytest.raises(exceptions.QuotaExceeded) as exc:
        _create(template, 'two', limit=100)
    assert 'set for the project' in str(exc.value)
