"""Nodegroup flows on a real TaskFlow engine, SQL persistence and the
simulated cloud: each nodegroup its own stack, only its servers."""

import base64
import json

import pytest

from caas.common import exceptions
from caas.common import states
from caas.conductor import flows
from caas.db import api as db_api
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import taken_over
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


def _start_create(cluster, name='ng1', node_count=2, **extra):
    values = dict({
        'uuid': db_api.new_uuid(), 'name': name, 'role': 'worker',
        'project_id': 'p1', 'is_default': False, 'node_count': node_count,
        'min_node_count': 0, 'flavor_id': 'm1.small',
        'image_id': 'ubuntu-jammy', 'labels': {}, 'node_addresses': [],
        'status': states.CREATE_IN_PROGRESS}, **extra)
    _, op = db_api.start_operation(
        cluster.uuid, states.OP_NODEGROUP_CREATE,
        params={'nodegroup': values['uuid']}, new_nodegroup=values)
    return values['uuid'], op


def _run(runner, op, state=states.OP_SUCCEEDED):
    assert runner.claim_and_run(op.id)
    done = wait_operation(op.id, timeout=60)
    assert done.state == state, done.error
    return done


def _cluster(uuid):
    return db_api.get_cluster(uuid, scope=db_api.ALL_PROJECTS)


def _group(cluster_uuid, ng_uuid):
    return {ng.uuid: ng for ng in db_api.list_nodegroups(cluster_uuid)}[
        ng_uuid]


def _servers(sim):
    return {s['id']: s['name'] for s in sim.cloud.summary()['servers']}


def _built(runner, **kw):
    cluster, op = make_cluster(driver=None, **kw)
    _run(runner, op)
    return cluster


def test_nodegroup_flows_open_with_the_task_that_marks_failure():
    for kind in states.NODEGROUP_KINDS:
        names = [atom.name for atom in flows.FACTORIES[kind]()]
        assert names[0] == 'begin-%s' % kind


def test_cluster_delete_deletes_nodegroup_stacks_before_its_own():
    names = [atom.name for atom in flows.FACTORIES['cluster_delete']()]
    assert names.index(
        'caas.conductor.tasks.nodegroup.DeleteNodeGroupStacks') < \
        names.index('caas.conductor.tasks.stack.DeleteStack')


