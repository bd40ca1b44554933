"""A nodegroup's own stack from the Kubernetes driver, and the kubeadm
JoinConfiguration its workers render: node_labels and node_taints as the
kubelet registers them (parsed as YAML, not searched for substrings)."""

import base64
import json
import re
import subprocess

import pytest
import yaml

from caas.drivers.fake import driver as fake
from caas.drivers.kubernetes import driver as k8s
from caas.drivers.kubernetes import template as k8s_template

from . import hotcheck
from .test_kubernetes import DRIVERS
from .test_kubernetes import SHAPES
from .test_kubernetes import cluster
from .test_kubernetes import template

NG_UUID = '0a3c1e55-7d29-4f0e-9a77-3f2b6c1d8e90'
OUTPUTS = {'cluster_network': 'net-1', 'cluster_subnet': 'sub-1',
           'cluster_secgroup': 'sg-1', 'api_private_ip': '127.20.0.5',
           'api_public_ip': '127.0.5.5',
           'bootstrap_token': 'abcdef.0123456789abcdef'}


def nodegroup(**fields):
    values = {'uuid': NG_UUID, 'name': 'gpu', 'role': 'worker',
              'is_default': False, 'node_count': 3, 'flavor_id': 'g1.large',
              'image_id': 'ubuntu-noble', 'node_labels': {}, 'node_taints': []}
    values.update(fields)
    return values


@pytest.mark.parametrize('shape', sorted(SHAPES))
@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_every_reference_is_declared(driver_cls, shape):
    cluster_fields, template_fields = SHAPES[shape]
    definition = driver_cls().nodegroup_stack_definition(
        cluster(**cluster_fields), template(**template_fields), nodegroup(),
        OUTPUTS)
    assert hotcheck.check_definition(definition) == []


def test_the_stack_is_the_nodegroups_workers_on_the_clusters_network():
    driver = k8s.UbuntuKubernetesDriver()
    definition = driver.nodegroup_stack_definition(
        cluster(), template(), nodegroup(), OUTPUTS)
    params = definition['parameters']
    assert params['number_of_minions'] == 3
    assert params['minion_flavor'] == 'g1.large'
    assert params['server_image'] == 'ubuntu-noble'
    assert (params['network'], params['security_groups'], params['api_ip'],
            params['bootstrap_token']) == (
        'net-1', 'sg-1', '127.20.0.5', 'abcdef.0123456789abcdef')
    resources = definition['template']['resources']
    # Workers only: no network, no masters, no API port of its own (and
    # the cloud provider's configuration its workers deploy, as the
    # cluster's nodes do; the server group on VMs).
    assert set(resources) == {'kube_minions', 'server_group'}
    assert definition['template']['parameters']['bootstrap_token'][
        'hidden'] is True
    name = driver.nodegroup_stack_name(cluster(), nodegroup())
    assert name == 'caas-%s-ng-%s' % (cluster()['uuid'], NG_UUID)
    update = driver.nodegroup_update_parameters(
        cluster(), template(), nodegroup(node_count=5), remove=['1'])
    assert (update['number_of_minions'], update['minions_to_remove']) == (
        5, '1')
    assert update['node_registration'] == params['node_registration']


def test_a_cluster_stack_without_the_outputs_is_refused_clearly():
    with pytest.raises(Exception) as err:
        k8s.UbuntuKubernetesDriver().nodegroup_stack_definition(
            cluster(), template(), nodegroup(), {'cluster_network': 'n'})
    assert 'bootstrap_token' in str(err.value)


def test_the_cluster_stack_exports_what_a_nodegroup_needs():
    hot = k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(), template(), [])['template']
    assert set(k8s.NODEGROUP_OUTPUTS) <= set(hot['outputs'])


def test_default_nodegroups_alone_size_the_cluster_stack():
    groups = [{'role': 'master', 'node_count': 1, 'is_default': True},
              {'role': 'worker', 'node_count': 2, 'is_default': True},
              nodegroup(node_count=7)]
    params = k8s.UbuntuKubernetesDriver().update_parameters(
        cluster(), template(), groups)
    assert (params['number_of_masters'], params['number_of_minions']) == \
        (1, 2)


