"""The project's cluster count on its ``quota_locks`` row (migration 0004d,
PostgreSQL): every insert, delete, move and TRUNCATE of ``clusters`` keeps
it equal to ``count(*)``, whoever writes, also when creates race deletes;
the quota trigger reads it instead of counting; the migration counts the
clusters already there and goes down and up again."""

import threading

from alembic import command
import pytest
import sqlalchemy as sa

from caas.common import exceptions
from caas.conductor.ownership import Fence
from caas.db import api as db_api
from caas.db import migration
from caas.db import operations as db_ops
from caas.db import quotas
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models


@pytest.fixture
def template(pg_db):
    return db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'img',
        'project_id': 'p1', 'server_type': 'vm'})


def _create(template, project, name, limit=None):
    check = None if limit is None else quotas.cluster_quota_check(limit)
    return db_api.create_cluster(
        {'name': name, 'project_id': project,
         'cluster_template_id': template.uuid, 'node_count': 1,
         'master_count': 1, 'labels': {}},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1}],
        timeout_minutes=5, quota_check=check)


def _conductor_delete(created, owner='conductor-1'):
    """The delete flow's last step: the cluster's rows go under its
    operation's claim."""
    cluster, op = created
    epoch = db_ops.claim(op.id, owner)
    db_ops.delete_cluster(Fence(op.id, cluster.uuid, owner, epoch))


def _sql(text, params=None):
    with engine.get_engine().begin() as conn:
        return conn.execute(sa.text(text), params or {})


def _kept_and_real():
    """({project: in_use} of the non-zero counts, {project: count(*)})."""
    with engine.get_engine().connect() as conn:
        kept = dict(conn.execute(sa.text(
            "SELECT project_id, in_use FROM quota_locks "
            "WHERE resource = 'Cluster' AND in_use <> 0")).all())
        real = dict(conn.execute(sa.text(
            "SELECT project_id, count(*) FROM clusters "
            "WHERE project_id IS NOT NULL GROUP BY project_id")).all())
    return kept, real


def _assert_exact():
    kept, real = _kept_and_real()
    assert kept == real
    return kept


def _insert_rows(rows):
    """Clusters a script inserts: no API, no quota check, one statement."""
    with engine.session_scope() as session:
        session.execute(sa.insert(models.Cluster), [
            {'uuid': db_api.new_uuid(), 'name': name, 'project_id': project,
             'cluster_template_id': 'tmpl', 'node_count': 1,
             'master_count': 1, 'status': 'CREATE_COMPLETE', 'labels': {}}
            for name, project in rows])


def test_every_writer_of_clusters_keeps_the_count(template):
    a = _create(template, 'p1', 'a', limit=10)           # the API's create
    _create(template, 'p1', 'b')                         # unchecked
    _insert_rows([('s1', 'p2'), ('s2', 'p2'), ('s3', 'p3'), ('s4', None)])
    assert _assert_exact() == {'p1': 2, 'p2': 2, 'p3': 1}
    _conductor_delete(a)
    assert _assert_exact() == {'p1': 1, 'p2': 2, 'p3': 1}
    # A script's delete of several projects' clusters in one statement.
    _sql("DELETE FROM clusters WHERE name IN ('s1', 's3', 's4')")
    assert _assert_exact() == {'p1': 1, 'p2': 1}
    # A cluster moved to another project (nothing in caas does it).
    _sql("UPDATE clusters SET project_id = 'p3' WHERE name = 's2'")
    _sql("UPDATE clusters SET project_id = NULL WHERE name = 'b'")
    assert _assert_exact() == {'p3': 1}
    _sql("UPDATE clusters SET project_id = 'p1' WHERE name = 'b'")
    assert _assert_exact() == {'p1': 1, 'p3': 1}
    _sql('TRUNCATE clusters CASCADE')
    assert _assert_exact() == {}
    _insert_rows([('t1', 'p1')])
    assert _assert_exact() == {'p1': 1}