def test_nodegroup_create_update_delete_touch_only_its_stack(make_runner,
                                                            sim):
    runner = make_runner()
    cluster = _built(runner, node_count=2)
    before = _servers(sim)
    assert len(before) == 3

    ng_uuid, op = _start_create(cluster, node_count=2)
    assert _cluster(cluster.uuid).status == states.UPDATE_IN_PROGRESS
    _run(runner, op)
    ng = _group(cluster.uuid, ng_uuid)
    assert ng.status == states.CREATE_COMPLETE, ng.status_reason
    assert ng.stack_id and ng.stack_id != cluster.stack_id
    assert len(ng.node_addresses) == 2
    row = _cluster(cluster.uuid)
    assert row.status == states.UPDATE_COMPLETE
    assert row.operation_id is None
    # The cluster's nodes are its default workers' and the nodegroup's.
    default = [g for g in db_api.list_nodegroups(cluster.uuid)
               if g.is_default and g.role == 'worker'][0]
    assert row.node_addresses == default.node_addresses + ng.node_addresses
    assert len(row.node_addresses) == 4
    assert sim.cloud.summary()['counts']['stacks'] == 2
    with_ng = _servers(sim)
    assert set(before) < set(with_ng) and len(with_ng) == 5
    # Every default node is still the same server.
    assert {k: with_ng[k] for k in before} == before

    _, op = db_api.start_operation(
        cluster.uuid, states.OP_NODEGROUP_UPDATE,
        params={'nodegroup': ng_uuid, 'node_count': 3, 'max_node_count': 4},
        nodegroup=(ng_uuid, {'status': states.UPDATE_IN_PROGRESS}))
    _run(runner, op)
    ng = _group(cluster.uuid, ng_uuid)
    assert (ng.status, ng.node_count, ng.max_node_count) == (
        states.UPDATE_COMPLETE, 3, 4)
    assert len(ng.node_addresses) == 3
    assert len(_cluster(cluster.uuid).node_addresses) == 5
    assert len(_servers(sim)) == 6

    # New node labels reach the nodegroup's stack (the workers' kubeadm
    # registration) and its row.
    _, op = db_api.start_operation(
        cluster.uuid, states.OP_NODEGROUP_UPDATE,
        params={'nodegroup': ng_uuid, 'node_count': 3,
                'node_labels': {'tier': 'gpu'}},
        nodegroup=(ng_uuid, {'status': states.UPDATE_IN_PROGRESS}))
    _run(runner, op)
    ng = _group(cluster.uuid, ng_uuid)
    assert ng.node_labels == {'tier': 'gpu'}
    from caas.clients import cloud
    stack = cloud.CloudClients().heat.stacks.get(ng.stack_id)
    registration = json.loads(base64.b64decode(
        stack.parameters['node_registration']))
    assert registration == {'kubeletExtraArgs': {'node-labels': 'tier=gpu'}}
    assert len(_cluster(cluster.uuid).node_addresses) == 5

    # Resizing the default worker leaves the nodegroup alone.
    _, op = db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE,
                                   {'node_count': 1,
                                    'nodegroup': default.uuid})
    _run(runner, op)
    assert _group(cluster.uuid, ng_uuid).node_count == 3
    assert len(_group(cluster.uuid, ng_uuid).node_addresses) == 3
    assert len(_cluster(cluster.uuid).node_addresses) == 4
    # The simulated Heat reports the update complete while the server it
    # removed still takes its delete_delay to go.
    kept = wait_for(lambda: len(_servers(sim)) == 5 and _servers(sim))
    assert len(kept) == 5

    ng_servers = {k for k, name in kept.items() if ng_uuid in name}
    assert len(ng_servers) == 3
    _, op = db_api.start_operation(
        cluster.uuid, states.OP_NODEGROUP_DELETE,
        params={'nodegroup': ng_uuid},
        nodegroup=(ng_uuid, {'status': states.DELETE_IN_PROGRESS}))
    _run(runner, op)
    after = _servers(sim)
    # Exactly the nodegroup's servers are gone.
    assert set(after) == set(kept) - ng_servers
    assert sim.cloud.summary()['counts']['stacks'] == 1
    assert ng_uuid not in {g.uuid for g in
                           db_api.list_nodegroups(cluster.uuid)}
    row = _cluster(cluster.uuid)
    assert row.status == states.UPDATE_COMPLETE
    assert len(row.node_addresses) == 1


def test_cluster_delete_leaves_no_nodegroup_stack(make_runner, sim):
    runner = make_runner()
    cluster = _built(runner, node_count=1)
    for name in ('ng1', 'ng2'):
        _, op = _start_create(cluster, name=name, node_count=1)
        _run(runner, op)
    assert sim.cloud.summary()['counts']['stacks'] == 3
    _, op = db_api.start_operation(cluster.uuid, states.OP_CLUSTER_DELETE)
    _run(runner, op)
    summary = sim.cloud.summary()
    assert summary['counts']['stacks'] == 0
    assert summary['counts']['servers'] == 0
    with pytest.raises(exceptions.ClusterNotFound):
        _cluster(cluster.uuid)


