"""cluster_upgrade and cluster_ca_rotate on a real TaskFlow engine, SQL
persistence and the simulated cloud: batches, exactly-once replacement
across a takeover, failure, and the CAs handed to every node."""

import base64

import sqlalchemy as sa
from cryptography import fernet

from caas import pki
from caas.common import states
from caas.conductor import flows
from caas.conductor.tasks import upgrade
from caas.db import api as db_api
from caas.db import certificates as ca_db
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.pki import authority
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation

OLD_TAG, NEW_TAG = 'v1.29.6', 'v1.30.2'


def _created(make_runner, workers=4, labels=None):
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=workers)
    if labels is not None:
        with engine.session_scope() as session:
            session.execute(sa.update(models.ClusterTemplate).where(
                models.ClusterTemplate.uuid == cluster.cluster_template_id)
                .values(labels=labels))
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    return runner, db_api.get_cluster(cluster.uuid,
                                      scope=db_api.ALL_PROJECTS)


def _new_template(kube_tag=NEW_TAG):
    return db_api.create_cluster_template({
        'name': 't2', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': 'ubuntu',
        'flavor_id': 'm1.small', 'master_flavor_id': 'm1.small',
        'keypair_id': 'default', 'external_network_id': 'public',
        'labels': {'kube_tag': kube_tag}})


def _start_upgrade(cluster, template, batch, roles=('master', 'worker')):
    groups = [ng.uuid for ng in db_api.list_nodegroups(cluster.uuid)
              if ng.role in roles]
    _, op = db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPGRADE, {
        'cluster_template': template.uuid,
        'previous_template': cluster.cluster_template_id,
        'max_batch_size': batch, 'nodegroups': groups})
    return op


def _stack(sim, cluster):
    with sim.cloud.lock:
        return next(s for s in sim.cloud.data['stacks'].values()
                    if s['name'] == 'caas-%s' % cluster.uuid)


def _log(sim, cluster, group):
    with sim.cloud.lock:
        return list(_stack(sim, cluster)['resources'][group]['data'].get(
            'rolling_log', []))


def _members(sim, cluster, group):
    with sim.cloud.lock:
        nested = _stack(sim, cluster)['resources'][group]['nested']
        return {name: member['nested']['resources']
                for name, member in nested['resources'].items()}


def _server_ids(sim, cluster, group):
    return {name: res['server']['physical_id']
            for name, res in _members(sim, cluster, group).items()}


def _replaced(sim, cluster, group):
    return {name: res['server']['data'].get('replaced', 0)
            for name, res in _members(sim, cluster, group).items()}


def _assert_rolled_once(sim, cluster, group, batch, members):
    """One rolling update, every member in exactly one batch of at most
    ``batch``, each batch started after the previous one completed."""
    [entry] = _log(sim, cluster, group)
    assert entry['status'] == 'COMPLETE'
    done = [m for b in entry['batches'] for m in b['members']]
    assert sorted(done, key=int) == [str(i) for i in range(members)]
    assert all(len(b['members']) <= batch for b in entry['batches'])
    for prev, nxt in zip(entry['batches'], entry['batches'][1:]):
        assert nxt['started_at'] >= prev['completed_at']
    assert set(_replaced(sim, cluster, group).values()) == {1}


def test_the_flow_shapes():
    names = [a.name for a in flows.FACTORIES['cluster_upgrade']()]
    assert names[0] == 'begin-cluster_upgrade'
    # The records change only after the stack completed.
    assert names.index('wait-stack-update') < names.index(
        'caas.conductor.tasks.upgrade.RecordUpgrade')
    names = [a.name for a in flows.FACTORIES['cluster_ca_rotate']()]
    # The nodegroups' stacks get the CAs after the cluster's completed.
    assert names == ['begin-cluster_ca_rotate',
                     'caas.conductor.tasks.upgrade.HandOverCAs',
                     'wait-stack-update', 'nodegroup-stacks-cas',
                     'complete-cluster_ca_rotate']