def test_writes_rolled_back_are_not_counted(template):
    _create(template, 'p1', 'a')
    with engine.get_engine().connect() as conn:
        with conn.begin():
            conn.execute(sa.text("DELETE FROM clusters"))
            savepoint = conn.begin_nested()
            conn.execute(sa.text(
                "UPDATE clusters SET project_id = 'p9'"))
            savepoint.rollback()
        trans = conn.begin()
        conn.execute(sa.text("DELETE FROM clusters"))
        trans.rollback()
    assert _assert_exact() == {}
    _create(template, 'p1', 'b')
    with engine.get_engine().connect() as conn:
        trans = conn.begin()
        conn.execute(sa.text("DELETE FROM clusters"))
        trans.rollback()
    assert _assert_exact() == {'p1': 1}


def test_the_quota_trigger_reads_the_count_not_the_rows(template):
    _create(template, 'p1', 'a', limit=5)
    # A count that says the project is full: the check believes it.
    _sql("UPDATE quota_locks SET in_use = 5 WHERE project_id = 'p1'")
    with pytest.raises(exceptions.QuotaExceeded) as refused:
        _create(template, 'p1', 'b', limit=5)
    assert refused.value.code == 403
    # One row counted, five in the count: the count is what it reports.
    assert 'is 5 and the project already has 5.' in str(refused.value)
    _sql("UPDATE quota_locks SET in_use = 1 WHERE project_id = 'p1'")
    _create(template, 'p1', 'b', limit=5)
    assert _assert_exact() == {'p1': 2}


