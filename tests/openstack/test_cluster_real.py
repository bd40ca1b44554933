"""Clusters through caas's own API and conductor on the real Heat and Nova.

A project member creates, with python-magnumclient found through the real
catalog (password auth), a Swarm-mode and a Kubernetes cluster of the real
drivers (``swarm_ubuntu_v1``, ``k8s_ubuntu_v1`` on image ``ubuntu-jammy``):
the API checks flavor, image and keypair against the real Nova and the
Glance stand-in; the conductor creates each stack in the member's project
with the operator's Heat environment (``[heat] environment_file``: the
Neutron/Octavia/Cinder stand-ins and OS::Nova::Server's, which boots a
real Nova server: tests/openstack/heat_standins.py), waits for it through
the cluster's trust and records the addresses from the real stack's
outputs. Both resize (+1 worker: one more real server); a Kubernetes
worker stopped in the real Nova is replaced by auto-healing, which sees
the member's servers through the cluster's trust; both are deleted,
leaving no server, no stack and no trustee or trust in Keystone.

The tier signaller stands in for the nodes' bootstraps, which fake-virt
servers do not run.
"""

import json
import time
import uuid

import pytest
import sqlalchemy as sa
from heatclient import exc as heat_exc
from keystoneauth1 import session as ks_session
from keystoneclient.v3 import client as ks_client
from magnumclient import client as magnum_client
from magnumclient import exceptions as mc_exc
from novaclient import client as nova_client

from tests.openstack import heat_standins
from tests.openstack import signaller
from tests.openstack.test_heat_real import _admin
from tests.openstack.test_keystone_real import _auth
from tests.openstack.test_trust_real import _heat
from tests.openstack.test_trust_real import _owner_trusts
from tests.openstack.test_trust_real import _trustees

pytestmark = pytest.mark.openstack

KINDS = {'swarm-mode': 'swarm_ubuntu_v1', 'kubernetes': 'k8s_ubuntu_v1'}
LABELS = {'swarm-mode': {}, 'kubernetes': {'auto_healing_enabled': 'true'}}


def _wait(mc, cluster_uuid, want, timeout=900):
    deadline = time.monotonic() + timeout
    while True:
        try:
            cluster = mc.clusters.get(cluster_uuid)
        except mc_exc.NotFound:
            if want is None:
                return None
            raise
        if cluster.status == want or cluster.status.endswith('_FAILED'):
            assert cluster.status == want, (cluster.status,
                                            cluster.status_reason)
            return cluster
        assert time.monotonic() < deadline, (cluster_uuid, cluster.status)
        time.sleep(1)


def _servers(nova, project_id, stack_name):
    return sorted(s.name for s in nova.servers.list(
        search_opts={'all_tenants': 1, 'project_id': project_id})
        if s.name.startswith(stack_name))


def _server_ids(nova, project_id, stack_name):
    return {s.name: s.id for s in nova.servers.list(
        search_opts={'all_tenants': 1, 'project_id': project_id})
        if s.name.startswith(stack_name)}