def test_an_upgrade_replaces_every_node_in_batches(make_runner, sim):
    runner, cluster = _created(make_runner, labels={'kube_tag': OLD_TAG})
    assert cluster.coe_version == OLD_TAG
    before = _server_ids(sim, cluster, 'kube_minions')
    new = _new_template()
    op = _start_upgrade(cluster, new, batch=2)
    runner.claim_and_run(op.id)
    done = wait_operation(op.id, timeout=60)
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert done.state == states.OP_SUCCEEDED, row.status_reason
    assert row.status == states.UPDATE_COMPLETE
    assert row.cluster_template_id == new.uuid
    assert row.coe_version == NEW_TAG
    assert row.labels['kube_tag'] == NEW_TAG
    for ng in db_api.list_nodegroups(cluster.uuid):
        assert ng.labels['kube_tag'] == NEW_TAG and ng.version == NEW_TAG
    _assert_rolled_once(sim, cluster, 'kube_minions', 2, 4)
    _assert_rolled_once(sim, cluster, 'kube_masters', 2, 1)
    after = _server_ids(sim, cluster, 'kube_minions')
    assert not set(before.values()) & set(after.values())
    assert len(row.node_addresses) == 4


def test_upgrading_the_workers_leaves_the_masters(make_runner, sim):
    runner, cluster = _created(make_runner, workers=2,
                               labels={'kube_tag': OLD_TAG})
    masters = _server_ids(sim, cluster, 'kube_masters')
    op = _start_upgrade(cluster, _new_template(), batch=1, roles=('worker',))
    runner.claim_and_run(op.id)
    assert wait_operation(op.id, timeout=60).state == states.OP_SUCCEEDED
    assert _server_ids(sim, cluster, 'kube_masters') == masters
    assert _log(sim, cluster, 'kube_masters') == []
    _assert_rolled_once(sim, cluster, 'kube_minions', 1, 2)
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.coe_version == OLD_TAG       # the control plane's version
    groups = {ng.role: ng for ng in db_api.list_nodegroups(cluster.uuid)}
    assert groups['master'].labels['kube_tag'] == OLD_TAG
    assert groups['worker'].labels['kube_tag'] == NEW_TAG


def _takeover(make_runner, sim, lose_progress):
    sim.cloud.knobs['server_boot_delay'] = 0.8
    first, cluster = _created(make_runner, labels={'kube_tag': OLD_TAG})
    op = _start_upgrade(cluster, _new_template(), batch=1,
                        roles=('worker',))
    first.claim_and_run(op.id)
    # Half-way: two of the four batches started.
    wait_for(lambda: len((_log(sim, cluster, 'kube_minions') or [
        {'batches': []}])[-1]['batches']) >= 2, timeout=60)
    if lose_progress:
        # The worst case: the flow's progress is lost and the new owner
        # runs every task again, the stack update included.
        with engine.session_scope() as session:
            session.execute(sa.update(models.Operation).where(
                models.Operation.id == op.id).values(flow_id=None))
    second = make_runner('second')
    assert second.claim_and_run(op.id, expect_owner='c1', expect_epoch=1)
    done = wait_operation(op.id, timeout=60)
    assert done.state == states.OP_SUCCEEDED, done.error
    assert done.owner == 'second'
    _assert_rolled_once(sim, cluster, 'kube_minions', 1, 4)
    wait_for(lambda: not first.running())


def test_a_takeover_neither_replaces_a_node_twice_nor_skips_a_batch(
        make_runner, sim):
    _takeover(make_runner, sim, lose_progress=False)


def test_running_the_whole_flow_again_replaces_nothing_twice(make_runner,
                                                             sim):
    _takeover(make_runner, sim, lose_progress=True)