def _run(workers):
    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except Exception as exc:    # noqa: BLE001 - asserted below
                errors.append(exc)
        return run
    threads = [threading.Thread(target=guarded(w)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_creates_racing_deletes_keep_the_count_exact(template):
    existing = [_create(template, 'p1', 'old%d' % i) for i in range(24)]
    spare = [_create(template, 'p1', 'x%d' % i)[0].uuid for i in range(4)]
    others = [_create(template, 'p2', 'q%d' % i)[0].uuid for i in range(8)]
    barrier = threading.Barrier(8)
    refused = []

    def creator(n):
        def run():
            barrier.wait()
            for i in range(8):
                try:
                    _create(template, 'p1', 'new%d-%d' % (n, i), limit=1000)
                except exceptions.QuotaExceeded as exc:
                    refused.append(exc)
        return run

    def deleter(n):
        def run():
            barrier.wait()
            for created in existing[n::4]:
                _conductor_delete(created, owner='conductor-%d' % n)
        return run

    def cross(pairs):
        # Transactions deleting a cluster of each of two projects, in the
        # order the other thread takes the other way round (rows of their
        # own: only the counts are shared).
        def run():
            barrier.wait()
            for pair in pairs:
                with engine.get_engine().begin() as conn:
                    for uuid in pair:
                        conn.execute(sa.text(
                            "DELETE FROM clusters WHERE uuid = :u"),
                            {'u': uuid})
        return run
    errors = _run([
        creator(0), creator(1), deleter(0), deleter(1), deleter(2),
        deleter(3),
        cross([(spare[0], others[0]), (spare[1], others[1])]),
        cross([(others[2], spare[2]), (others[3], spare[3])])])
    assert errors == [] and refused == []
    kept = _assert_exact()
    assert kept == {'p1': 24 + 4 + 16 - 24 - 4, 'p2': 8 - 4}


def test_creates_at_the_limit_racing_deletes_never_pass_it(template):
    limit = 6
    existing = [_create(template, 'p1', 'old%d' % i, limit=limit)
                for i in range(limit)]
    barrier = threading.Barrier(6)
    created, refused = [], []

    def creator(n):
        def run():
            barrier.wait()
            for i in range(6):
                try:
                    created.append(_create(template, 'p1', 'n%d-%d' % (n, i),
                                           limit=limit))
                except exceptions.QuotaExceeded as exc:
                    refused.append(exc)
                kept, real = _kept_and_real()
                # Read apart, the two may differ by the writes between
                # them; neither may ever pass the limit.
                assert kept.get('p1', 0) <= limit and real.get('p1', 0) <= limit
        return run

    def deleter(n):
        def run():
            barrier.wait()
            for one in existing[n::2]:
                _conductor_delete(one, owner='conductor-%d' % n)
        return run
    errors = _run([creator(0), creator(1), creator(2), creator(3),
                   deleter(0), deleter(1)])
    assert errors == []
    assert len(created) <= limit and len(created) + len(refused) == 24
    kept = _assert_exact()
    assert kept['p1'] == len(created) <= limit
    for exc in refused:
        assert exc.code == 403 and 'p1' in str(exc)


def _migrate(step, revision):
    with engine.get_engine().begin() as connection:
        step(migration._config(connection), revision)
    engine.dispose()


def _trigger_names():
    with engine.get_engine().connect() as conn:
        return sorted(conn.execute(sa.text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = "
            "'clusters'::regclass AND NOT tgisinternal")).scalars())


def test_the_migration_counts_the_clusters_already_there(template):
    _create(template, 'p1', 'a', limit=10)
    before = _trigger_names()
    _migrate(command.downgrade, '0004c')
    assert [t for t in _trigger_names() if 'counted' in t] == []
    with engine.get_engine().connect() as conn:
        columns = [c['name'] for c in sa.inspect(conn).get_columns(
            'quota_locks')]
    assert 'in_use' not in columns
    # Written while nothing counted them: the API's, a script's, a row
    # without a project, a project whose lock row exists and one without.
    _create(template, 'p1', 'b', limit=10)
    _insert_rows([('s%d' % i, 'p%d' % (i % 3 + 1)) for i in range(10)]
                 + [('orphan', None)])
    _migrate(command.upgrade, '0004d')
    assert _trigger_names() == before
    assert _assert_exact() == {'p1': 2 + 4, 'p2': 3, 'p3': 3}
    # And it is kept from there on.
    with pytest.raises(exceptions.QuotaExceeded):
        _create(template, 'p2', 'c', limit=3)
    _create(template, 'p2', 'c', limit=4)
    assert _assert_exact()['p2'] == 4


def test_after_a_downgrade_the_quota_counts_the_rows_again(template):
    _create(template, 'p1', 'a', limit=10)
    _migrate(command.downgrade, '0004c')
    _insert_rows([('s1', 'p1')])
    # 0004c's count(*) sees the script's row as well.
    with pytest.raises(exceptions.QuotaExceeded) as refused:
        _create(template, 'p1', 'b', limit=2)
    assert 'is 2 and the project already has 2.' in str(refused.value)
    _create(template, 'p1', 'b', limit=3)
    with engine.get_engine().connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM pg_proc WHERE proname LIKE "
            "'caas_cluster%count%' OR proname LIKE 'caas_clusters_counted%'"
        )).scalar() == 0


def test_a_write_under_way_during_the_upgrade_is_counted(template):
    _migrate(command.downgrade, '0004c')
    holder = engine.get_engine().connect()
    trans = holder.begin()
    holder.execute(sa.insert(models.Cluster).values(
        uuid=db_api.new_uuid(), name='in-flight', project_id='p1',
        cluster_template_id=template.uuid, node_count=1, master_count=1,
        status='CREATE_IN_PROGRESS', labels={}))
    upgrade = threading.Thread(target=_migrate,
                               args=(command.upgrade, '0004d'))
    upgrade.start()
    # The upgrade waits for the write under way instead of counting
    # around it...
    upgrade.join(1.0)
    assert upgrade.is_alive()
    trans.commit()
    holder.close()
    upgrade.join(60)
    assert not upgrade.is_alive()
    # ...and counts it once it committed.
    assert _assert_exact() == {'p1': 1}
