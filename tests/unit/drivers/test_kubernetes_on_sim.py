"""The Kubernetes stack created and scaled on the simulated cloud.

Through the real python-heatclient over HTTP, as the conductor does it.
"""

import ipaddress
import time
from urllib import parse

import pytest

from caas.drivers.kubernetes import driver as k8s

from . import test_kubernetes as k8s_test

server = pytest.importorskip('caas.sim.server')
heat_client = pytest.importorskip('heatclient.client')
v3 = pytest.importorskip('keystoneauth1.identity.v3')
session = pytest.importorskip('keystoneauth1.session')


@pytest.fixture
def heat():
    srv = server.SimServer(port=0, server_boot_delay=0.1)
    srv.start()
    try:
        auth = v3.Password(auth_url=srv.auth_url, username='caas',
                           password='caas', project_name='service',
                           user_domain_name='Default',
                           project_domain_name='Default')
        yield heat_client.Client('1', session=session.Session(auth=auth))
    finally:
        srv.stop()


def _on_loopback(url):
    # A kubeconfig points at api_address: it must never lead off loopback.
    host = parse.urlsplit(url).hostname
    return ipaddress.ip_address(host) in ipaddress.ip_network('127.0.0.0/8')


def wait(hc, name, status, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        stack = hc.stacks.get(name)
        if stack.stack_status == status:
            return stack
        assert not stack.stack_status.endswith('FAILED'), \
            stack.stack_status_reason
        assert time.monotonic() < deadline, stack.stack_status
        time.sleep(0.1)


def outputs(stack):
    return {o['output_key']: o['output_value'] for o in stack.outputs}


@pytest.mark.parametrize('driver_cls', [k8s.UbuntuKubernetesDriver,
                                        k8s.FedoraCoreOSKubernetesDriver])
def test_cluster_stack_creates_and_scales(heat, driver_cls):
    driver = driver_cls()
    image = {'ubuntu': 'ubuntu-jammy'}.get(driver.os_distro,
                                            'fedora-coreos')
    cluster = k8s_test.cluster(node_count=2)
    template = k8s_test.template(image_id=image)
    definition = driver.stack_definition(cluster, template, [])
    name = driver.stack_name(cluster)
    heat.stacks.create(stack_name=name, template=definition['template'],
                       files=definition['files'],
                       parameters=definition['parameters'])
    values = driver.cluster_values_from_outputs(
        outputs(wait(heat, name, 'CREATE_COMPLETE')))
    assert len(values['master_addresses']) == 1
    assert len(values['node_addresses']) == 2
    assert values['api_address'].startswith('https://')
    assert values['api_address'].endswith(':6443')
    assert _on_loopback(values['api_address'])
    assert values['coe_version'] == 'v1.28.4'

    heat.stacks.update(name, existing=True, parameters=driver.update_parameters(
        cluster, template, [{'role': 'master', 'node_count': 1},
                            {'role': 'worker', 'node_count': 3}]))
    values = driver.cluster_values_from_outputs(
        outputs(wait(heat, name, 'UPDATE_COMPLETE')))
    assert len(values['master_addresses']) == 1
    assert len(values['node_addresses']) == 3


def test_cluster_without_floating_ips_reports_private_addresses(heat):
    driver = k8s.UbuntuKubernetesDriver()
    cluster = k8s_test.cluster(node_count=1, floating_ip_enabled=False)
    definition = driver.stack_definition(cluster, k8s_test.template(), [])
    name = driver.stack_name(cluster)
    heat.stacks.create(stack_name=name, template=definition['template'],
                       files=definition['files'],
                       parameters=definition['parameters'])
    stack = wait(heat, name, 'CREATE_COMPLETE')
    values = driver.cluster_values_from_outputs(outputs(stack))
    assert values['master_addresses'] == outputs(stack)[
        'kube_masters_private']
    assert values['node_addresses'] == outputs(stack)['kube_minions_private']
    assert len(values['node_addresses']) == 1
    api_host = values['api_address'].split('//')[1].split(':')[0]
    assert api_host not in values['master_addresses']
    assert _on_loopback(values['api_address'])


def test_fake_stack_runs_on_the_sim(heat):
    from caas.drivers.fake import driver as fake
    driver = fake.FakeDriver()
    cluster = {'uuid': k8s_test.UUID, 'node_count': 2, 'master_count': 1}
    definition = driver.stack_definition(cluster, {}, [])
    name = driver.stack_name(cluster)
    heat.stacks.create(stack_name=name, template=definition['template'],
                       files=definition['files'],
                       parameters=definition['parameters'])
    values = driver.cluster_values_from_outputs(
        outputs(wait(heat, name, 'CREATE_COMPLETE')))
    assert values['master_addresses'] == ['127.10.0.0']
    assert values['node_addresses'] == ['127.10.1.0', '127.10.1.1']
    assert values['api_address'] == 'https://127.10.0.0:6443'