def test_a_failed_upgrade_keeps_the_old_template(make_runner, sim):
    runner, cluster = _created(make_runner, labels={'kube_tag': OLD_TAG})
    sim.cloud.knobs['server_failure_rate'] = 1.0
    op = _start_upgrade(cluster, _new_template(), batch=2,
                        roles=('worker',))
    runner.claim_and_run(op.id)
    assert wait_operation(op.id, timeout=60).state == states.OP_FAILED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.UPDATE_FAILED
    assert 'wait-stack-update' in row.status_reason
    assert 'UPDATE_FAILED' in row.status_reason
    assert row.cluster_template_id == cluster.cluster_template_id
    assert row.operation_id is None
    worker = [ng for ng in db_api.list_nodegroups(cluster.uuid)
              if ng.role == 'worker'][0]
    assert worker.labels.get('kube_tag', OLD_TAG) == OLD_TAG
    # Heat stopped at the failed batch.
    [entry] = _log(sim, cluster, 'kube_minions')
    assert entry['status'] == 'FAILED' and len(entry['batches']) == 1


def test_the_upgrade_task_sends_nothing_when_run_again(make_runner, sim):
    runner, cluster = _created(make_runner, workers=1,
                               labels={'kube_tag': OLD_TAG})
    op = _start_upgrade(cluster, _new_template(), batch=1)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id, timeout=60).state == states.OP_SUCCEEDED
    updated = _stack(sim, cluster)['updated_time']
    # What a second run of the task would send is what the stack holds.
    data = upgrade.common.load(cluster.uuid)
    params = db_api.get_operation(op.id).params
    old_template = db_api.get_cluster_template(
        cluster.cluster_template_id, scope=db_api.ALL_PROJECTS).as_dict()
    old_data = upgrade.common.ClusterData(
        dict(data.cluster, cluster_template_id=old_template['uuid']),
        old_template, data.nodegroups, data.driver)
    groups = upgrade.upgraded_groups(old_data, params,
                                     upgrade._new_template(params))
    definition = data.driver.upgrade_definition(
        old_data.cluster, old_data.template, groups, 1,
        upgrade.stack_tasks.ca_pems(cluster.uuid))

    class Fence:
        cluster_uuid = cluster.uuid

        def check(self):
            raise AssertionError('a stack update was about to be sent')
    from caas.clients import cloud
    upgrade.send_definition(Fence(), cloud.CloudClients(),
                            cluster.stack_id, definition, 'upgraded')
    assert _stack(sim, cluster)['updated_time'] == updated


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _with_cas(cluster_uuid):
    # Every type of the COE: the create's step keeps CAs that exist and
    # makes only missing ones (caas.db.certificates.make_for_create).
    rows = authority.new_cas(cluster_uuid, pki.ca_types('kubernetes'))
    with engine.session_scope() as session:
        session.execute(sa.insert(models.ClusterCA),
                        [dict(r, cluster_uuid=cluster_uuid) for r in rows])
    return [r['cert_pem'] for r in rows]


def test_ca_rotation_hands_the_new_cas_to_every_node_in_place(
        make_runner, sim, conf):
    conf('encryption_keys', [fernet.Fernet.generate_key().decode()],
         group='pki')
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=2)
    first_pems = _with_cas(cluster.uuid)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    cluster = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    # The nodes trust the CAs from their first boot.
    assert _stack(sim, cluster)['params']['ca_bundle_b64'] == _b64(
        ''.join(first_pems))
    servers = _server_ids(sim, cluster, 'kube_minions')
    masters = _server_ids(sim, cluster, 'kube_masters')

    rows = authority.new_cas(cluster.uuid, pki.ca_types('kubernetes'))
    _, op = ca_db.rotate(cluster.uuid, rows, timeout_minutes=5)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id, timeout=60).state == states.OP_SUCCEEDED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.UPDATE_COMPLETE, row.status_reason
    bundle = ''.join(r['cert_pem'] for r in rows)
    assert _stack(sim, cluster)['params']['ca_bundle_b64'] == _b64(bundle)
    # In the user data Heat keeps for the nodes it creates later.
    for group in ('kube_masters', 'kube_minions'):
        for node in _members(sim, cluster, group).values():
            assert _b64(bundle) in node['server']['props']['user_data']
    # No node was replaced for it.
    assert _server_ids(sim, cluster, 'kube_minions') == servers
    assert _server_ids(sim, cluster, 'kube_masters') == masters
    assert set(_replaced(sim, cluster, 'kube_minions').values()) == {0}
