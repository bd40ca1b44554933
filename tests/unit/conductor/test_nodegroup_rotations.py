"""The stacks of nodegroups users added get what the cluster's nodes get:
the CA bundle in their user data from their first boot, and the new one
after a CA rotation (no server replaced, once per stack, also when a
conductor dies half-way and another takes over). The cloud credential is
the masters' only (the cluster's stack): a credential rotation replaces
no server either, and servers created after it boot with the new one."""

import base64
import collections

import pytest
import sqlalchemy as sa

from caas import pki
from caas.common import states
from caas.conductor.tasks import common
from caas.db import api as db_api
from caas.db import certificates as ca_db
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.drivers.kubernetes import template as k8s_template
from caas.pki import authority
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import taken_over
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
    # Every type of the COE: the create's step keeps CAs that exist and
    # makes only missing ones (caas.db.certificates.make_for_create).
    rows = authority.new_cas(cluster_uuid, pki.ca_types('kubernetes'))
    with engine.session_scope() as session:
        session.execute(sa.insert(models.ClusterCA),
                        [dict(r, cluster_uuid=cluster_uuid) for r in rows])
    return ''.join(r['cert_pem'] for r in rows)


def _world(make_runner, runner_name='c1'):
    """A Kubernetes cluster with its CAs and two added nodegroups."""
    runner = make_runner(runner_name)
    cluster, op = make_cluster(driver=None, node_count=1, labels={
        'cloud_provider_enabled': 'true'})
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


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _nodes(sim, stack_id, group):
    """[(server id, user data Heat keeps, user data the server booted
    with)] of the stack's ``group`` members."""
    found = []
    with sim.cloud.lock:
        nested = sim.cloud.data['stacks'][stack_id]['resources'][group][
            'nested']
        for member in nested['resources'].values():
            server = member['nested']['resources']['server']
            booted = sim.cloud.data['servers'][server['physical_id']]
            found.append((server['physical_id'],
                          server['props']['user_data'],
                          booted['user_data']))
    return found


def _ca_inputs(sim, stack_id, group='kube_minions'):
    """Whether each member's user data (kept, booted) holds the bundle."""
    return [(kept, booted) for _id, kept, booted in
            _nodes(sim, stack_id, group)]


def _rotate_credential(cluster):
    _, op = db_api.start_operation(cluster.uuid,
                                   states.OP_CLUSTER_CREDENTIAL_ROTATE)
    return op


def _rotate_cas(cluster):
    rows = authority.new_cas(cluster.uuid, pki.ca_types('kubernetes'))
    _, op = ca_db.rotate(cluster.uuid, rows, timeout_minutes=5)
    return op, ''.join(r['cert_pem'] for r in rows)


def test_a_new_nodegroup_gets_the_cas_from_its_start_and_no_credential(
        make_runner, sim):
    _runner, cluster, ngs, bundle = _world(make_runner)
    stacks = _stack_ids(cluster)
    assert len(stacks) == 3
    theirs = _params(sim, cluster.stack_id)
    assert theirs['trustee_user_id'] and theirs['trust_id']
    for stack_id, whose in stacks.items():
        params = _params(sim, stack_id)
        assert params['ca_bundle_b64'] == _b64(bundle), whose
        if whose != 'cluster':
            # Workers read no credential: their stacks do not take it.
            assert not set(CREDENTIAL) & set(params), whose
            for kept, booted in _ca_inputs(sim, stack_id):
                assert _b64(bundle) in booted and kept == booted
                assert theirs['trustee_password'] not in booted
    (_id, _kept, booted), = _nodes(sim, cluster.stack_id, 'kube_masters')
    assert 'password=%s' % theirs['trustee_password'] in booted


def test_a_credential_rotation_replaces_no_server(make_runner, sim):
    runner, cluster, _ngs, _bundle = _world(make_runner)
    old = _params(sim, cluster.stack_id)
    servers = _servers(sim)
    _run(runner, _rotate_credential(cluster))
    new = _params(sim, cluster.stack_id)
    assert new['trustee_user_id'] != old['trustee_user_id']
    assert new['user_data_update_policy'] == 'IGNORE'
    # One trust left, the new one; no node was replaced.
    assert list(sim.cloud.data['trusts']) == [new['trust_id']]
    assert _servers(sim) == servers
    # Heat keeps the new credential for the next master it creates; the
    # running one keeps the user data it booted with.
    (_id, kept, booted), = _nodes(sim, cluster.stack_id, 'kube_masters')
    assert 'password=%s' % new['trustee_password'] in kept
    assert 'password=%s' % old['trustee_password'] in booted


def test_a_ca_rotation_replaces_no_server(make_runner, sim):
    runner, cluster, _ngs, _bundle = _world(make_runner)
    servers = _servers(sim)
    op, bundle = _rotate_cas(cluster)
    _run(runner, op)
    for stack_id, whose in _stack_ids(cluster).items():
        params = _params(sim, stack_id)
        assert params['ca_bundle_b64'] == _b64(bundle), whose
        assert params['user_data_update_policy'] == 'IGNORE', whose
        group = 'kube_masters' if whose == 'cluster' else 'kube_minions'
        for kept, booted in _ca_inputs(sim, stack_id, group):
            assert _b64(bundle) in kept and _b64(bundle) not in booted
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


# Only a CA rotation updates the nodegroups' stacks (no credential there).
@pytest.mark.parametrize('rotation', ['cas'])
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
    taken_over(second, op.id, timeout=60)
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
            assert _params(sim, stack_id)['ca_bundle_b64'] == _b64(bundle), \
                whose


def _template_before_rotations(options):
    """kubenodegroup.yaml as it was before nodegroups got the CAs and the
    rolling policy."""
    tpl = real_nodegroup_template(options)
    for name in ('update_max_batch_size', 'ca_bundle_b64',
                 'user_data_update_policy'):
        tpl['parameters'].pop(name)
    group = tpl['resources']['kube_minions']
    group.pop('update_policy')
    for name in ('ca_bundle_b64', 'user_data_update_policy'):
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
        assert 'ca_bundle_b64' not in _params(sim, stack_id)
    servers = _servers(sim)
    monkeypatch.setattr(k8s_template, 'nodegroup_template',
                        real_nodegroup_template)
    op, bundle = _rotate_cas(cluster)
    _run(runner, op)
    for stack_id in ng_stacks:
        params = _params(sim, stack_id)
        assert params['ca_bundle_b64'] == _b64(bundle)
        for kept, _booted in _ca_inputs(sim, stack_id):
            assert _b64(bundle) in kept
    # The new template's user data did not replace the servers either.
    assert _servers(sim) == servers
