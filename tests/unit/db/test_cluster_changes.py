"""The per-project change counter that triggers on ``clusters`` keep on
PostgreSQL (migration 0004a): bumped by every committed cluster write,
whoever makes it, once per transaction, visible with the write and not
before, never by a rolled-back one, and without deadlocks between
transactions that write clusters of several projects."""

import threading

import pytest
import sqlalchemy as sa

from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models

Cluster = models.Cluster


def _counters():
    with engine.session_scope() as session:
        return dict(session.execute(sa.select(
            models.ClusterChange.project_id,
            models.ClusterChange.counter)).all())


def _template():
    return db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': 'ubuntu',
        'public': True})


def _cluster(tmpl, project, name='c'):
    cluster, _ = db_api.create_cluster(
        {'name': name, 'project_id': project,
         'cluster_template_id': tmpl.uuid, 'node_count': 1,
         'master_count': 1},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1},
         {'name': 'default-worker', 'role': 'worker', 'node_count': 1}],
        timeout_minutes=60)
    return cluster.uuid


def _set(uuid, **values):
    with engine.session_scope() as session:
        session.execute(sa.update(Cluster).where(
            Cluster.uuid == uuid).values(**values))


def test_insert_update_and_delete_each_bump_their_project_only(pg_db):
    tmpl = _template()
    a = _cluster(tmpl, 'p1')
    assert _counters() == {'p1': 1}
    b = _cluster(tmpl, 'p2')
    assert _counters() == {'p1': 1, 'p2': 1}
    _set(a, node_count=3)
    assert _counters() == {'p1': 2, 'p2': 1}
    _set(b, operation_id=None)
    assert _counters() == {'p1': 2, 'p2': 2}
    # The conductors' health writes go through the same table.
    assert db_ops.record_health_many([(b, 'HEALTHY', {})]) == 1
    assert _counters() == {'p1': 2, 'p2': 3}
    with engine.session_scope() as session:
        session.execute(sa.delete(models.NodeGroup).where(
            models.NodeGroup.cluster_id == a))
        session.execute(sa.delete(Cluster).where(Cluster.uuid == a))
    assert _counters() == {'p1': 3, 'p2': 3}


def test_a_cluster_without_a_project_counts_under_the_empty_string(pg_db):
    uuid = _cluster(_template(), 'p1')
    # Moved out of its project: both the project it left and "none" change.
    _set(uuid, project_id=None)
    assert _counters() == {'p1': 2, '': 1}


def test_a_truncate_bumps_every_project(pg_db):
    tmpl = _template()
    _cluster(tmpl, 'p1')
    _cluster(tmpl, 'p2')
    with engine.session_scope() as session:
        session.execute(sa.text('TRUNCATE clusters CASCADE'))
    assert _counters() == {'p1': 2, 'p2': 2}


def test_one_transaction_is_one_change_of_each_project_it_wrote(pg_db):
    tmpl = _template()
    uuids = [_cluster(tmpl, p, 'c%d' % i)
             for i, p in enumerate(['p1', 'p1', 'p2', 'p1'])]
    before = _counters()
    with engine.session_scope() as session:
        for uuid in uuids:
            session.execute(sa.update(Cluster).where(
                Cluster.uuid == uuid).values(health_status='UNHEALTHY'))
            session.execute(sa.update(Cluster).where(
                Cluster.uuid == uuid).values(health_status='HEALTHY'))
    assert _counters() == {'p1': before['p1'] + 1, 'p2': before['p2'] + 1}


def test_the_bump_is_seen_with_the_commit_never_before(pg_db):
    uuid = _cluster(_template(), 'p1')
    session = engine.get_engine().connect()
    try:
        tx = session.begin()
        session.execute(sa.update(Cluster).where(
            Cluster.uuid == uuid).values(node_count=5))
        # Another connection sees neither the row nor the counter yet.
        assert _counters() == {'p1': 1}
        tx.commit()
    finally:
        session.close()
    assert _counters() == {'p1': 2}


def test_a_rolled_back_write_does_not_bump(pg_db):
    uuid = _cluster(_template(), 'p1')
    with pytest.raises(RuntimeError):
        with engine.session_scope() as session:
            session.execute(sa.update(Cluster).where(
                Cluster.uuid == uuid).values(node_count=5))
            raise RuntimeError('give up')
    assert _counters() == {'p1': 1}
    # Nor does a write of a savepoint rolled back inside a transaction
    # that commits.
    with engine.session_scope() as session:
        nested = session.begin_nested()
        session.execute(sa.update(Cluster).where(
            Cluster.uuid == uuid).values(node_count=6))
        nested.rollback()
        session.execute(sa.update(models.ClusterTemplate).values(name='t2'))
    assert _counters() == {'p1': 1}


def test_crossed_writes_of_two_projects_commit_without_deadlock(pg_db):
    """Two transactions write clusters of p1 and p2 in opposite orders and
    commit at the same moment: were the counters bumped in write order,
    each would wait for the other's counter row."""
    tmpl = _template()
    a1, a2 = _cluster(tmpl, 'p1', 'a1'), _cluster(tmpl, 'p1', 'a2')
    b1, b2 = _cluster(tmpl, 'p2', 'b1'), _cluster(tmpl, 'p2', 'b2')
    before = _counters()
    rounds = 10
    errors = []

    def writer(first, second):
        try:
            for i in range(rounds):
                conn = engine.get_engine().connect()
                try:
                    tx = conn.begin()
                    for uuid in (first, second):
                        conn.execute(sa.update(Cluster).where(
                            Cluster.uuid == uuid).values(node_count=i + 2))
                    barrier.wait(timeout=30)
                    tx.commit()
                finally:
                    conn.close()
        except Exception as exc:   # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=writer, args=(a1, b1)),
               threading.Thread(target=writer, args=(b2, a2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert _counters() == {'p1': before['p1'] + 2 * rounds,
                           'p2': before['p2'] + 2 * rounds}


def test_no_trigger_and_no_statement_on_sqlite(db):
    """Elsewhere the table exists and stays empty (nothing reads it)."""
    tmpl = _template()
    _cluster(tmpl, 'p1')
    assert _counters() == {}
