"""Two POST /v1/clusters of one project racing at a quota of 1 on
PostgreSQL, each on its own connection: the second must wait for the
first's quota lock and then count the first's cluster (one 202, one 403).

The first create is held after it took the lock and before it counts;
the second is then let run until PostgreSQL shows it waiting for a lock
(or it finished, which is the failure this test exists for)."""

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


def _waiting_for_a_lock(admin, dbname):
    with admin.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
            "AND wait_event_type = 'Lock'"), {'db': dbname}).scalar()


def _count(project):
    with engine.session_scope() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(
            models.Cluster).where(models.Cluster.project_id == project))


@pytest.mark.parametrize('lock_row', [False, True],
                         ids=['first-create', 'lock-row-exists'])
def test_two_creates_at_a_quota_of_one(api, template, database, services,
                                       conf, monkeypatch, lock_row):
    conf('max_clusters_per_project', 1, group='quotas')
    if lock_row:
        # An earlier create of the project made the lock row.
        with engine.session_scope() as session:
            session.add(models.QuotaLock(project_id='project-a',
                                         resource=quotas.CLUSTER))
    first_locked, go_on = threading.Event(), threading.Event()
    check_count = quotas._check_count

    def held_check(session, *args, **kwargs):
        if threading.current_thread().name == 'first':
            first_locked.set()
            assert go_on.wait(60)
        return check_count(session, *args, **kwargs)

    monkeypatch.setattr(quotas, '_check_count', held_check)
    app = api.client.application
    codes = {}

    def post(name):
        resp = Api(app).post('/v1/clusters', {
            'name': name, 'cluster_template_id': template['uuid']},
            headers=PROJECT_A)
        codes[name] = (resp.status_code, resp.json_body)

    first = threading.Thread(target=post, args=('first',), name='first')
    second = threading.Thread(target=post, args=('second',), name='second')
    first.start()
    assert first_locked.wait(60)
    second.start()
    admin = sa.create_engine(services['db_url'], poolclass=sa.pool.NullPool)
    dbname = sa.engine.make_url(database).database
    waited = False
    deadline = time.monotonic() + 60
    while second.is_alive() and time.monotonic() < deadline:
        if _waiting_for_a_lock(admin, dbname):
            waited = True
            break
        time.sleep(0.05)
    admin.dispose()
    go_on.set()
    first.join(60)
    second.join(60)
    assert codes['first'][0] == 202, codes
    assert codes['second'][0] == 403, codes
    assert 'Quota exceeded for project project-a' in \
        codes['second'][1]['errors'][0]['detail']
    assert waited
    assert _count('project-a') == 1
