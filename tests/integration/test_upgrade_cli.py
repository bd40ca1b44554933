"""``openstack coe cluster upgrade`` and ``openstack coe ca rotate`` with the
real CLI (python-openstackclient + python-magnumclient, as a process)
against caas-api, two caas-conductors and caas-cloudsim over RabbitMQ and
PostgreSQL; the simulated Heat's record shows the batches."""

import base64
import os
import subprocess
import sys

import pytest
from heatclient import client as heat_client
from keystoneauth1 import identity
from keystoneauth1 import session as ks_session

from tests.integration import helpers

pytestmark = pytest.mark.integration

OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')


def cli(dep, *args):
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
           'HOME': os.environ.get('HOME', '/tmp'), 'SHELL': '/bin/bash',
           'OS_AUTH_TYPE': 'none', 'OS_ENDPOINT': dep.api_url + '/v1'}
    proc = subprocess.run([OPENSTACK, 'coe'] + list(args), env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _heat(dep):
    auth = identity.Password(
        auth_url=dep.sim_url + '/identity/v3', username='caas',
        password='caas', project_name='service', user_domain_id='default',
        project_domain_id='default')
    return heat_client.Client('1', session=ks_session.Session(auth=auth))


def _template(mc, name, kube_tag):
    return mc.cluster_templates.create(
        name=name, coe='kubernetes', image_id='ubuntu-jammy',
        flavor_id='m1.small', master_flavor_id='m1.small',
        keypair_id='default', external_network_id='public',
        labels={'kube_tag': kube_tag})


def test_upgrade_and_ca_rotation_with_the_cli(deploy):
    dep = deploy(conductors=2, boot_delay=0.5)
    mc = helpers.magnum(dep.api_url)
    old = _template(mc, 'k129', 'v1.29.6')
    new = _template(mc, 'k130', 'v1.30.2')
    uuid = mc.clusters.create(name='demo', cluster_template_id=old.uuid,
                              master_count=1, node_count=4).uuid
    helpers.wait_status(mc, uuid, 'CREATE_COMPLETE', timeout=120)

    # The CLI, as a user types it (each run starts a process: few runs).
    out = cli(dep, 'cluster', 'upgrade', 'demo', 'k130',
              '--max-batch-size', '2')
    assert 'accepted' in out
    done = helpers.wait_status(mc, uuid, 'UPDATE_COMPLETE', timeout=180)
    assert done.cluster_template_id == new.uuid
    assert done.coe_version == 'v1.30.2'
    assert len(done.node_addresses) == 4

    heat = _heat(dep)
    stack = heat.stacks.get(done.stack_id)
    minions = heat.resources.get(stack.id, 'kube_minions').to_dict()
    [rolled] = minions['rolling_updates']
    assert rolled['status'] == 'COMPLETE' and rolled['max_batch_size'] == 2
    assert [b['members'] for b in rolled['batches']] == [['0', '1'],
                                                          ['2', '3']]
    first, second = rolled['batches']
    assert second['started_at'] >= first['completed_at']

    before = mc.certificates.get(cluster_uuid=uuid).pem.strip()
    cli(dep, 'ca', 'rotate', 'demo')
    rotated = mc.certificates.get(cluster_uuid=uuid).pem.strip()
    assert rotated != before
    helpers.wait_status(mc, uuid, 'UPDATE_COMPLETE', timeout=120)
    params = heat.stacks.get(stack.id).to_dict()['parameters']
    # The rotated Kubernetes CA is in the bundle every node is handed.
    bundle = base64.b64decode(params['ca_bundle_b64']).decode()
    assert rotated in bundle
    assert before not in bundle
    ops = helpers.operations(dep.db_url)
    assert sorted(op['kind'] for op in ops) == [
        'cluster_ca_rotate', 'cluster_create', 'cluster_upgrade']
    assert {op['state'] for op in ops} == {'SUCCEEDED'}


def test_an_added_nodegroup_upgraded_and_rotated_with_the_cli(deploy):
    """Magnum's order: the cluster first, then its added nodegroup, each in
    its own stack; rotations then reach the nodegroup's stack too."""
    dep = deploy(conductors=1, boot_delay=0.1)
    mc = helpers.magnum(dep.api_url)
    old = _template(mc, 'k129', 'v1.29.6')
    new = _template(mc, 'k130', 'v1.30.2')
    uuid = mc.clusters.create(name='demo', cluster_template_id=old.uuid,
                              master_count=1, node_count=1).uuid
    helpers.wait_status(mc, uuid, 'CREATE_COMPLETE', timeout=120)
    cli(dep, 'nodegroup', 'create', 'demo', 'gpu', '--node-count', '2')
    helpers.wait_status(mc, uuid, 'UPDATE_COMPLETE', timeout=120)
    gpu = mc.nodegroups.get(uuid, 'gpu')
    assert gpu.status == 'CREATE_COMPLETE', gpu.status_reason

    # Leading the cluster is refused (Magnum's rule) ...
    proc = subprocess.run(
        [OPENSTACK, 'coe', 'cluster', 'upgrade', 'demo', 'k130',
         '--nodegroup', 'gpu'], capture_output=True, text=True, timeout=120,
        env={'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
             'HOME': os.environ.get('HOME', '/tmp'), 'OS_AUTH_TYPE': 'none',
             'OS_ENDPOINT': dep.api_url + '/v1'})
    assert proc.returncode != 0
    assert "only to the cluster's template" in proc.stderr
    # ... following it is not.
    cli(dep, 'cluster', 'upgrade', 'demo', 'k130')
    helpers.wait_status(mc, uuid, 'UPDATE_COMPLETE', timeout=180)
    assert mc.nodegroups.get(uuid, 'gpu').labels['kube_tag'] == 'v1.29.6'
    cli(dep, 'cluster', 'upgrade', 'demo', 'k130', '--nodegroup', 'gpu',
        '--max-batch-size', '1')
    helpers.wait_status(mc, uuid, 'UPDATE_COMPLETE', timeout=180)
    gpu = mc.nodegroups.get(uuid, 'gpu')
    assert gpu.status == 'UPDATE_COMPLETE', gpu.status_reason
    assert (gpu.labels['kube_tag'], gpu.version) == ('v1.30.2', 'v1.30.2')
    assert mc.clusters.get(uuid).cluster_template_id == new.uuid

    heat = _heat(dep)
    minions = heat.resources.get(gpu.stack_id, 'kube_minions').to_dict()
    [rolled] = minions['rolling_updates']
    assert rolled['status'] == 'COMPLETE' and rolled['max_batch_size'] == 1
    assert [b['members'] for b in rolled['batches']] == [['0'], ['1']]

    cluster_stack = mc.clusters.get(uuid).stack_id
    cli(dep, 'ca', 'rotate', 'demo')
    helpers.wait_status(mc, uuid, 'UPDATE_COMPLETE', timeout=120)
    cli(dep, 'credential', 'rotate', 'demo')
    helpers.wait_status(mc, uuid, 'UPDATE_COMPLETE', timeout=120)
    theirs = heat.stacks.get(cluster_stack).to_dict()['parameters']
    ours = heat.stacks.get(gpu.stack_id).to_dict()['parameters']
    rotated = mc.certificates.get(cluster_uuid=uuid).pem.strip()
    assert rotated in base64.b64decode(ours['ca_bundle_b64']).decode()
    assert ours['ca_bundle_b64'] == theirs['ca_bundle_b64']
    # Workers read no cloud credential: the nodegroup's stack has none.
    assert 'trustee_user_id' not in ours
    assert {op['state'] for op in helpers.operations(dep.db_url)} == {
        'SUCCEEDED'}
