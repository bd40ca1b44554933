"""Auto-healing: the simulated Heat's "mark unhealthy" and replace-on-update,
the watcher's decisions (after [health] auto_heal_after, never above the
unhealthy share, never while another operation runs) and the cluster_heal
flow on a real TaskFlow engine with SQL persistence, replacing a node
exactly once across a takeover."""

import pytest
import sqlalchemy as sa
from heatclient import exc as heat_exc

from caas.clients import cloud
from caas.common import states
from caas.conductor import flows
from caas.conductor import health
from caas.conductor.tasks import heal
from caas.db import api as db_api
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.sim import stacks as sim_stacks
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation
from tests.unit.conductor.test_upgrade import _server_ids
from tests.unit.conductor.test_upgrade import _stack

GROUP = 'kube_minions'


class Clock:
    def __init__(self):
        self.now = 5000.0

    def __call__(self):
        return self.now


def _created(make_runner, workers=3, auto_heal=True):
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=workers)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id, timeout=60).state == states.OP_SUCCEEDED
    if auto_heal:
        _enable(cluster)
    return runner, db_api.get_cluster(cluster.uuid,
                                      scope=db_api.ALL_PROJECTS)


def _enable(cluster):
    # Set after the stacks were built: the Kubernetes driver's label schema
    # (another helper's) refuses the label today; the watcher reads the
    # merged labels itself.
    with engine.session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == cluster.uuid).values(
                labels={'auto_healing_enabled': 'true'}))


def _heals(cluster):
    return [op for op in db_api.list_operations(cluster.uuid)
            if op.kind == states.OP_CLUSTER_HEAL]


def _replaced_by_one_heal(sim, cluster, ids, key):
    """The one heal started succeeds and replaces worker ``key`` alone;
    returns the servers after it."""
    [op] = _heals(cluster)
    done = wait_operation(op.id, timeout=60)
    assert done.state == states.OP_SUCCEEDED, done.error
    assert done.params['servers'] == [ids[key]]
    after = _server_ids(sim, cluster, GROUP)
    assert after[key] != ids[key]
    assert {k: v for k, v in after.items() if k != key} == \
        {k: v for k, v in ids.items() if k != key}
    return after


def _count_servers_made(sim, monkeypatch):
    made = []
    create = sim.cloud.create_server

    def counting(*args, **kwargs):
        srv = create(*args, **kwargs)
        made.append(srv['id'])
        return srv
    monkeypatch.setattr(sim.cloud, 'create_server', counting)
    return made


def test_the_flow_shape():
    names = [a.step for a in flows.FACTORIES['cluster_heal']()]
    assert names == ['begin', 'mark-unhealthy', 'replace-nodes',
                     'copy-outputs', 'complete']
    assert states.TRANSITIONS['cluster_heal'][0] == states.UPDATE_IN_PROGRESS


def test_heat_replaces_only_the_resource_marked_unhealthy(make_runner, sim):
    _runner, cluster = _created(make_runner, auto_heal=False)
    clients = cloud.CloudClients()
    ids = _server_ids(sim, cluster, GROUP)
    rows = clients.heat.resources.list(cluster.stack_id, nested_depth=3)
    row = next(r for r in rows if r.physical_resource_id == ids['1'])
    owner = heal._owning_stack(row)
    clients.heat.resources.mark_unhealthy(owner, row.resource_name, True,
                                          'broken disk')
    marked = [(r.physical_resource_id, r.resource_status_reason)
              for r in clients.heat.resources.list(cluster.stack_id,
                                                   nested_depth=3)
              if r.resource_status == 'CHECK_FAILED']
    assert marked == [(ids['1'], 'broken disk')]
    # Marking changes no stack's status; only an update replaces.
    assert clients.heat.stacks.get(cluster.stack_id).stack_status == \
        'CREATE_COMPLETE'
    assert _server_ids(sim, cluster, GROUP) == ids
    clients.heat.stacks.update(cluster.stack_id, existing=True,
                               parameters={})
    wait_for(lambda: clients.heat.stacks.get(
        cluster.stack_id).stack_status == 'UPDATE_COMPLETE')
    after = _server_ids(sim, cluster, GROUP)
    assert after['1'] != ids['1']
    assert (after['0'], after['2']) == (ids['0'], ids['2'])
    assert not [r for r in clients.heat.resources.list(
        cluster.stack_id, nested_depth=3)
        if r.resource_status == 'CHECK_FAILED']


