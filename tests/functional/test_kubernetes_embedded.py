"""Kubernetes clusters of several shapes reach CREATE_COMPLETE in the
embedded mode (caas-all: API, conductor flow, simulated cloud), driven by
the real python-magnumclient; the masters boot with the cluster's own CA
(the one ``openstack coe ca show`` prints), the workers without its key."""

import base64
import time

import pytest

from caas.drivers import heat


def wait_settled(mc, uuid, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        cluster = mc.clusters.get(uuid)
        if not cluster.status.endswith('IN_PROGRESS'):
            return cluster
        assert time.monotonic() < deadline, cluster.status
        time.sleep(0.2)

SHAPES = {
    'ubuntu-vm-1master': ('ubuntu-jammy', 'vm', 1, False, True),
    'fcos-bm-1master-nofip': ('fedora-coreos', 'bm', 1, False, False),
    'ubuntu-vm-3masters-lb': ('ubuntu-jammy', 'vm', 3, True, True),
    'fcos-bm-3masters-lb-nofip': ('fedora-coreos', 'bm', 3, True, False),
}


@pytest.mark.parametrize('shape', sorted(SHAPES))
def test_shape_reaches_create_complete(aio, mc, shape):
    image, server_type, masters, lb, fip = SHAPES[shape]
    mc.cluster_templates.create(
        name='k8s', coe='kubernetes', image_id=image, server_type=server_type,
        flavor_id='m1.small', master_flavor_id='m1.small',
        keypair_id='default', external_network_id='public',
        master_lb_enabled=lb, floating_ip_enabled=fip,
        labels={'kube_tag': 'v1.29.6', 'containerd_tag': '1.7.19'})
    cluster = mc.clusters.create(name='demo', cluster_template_id='k8s',
                                 master_count=masters, node_count=2)
    done = wait_settled(mc, cluster.uuid)
    if done.status == 'CREATE_FAILED' and 'OS::Octavia' in (
            done.status_reason or ''):
        pytest.skip('the simulated cloud does not know Octavia yet: %s'
                    % done.status_reason)
    assert done.status == 'CREATE_COMPLETE', done.status_reason
    assert len(done.master_addresses) == masters
    assert len(done.node_addresses) == 2
    assert done.api_address.startswith('https://')
    assert done.coe_version == 'v1.29.6'
    assert done.container_version == '1.7.19'

    ca = mc.certificates.get(cluster.uuid).pem
    servers = [s for s in aio.sim.cloud.data['servers'].values()
               if cluster.uuid in s['name']]
    assert len(servers) == masters + 2
    ca_b64 = base64.b64encode(ca.encode()).decode()
    for srv in servers:
        data = srv['user_data'] or ''
        files = heat.files_of(data)
        # Every node trusts the cluster's CAs (certificates only).
        assert ca.strip() in files['/etc/caas/ca-bundle.crt'][1]
        if '-master-' in srv['name']:
            assert ca_b64 in data
            assert files['/etc/kubernetes/pki/ca.key'][0] == 0o600
            assert 'PRIVATE KEY' in files['/etc/kubernetes/pki/sa.key'][1]
        else:
            assert not [path for path, (_mode, text) in files.items()
                        if 'PRIVATE KEY' in text]
            assert not [path for path in files if path.endswith('.key')]
