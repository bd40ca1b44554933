"""Claims and fenced writes in the database."""

import pytest
import sqlalchemy as sa

from caas.common import exceptions
from caas.common import states
from caas.conductor.ownership import Fence
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
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
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
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
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id is None


def test_finish_releases_the_cluster_for_the_next_operation(db):
    cluster, op = _cluster(db)
    fence = Fence(op.id, cluster.uuid, 'a', db_ops.claim(op.id, 'a'))
    with pytest.raises(exceptions.OperationInProgress):
        db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE)
    fence.finish(True, {'status': states.CREATE_COMPLETE})
    assert db_api.get_operation(op.id).state == states.OP_SUCCEEDED
    _, op2 = db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE,
                                    {'node_count': 3})
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status == \
        states.UPDATE_IN_PROGRESS
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).operation_id == op2.id


def test_update_is_refused_from_create_failed_but_delete_is_not(db):
    cluster, op = _cluster(db)
    fence = Fence(op.id, cluster.uuid, 'a', db_ops.claim(op.id, 'a'))
    fence.finish(False, {'status': states.CREATE_FAILED})
    with pytest.raises(exceptions.InvalidState):
        db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE)
    db_api.start_operation(cluster.uuid, states.OP_CLUSTER_DELETE)


def test_unfinished_operations_and_reports_feed_the_sweeper(db):
    _, lost = _cluster(db)
    _, owned = _cluster(db)
    _, done = _cluster(db)
    db_ops.register_conductor('a', 'caas-conductor')
    db_ops.claim(owned.id, 'a')
    fence = Fence(done.id, done.cluster_id, 'a', db_ops.claim(done.id, 'a'))
    fence.finish(True, {'status': states.CREATE_COMPLETE})
    ops = {row.id: row for row in db_ops.unfinished_operations()}
    assert set(ops) == {lost.id, owned.id}
    assert ops[owned.id].owner == 'a' and ops[lost.id].owner is None
    db_ops.heartbeat('a')
    assert db_ops.conductor_reports() == {'a': 1}


def test_a_released_operation_is_fenced_and_claimable_again(db):
    cluster, op = _cluster(db)
    epoch = db_ops.claim(op.id, 'a')
    fence = Fence(op.id, cluster.uuid, 'a', epoch)
    assert db_ops.release(op.id, 'a', epoch)
    assert not db_ops.still_owner(fence)
    with pytest.raises(exceptions.FencedOut):
        fence.update(cluster_values={'stack_id': 'late'})
    row = db_ops.unfinished_operations()[0]
    assert (row.id, row.owner, row.state) == (op.id, None, states.OP_PENDING)
    assert db_ops.claim(op.id, 'b') == epoch + 1
    # Only the owner at that epoch can release.
    assert not db_ops.release(op.id, 'a', epoch)


def test_a_fenced_out_owner_cannot_write_a_trustee(db):
    from caas.db import trustees
    cluster, op = _cluster(db)
    epoch = db_ops.claim(op.id, 'a')
    fence = Fence(op.id, cluster.uuid, 'a', epoch)
    row = trustees.add_pending(fence, {'username': 'u', 'domain_id': 'd',
                                       'encrypted_password': 'x'})
    assert (row.operation_id, row.state) == (op.id, trustees.PENDING)
    db_ops.claim(op.id, 'b', expect_owner='a', expect_epoch=epoch)
    for write in (lambda: trustees.update(fence, row.id, user_id='zombie'),
                  lambda: trustees.promote_own(fence),
                  lambda: trustees.remove(fence, row.id),
                  lambda: trustees.add_pending(
                      Fence(op.id, cluster.uuid, 'a', epoch + 5),
                      {'username': 'v', 'domain_id': 'd',
                       'encrypted_password': 'x'})):
        with pytest.raises(exceptions.FencedOut):
            write()
    [kept] = trustees.list_trustees(cluster.uuid)
    assert (kept.user_id, kept.state) == (None, trustees.PENDING)


def test_promote_own_makes_the_operations_trustee_current(db):
    from caas.db import trustees
    cluster, op = _cluster(db)
    fence = Fence(op.id, cluster.uuid, 'a', db_ops.claim(op.id, 'a'))
    assert trustees.promote_own(fence) == (None, [])
    mine = trustees.add_pending(fence, {'username': 'u', 'domain_id': 'd',
                                        'encrypted_password': 'x'})
    own, others = trustees.promote_own(fence)
    assert own.id == mine.id and others == []
    assert trustees.current(cluster.uuid).id == mine.id


def _statements(conn, cursor, statement, *args):
    _statements.log.append(' '.join(statement.split()))


def _counted(fn):
    _statements.log = []
    eng = engine.get_engine()
    sa.event.listen(eng, 'before_cursor_execute', _statements)
    try:
        result = fn()
    finally:
        sa.event.remove(eng, 'before_cursor_execute', _statements)
    return result, _statements.log


