"""A DELETE always wins: the delete is recorded and whatever ran is fenced
out, in one transaction."""

import pytest

from caas.common import exceptions
from caas.common import states
from caas.conductor.ownership import Fence
from caas.db import api as db_api
from caas.db import operations as db_ops
from tests.unit.db.test_operations import _cluster


def _ops(cluster_uuid):
    return db_api.list_operations(cluster_uuid=cluster_uuid)


def test_delete_during_a_running_create_fences_it_out(db):
    cluster, create = _cluster(db)
    epoch = db_ops.claim(create.id, 'a')
    old = Fence(create.id, cluster.uuid, 'a', epoch)
    row, delete, superseded = db_api.start_delete(cluster.uuid)
    assert superseded == (create.id, states.OP_CLUSTER_CREATE)
    assert row.status == states.DELETE_IN_PROGRESS
    assert row.operation_id == delete.id
    fenced = db_api.get_operation(create.id)
    assert fenced.state == states.OP_SUPERSEDED
    assert fenced.epoch == epoch + 1
    assert delete.id in fenced.error
    assert fenced.finished_at is not None
    # Every fenced write of the old owner fails from now on.
    with pytest.raises(exceptions.FencedOut):
        old.check()
    with pytest.raises(exceptions.FencedOut):
        old.update(cluster_values={'stack_id': 'zombie'})
    with pytest.raises(exceptions.FencedOut):
        old.finish(True, {'status': states.CREATE_COMPLETE})
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert (row.status, row.operation_id, row.stack_id) == (
        states.DELETE_IN_PROGRESS, delete.id, None)
    # Neither a takeover nor a late cast can pick the old operation up.
    assert db_ops.claim(create.id, 'b', expect_owner='a',
                        expect_epoch=epoch + 1) is None
    assert db_ops.claim(create.id, 'b') is None


def test_delete_of_a_never_claimed_operation(db):
    cluster, create = _cluster(db)
    _, delete, superseded = db_api.start_delete(cluster.uuid)
    assert superseded[0] == create.id
    # The lost or late cast of the create finds nothing to claim.
    assert db_ops.claim(create.id, 'a') is None
    assert db_ops.claim(delete.id, 'a') == 1


def test_delete_during_an_update_fences_the_update_out(db):
    cluster, create = _cluster(db)
    fence = Fence(create.id, cluster.uuid, 'a', db_ops.claim(create.id, 'a'))
    fence.finish(True, {'status': states.CREATE_COMPLETE})
    _, update = db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE,
                                       {'node_count': 3})
    epoch = db_ops.claim(update.id, 'b')
    _, delete, superseded = db_api.start_delete(cluster.uuid)
    assert superseded == (update.id, states.OP_CLUSTER_UPDATE)
    with pytest.raises(exceptions.FencedOut):
        Fence(update.id, cluster.uuid, 'b', epoch).finish(
            True, {'status': states.UPDATE_COMPLETE})
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)\
        .status == states.DELETE_IN_PROGRESS


def test_a_second_delete_records_nothing(db):
    cluster, _ = _cluster(db)
    _, first, _ = db_api.start_delete(cluster.uuid)
    before = len(_ops(cluster.uuid))
    row, second, superseded = db_api.start_delete(cluster.uuid)
    assert second is None and superseded is None
    assert row.operation_id == first.id
    assert len(_ops(cluster.uuid)) == before
    assert db_api.get_operation(first.id).state == states.OP_PENDING


def test_delete_of_a_settled_cluster_supersedes_nothing(db):
    cluster, create = _cluster(db)
    fence = Fence(create.id, cluster.uuid, 'a', db_ops.claim(create.id, 'a'))
    fence.finish(False, {'status': states.CREATE_FAILED})
    _, delete, superseded = db_api.start_delete(cluster.uuid)
    assert superseded is None
    assert db_api.get_operation(create.id).state == states.OP_FAILED


def test_the_superseded_owner_lets_go_once(db):
    cluster, create = _cluster(db)
    db_ops.claim(create.id, 'a')
    db_api.start_delete(cluster.uuid)
    assert db_ops.superseded_owners(cluster.uuid) == [(create.id, 'a')]
    assert db_ops.superseded_owned_by('a') == [create.id]
    assert not db_ops.stopped_acting(create.id, 'b')
    assert db_ops.stopped_acting(create.id, 'a')
    assert db_ops.superseded_owners(cluster.uuid) == []
    assert not db_ops.stopped_acting(create.id, 'a')


def test_delete_of_a_missing_cluster_is_not_found(db):
    with pytest.raises(exceptions.ClusterNotFound):
        db_api.start_delete('no-such-cluster')
