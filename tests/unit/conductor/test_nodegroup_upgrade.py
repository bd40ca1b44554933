"""cluster_upgrade of a nodegroup users added, on a real TaskFlow engine,
SQL persistence and the simulated cloud: its own stack rolls onto the new
version in batches, every node replaced exactly once (also across a
takeover), nothing else moves, and the records say what it runs."""

import sqlalchemy as sa

from caas.common import states
from caas.db import api as db_api
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation

OLD_TAG, NEW_TAG = 'v1.29.6', 'v1.30.2'


def _run(runner, op, state=states.OP_SUCCEEDED, timeout=60):
    assert runner.claim_and_run(op.id)
    done = wait_operation(op.id, timeout=timeout)
    assert done.state == state, done.error
    return done


def _new_template():
    return db_api.create_cluster_template({
        'name': 't2', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': 'ubuntu',
        'flavor_id': 'm1.small', 'master_flavor_id': 'm1.small',
        'keypair_id': 'default', 'external_network_id': 'public',
        'labels': {'kube_tag': NEW_TAG}})


def _groups(cluster_uuid):
    return {ng.name: ng for ng in db_api.list_nodegroups(cluster_uuid)}


def _cluster(uuid):
    return db_api.get_cluster(uuid, scope=db_api.ALL_PROJECTS)


def _stack(sim, name):
    with sim.cloud.lock:
        return next(s for s in sim.cloud.data['stacks'].values()
                    if s['name'] == name)


def _ng_stack_name(cluster, ng_uuid):
    return 'caas-%s-ng-%s' % (cluster.uuid, ng_uuid)


def _members(sim, name, group):
    with sim.cloud.lock:
        nested = _stack(sim, name)['resources'][group]['nested']
        return {member: res['nested']['resources']
                for member, res in nested['resources'].items()}


def _server_ids(sim, name, group):
    return {member: res['server']['physical_id']
            for member, res in _members(sim, name, group).items()}


def _log(sim, name, group='kube_minions'):
    with sim.cloud.lock:
        return list(_stack(sim, name)['resources'][group]['data'].get(
            'rolling_log', []))


def _assert_rolled_once(sim, name, batch, members):
    """One rolling update of the stack's workers, every member in exactly
    one batch of at most ``batch``, each batch after the previous one
    completed, every server replaced exactly once."""
    [entry] = _log(sim, name)
    assert entry['status'] == 'COMPLETE'
    done = [m for b in entry['batches'] for m in b['members']]
    assert sorted(done, key=int) == [str(i) for i in range(members)]
    assert all(len(b['members']) <= batch for b in entry['batches'])
    for prev, nxt in zip(entry['batches'], entry['batches'][1:]):
        assert nxt['started_at'] >= prev['completed_at']
    replaced = {m: res['server']['data'].get('replaced', 0)
                for m, res in _members(sim, name, 'kube_minions').items()}
    assert set(replaced.values()) == {1}, replaced


def _world(make_runner, sim, ng_nodes=3):
    """A cluster on OLD_TAG (1 master, 1 worker) with a nodegroup ``gpu``
    of ``ng_nodes``, then the cluster (its default groups) upgraded to
    NEW_TAG: the state in which Magnum's rule lets ``gpu`` be upgraded."""
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=1)
    with engine.session_scope() as session:
        session.execute(sa.update(models.ClusterTemplate).where(
            models.ClusterTemplate.uuid == cluster.cluster_template_id)
            .values(labels={'kube_tag': OLD_TAG}))
    _run(runner, op)
    ng_uuid = db_api.new_uuid()
    _, op = db_api.start_operation(
        cluster.uuid, states.OP_NODEGROUP_CREATE,
        params={'nodegroup': ng_uuid}, new_nodegroup={
            'uuid': ng_uuid, 'name': 'gpu', 'role': 'worker',
            'project_id': 'p1', 'is_default': False, 'node_count': ng_nodes,
            'min_node_count': 0, 'flavor_id': 'm1.small',
            'image_id': 'ubuntu-jammy', 'labels': {}, 'node_addresses': [],
            'status': states.CREATE_IN_PROGRESS})
    _run(runner, op)
    name = _ng_stack_name(cluster, ng_uuid)
    assert _stack(sim, name)['params']['kube_tag'] == OLD_TAG
    ng_servers = _server_ids(sim, name, 'kube_minions')

    new = _new_template()
    groups = _groups(cluster.uuid)
    _, op = db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPGRADE, {
        'cluster_template': new.uuid,
        'previous_template': cluster.cluster_template_id,
        'max_batch_size': 1, 'nodegroups': [
            groups['default-master'].uuid, groups['default-worker'].uuid]})
    _run(runner, op)
    # The cluster's upgrade left the added nodegroup as it was: its
    # servers, its stack, and its row pinned to what it runs.
    assert _server_ids(sim, name, 'kube_minions') == ng_servers
    assert _log(sim, name) == []
    gpu = _groups(cluster.uuid)['gpu']
    assert gpu.labels['kube_tag'] == OLD_TAG
    assert _cluster(cluster.uuid).cluster_template_id == new.uuid
    return runner, _cluster(cluster.uuid), new, gpu


def _start(cluster, template, ng, batch):
    """What the API records for ``upgrade --nodegroup``."""
    _, op = db_api.start_operation(
        cluster.uuid, states.OP_CLUSTER_UPGRADE, {
            'cluster_template': template.uuid,
            'previous_template': cluster.cluster_template_id,
            'max_batch_size': batch, 'nodegroups': [ng.uuid],
            'nodegroup': ng.uuid},
        nodegroup=(ng.uuid, {'status': states.UPDATE_IN_PROGRESS}))
    return op


