"""Two POST /v1/clusters of one project racing at a quota of 1 on
PostgreSQL, each on its own connection: the second must wait for the
first's quota lock and then count the first's cluster (one 202, one 403).

On PostgreSQL the lock and the count are the quota trigger's, run as the
create's one statement commits (migration 0004c). The first create is
held there after it took the lock and before it counts (its read of the
quota waits for a lock this test holds on the quotas table); the second
is then let run until PostgreSQL shows it waiting for the first (or it
finished, which is the failure this test exists for)."""

import threading
import time

import pytest
import sqlalchemy as sa

from caas.conf import CONF
from caas.db import migration
from caas.db import quotas
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.api.conftest import Api
from tests.unit.api.conftest import PROJECT_A


@pytest.fixture
def database(services):
    """The api fixture's database on PostgreSQL."""
    from tests.integration import deployment
    url = deployment.create_database(services['db_url'])
    CONF.set_override('connection', url, group='database')
    engine.dispose()
    migration.upgrade()
    engine.dispose()
    yield url
    engine.dispose()
    CONF.clear_override('connection', group='database')


def _blocked_by(admin, dbname, pid):
    """The backends of ``dbname`` waiting for a lock ``pid`` holds."""
    with admin.connect() as conn:
        return conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = :db "
            "AND :pid = ANY(pg_blocking_pids(pid))"),
            {'db': dbname, 'pid': pid}).scalars().all()


def _wait_for(find, thread, seconds=30):
    """The first non-empty ``find()`` while ``thread`` runs, or []."""
    deadline = time.monotonic() + seconds
    while thread.is_alive() and time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.05)
    return []


def _count(project):
    with engine.session_scope() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(
            models.Cluster).where(models.Cluster.project_id == project))


@pytest.mark.parametrize('lock_row', [False, True],
                         ids=['first-create', 'lock-row-exists'])
def test_two_creates_at_a_quota_of_one(api, template, database, services,
                                       conf, lock_row):
    conf('max_clusters_per_project', 1, group='quotas')
    if lock_row:
        # An earlier create of the project made the lock row.
        with engine.session_scope() as session:
            session.add(models.QuotaLock(project_id='project-a',
                                         resource=quotas.CLUSTER))
    app = api.client.application
    codes = {}

    def post(name):
        resp = Api(app).post('/v1/clusters', {
            'name': name, 'cluster_template_id': template['uuid']},
            headers=PROJECT_A)
        codes[name] = (resp.status_code, resp.json_body)

    admin = sa.create_engine(services['db_url'], poolclass=sa.pool.NullPool)
    dbname = sa.engine.make_url(database).database
    # The hold point: the quota trigger reads the project's quota after it
    # took the lock and before it counts; this transaction keeps the
    # quotas table from it until let go.
    holder = sa.create_engine(database, poolclass=sa.pool.NullPool)
    hold = holder.connect()
    hold.begin()
    hold.execute(sa.text('LOCK TABLE quotas IN ACCESS EXCLUSIVE MODE'))
    hold_pid = hold.execute(sa.text('SELECT pg_backend_pid()')).scalar()
    first = threading.Thread(target=post, args=('first',), name='first')
    second = threading.Thread(target=post, args=('second',), name='second')
    try:
        first.start()
        first_pid = _wait_for(lambda: _blocked_by(admin, dbname, hold_pid),
                              first)
        assert len(first_pid) == 1, codes
        second.start()
        # The second create waits for the first's lock instead of counting
        # around it.
        waited = _wait_for(
            lambda: _blocked_by(admin, dbname, first_pid[0]), second)
    finally:
        hold.rollback()
        hold.close()
        holder.dispose()
        first.join(60)
        second.join(60)
        admin.dispose()
    assert codes['first'][0] == 202, codes
    assert codes['second'][0] == 403, codes
    assert codes['second'][1]['errors'][0]['detail'].startswith(
        'Quota exceeded for project project-a: its Cluster quota (the '
        'default, [quotas] max_clusters_per_project) is 1 and the project '
        'already has 1.')
    assert waited
    assert _count('project-a') == 1