def test_heat_refuses_a_bad_mark(make_runner, sim):
    _runner, cluster = _created(make_runner, workers=1, auto_heal=False)
    clients = cloud.CloudClients()
    with pytest.raises(heat_exc.HTTPBadRequest):
        clients.heat.resources.mark_unhealthy(cluster.stack_id, GROUP,
                                              'yes', '')
    with pytest.raises(heat_exc.HTTPNotFound):
        clients.heat.resources.mark_unhealthy(cluster.stack_id, 'nope',
                                              True, '')


def test_a_stopped_worker_is_replaced_once_it_stayed_down_long_enough(
        make_runner, sim, conf, monkeypatch):
    conf('auto_heal_after', 100, group='health')
    runner, cluster = _created(make_runner)
    clients = cloud.CloudClients()
    ids = _server_ids(sim, cluster, GROUP)
    clients.nova.servers.stop(ids['2'])
    name = clients.nova.servers.get(ids['2']).name
    clock = Clock()
    watcher = health.Watcher(30, runner=runner, clock=clock)
    health.run_once('c1', clients, 30, ['c1'], watcher=watcher)
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.health_status == states.UNHEALTHY
    assert row.health_status_reason['%s.server' % name] == 'SHUTOFF'
    clock.now += 99
    health.run_once('c1', clients, 30, ['c1'], watcher=watcher)
    assert _heals(cluster) == []
    made = _count_servers_made(sim, monkeypatch)
    clock.now += 1
    health.run_once('c1', clients, 30, ['c1'], watcher=watcher)
    after = _replaced_by_one_heal(sim, cluster, ids, '2')
    assert made == [after['2']]
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.UPDATE_COMPLETE and row.operation_id is None
    # The new node boots; the next pass finds the cluster healthy again.
    wait_for(lambda: clients.nova.servers.get(after['2']).status == 'ACTIVE')
    health.run_once('c1', clients, 30, ['c1'], watcher=watcher)
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.health_status == states.HEALTHY
    assert len(_heals(cluster)) == 1


def test_nothing_is_healed_above_the_unhealthy_share(make_runner, sim,
                                                     conf):
    conf('auto_heal_after', 0, group='health')
    runner, cluster = _created(make_runner)
    clients = cloud.CloudClients()
    ids = _server_ids(sim, cluster, GROUP)
    clients.nova.servers.stop(ids['0'])
    clients.nova.servers.stop(ids['1'])
    watcher = health.Watcher(30, runner=runner)
    health.run_once('c1', clients, 30, ['c1'], watcher=watcher)
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.health_status == states.UNHEALTHY
    assert row.health_status_reason['auto_heal'].startswith(
        'stopped: 2 of 3 worker nodes are unhealthy')
    assert _heals(cluster) == []


def test_a_cluster_without_the_label_is_not_healed(make_runner, sim, conf):
    conf('auto_heal_after', 0, group='health')
    runner, cluster = _created(make_runner, auto_heal=False)
    clients = cloud.CloudClients()
    clients.nova.servers.stop(_server_ids(sim, cluster, GROUP)['0'])
    watcher = health.Watcher(30, runner=runner)
    health.run_once('c1', clients, 30, ['c1'], watcher=watcher)
    assert _heals(cluster) == []


def test_nothing_is_healed_while_another_operation_runs(make_runner, sim,
                                                        conf):
    conf('auto_heal_after', 0, group='health')
    runner, cluster = _created(make_runner)
    clients = cloud.CloudClients()
    ids = _server_ids(sim, cluster, GROUP)
    clients.nova.servers.stop(ids['0'])
    db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE,
                           {'node_count': 3})
    watcher = health.Watcher(30, runner=runner)
    assert health.run_once('c1', clients, 30, ['c1'], watcher=watcher) == 0
    # Even told to, the healer loses the compare-and-set.
    assert watcher.healer.heal(cluster.uuid, {ids['0']: 'down'}) is None
    assert _heals(cluster) == []