def _wait_heal(dep, cluster_uuid, timeout=600):
    """The cluster's cluster_heal operation, once it succeeded."""
    eng = sa.create_engine(dep.db_url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with eng.connect() as conn:
                rows = conn.execute(sa.text(
                    "SELECT state, params, error FROM operations WHERE "
                    "cluster_id = :c AND kind = 'cluster_heal'"),
                    {'c': cluster_uuid}).all()
            if rows and rows[0][0] in ('SUCCEEDED', 'FAILED'):
                assert len(rows) == 1 and rows[0][0] == 'SUCCEEDED', rows
                params = rows[0][1]
                return {'params': json.loads(params)
                        if isinstance(params, str) else params}
            assert time.monotonic() < deadline, rows
            time.sleep(1)
    finally:
        eng.dispose()


def test_swarm_and_kubernetes_clusters_live_and_die_on_the_real_cloud(
        real_deploy, openstack, tmp_path):
    env = openstack
    member = ks_session.Session(auth=_auth(env, 'alpha-member', 'alpha'))
    project_id = member.get_project_id()
    env_path = heat_standins.write_environment(_heat(member),
                                               str(tmp_path / 'heat-env'))
    # Auto-healing as soon as a worker is seen down; one of two workers
    # down is within the unhealthy share.
    dep = real_deploy(conductors=1, heat_environment=env_path,
                      conductor_opts={'health_check_interval': 2},
                      health_opts={'auto_heal_after': 0,
                                   'max_unhealthy_percent': 50})
    mc = magnum_client.Client('1', session=member, api_version='latest')
    admin = _admin(env)
    nova = nova_client.Client('2.3', session=admin)
    ks = ks_client.Client(session=admin)
    [domain] = ks.domains.list(name='caas')
    heat = _heat(member)

    with signaller.Signaller(admin, interval=0.5) as sig:
        made = {}
        for coe in KINDS:
            tmpl = mc.cluster_templates.create(
                name='real-%s-%s' % (coe, uuid.uuid4().hex[:6]), coe=coe,
                image_id='ubuntu-jammy', flavor_id='m1.tiny',
                master_flavor_id='m1.tiny', keypair_id='default',
                external_network_id='public', server_type='vm',
                labels=LABELS[coe])
            made[coe] = mc.clusters.create(
                name='real-%s' % coe, cluster_template_id=tmpl.uuid,
                master_count=1, node_count=1).uuid
        shown, stacks, before, addresses = {}, {}, {}, {}
        for coe, cluster_uuid in made.items():
            cluster = _wait(mc, cluster_uuid, 'CREATE_COMPLETE')
            shown[coe] = cluster
            # The real driver served it, with the real stack's addresses.
            assert cluster.cluster_template_id
            assert cluster.api_address and cluster.master_addresses
            assert len(cluster.node_addresses) == 1
            assert all(a.startswith('127.') for a in
                       cluster.master_addresses + cluster.node_addresses)
            # The stack is the member's, in the member's project, made
            # with the operator's environment.
            stack = heat.stacks.get(cluster.stack_id)
            stacks[coe] = stack
            assert stack.stack_status == 'CREATE_COMPLETE'
            assert '/%s/stacks/' % project_id in stack.links[0]['href']
            registry = heat.stacks.environment(stack.id)['resource_registry']
            assert registry['OS::Nova::Server'].endswith(
                'heat-env/standin/OS-Nova-Server.yaml')
            before[coe] = _servers(nova, project_id, stack.stack_name)
            assert len(before[coe]) == 2, before[coe]
            # Each real server is on the Neutron stand-in's private
            # network, and the stand-in reports its addresses from Nova.
            addresses[coe] = heat_standins.real_server_addresses(
                heat, nova, stack.id, env['CAAS_OSTACK_PRIVATE_SUBNET'])
            assert sorted(addresses[coe]) == sorted(_server_ids(
                nova, project_id, stack.stack_name).values())
        # No two servers of the two clusters share an address.
        assert set(addresses['swarm-mode']).isdisjoint(
            addresses['kubernetes'])
        assert set(addresses['swarm-mode'].values()).isdisjoint(
            addresses['kubernetes'].values())

        # A worker more for each: one more real server each.
        after_resize = {}
        for coe, cluster_uuid in made.items():
            mc.clusters.resize(cluster_uuid, node_count=2)
        for coe, cluster_uuid in made.items():
            cluster = _wait(mc, cluster_uuid, 'UPDATE_COMPLETE')
            assert cluster.node_count == 2
            assert len(cluster.node_addresses) == 2
            after = _servers(nova, project_id, stacks[coe].stack_name)
            after_resize[coe] = after
            assert len(after) == 3 and set(before[coe]) < set(after), (
                before[coe], after)
            # The new worker has an address of its own; the others keep
            # theirs.
            now = heat_standins.real_server_addresses(
                heat, nova, stacks[coe].id, env['CAAS_OSTACK_PRIVATE_SUBNET'])
            assert len(now) == 3
            assert {k: now[k] for k in addresses[coe]} == addresses[coe]
            addresses[coe] = now

        trustees = {}
        for coe, cluster_uuid in made.items():
            trustees[coe] = _trustees(ks, domain.id, cluster_uuid)
            assert len(trustees[coe]) == 1, trustees[coe]
        # The Swarm cluster goes while the Kubernetes one heals.
        mc.clusters.delete(made['swarm-mode'])

        # Auto-healing: a Kubernetes worker stopped in the real Nova is
        # seen through the cluster's trust (caas's service user sees no
        # server of the member's project) and replaced.
        name = '%s-minion-0' % stacks['kubernetes'].stack_name
        [down] = nova.servers.list(search_opts={
            'all_tenants': 1, 'project_id': project_id, 'name': '^%s$' % name})
        nova.servers.stop(down.id)
        heal = _wait_heal(dep, made['kubernetes'])
        assert heal['params']['servers'] == [down.id], heal
        cluster = _wait(mc, made['kubernetes'], 'UPDATE_COMPLETE')
        replaced = _server_ids(nova, project_id,
                               stacks['kubernetes'].stack_name)
        assert down.id not in replaced.values()
        assert sorted(replaced) == sorted(after_resize['kubernetes'])
        # The stopped server's port went with it; its successor has one.
        assert heat_standins.ports_of(admin, [down.id]) == []
        healed = heat_standins.real_server_addresses(
            heat, nova, stacks['kubernetes'].id,
            env['CAAS_OSTACK_PRIVATE_SUBNET'])
        assert sorted(healed) == sorted(replaced.values())
        addresses['kubernetes'].update(healed)
        assert len(cluster.node_addresses) == 2
        mc.clusters.delete(made['kubernetes'])
    assert sig.errors == []

    member_id = member.get_user_id()
    for coe, cluster_uuid in made.items():
        assert _wait(mc, cluster_uuid, None) is None
        assert _servers(nova, project_id, stacks[coe].stack_name) == []
        # Nova removed every port it made for the cluster's servers.
        assert heat_standins.ports_of(admin, addresses[coe]) == []
        with pytest.raises(heat_exc.HTTPNotFound):
            got = heat.stacks.get(stacks[coe].id)
            if got.stack_status == 'DELETE_COMPLETE':
                raise heat_exc.HTTPNotFound()
        assert _trustees(ks, domain.id, cluster_uuid) == {}
        assert [t for t in _owner_trusts(ks, member_id, project_id).values()
                if t.trustee_user_id in trustees[coe]] == []
