"""What a flow reads of its cluster (``caas.db.operations.cluster_rows``):
the cluster, its template and its nodegroups as the ORM objects' dicts,
in one transaction, on SQLite and on PostgreSQL."""

import pytest
import sqlalchemy as sa

from caas.common import exceptions
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.conductor.conftest import make_cluster


@pytest.fixture(params=['sqlite', 'postgresql'])
def store(request):
    request.getfixturevalue('db' if request.param == 'sqlite' else 'pg_db')
    return request.param


def _orm_dicts(cluster_uuid):
    with engine.session_scope() as session:
        cluster = session.scalars(sa.select(models.Cluster).where(
            models.Cluster.uuid == cluster_uuid)).one()
        template = session.scalars(sa.select(models.ClusterTemplate).where(
            models.ClusterTemplate.uuid ==
            cluster.cluster_template_id)).one()
        groups = session.scalars(sa.select(models.NodeGroup).where(
            models.NodeGroup.cluster_id == cluster_uuid).order_by(
                models.NodeGroup.id))
        return (cluster.as_dict(), template.as_dict(),
                [group.as_dict() for group in groups])


def test_the_rows_are_the_orm_objects_dicts(store):
    cluster, _op = make_cluster()
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.ClusterTemplate).values(
            labels={'kube_tag': 'v1.28.4'}))
        conn.execute(sa.update(models.Cluster).values(
            labels={'etcd_volume_size': '10'},
            node_addresses=['127.0.0.5'], floating_ip_enabled=True))
    rows = db_ops.cluster_rows(cluster.uuid)
    assert rows == _orm_dicts(cluster.uuid)
    got, template, groups = rows
    # Every mapped column, the template's labels (a column property)
    # included, with its Python type.
    assert got['template_labels'] == {'kube_tag': 'v1.28.4'}
    assert got['labels'] == {'etcd_volume_size': '10'}
    assert got['node_addresses'] == ['127.0.0.5']
    assert got['floating_ip_enabled'] is True
    assert template['uuid'] == got['cluster_template_id']
    assert [g['role'] for g in groups] == ['master', 'worker']


def test_a_known_template_is_not_read_again(store):
    cluster, _op = make_cluster()
    got, template, groups = db_ops.cluster_rows(
        cluster.uuid, known_template=cluster.cluster_template_id)
    assert template is None and got['uuid'] == cluster.uuid
    assert len(groups) == 2
    _got, template, _groups = db_ops.cluster_rows(
        cluster.uuid, known_template='another-template')
    assert template['uuid'] == cluster.cluster_template_id


def test_a_missing_cluster_or_template_is_refused(store):
    cluster, _op = make_cluster()
    with pytest.raises(exceptions.ClusterNotFound):
        db_ops.cluster_rows('no-such-cluster')
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Cluster).values(
            cluster_template_id='gone'))
    with pytest.raises(exceptions.ClusterTemplateNotFound):
        db_ops.cluster_rows(cluster.uuid)
