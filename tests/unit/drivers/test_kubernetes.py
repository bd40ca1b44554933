import json

import pytest
import yaml

from caas.drivers.kubernetes import driver as k8s
from caas.drivers.kubernetes import template as k8s_template

from . import hotcheck

UUID = '5d12f6fd-a196-4bf0-ae4c-1f639a523a52'


def cluster(**fields):
    values = {'uuid': UUID, 'name': 'k1', 'node_count': 2,
              'master_count': 1, 'keypair': 'default',
              'labels': {'kube_tag': 'v1.28.4'}}
    values.update(fields)
    return values


def template(**fields):
    values = {'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
              'external_network_id': 'public', 'flavor_id': 'm1.small',
              'master_flavor_id': 'm1.medium', 'network_driver': 'flannel',
              'labels': {}}
    values.update(fields)
    return values


DRIVERS = [k8s.UbuntuKubernetesDriver, k8s.FedoraCoreOSKubernetesDriver]
SHAPES = {
    'default': ({}, {}),
    'fixed network and subnet': ({'fixed_network': 'net1',
                                  'fixed_subnet': 'sub1'}, {}),
    'fixed network only': ({'fixed_network': 'net1'}, {}),
    'no floating ips': ({'floating_ip_enabled': False}, {}),
    'api floating ip only': ({'floating_ip_enabled': False,
                              'labels': {'master_lb_floating_ip_enabled':
                                         'true'}}, {}),
    'no keypair': ({'keypair': None}, {}),
    'calico and proxies': ({}, {'network_driver': 'calico',
                                'http_proxy': 'http://proxy:3128'}),
}


@pytest.mark.parametrize('shape', sorted(SHAPES))
@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_every_reference_is_declared(driver_cls, shape):
    cluster_fields, template_fields = SHAPES[shape]
    definition = driver_cls().stack_definition(
        cluster(**cluster_fields), template(**template_fields), [])
    assert hotcheck.check_definition(definition) == []


def test_checker_catches_an_undeclared_reference():
    definition = k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(), template(), [])
    definition['template']['outputs']['bad'] = {
        'value': {'get_attr': ['nowhere', 'x']}}
    definition['template']['resources']['secgroup_master']['properties'][
        'name'] = {'get_param': 'nothing'}
    assert len(hotcheck.check_definition(definition)) == 2


def test_definition_survives_yaml_and_json():
    definition = k8s.FedoraCoreOSKubernetesDriver().stack_definition(
        cluster(), template(), [])
    text = yaml.safe_dump(definition['template'])
    assert yaml.safe_load(text) == definition['template']
    json.dumps(definition)
    assert set(definition['files']) == {'kubemaster.yaml', 'kubeminion.yaml'}


def test_default_cluster_builds_its_own_network():
    resources = k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(), template(), [])['template']['resources']
    types = {r['type'] for r in resources.values()}
    assert {'OS::Neutron::Net', 'OS::Neutron::Subnet', 'OS::Neutron::Router',
            'OS::Neutron::RouterInterface',
            'OS::Neutron::SecurityGroup'} <= types


def test_fixed_network_is_used_instead_of_a_new_one():
    definition = k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(fixed_network='net1'), template(), [])
    types = {r['type'] for r in definition['template']['resources'].values()}
    assert 'OS::Neutron::Net' not in types
    assert 'OS::Neutron::Router' not in types
    assert definition['parameters']['fixed_network'] == 'net1'


def test_no_floating_ips_when_disabled():
    definition = k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(floating_ip_enabled=False), template(), [])
    text = json.dumps(definition)
    assert 'OS::Neutron::FloatingIP' not in text


def strip_user_data(definition):
    files = {}
    for name, text in definition['files'].items():
        body = yaml.safe_load(text)
        body['resources']['server']['properties']['user_data'][
            'str_replace']['template'] = '...'
        files[name] = body
    return definition['template'], files


def test_os_variants_differ_only_in_parameters_and_user_data():
    ubuntu = k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(), template(), [])
    fcos = k8s.FedoraCoreOSKubernetesDriver().stack_definition(
        cluster(), template(image_id='fedora-coreos'), [])
    assert strip_user_data(ubuntu) == strip_user_data(fcos)
    changed = {k for k in ubuntu['parameters']
               if ubuntu['parameters'][k] != fcos['parameters'][k]}
    assert changed == {'os_distro', 'server_image', 'minion_image'}


def user_data(definition, name='kubemaster.yaml'):
    nested = yaml.safe_load(definition['files'][name])
    return nested['resources']['server']['properties']['user_data'][
        'str_replace']


@pytest.mark.parametrize('name', ['kubemaster.yaml', 'kubeminion.yaml'])
def test_ubuntu_user_data_is_a_cloud_config_running_the_script(name):
    data = user_data(k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(), template(), []), name)
    assert data['template'].startswith('#cloud-config\n')
    body = yaml.safe_load(data['template'])
    assert k8s_template.script_of(data['template']) == \
        k8s_template.bootstrap_script()
    assert body['runcmd'] == [[k8s_template.BOOTSTRAP_PATH]]
    for placeholder in data['params']:
        assert placeholder in data['template']


