"""Claims and fenced writes in the database."""

import datetime

import pytest
import sqlalchemy as sa

from caas.common import exceptions
from caas.common import states
from caas.conductor.ownership import Fence
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db.sqlalchemy import models


def _cluster(db):
    tmpl = db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': 'ubuntu'})
    cluster, op = db_api.create_cluster(
        {'name': 'c', 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': 2, 'master_count': 1},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1},
         {'name': 'default-worker', 'role': 'worker', 'node_count': 2}],
        timeout_minutes=60)
    return cluster, op


def test_create_writes_cluster_nodegroups_and_operation_together(db):
    cluster, op = _cluster(db)
    row = db_api.get_cluster(cluster.uuid)
    assert row.status == states.CREATE_IN_PROGRESS
    assert row.operation_id == op.id
    assert [ng.role for ng in db_api.list_nodegroups(cluster.uuid)] == \
        ['master', 'worker']
    assert db_api.get_operation(op.id).state == states.OP_PENDING


def test_only_one_conductor_wins_a_claim(db):
    _, op = _cluster(db)
    assert db_ops.claim(op.id, 'a') == 1
    assert db_ops.claim(op.id, 'b') is None


def test_takeover_claim_needs_the_expected_owner_and_epoch(db):
    _, op = _cluster(db)
    db_ops.claim(op.id, 'a')
    assert db_ops.claim(op.id, 'b', expect_owner='a', expect_epoch=0) is None
    assert db_ops.claim(op.id, 'b', expect_owner='a', expect_epoch=1) == 2
    assert db_ops.claim(op.id, 'c', expect_owner='a', expect_epoch=1) is None


def test_a_fenced_out_owner_cannot_write(db):
    cluster, op = _cluster(db)
    epoch = db_ops.claim(op.id, 'a')
    old = Fence(op.id, cluster.uuid, 'a', epoch)
    db_ops.claim(op.id, 'b', expect_owner='a', expect_epoch=epoch)
    with pytest.raises(exceptions.FencedOut):
        old.update(cluster_values={'stack_id': 'zombie'})
    with pytest.raises(exceptions.FencedOut):
        old.finish(True, {'status': states.CREATE_COMPLETE})
    assert db_api.get_cluster(cluster.uuid).stack_id is None


def test_finish_releases_the_cluster_for_the_next_operation(db):
    cluster, op = _cluster(db)
    fence = Fence(op.id, cluster.uuid, 'a', db_ops.claim(op.id, 'a'))
    with pytest.raises(exceptions.OperationInProgress):
        db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE)
    fence.finish(True, {'status': states.CREATE_COMPLETE})
    assert db_api.get_operation(op.id).state == states.OP_SUCCEEDED
    _, op2 = db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE,
                                    {'node_count': 3})
    assert db_api.get_cluster(cluster.uuid).status == \
        states.UPDATE_IN_PROGRESS
    assert db_api.get_cluster(cluster.uuid).operation_id == op2.id


def test_update_is_refused_from_create_failed_but_delete_is_not(db):
    cluster, op = _cluster(db)
    fence = Fence(op.id, cluster.uuid, 'a', db_ops.claim(op.id, 'a'))
    fence.finish(False, {'status': states.CREATE_FAILED})
    with pytest.raises(exceptions.InvalidState):
        db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE)
    db_api.start_operation(cluster.uuid, states.OP_CLUSTER_DELETE)


def test_sweeper_finds_lost_casts_and_dead_owners_only(db):
    _, lost = _cluster(db)
    _, live_owned = _cluster(db)
    _, dead_owned = _cluster(db)
    db_ops.register_conductor('live', 'caas-conductor')
    db_ops.register_conductor('dead', 'caas-conductor')
    db_ops.claim(live_owned.id, 'live')
    db_ops.claim(dead_owned.id, 'dead')
    old = models.utcnow() - datetime.timedelta(seconds=60)
    with db.begin() as conn:
        conn.execute(sa.update(models.Operation).values(created_at=old))
        conn.execute(sa.update(models.Conductor).where(
            models.Conductor.host == 'dead').values(heartbeat_at=old))
    found = {row.id for row in db_ops.claimable(10, 10)}
    assert found == {lost.id, dead_owned.id}


def test_a_fresh_unclaimed_operation_is_left_to_its_cast(db):
    _cluster(db)
    assert db_ops.claimable(10, 10) == []


def test_a_released_operation_is_fenced_and_claimable_again(db):
    cluster, op = _cluster(db)
    epoch = db_ops.claim(op.id, 'a')
    fence = Fence(op.id, cluster.uuid, 'a', epoch)
    assert db_ops.release(op.id, 'a', epoch)
    assert not db_ops.still_owner(fence)
    with pytest.raises(exceptions.FencedOut):
        fence.update(cluster_values={'stack_id': 'late'})
    old = models.utcnow() - datetime.timedelta(seconds=60)
    with db.begin() as conn:
        conn.execute(sa.update(models.Operation).values(created_at=old))
    assert [row.id for row in db_ops.claimable(10, 10)] == [op.id]
    assert db_ops.claim(op.id, 'b') == epoch + 1
    # Only the owner at that epoch can release.
    assert not db_ops.release(op.id, 'a', epoch)