def _trustee_row(fence, name, state):
    from caas.db import trustees
    row = trustees.add_pending(fence, {'username': name, 'domain_id': 'd',
                                       'encrypted_password': 'x'})
    with engine.session_scope() as session:
        session.execute(sa.update(models.ClusterTrustee).where(
            models.ClusterTrustee.id == row.id).values(
                state=state, operation_id='op-' + name))
    return row.id


def test_promote_own_demotes_every_other_current_row_in_one_update(db):
    """The operation's row becomes current and every other current row of
    the cluster pending, in one UPDATE; other clusters' rows and rows in
    other states are left as they were."""
    from caas.db import trustees
    cluster, op = _cluster(db)
    other_cluster, other_op = _cluster(db)
    fence = Fence(op.id, cluster.uuid, 'a', db_ops.claim(op.id, 'a'))
    other_fence = Fence(other_op.id, other_cluster.uuid, 'a',
                        db_ops.claim(other_op.id, 'a'))
    old_current = _trustee_row(fence, 'old', trustees.CURRENT)
    older = _trustee_row(fence, 'older', 'retiring')
    elsewhere = _trustee_row(other_fence, 'elsewhere', trustees.CURRENT)
    mine = trustees.add_pending(fence, {'username': 'u', 'domain_id': 'd',
                                        'encrypted_password': 'x'})
    (own, others), log = _counted(lambda: trustees.promote_own(fence))
    assert own.id == mine.id
    assert sorted(r.id for r in others) == sorted([old_current, older])
    assert len([s for s in log if s.startswith('UPDATE cluster_trustees')
                ]) == 1, log
    states_now = {r.id: r.state for r in
                  trustees.list_trustees(cluster.uuid) +
                  trustees.list_trustees(other_cluster.uuid)}
    assert states_now == {mine.id: trustees.CURRENT,
                          old_current: trustees.PENDING,
                          older: 'retiring',
                          elsewhere: trustees.CURRENT}
    # Already current: nothing is written again.
    _result, log = _counted(lambda: trustees.promote_own(fence))
    assert not [s for s in log if s.startswith('UPDATE cluster_trustees')]


def _cluster_with_an_extra_worker_nodegroup():
    """A cluster with its default master and worker nodegroups and one
    more worker nodegroup, 'extra': (cluster, its create operation)."""
    tmpl = db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': 'ubuntu'})
    return db_api.create_cluster(
        {'name': 'c', 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': 2, 'master_count': 1},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1,
          'is_default': True},
         {'name': 'default-worker', 'role': 'worker', 'node_count': 2,
          'is_default': True},
         {'name': 'extra', 'role': 'worker', 'node_count': 1}],
        timeout_minutes=60)


def test_equal_values_for_several_roles_are_one_update(db):
    """The stack's id for the master and the worker nodegroups is one
    UPDATE; different values per role are one each, and each row gets its
    own. A nodegroup that is not a default one is not written."""
    cluster, op = _cluster_with_an_extra_worker_nodegroup()
    fence = Fence(op.id, cluster.uuid, 'a', db_ops.claim(op.id, 'a'))
    _none, log = _counted(lambda: fence.update(nodegroup_values={
        'master': {'stack_id': 's1'}, 'worker': {'stack_id': 's1'}}))
    assert len([s for s in log if s.startswith('UPDATE nodegroups')]) == 1
    assert {ng.name: ng.stack_id for ng in
            db_api.list_nodegroups(cluster.uuid)} == {
        'default-master': 's1', 'default-worker': 's1', 'extra': None}
    _none, log = _counted(lambda: fence.update(nodegroup_values={
        'master': {'stack_id': 's2'}, 'worker': {'stack_id': 's3'}}))
    assert len([s for s in log if s.startswith('UPDATE nodegroups')]) == 2
    assert {ng.name: ng.stack_id for ng in
            db_api.list_nodegroups(cluster.uuid)} == {
        'default-master': 's2', 'default-worker': 's3', 'extra': None}
    # A lost claim writes neither role.
    db_ops.claim(op.id, 'b', expect_owner='a', expect_epoch=fence.epoch)
    with pytest.raises(exceptions.FencedOut):
        fence.update(nodegroup_values={'master': {'stack_id': 'zombie'},
                                       'worker': {'stack_id': 'zombie'}})
    assert {ng.stack_id for ng in db_api.list_nodegroups(cluster.uuid)} == \
        {'s2', 's3', None}


