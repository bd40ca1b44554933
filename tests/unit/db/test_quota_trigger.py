"""The cluster quota trigger (migration 0004c, PostgreSQL): it checks the
creates that hand it their default limit and no other write, its error is
the 403 and no other error is, a database without it keeps the check in
the create's transaction, and the migration goes down and up again
(SQLite and PostgreSQL)."""

from alembic import command
import psycopg2
import pytest
import sqlalchemy as sa

from caas.common import exceptions
from caas.db import api as db_api
from caas.db import cluster_create
from caas.db import migration
from caas.db import quotas
from caas.db.sqlalchemy import engine


@pytest.fixture(params=['sqlite', 'postgresql'])
def database(request):
    name = 'db' if request.param == 'sqlite' else 'pg_db'
    request.getfixturevalue(name)
    return request.param


def _create(name, quota_check):
    tmpl = db_api.create_cluster_template({
        'name': 't-' + name, 'coe': 'kubernetes', 'image_id': 'img',
        'project_id': 'p1', 'server_type': 'vm'})
    return db_api.create_cluster(
        {'name': name, 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': 1, 'master_count': 1, 'labels': {}},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1}],
        timeout_minutes=5, quota_check=quota_check)[0]


def _triggers():
    with engine.get_engine().connect() as conn:
        return conn.execute(sa.text(
            "SELECT tgname FROM pg_trigger WHERE tgname = "
            "'clusters_capped_by_quota'")).scalars().all()


def test_a_create_without_a_quota_check_is_not_counted(pg_db):
    _create('a', quotas.cluster_quota_check(1))
    # Over the limit of 1, but handing the trigger no limit.
    _create('b', None)
    with pytest.raises(exceptions.QuotaExceeded):
        _create('c', quotas.cluster_quota_check(2))


def test_another_database_error_is_not_a_refusal(pg_db):
    check = quotas.cluster_quota_check(1)
    with engine.get_engine().connect() as conn:
        with pytest.raises(sa.exc.DBAPIError) as raised:
            conn.execute(sa.text("SELECT 1/0"))
    assert check.refusal(raised.value.orig) is None
    assert check.refusal(ValueError('not a DB-API error')) is None
    assert isinstance(raised.value.orig, psycopg2.Error)


def test_without_the_trigger_a_create_is_checked_in_its_transaction(
        pg_db):
    with engine.get_engine().begin() as connection:
        command.downgrade(migration._config(connection), '0004b')
    engine.dispose()
    _create('a', quotas.cluster_quota_check(1))
    with pytest.raises(exceptions.QuotaExceeded):
        _create('b', quotas.cluster_quota_check(1))
    # The old path took the lock row; no trigger did.
    assert _triggers() == []


def test_the_migration_goes_down_and_up(database):
    def run(step, revision):
        with engine.get_engine().begin() as connection:
            step(migration._config(connection), revision)
    _create('a', quotas.cluster_quota_check(1))
    run(command.downgrade, '0004b')
    if database == 'postgresql':
        assert _triggers() == []
    run(command.upgrade, 'head')
    if database == 'postgresql':
        assert _triggers() == ['clusters_capped_by_quota']
    with pytest.raises(exceptions.QuotaExceeded):
        _create('b', quotas.cluster_quota_check(1))


def _prepared():
    """The create statements prepared on the autocommit engine's
    connection (the test's creates all go through that one)."""
    with engine.get_autocommit_engine().connect() as conn:
        return conn.exec_driver_sql(
            "SELECT name FROM pg_prepared_statements WHERE name LIKE "
            "'caas_cluster_create_%%'").scalars().all()


def test_a_create_refused_on_its_first_use_of_a_connection_leaves_it_usable(
        pg_db):
    # The connection's first create prepares the statement in the message
    # whose EXECUTE the trigger refuses.
    with pytest.raises(exceptions.QuotaExceeded):
        _create('refused', quotas.cluster_quota_check(0))
    assert _create('first', quotas.cluster_quota_check(2)).name == 'first'
    assert _create('second', quotas.cluster_quota_check(2)).name == 'second'
    with pytest.raises(exceptions.QuotaExceeded):
        _create('third', quotas.cluster_quota_check(2))
    with engine.get_engine().connect() as conn:
        assert sorted(conn.exec_driver_sql(
            'SELECT name FROM clusters').scalars()) == ['first', 'second']
    assert len(_prepared()) == 1


def test_the_statements_prepared_per_connection_are_bounded(pg_db,
                                                            monkeypatch):
    monkeypatch.setattr(cluster_create, 'MAX_PREPARED', 2)
    names = set()
    real = cluster_create._run

    def recording(conn, statement, params):
        names.add(statement.name)
        return real(conn, statement, params)
    monkeypatch.setattr(cluster_create, '_run', recording)
    # Each optional field given or not is a shape of its own.
    for i, extra in enumerate([{}, {'keypair': 'k'}, {'discovery_url': 'u'},
                               {'keypair': 'k', 'discovery_url': 'u'}]):
        tmpl = db_api.create_cluster_template({
            'name': 't%d' % i, 'coe': 'kubernetes', 'image_id': 'img',
            'project_id': 'p1'})
        for j in range(2):
            db_api.create_cluster(
                dict({'name': 'c%d-%d' % (i, j), 'project_id': 'p1',
                      'cluster_template_id': tmpl.uuid, 'node_count': 1,
                      'master_count': 1, 'labels': {}}, **extra),
                [], timeout_minutes=5,
                quota_check=quotas.cluster_quota_check(100))
    assert len(names) == 4
    assert len(_prepared()) == 2
    with engine.get_engine().connect() as conn:
        assert conn.exec_driver_sql(
            'SELECT count(*) FROM clusters').scalar() == 8
