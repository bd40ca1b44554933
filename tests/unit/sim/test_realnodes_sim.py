"""How the simulated cloud hands servers to the real-node backend.

The backend itself needs root and a root filesystem
(tests/integration/test_real_nodes.py); here a fake stands at its
boundary (``boot``, ``destroy``, ``heat_url``) to show which servers go to
it, which addresses their ports get, where their handles point, and that
the servers of other images, and every server of a cloud without the
backend, behave as before.
"""

import os
import subprocess

import pytest

from caas.sim import realnodes
from caas.sim import stacks
from caas.sim import state as st
from tests.unit.sim.test_signals import create
from tests.unit.sim.test_signals import node_stack
from tests.unit.sim.test_signals import status

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    __file__))))
BUILD = os.path.join(ROOT, 'tools', 'build-node-rootfs.sh')


class FakeBackend(object):
    heat_url = 'http://169.254.169.254'

    def __init__(self):
        self.booted = []
        self.destroyed = []

    def boot(self, srv):
        self.booted.append(srv['id'])

    def destroy(self, server_id):
        self.destroyed.append(server_id)


@pytest.fixture
def cloud():
    return st.Cloud(server_boot_delay=1.0, resource_delay=0.0,
                    delete_delay=0.0)


@pytest.fixture
def real_cloud(cloud):
    cloud.realnodes = FakeBackend()
    return cloud


def real_stack(**kwargs):
    template = node_stack(**kwargs)
    for name, res in template['resources'].items():
        if res['type'] == 'OS::Nova::Server':
            res['properties']['image'] = 'debian-bookworm-docker'
    return template


def test_real_image_is_seeded_with_its_backend_property(cloud):
    image = cloud.find('images', 'debian-bookworm-docker')
    assert image['os_distro'] == 'debian'
    assert realnodes.wants_real_node(image)
    assert not realnodes.wants_real_node(cloud.find('images',
                                                    'ubuntu-jammy'))


def test_without_backend_a_real_image_server_is_simulated(cloud):
    stack = create(cloud, real_stack())
    assert status(cloud, stack, 1.1)[0] == 'CREATE_COMPLETE'
    srv = cloud.visible_servers()[0]
    assert not srv.get('real_node')
    assert cloud.data['ports'][srv['port_ids'][0]]['fixed_ip'].startswith(
        '127.')


def test_real_image_server_goes_to_the_backend_and_never_fakes_a_signal(
        real_cloud):
    stack = create(real_cloud, real_stack(timeout=30))
    srv = real_cloud.visible_servers()[0]
    assert real_cloud.realnodes.booted == [srv['id']]
    assert srv['real_node'] and srv['signal_outcome'] is None
    # Only a signal from the node itself completes the condition.
    assert status(real_cloud, stack, 29)[0] == 'CREATE_IN_PROGRESS'
    assert status(real_cloud, stack, 31)[0] == 'CREATE_FAILED'
    with real_cloud.lock:
        stacks.delete_stack(real_cloud, stack)
    assert real_cloud.realnodes.destroyed == [srv['id']]


def test_other_images_stay_simulated_beside_real_nodes(real_cloud):
    stack = create(real_cloud, node_stack())
    assert real_cloud.realnodes.booted == []
    assert status(real_cloud, stack, 1.1)[0] == 'CREATE_COMPLETE'


def test_ports_get_their_subnet_addresses_past_the_gateway(real_cloud):
    addresses = [real_cloud.create_port('private', 'p')['fixed_ip']
                 for _ in range(3)]
    assert addresses == ['10.0.0.2', '10.0.0.3', '10.0.0.4']
    # A network without a subnet keeps the loopback addresses.
    net = {'id': 'n1', 'name': 'bare', 'project_id': 'p'}
    real_cloud.data['networks']['n1'] = net
    assert real_cloud.create_port('n1', 'p')['fixed_ip'].startswith('127.')


def test_handles_point_at_the_address_nodes_reach(real_cloud):
    stack = create(real_cloud, real_stack())
    endpoint = stacks.resource_attr(real_cloud, stack, 'handle',
                                    'endpoint', [])
    assert endpoint.startswith('http://169.254.169.254/heat/v1/')


def test_failed_node_fails_the_condition_with_its_reason(real_cloud):
    from caas.sim import signals
    stack = create(real_cloud, real_stack())
    srv = real_cloud.visible_servers()[0]
    with real_cloud.lock:
        signals.node_failed(real_cloud, srv, 'Node x: cloud-init exit 1')
    state, reason = status(real_cloud, stack, 0.5)
    assert state == 'CREATE_FAILED'
    assert 'WaitConditionFailure: resources.wait: Node x: cloud-init ' \
           'exit 1' in reason


def test_check_names_what_is_missing(tmp_path):
    with pytest.raises(realnodes.Unavailable) as err:
        realnodes.check(str(tmp_path / 'nowhere'))
    assert ('root' in str(err.value) or
            'tools/build-node-rootfs.sh' in str(err.value))


def test_build_script_prints_its_cache_and_keeps_a_finished_tree(tmp_path):
    default = subprocess.run([BUILD, '--path'], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert default.startswith('/var/cache/caas-ci/node-rootfs-')
    dest = tmp_path / 'rootfs'
    dest.mkdir()
    (dest / '.caas-node-rootfs').write_text('version=1\n')
    # A stamped tree is the cache: no root, no debootstrap, no change.
    done = subprocess.run([BUILD, str(dest)], capture_output=True,
                          text=True, env={'PATH': '/usr/bin:/bin'})
    assert done.returncode == 0
    assert done.stdout.strip() == str(dest)
    assert sorted(os.listdir(dest)) == ['.caas-node-rootfs']


def test_cloud_with_real_nodes_refuses_to_start_without_them(tmp_path):
    from caas.sim import server as sim_server
    server = sim_server.SimServer(state_dir=str(tmp_path),
                                  real_nodes=str(tmp_path / 'no-rootfs'))
    with pytest.raises(realnodes.Unavailable):
        server.start()
    assert server._server is None and server.cloud.realnodes is None
