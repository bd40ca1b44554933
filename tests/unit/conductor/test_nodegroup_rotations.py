"""The stacks of nodegroups users added get what the cluster's nodes get:
the cloud credential and the CA bundle from their first boot, and the new
ones after a credential or CA rotation (in place, once per stack, also
when a conductor dies half-way and another takes over)."""

import collections

import pytest
import sqlalchemy as sa

from caas.common import states
from caas.conductor.tasks import common
from caas.db import api as db_api
from caas.db import certificates as ca_db
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.drivers.kubernetes import template as k8s_template
from caas.pki import authority
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation

CREDENTIAL = ('trustee_user_id', 'trustee_password', 'trust_id')


class ThreadDeath(BaseException):
    """A conductor dying mid-task: no ``except Exception`` catches it."""


def _run(runner, op, timeout=60):
    assert runner.claim_and_run(op.id)
    done = wait_operation(op.id, timeout=timeout)
    assert done.state == states.OP_SUCCEEDED, done.error
    return done


def _add_nodegroup(runner, cluster, name, nodes=1):
    ng_uuid = db_api.new_uuid()
    _, op = db_api.start_operation(
        cluster.uuid, states.OP_NODEGROUP_CREATE,
        params={'nodegroup': ng_uuid}, new_nodegroup={
            'uuid': ng_uuid, 'name': name, 'role': 'worker',
            'project_id': 'p1', 'is_default': False, 'node_count': nodes,
            'min_node_count': 0, 'flavor_id': 'm1.small',
            'image_id': 'ubuntu-jammy', 'labels': {}, 'node_addresses': [],
            'status': states.CREATE_IN_PROGRESS})
    _run(runner, op)
    return ng_uuid


def _with_cas(cluster_uuid):
    rows = authority.new_cas(cluster_uuid, ['kubernetes', 'etcd'])
    with engine.session_scope() as session:
        session.execute(sa.insert(models.ClusterCA),
                        [dict(r, cluster_uuid=cluster_uuid) for r in rows])
    return ''.join(r['cert_pem'] for r in rows)


def _world(make_runner, runner_name='c1'):
    """A Kubernetes cluster with its CAs and two added nodegroups."""
    runner = make_runner(runner_name)
    cluster, op = make_cluster(driver=None, node_count=1)
    bundle = _with_cas(cluster.uuid)
    _run(runner, op)
    cluster = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    ngs = [_add_nodegroup(runner, cluster, 'ng-a'),
           _add_nodegroup(runner, cluster, 'ng-b', nodes=2)]
    return runner, cluster, ngs, bundle


def _stack_ids(cluster):
    """{stack id: whose}: the cluster's and each added nodegroup's."""
    found = {cluster.stack_id: 'cluster'}
    for ng in db_api.list_nodegroups(cluster.uuid):
        if not ng.is_default:
            found[ng.stack_id] = ng.name
    return found


def _params(sim, stack_id):
    with sim.cloud.lock:
        return dict(sim.cloud.data['stacks'][stack_id]['param_values'])


def _servers(sim):
    return {s['id'] for s in sim.cloud.summary()['servers']}


def _ca_inputs(sim, stack_id):
    """The ca_bundle each worker's ca_trust deployment was given."""
    with sim.cloud.lock:
        nested = sim.cloud.data['stacks'][stack_id]['resources'][
            'kube_minions']['nested']
        return [member['nested']['resources']['ca_trust']['props'][
            'input_values']['ca_bundle']
            for member in nested['resources'].values()]


def _rotate_credential(cluster):
    _, op = db_api.start_operation(cluster.uuid,
                                   states.OP_CLUSTER_CREDENTIAL_ROTATE)
    return op


def _rotate_cas(cluster):
    rows = authority.new_cas(cluster.uuid, ['kubernetes', 'etcd'])
    _, op = ca_db.rotate(cluster.uuid, rows, timeout_minutes=5)
    return op, ''.join(r['cert_pem'] for r in rows)


def test_a_new_nodegroup_gets_the_credential_and_the_cas_from_its_start(
        make_runner, sim):
    _runner, cluster, ngs, bundle = _world(make_runner)
    stacks = _stack_ids(cluster)
    assert len(stacks) == 3
    theirs = _params(sim, cluster.stack_id)
    assert theirs['trustee_user_id'] and theirs['trust_id']
    for stack_id in stacks:
        params = _params(sim, stack_id)
        assert {k: params[k] for k in CREDENTIAL} == \
            {k: theirs[k] for k in CREDENTIAL}, stacks[stack_id]
        assert params['ca_bundle'] == bundle
    for ng_uuid in ngs:
        ng = [g for g in db_api.list_nodegroups(cluster.uuid)
              if g.uuid == ng_uuid][0]
        assert set(_ca_inputs(sim, ng.stack_id)) == {bundle}


def test_a_credential_rotation_reaches_every_stack_in_place(make_runner,
                                                            sim):
    runner, cluster, _ngs, _bundle = _world(make_runner)
    old = _params(sim, cluster.stack_id)
    servers = _servers(sim)
    _run(runner, _rotate_credential(cluster))
    new = _params(sim, cluster.stack_id)
    assert new['trustee_user_id'] != old['trustee_user_id']
    for stack_id, whose in _stack_ids(cluster).items():
        params = _params(sim, stack_id)
        assert {k: params[k] for k in CREDENTIAL} == \
            {k: new[k] for k in CREDENTIAL}, whose
    # One trust left, the new one; no node was replaced.
    assert list(sim.cloud.data['trusts']) == [new['trust_id']]
    assert _servers(sim) == servers