@pytest.mark.parametrize('lose_progress', [False, True])
def test_a_takeover_mid_heal_replaces_the_node_exactly_once(
        make_runner, sim, monkeypatch, lose_progress):
    first, cluster = _created(make_runner)
    sim.cloud.knobs['server_boot_delay'] = 0.8
    clients = cloud.CloudClients()
    ids = _server_ids(sim, cluster, GROUP)
    clients.nova.servers.stop(ids['1'])
    made = _count_servers_made(sim, monkeypatch)
    _, op = db_api.start_operation(
        cluster.uuid, states.OP_CLUSTER_HEAL,
        {'servers': [ids['1']], 'reasons': {ids['1']: 'SHUTOFF'}})
    first.claim_and_run(op.id)
    # The stack update that replaces the node is under way.
    wait_for(lambda: made, timeout=60)
    if lose_progress:
        # The worst case: every task runs again on the new owner.
        with engine.session_scope() as session:
            session.execute(sa.update(models.Operation).where(
                models.Operation.id == op.id).values(flow_id=None))
    second = make_runner('second')
    assert second.claim_and_run(op.id, expect_owner='c1', expect_epoch=1)
    done = wait_operation(op.id, timeout=60)
    assert done.state == states.OP_SUCCEEDED, done.error
    assert done.owner == 'second'
    after = _server_ids(sim, cluster, GROUP)
    assert made == [after['1']] and after['1'] != ids['1']
    assert (after['0'], after['2']) == (ids['0'], ids['2'])
    status, _reason = sim_stacks.stack_status(sim.cloud,
                                              _stack(sim, cluster))
    assert status == 'UPDATE_COMPLETE'
    wait_for(lambda: not first.running())


def test_a_worker_of_an_added_nodegroup_is_replaced_in_its_own_stack(
        make_runner, sim, conf, monkeypatch):
    from tests.unit.conductor.test_nodegroup_flows import _group
    from tests.unit.conductor.test_nodegroup_flows import _run
    from tests.unit.conductor.test_nodegroup_flows import _start_create
    conf('auto_heal_after', 0, group='health')
    runner, cluster = _created(make_runner, workers=1, auto_heal=False)
    ng_uuid, op = _start_create(cluster, node_count=3)
    _run(runner, op)
    _enable(cluster)
    clients = cloud.CloudClients()
    ng_stack = _group(cluster.uuid, ng_uuid).stack_id
    members = {r.physical_resource_id for r in clients.heat.resources.list(
        ng_stack, nested_depth=3) if r.resource_type == 'OS::Nova::Server'}
    default_before = _server_ids(sim, cluster, GROUP)
    doomed = sorted(members)[0]
    clients.nova.servers.stop(doomed)
    made = _count_servers_made(sim, monkeypatch)
    watcher = health.Watcher(30, runner=runner)
    health.run_once('c1', clients, 30, ['c1'], watcher=watcher)
    [heal_op] = _heals(cluster)
    done = wait_operation(heal_op.id, timeout=60)
    assert done.state == states.OP_SUCCEEDED, done.error
    after = {r.physical_resource_id for r in clients.heat.resources.list(
        ng_stack, nested_depth=3) if r.resource_type == 'OS::Nova::Server'}
    assert members - after == {doomed} and after - members == set(made)
    assert len(made) == 1
    assert _server_ids(sim, cluster, GROUP) == default_before
    group = _group(cluster.uuid, ng_uuid)
    assert len(group.node_addresses) == 3