def test_a_nodegroup_upgrade_rolls_its_own_stack_and_records_it(
        make_runner, sim):
    runner, cluster, new, gpu = _world(make_runner, sim)
    name = _ng_stack_name(cluster, gpu.uuid)
    cluster_stack = 'caas-%s' % cluster.uuid
    before = _server_ids(sim, name, 'kube_minions')
    defaults = {g: _server_ids(sim, cluster_stack, g)
                for g in ('kube_masters', 'kube_minions')}
    statuses = {n: g.status for n, g in _groups(cluster.uuid).items()}
    op = _start(cluster, new, gpu, batch=2)
    _run(runner, op)

    _assert_rolled_once(sim, name, batch=2, members=3)
    after = _server_ids(sim, name, 'kube_minions')
    assert not set(before.values()) & set(after.values())
    assert _stack(sim, name)['params']['kube_tag'] == NEW_TAG
    # Nothing else moved.
    for group, servers in defaults.items():
        assert _server_ids(sim, cluster_stack, group) == servers
    row = _cluster(cluster.uuid)
    assert row.status == states.UPDATE_COMPLETE and row.operation_id is None
    assert row.cluster_template_id == new.uuid
    groups = _groups(cluster.uuid)
    ng = groups['gpu']
    assert ng.status == states.UPDATE_COMPLETE
    assert ng.labels['kube_tag'] == NEW_TAG and ng.version == NEW_TAG
    assert ng.image_id == 'ubuntu-jammy'
    assert len(ng.node_addresses) == 3
    # The other nodegroups keep their own status.
    for other in ('default-master', 'default-worker'):
        assert groups[other].status == statuses[other]
    assert len(row.node_addresses) == 1 + 3


def _takeover(make_runner, sim, lose_progress):
    sim.cloud.knobs['server_boot_delay'] = 0.8
    first, cluster, new, gpu = _world(make_runner, sim, ng_nodes=4)
    name = _ng_stack_name(cluster, gpu.uuid)
    op = _start(cluster, new, gpu, batch=1)
    first.claim_and_run(op.id)
    # Half-way: two of the four batches started.
    wait_for(lambda: len((_log(sim, name) or [{'batches': []}])[-1][
        'batches']) >= 2, timeout=60)
    if lose_progress:
        # The worst case: the new owner runs every task again, the stack
        # update included.
        with engine.session_scope() as session:
            session.execute(sa.update(models.Operation).where(
                models.Operation.id == op.id).values(flow_id=None))
    second = make_runner('second')
    assert second.claim_and_run(op.id, expect_owner='c1', expect_epoch=1)
    done = wait_operation(op.id, timeout=60)
    assert done.state == states.OP_SUCCEEDED, done.error
    assert done.owner == 'second'
    _assert_rolled_once(sim, name, batch=1, members=4)
    assert _groups(cluster.uuid)['gpu'].labels['kube_tag'] == NEW_TAG
    wait_for(lambda: not first.running())


def test_a_takeover_mid_nodegroup_upgrade_replaces_each_node_once(
        make_runner, sim):
    _takeover(make_runner, sim, lose_progress=False)


def test_running_the_nodegroup_upgrade_again_replaces_nothing_twice(
        make_runner, sim):
    _takeover(make_runner, sim, lose_progress=True)


def test_a_failed_nodegroup_upgrade_fails_that_nodegroup_only(make_runner,
                                                              sim):
    runner, cluster, new, gpu = _world(make_runner, sim, ng_nodes=2)
    statuses = {n: g.status for n, g in _groups(cluster.uuid).items()}
    sim.cloud.knobs['server_failure_rate'] = 1.0
    op = _start(cluster, new, gpu, batch=1)
    _run(runner, op, state=states.OP_FAILED)
    row = _cluster(cluster.uuid)
    assert row.status == states.UPDATE_FAILED and row.operation_id is None
    assert 'wait-stack-update' in row.status_reason
    groups = _groups(cluster.uuid)
    assert groups['gpu'].status == states.UPDATE_FAILED
    assert 'UPDATE_FAILED' in groups['gpu'].status_reason
    # Still recorded as what it ran.
    assert groups['gpu'].labels['kube_tag'] == OLD_TAG
    for other in ('default-master', 'default-worker'):
        assert groups[other].status == statuses[other]
    [entry] = _log(sim, _ng_stack_name(cluster, gpu.uuid))
    assert entry['status'] == 'FAILED' and len(entry['batches']) == 1


def test_a_late_nodegroup_upgrade_fails_that_nodegroup_only(make_runner,
                                                            sim):
    """The deadline sweeper's verdict is scoped as the flow's own."""
    from caas.db import operations as db_ops
    _runner, cluster, new, gpu = _world(make_runner, sim, ng_nodes=1)
    statuses = {n: g.status for n, g in _groups(cluster.uuid).items()}
    op = _start(cluster, new, gpu, batch=1)
    assert db_ops.expire(op.id, 0, states.UPDATE_FAILED, 'Timed out.')
    assert _cluster(cluster.uuid).status == states.UPDATE_FAILED
    groups = _groups(cluster.uuid)
    assert (groups['gpu'].status, groups['gpu'].status_reason) == (
        states.UPDATE_FAILED, 'Timed out.')
    for other in ('default-master', 'default-worker'):
        assert groups[other].status == statuses[other]