@pytest.mark.parametrize('name', ['kubemaster.yaml', 'kubeminion.yaml'])
def test_fcos_user_data_is_ignition_keeping_the_placeholders(name):
    data = user_data(k8s.FedoraCoreOSKubernetesDriver().stack_definition(
        cluster(), template(), []), name)
    ignition = json.loads(data['template'])
    assert ignition['ignition']['version'].startswith('3.')
    assert k8s_template.script_of(data['template']) == \
        k8s_template.bootstrap_script()
    for placeholder in data['params']:
        assert placeholder in data['template']


def test_every_placeholder_of_the_script_is_filled():
    data = user_data(k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(), template(), []))
    script = k8s_template.bootstrap_script()
    for line in script.splitlines():
        if '="__CAAS_' in line:
            assert line.split('"')[1] in data['params']


def test_parameters_carry_cluster_and_template_values():
    params = k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(), template(), [])['parameters']
    assert params['kube_tag'] == 'v1.28.4'
    assert params['number_of_masters'] == 1
    assert params['number_of_minions'] == 2
    assert params['master_flavor'] == 'm1.medium'
    assert params['minion_flavor'] == 'm1.small'
    assert params['server_image'] == 'ubuntu-jammy'
    assert params['ssh_key_name'] == 'default'
    assert params['os_distro'] == 'ubuntu'


def test_nodegroups_override_counts_flavors_and_image():
    nodegroups = [
        {'name': 'default-master', 'role': 'master', 'node_count': 3,
         'flavor_id': 'm1.large'},
        {'name': 'default-worker', 'role': 'worker', 'node_count': 5,
         'flavor_id': 'm1.medium', 'image_id': 'ubuntu-jammy-2'}]
    params = k8s.UbuntuKubernetesDriver().stack_definition(
        cluster(), template(), nodegroups)['parameters']
    assert params['number_of_masters'] == 3
    assert params['number_of_minions'] == 5
    assert params['master_flavor'] == 'm1.large'
    assert params['minion_flavor'] == 'm1.medium'
    # Each group its own image: an upgrade may move one group first.
    assert params['server_image'] == 'ubuntu-jammy'
    assert params['minion_image'] == 'ubuntu-jammy-2'


def test_update_parameters_apply_node_counts():
    params = k8s.UbuntuKubernetesDriver().update_parameters(
        cluster(), template(),
        [{'role': 'master', 'node_count': 1},
         {'role': 'worker', 'node_count': 3}])
    # REPLACE: after a rotation's IGNORE, new user data (an upgrade) must
    # replace the servers again.
    assert params == {'number_of_masters': 1, 'number_of_minions': 3,
                      'minions_to_remove': '',
                      'user_data_update_policy': 'REPLACE'}


def test_update_parameters_name_the_workers_to_remove():
    params = k8s.UbuntuKubernetesDriver().update_parameters(
        cluster(), template(),
        [{'role': 'master', 'node_count': 1},
         {'role': 'worker', 'node_count': 1}], remove=['0', '2'])
    assert params['minions_to_remove'] == '0,2'


def test_worker_members_map_server_ids_to_group_members():
    driver = k8s.UbuntuKubernetesDriver()
    outputs = {'kube_minion_servers': {'0': 'srv-a', '1': 'srv-b', '2': None}}
    assert driver.worker_members(outputs) == {'srv-a': '0', 'srv-b': '1'}
    assert driver.worker_members({}) == {}


def test_stack_name_depends_on_the_uuid_only():
    driver = k8s.UbuntuKubernetesDriver()
    assert driver.stack_name(cluster()) == 'caas-' + UUID
    assert driver.stack_name(cluster(name='other', node_count=9)) == \
        driver.stack_name(cluster())


def test_unsupported_network_driver_is_a_400():
    from caas.common import exceptions
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        k8s.UbuntuKubernetesDriver().stack_definition(
            cluster(), template(network_driver='weave'), [])
    assert 'weave' in str(exc.value)


def test_bad_labels_fail_the_definition():
    from caas.common import exceptions
    with pytest.raises(exceptions.InvalidParameterValue):
        k8s.UbuntuKubernetesDriver().stack_definition(
            cluster(labels={'kube_tag': 'latest'}), template(), [])


def test_outputs_become_cluster_values():
    values = k8s.UbuntuKubernetesDriver().cluster_values_from_outputs({
        'api_address': 'https://172.24.4.10:6443',
        'kube_masters': ['172.24.4.11'],
        'kube_minions': ['172.24.4.12', None, '172.24.4.13'],
        'kube_masters_private': ['10.0.0.5'],
        'kube_minions_private': ['10.0.0.6', '10.0.0.7'],
        'kube_version': 'v1.28.4'})
    assert values == {'api_address': 'https://172.24.4.10:6443',
                      'master_addresses': ['172.24.4.11'],
                      'node_addresses': ['172.24.4.12', '172.24.4.13'],
                      'coe_version': 'v1.28.4', 'container_version': None}


def test_nodegroup_addresses_by_role():
    addresses = k8s.UbuntuKubernetesDriver().nodegroup_addresses({
        'kube_masters': ['1.1.1.1'], 'kube_minions': ['2.2.2.2']})
    assert addresses == {'master': ['1.1.1.1'], 'worker': ['2.2.2.2']}


def test_missing_outputs_give_empty_values():
    values = k8s.UbuntuKubernetesDriver().cluster_values_from_outputs({})
    assert values == {'api_address': None, 'master_addresses': [],
                      'node_addresses': [], 'coe_version': None,
                      'container_version': None}