def test_the_clusters_addresses_go_out_with_its_other_values(db):
    """A nodegroup's addresses written: the cluster's are every worker
    nodegroup's, the default one first, with what this write gives them
    (by role or by uuid), in the cluster's one UPDATE (no read after the
    writes and no UPDATE of their own)."""
    cluster, op = _cluster_with_an_extra_worker_nodegroup()
    extra = [ng for ng in db_api.list_nodegroups(cluster.uuid)
             if ng.name == 'extra'][0]
    fence = Fence(op.id, cluster.uuid, 'a', db_ops.claim(op.id, 'a'))
    fence.update(nodegroup_uuid_values={extra.uuid: {
        'node_addresses': ['127.0.10.9']}})
    _none, log = _counted(lambda: fence.update(
        cluster_values={'api_address': 'https://127.0.10.1:6443'},
        nodegroup_values={'master': {'node_addresses': ['127.0.10.1']},
                          'worker': {'node_addresses': ['127.0.10.2',
                                                        '127.0.10.3']}}))
    assert len([s for s in log if s.startswith('UPDATE clusters')]) == 1
    assert len([s for s in log if s.startswith('SELECT')]) == 1
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.api_address == 'https://127.0.10.1:6443'
    assert row.node_addresses == ['127.0.10.2', '127.0.10.3', '127.0.10.9']
    # By uuid, the default worker's too; the master's are not the cluster's.
    default = [ng for ng in db_api.list_nodegroups(cluster.uuid)
               if ng.name == 'default-worker'][0]
    fence.update(nodegroup_values={'worker': {'node_addresses': ['x']}},
                 nodegroup_uuid_values={default.uuid: {
                     'node_addresses': ['127.0.10.4']}})
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.node_addresses == ['127.0.10.4', '127.0.10.9']
    assert {ng.name: ng.node_addresses for ng in
            db_api.list_nodegroups(cluster.uuid)} == {
        'default-master': ['127.0.10.1'], 'default-worker': ['127.0.10.4'],
        'extra': ['127.0.10.9']}
    # A lost claim writes no address.
    db_ops.claim(op.id, 'b', expect_owner='a', expect_epoch=fence.epoch)
    with pytest.raises(exceptions.FencedOut):
        fence.update(nodegroup_values={'worker': {'node_addresses': ['z']}})
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS
                              ).node_addresses == ['127.0.10.4', '127.0.10.9']


def test_same_values_groups_roles_in_their_order():
    assert db_ops._same_values(None) == []
    assert db_ops._same_values({'master': {'a': 1}, 'worker': {'a': 2},
                                'x': {'a': 1}}) == [
        (['master', 'x'], {'a': 1}), (['worker'], {'a': 2})]


def test_the_claim_returns_the_row_the_flow_keeps(db):
    cluster, op = _cluster(db)
    row = db_ops.claim_operation(op.id, 'a')
    assert (row.id, row.owner, row.epoch, row.claims, row.kind) == (
        op.id, 'a', 1, 1, states.OP_CLUSTER_CREATE)
    fence = Fence(op.id, cluster.uuid, 'a', row.epoch)
    fence.remember_operation(row)
    fence.update(operation_values={'params': {'k': 'v'}})
    # What the flow wrote, without reading the row again.
    assert fence.operation().params == {'k': 'v'}
    assert db_api.get_operation(op.id).params == {'k': 'v'}
    assert db_ops.claim_operation(op.id, 'b') is None


def test_the_claim_returns_the_clusters_project(db):
    """The flow's first read (the cluster's project, for its events and
    its trust) comes with the claim; None once the cluster is gone."""
    cluster, op = _cluster(db)
    row = db_ops.claim_operation(op.id, 'a')
    assert row.cluster_project_id == cluster.project_id
    assert row.cluster_project_id is not None
    _gone, other = _cluster(db)
    with engine.session_scope() as session:
        session.execute(sa.delete(models.Cluster).where(
            models.Cluster.uuid == other.cluster_id))
    assert db_ops.claim_operation(other.id, 'a').cluster_project_id is None


def test_each_expectation_of_a_claim_is_checked_with_statements_built_once(
        db):
    """The claim's statements are built once per kind of expectation
    (not per claim), and each expectation still decides the claim."""
    _, op = _cluster(db)
    db_ops._claim_statements.cache_clear()
    assert db_ops.claim(op.id, 'a') == 1
    row = db_api.get_operation(op.id)
    assert row.claimed_at is not None and row.updated_at == row.claimed_at
    # The owner alone expected: the wrong one loses, the right one wins.
    assert db_ops.claim(op.id, 'b', expect_owner='x') is None
    assert db_ops.claim(op.id, 'b', expect_owner='a') == 2
    # The epoch too: a stale epoch loses even with the right owner.
    assert db_ops.claim(op.id, 'c', expect_owner='b', expect_epoch=1) is None
    assert db_ops.claim(op.id, 'c', expect_owner='b', expect_epoch=2) == 3
    # Unowned expected: an owned operation is not claimed.
    assert db_ops.claim(op.id, 'd') is None
    built = db_ops._claim_statements.cache_info().misses
    assert built == 3
    for _ in range(3):
        assert db_ops.claim(op.id, 'e', expect_owner='x') is None
        assert db_ops.claim(op.id, 'e', expect_owner='x',
                            expect_epoch=3) is None
        assert db_ops.claim(op.id, 'e') is None
    assert db_ops._claim_statements.cache_info().misses == built
    assert db_api.get_operation(op.id).owner == 'c'
