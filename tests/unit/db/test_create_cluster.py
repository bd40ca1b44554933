"""A cluster create writes the same rows whether the database returns
inserted rows (PostgreSQL, SQLite, MariaDB) or not (MySQL)."""

import pytest

from caas.common import states
from caas.db import api as db_api
from caas.db import certificates


def _create():
    tmpl = db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': 'ubuntu'})
    return db_api.create_cluster(
        {'name': 'c', 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': 2, 'master_count': 1, 'labels': {'a': 'b'}},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1},
         {'name': 'default-worker', 'role': 'worker', 'node_count': 2}],
        timeout_minutes=60, request_id='req-1',
        cas=[{'ca_type': 'kubernetes', 'cert_pem': 'c', 'encrypted_key': 'k'}])


@pytest.mark.parametrize('returning', [True, False])
def test_create_writes_cluster_groups_cas_and_operation(db, monkeypatch,
                                                        returning):
    monkeypatch.setattr(db.dialect, 'insert_returning', returning)
    cluster, op = _create()
    # What the caller gets is the row as written.
    assert cluster.id and cluster.created_at and cluster.labels == {'a': 'b'}
    assert cluster.status == states.CREATE_IN_PROGRESS
    assert cluster.operation_id == op.id and op.request_id == 'req-1'
    row = db_api.get_cluster(cluster.uuid, scope='p1')
    assert (row.id, row.node_count, row.operation_id) == (
        cluster.id, 2, op.id)
    groups = db_api.list_nodegroups(cluster.uuid)
    assert [(g.role, g.node_count, g.project_id, g.labels, g.status)
            for g in groups] == [
        ('master', 1, 'p1', {}, states.CREATE_IN_PROGRESS),
        ('worker', 2, 'p1', {}, states.CREATE_IN_PROGRESS)]
    stored = db_api.get_operation(op.id)
    assert (stored.kind, stored.state, stored.epoch, stored.claims,
            stored.params, stored.cluster_id) == (
        states.OP_CLUSTER_CREATE, states.OP_PENDING, 0, 0, {}, cluster.uuid)
    assert certificates.list_ca_types(cluster.uuid) == ['kubernetes']