def _rendered_script(definition, values):
    """The worker's user data as Heat's str_replace makes it."""
    node = yaml.safe_load(definition['files']['kubeminion.yaml'])
    replace = node['resources']['server']['properties']['user_data'][
        'str_replace']
    text = replace['template']
    for key, ref in sorted(replace['params'].items(), key=lambda kv:
                           -len(kv[0])):
        if isinstance(ref, dict) and 'get_param' in ref:
            ref = values.get(ref['get_param'], '')
        elif isinstance(ref, dict):
            ref = ''
        text = text.replace(key, str(ref))
    return text


def join_configuration(driver_cls, ng, outputs=OUTPUTS):
    """Render the driver's stack for ``ng``, then run the worker script's
    own join_config function with bash and parse what it prints."""
    definition = driver_cls().nodegroup_stack_definition(
        cluster(), template(), ng, outputs)
    params = definition['parameters']
    values = {'api_ip': params['api_ip'], 'apiserver_port': 6443,
              'bootstrap_token': params['bootstrap_token'],
              'ca_cert_hash': params.get('ca_cert_hash', ''),
              'role': 'worker',
              'node_registration': params['node_registration']}
    script = k8s_template.script_of(_rendered_script(definition, values))
    settings = '\n'.join(line for line in script.splitlines()
                         if re.match(r'^[A-Z_]+="[^"]*"$', line))
    function = script[script.index('# >>> join-config'):
                      script.index('# <<< join-config')]
    out = subprocess.run(['bash', '-c', '%s\n%s\njoin_config' % (
        settings, function)], capture_output=True, text=True, check=True)
    return yaml.safe_load(out.stdout)


@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_node_labels_and_taints_reach_the_kubeadm_join_configuration(
        driver_cls):
    ng = nodegroup(node_labels={'example.com/gpu': 'a100', 'tier': 'batch'},
                   node_taints=[{'key': 'gpu', 'value': 'yes',
                                 'effect': 'NoSchedule'},
                                {'key': 'spot', 'value': '',
                                 'effect': 'PreferNoSchedule'}])
    config = join_configuration(driver_cls, ng)
    assert config['kind'] == 'JoinConfiguration'
    assert config['discovery']['bootstrapToken'] == {
        'apiServerEndpoint': '127.20.0.5:6443',
        'token': 'abcdef.0123456789abcdef',
        'unsafeSkipCAVerification': True}
    registration = config['nodeRegistration']
    labels = dict(item.split('=', 1) for item in registration[
        'kubeletExtraArgs']['node-labels'].split(','))
    assert labels == {'example.com/gpu': 'a100', 'tier': 'batch'}
    assert registration['taints'] == [
        {'key': 'gpu', 'value': 'yes', 'effect': 'NoSchedule'},
        {'key': 'spot', 'effect': 'PreferNoSchedule'}]


def test_workers_check_the_api_against_the_clusters_ca_hash():
    digest = 'sha256:' + 'ab' * 32
    config = join_configuration(k8s.FedoraCoreOSKubernetesDriver,
                                nodegroup(),
                                dict(OUTPUTS, ca_cert_hash=digest))
    assert config['discovery']['bootstrapToken'] == {
        'apiServerEndpoint': '127.20.0.5:6443',
        'token': 'abcdef.0123456789abcdef', 'caCertHashes': [digest]}
    assert 'controlPlane' not in config


def test_a_worker_without_node_fields_registers_plainly():
    config = join_configuration(k8s.UbuntuKubernetesDriver, nodegroup())
    assert config['nodeRegistration'] == {}


def test_the_default_workers_get_an_empty_registration():
    # The cluster stack passes none: the node template's default, {}.
    definition = k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(), template(), [])
    node = yaml.safe_load(definition['files']['kubeminion.yaml'])
    default = node['parameters']['node_registration']['default']
    assert json.loads(base64.b64decode(default)) == {}


def test_fake_driver_nodegroup_stack_has_its_own_addresses():
    definition = fake.FakeDriver().nodegroup_stack_definition(
        cluster(), template(), nodegroup(node_count=2), {})
    assert definition['parameters']['number_of_minions'] == 2
    assert definition['parameters']['address_prefix'].startswith('127.')