def test_a_ca_rotation_reaches_every_stack_in_place(make_runner, sim):
    runner, cluster, _ngs, _bundle = _world(make_runner)
    servers = _servers(sim)
    op, bundle = _rotate_cas(cluster)
    _run(runner, op)
    for stack_id, whose in _stack_ids(cluster).items():
        assert _params(sim, stack_id)['ca_bundle'] == bundle, whose
        if whose != 'cluster':
            assert set(_ca_inputs(sim, stack_id)) == {bundle}, whose
    assert _servers(sim) == servers
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.UPDATE_COMPLETE, row.status_reason


def _die_after_first_nodegroup_update(monkeypatch, cluster):
    """Kill the conductor right after Heat accepted the update of the
    first nodegroup stack; count every update per stack."""
    updates = collections.Counter()
    died = []
    ng_stacks = {s for s, whose in _stack_ids(cluster).items()
                 if whose != 'cluster'}
    real = common.cloud_call

    def update_then_die(fn, *args, **kwargs):
        result = real(fn, *args, **kwargs)
        if getattr(fn, '__name__', '') == 'update':
            updates[args[0]] += 1
            if args[0] in ng_stacks and not died:
                died.append(args[0])
                raise ThreadDeath()
        return result
    monkeypatch.setattr(common, 'cloud_call', update_then_die)
    return updates, died


@pytest.mark.parametrize('rotation', ['credential', 'cas'])
def test_a_conductor_killed_mid_hand_over_is_taken_over_cleanly(
        make_runner, sim, monkeypatch, rotation):
    first, cluster, _ngs, _bundle = _world(make_runner, 'first')
    updates, died = _die_after_first_nodegroup_update(monkeypatch, cluster)
    if rotation == 'credential':
        op = _rotate_credential(cluster)
    else:
        op, bundle = _rotate_cas(cluster)
    assert first.claim_and_run(op.id)
    wait_for(lambda: died and op.id not in first.running(), timeout=60)
    stuck = db_api.get_operation(op.id)
    assert (stuck.state, stuck.owner) == (states.OP_RUNNING, 'first')
    second = make_runner('second')
    assert second.claim_and_run(op.id, expect_owner='first', expect_epoch=1)
    done = wait_operation(op.id, timeout=60)
    assert done.state == states.OP_SUCCEEDED, done.error
    stacks = _stack_ids(cluster)
    # Every stack was sent its update exactly once: the one in progress
    # when the first conductor died was waited for, not sent again.
    assert {stacks[s]: n for s, n in updates.items()} == {
        whose: 1 for whose in stacks.values()}
    if rotation == 'credential':
        new = _params(sim, cluster.stack_id)
        for stack_id, whose in stacks.items():
            params = _params(sim, stack_id)
            assert {k: params[k] for k in CREDENTIAL} == \
                {k: new[k] for k in CREDENTIAL}, whose
        assert list(sim.cloud.data['trusts']) == [new['trust_id']]
        prefix = 'caas-%s-' % cluster.uuid
        assert len([u for u in sim.cloud.data['users'].values()
                    if u['name'].startswith(prefix)]) == 1
    else:
        for stack_id, whose in stacks.items():
            assert _params(sim, stack_id)['ca_bundle'] == bundle, whose


def _template_before_rotations(options):
    """kubenodegroup.yaml as it was before nodegroups got the CAs, the
    credential and the rolling policy."""
    tpl = real_nodegroup_template(options)
    for name in ('update_max_batch_size', 'ca_bundle', 'auth_url',
                 'region_name', 'trustee_user_id', 'trustee_password',
                 'trust_id'):
        tpl['parameters'].pop(name)
    tpl['resources'].pop('cloud_config')
    group = tpl['resources']['kube_minions']
    group.pop('update_policy')
    for name in ('ca_bundle', 'cloud_config'):
        group['properties']['resource_def']['properties'].pop(name)
    return tpl


real_nodegroup_template = k8s_template.nodegroup_template


def test_a_nodegroup_stack_older_than_its_parameters_gets_the_template(
        make_runner, sim, monkeypatch):
    monkeypatch.setattr(k8s_template, 'nodegroup_template',
                        _template_before_rotations)
    runner, cluster, _ngs, _bundle = _world(make_runner)
    ng_stacks = [s for s, whose in _stack_ids(cluster).items()
                 if whose != 'cluster']
    for stack_id in ng_stacks:
        assert 'ca_bundle' not in _params(sim, stack_id)
    servers = _servers(sim)
    monkeypatch.setattr(k8s_template, 'nodegroup_template',
                        real_nodegroup_template)
    op, bundle = _rotate_cas(cluster)
    _run(runner, op)
    credential = _params(sim, cluster.stack_id)
    for stack_id in ng_stacks:
        params = _params(sim, stack_id)
        assert params['ca_bundle'] == bundle
        # The credential comes with the template, as the cluster's.
        assert {k: params[k] for k in CREDENTIAL} == \
            {k: credential[k] for k in CREDENTIAL}
        assert set(_ca_inputs(sim, stack_id)) == {bundle}
    assert _servers(sim) == servers