def test_a_node_the_kubernetes_api_reports_not_ready_is_replaced(
        make_runner, sim, conf):
    """The probe's verdict joins the stack's and starts the heal: a stand-in
    Kubernetes API (certificates from the cluster's CA) reports one worker
    NotReady by its server name."""
    from caas.conductor import monitors
    from caas.conductor.monitors import schedule
    from caas.conductor.monitors import tls
    from tests.unit.conductor import coe_standin
    conf('auto_heal_after', 0, group='health')
    # Its CAs are the ones its create made.
    runner, cluster = _created(make_runner)
    tls.forget(cluster.uuid)
    clients = cloud.CloudClients()
    ids = _server_ids(sim, cluster, GROUP)
    names = {i: clients.nova.servers.get(s).name for i, s in ids.items()}
    ca_pem, ca_key = coe_standin.cluster_ca(cluster.uuid)
    api = coe_standin.StandIn(
        coe_standin.free_loopback(40), ca_pem, ca_pem, ca_key,
        coe_standin.k8s_routes({names['0']: 'True', names['1']: 'False',
                                names['2']: 'True'})).start()
    try:
        with engine.session_scope() as session:
            session.execute(sa.update(models.Cluster).where(
                models.Cluster.uuid == cluster.uuid).values(
                    api_address=api.url()))
        probes = schedule.ProbeScheduler(
            30, 2, lambda t: monitors.probe(t.uuid, t.coe, t.api_address))
        watcher = health.Watcher(30, runner=runner, probes=probes)
        # The first pass hands the scheduler its targets; probe them all.
        health.run_once('c1', clients, 30, ['c1'], watcher=watcher)
        for slot in range(probes.slots):
            probes.run_slot(slot)
        wait_for(lambda: probes.result(cluster.uuid, 60))
        health.run_once('c1', clients, 30, ['c1'], watcher=watcher)
        [op] = _heals(cluster)
        assert op.params['servers'] == [ids['1']]
        assert 'not Ready' in op.params['reasons'][ids['1']]
        assert wait_operation(op.id, timeout=60).state == \
            states.OP_SUCCEEDED
        after = _server_ids(sim, cluster, GROUP)
        assert after['1'] != ids['1']
        assert (after['0'], after['2']) == (ids['0'], ids['2'])
        assert {p for p, _cn in api.requests} == {'/healthz',
                                                  '/api/v1/nodes'}
        probes.stop()
    finally:
        api.stop()


def test_workers_in_the_owners_project_are_seen_through_the_trust(
        make_runner, sim, conf, monkeypatch):
    """With act_as_trustee the stack and its servers live in the owner's
    project, where caas's service user sees no server: the watcher lists
    them through the cluster's trust, so a stopped worker is one unhealthy
    worker (not three missing ones) and is replaced."""
    from caas.clients import trusted
    from caas.sim import state as sim_state
    from tests.unit.conductor.test_act_as_trustee import _sealed
    conf('act_as_trustee', True, group='trust')
    conf('auto_heal_after', 0, group='health')
    monkeypatch.setattr(health, '_LISTERS', {})
    demo = sim_state.PROJECTS['demo']
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=3)
    with engine.session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == cluster.uuid).values(project_id=demo))
        session.execute(sa.update(models.Operation).where(
            models.Operation.id == op.id).values(
                params=_sealed(sim, 'demo', 'demo')))
    runner.claim_and_run(op.id)
    done = wait_operation(op.id, timeout=60)
    assert done.state == states.OP_SUCCEEDED, done.error
    _enable(cluster)
    service = cloud.CloudClients()
    ids = _server_ids(sim, cluster, GROUP)
    # The service user sees none of them; the trust sees them all.
    assert not {s.id for s in service.nova.servers.list()} & set(
        ids.values())
    owner = trusted.ClusterClients(service, cluster.uuid, demo, dict)
    owner.nova.servers.stop(ids['2'])
    name = owner.nova.servers.get(ids['2']).name
    watcher = health.Watcher(30, runner=runner)
    health.run_once('c1', service, 30, ['c1'], watcher=watcher)
    _replaced_by_one_heal(sim, cluster, ids, '2')
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.UPDATE_COMPLETE
    # What the pass saw: the stopped worker, nothing missing.
    assert row.health_status_reason == {'%s.server' % name: 'SHUTOFF'}