def test_a_killed_conductor_nodegroup_create_resumes_once(make_runner, sim):
    runner = make_runner('first')
    cluster = _built(runner, node_count=1)
    sim.cloud.knobs['server_boot_delay'] = 1.5
    second = make_runner('second')
    ng_uuid, op = _start_create(cluster, node_count=2)
    assert runner.claim_and_run(op.id)
    # The first conductor made the nodegroup's stack; it is declared dead
    # and the second takes the operation over (epoch 1 -> 2).
    wait_for(lambda: _group(cluster.uuid, ng_uuid).stack_id)
    stack_id = _group(cluster.uuid, ng_uuid).stack_id
    done = taken_over(second, op.id, timeout=60)
    assert (done.owner, done.epoch) == ('second', 2)
    ng = _group(cluster.uuid, ng_uuid)
    assert ng.status == states.CREATE_COMPLETE
    # The stack the first conductor created was reused, not made again.
    assert ng.stack_id == stack_id
    assert sim.cloud.summary()['counts']['stacks'] == 2
    assert len(_servers(sim)) == 4
    wait_for(lambda: not runner.running())


def test_a_failed_nodegroup_create_fails_the_group_and_can_be_deleted(
        make_runner, sim):
    runner = make_runner()
    cluster = _built(runner, node_count=1)
    sim.cloud.knobs['server_failure_rate'] = 1.0
    ng_uuid, op = _start_create(cluster, node_count=1)
    _run(runner, op, state=states.OP_FAILED)
    ng = _group(cluster.uuid, ng_uuid)
    assert ng.status == states.CREATE_FAILED
    assert 'CREATE_FAILED' in ng.status_reason
    row = _cluster(cluster.uuid)
    assert row.status == states.UPDATE_FAILED and row.operation_id is None
    # The other nodegroups keep their own status.
    assert {g.status for g in db_api.list_nodegroups(cluster.uuid)
            if g.is_default} == {states.CREATE_COMPLETE}
    sim.cloud.knobs['server_failure_rate'] = 0.0
    _, op = db_api.start_operation(
        cluster.uuid, states.OP_NODEGROUP_DELETE,
        params={'nodegroup': ng_uuid},
        nodegroup=(ng_uuid, {'status': states.DELETE_IN_PROGRESS}))
    _run(runner, op)
    assert sim.cloud.summary()['counts']['stacks'] == 1
    assert len(_servers(sim)) == 2


def test_a_deleted_nodegroup_stack_makes_the_cluster_unhealthy(make_runner,
                                                               sim):
    from caas.clients import cloud
    from caas.conductor import health
    runner = make_runner()
    cluster, op = make_cluster()       # the fake driver: quick stacks
    _run(runner, op)
    ng_uuid, op = _start_create(cluster, name='gpu', node_count=1)
    _run(runner, op)
    clients = cloud.CloudClients()
    health.run_once('c1', clients, 0, ['c1'])
    assert _cluster(cluster.uuid).health_status == states.HEALTHY
    stack_id = _group(cluster.uuid, ng_uuid).stack_id
    clients.heat.stacks.delete(stack_id)

    def unhealthy():
        health.run_once('c1', clients, 0, ['c1'])
        row = _cluster(cluster.uuid)
        return row if row.health_status == states.UNHEALTHY else None
    row = wait_for(unhealthy, timeout=10)
    # The cluster's own stack is fine; the reason names the nodegroup.
    assert set(row.health_status_reason) == {'nodegroup gpu'}
    assert stack_id in row.health_status_reason['nodegroup gpu']


def test_an_expired_nodegroup_operation_fails_only_its_nodegroup(
        make_runner, sim):
    from caas.db import operations as db_ops
    runner = make_runner()
    cluster, op = make_cluster()       # the fake driver: quick stacks
    _run(runner, op)
    ng_uuid, op = _start_create(cluster, name='late', node_count=1)
    # The sweeper's deadline: nobody claimed it (epoch 0).
    assert db_ops.expire(op.id, 0, states.UPDATE_FAILED, 'Timed out.')
    ng = _group(cluster.uuid, ng_uuid)
    assert (ng.status, ng.status_reason) == (states.CREATE_FAILED,
                                             'Timed out.')
    assert {g.status for g in db_api.list_nodegroups(cluster.uuid)
            if g.is_default} == {states.CREATE_COMPLETE}
    row = _cluster(cluster.uuid)
    assert row.status == states.UPDATE_FAILED and row.operation_id is None
