"""The Docker Swarm-mode driver: its template set, user data and hooks.

What the real tools say about the rendered user data is in
test_swarm_checks.py; the stack on the simulated cloud in
test_swarm_on_sim.py.
"""

import base64
import json

import pytest
import yaml

import caas.drivers
from caas.common import exceptions
from caas.drivers.swarm import driver as swarm
from caas.drivers.swarm import template as swarm_template

from . import hotcheck

UUID = '0b9d6c2e-52a4-4f5c-8a11-6f0e0f5f7a10'

# Heat resource types this template set uses that the shared checker's
# list (tests/unit/drivers/hotcheck.py, the simulated cloud's) may not
# have yet: all are Heat's own (resource type reference).
HEAT_TYPES = {'OS::Octavia::LoadBalancer', 'OS::Octavia::Listener',
              'OS::Octavia::Pool', 'OS::Octavia::PoolMember',
              'OS::Octavia::HealthMonitor', 'OS::Heat::WaitCondition',
              'OS::Heat::WaitConditionHandle', 'OS::Cinder::Volume',
              'OS::Cinder::VolumeAttachment'}


@pytest.fixture(autouse=True)
def heat_types(monkeypatch):
    monkeypatch.setattr(hotcheck, 'TYPES', hotcheck.TYPES | HEAT_TYPES)


def cluster(**fields):
    values = {'uuid': UUID, 'name': 's1', 'node_count': 2,
              'master_count': 1, 'keypair': 'default', 'labels': {},
              'create_timeout': 60}
    values.update(fields)
    return values


def template(**fields):
    values = {'coe': 'swarm-mode', 'image_id': 'ubuntu-jammy',
              'external_network_id': 'public', 'flavor_id': 'm1.small',
              'master_flavor_id': 'm1.medium', 'network_driver': 'docker',
              'server_type': 'vm', 'labels': {}}
    values.update(fields)
    return values


DRIVERS = [swarm.UbuntuSwarmDriver, swarm.FedoraCoreOSSwarmDriver]
SHAPES = {
    'default': ({}, {}),
    'three managers behind a load balancer': (
        {'master_count': 3, 'master_lb_enabled': True}, {}),
    'load balancer without floating ips': (
        {'master_lb_enabled': True, 'floating_ip_enabled': False}, {}),
    'fixed network and subnet': ({'fixed_network': 'net1',
                                  'fixed_subnet': 'sub1'}, {}),
    'fixed network only': ({'fixed_network': 'net1'}, {}),
    'no floating ips': ({'floating_ip_enabled': False}, {}),
    'no keypair': ({'keypair': None}, {}),
    'docker volume with type and zone': (
        {'docker_volume_size': 20,
         'labels': {'docker_volume_type': 'ssd',
                    'availability_zone': 'az1'}}, {}),
    'bare metal': ({'docker_volume_size': 20}, {
        'server_type': 'bm', 'fixed_network': 'private',
        'fixed_subnet': 'private-subnet'}),
    'bare metal behind a load balancer': (
        {'master_count': 3, 'master_lb_enabled': True}, {
            'server_type': 'bm', 'fixed_network': 'private',
            'fixed_subnet': 'private-subnet'}),
    'proxies': ({}, {'http_proxy': 'http://proxy:3128',
                     'no_proxy': 'localhost'}),
}


def definition(driver_cls=swarm.UbuntuSwarmDriver, shape='default'):
    cluster_fields, template_fields = SHAPES[shape]
    return driver_cls().stack_definition(
        cluster(**cluster_fields), template(**template_fields), [])


def nested(defn, name):
    return yaml.safe_load(defn['files'][name])


def user_data(node):
    return node['resources']['server']['properties']['user_data'][
        'str_replace']


@pytest.mark.parametrize('shape', sorted(SHAPES))
@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_every_reference_is_declared(driver_cls, shape):
    assert hotcheck.check_definition(definition(driver_cls, shape)) == []


def test_checker_catches_an_undeclared_reference():
    defn = definition()
    defn['template']['outputs']['bad'] = {
        'value': {'get_attr': ['nowhere', 'x']}}
    assert hotcheck.check_definition(defn) == [
        'template: get_attr nowhere not declared']


def test_template_version_and_security_group_ports():
    tpl = definition()['template']
    assert tpl['heat_template_version'] == '2021-04-16'
    rules = tpl['resources']['secgroup_cluster']['properties']['rules']
    opened = {(r['protocol'], json.dumps(r.get('port_range_min')))
              for r in rules if r.get('remote_mode') == 'remote_group_id'}
    # Swarm management, gossip (both protocols), the VXLAN overlay and
    # the Docker API, between the nodes only.
    assert {('tcp', '2377'), ('tcp', '7946'), ('udp', '7946'),
            ('udp', '4789'),
            ('tcp', '{"get_param": "docker_api_port"}')} <= opened
    api = tpl['resources']['secgroup_api']['properties']['rules']
    assert api == [{'protocol': 'tcp', 'remote_ip_prefix': '0.0.0.0/0',
                    'port_range_min': {'get_param': 'docker_api_port'},
                    'port_range_max': {'get_param': 'docker_api_port'}}]
    # Workers are not in the API group: they expose no Docker API.
    workers = tpl['resources']['swarm_nodes']['properties']['resource_def']
    assert workers['properties']['security_groups'] == [
        {'get_resource': 'secgroup_cluster'}]


def test_private_network_unless_one_is_given():
    own = definition()['template']['resources']
    assert {'network', 'subnet', 'router', 'router_interface'} <= set(own)
    given = definition(shape='fixed network and subnet')
    resources = given['template']['resources']
    assert not {'network', 'subnet', 'router'} & set(resources)
    assert given['parameters']['fixed_network'] == 'net1'
    props = resources['swarm_primary']['properties']
    assert props['network'] == {'get_param': 'fixed_network'}
    assert props['subnet'] == {'get_param': 'fixed_subnet'}


def test_others_join_after_the_first_manager_signalled_the_tokens():
    resources = definition(shape='three managers behind a load balancer')[
        'template']['resources']
    wait = resources['primary_tokens_wait']['properties']
    assert wait['handle'] == {'get_resource': 'primary_tokens_handle'}
    primary = resources['swarm_primary']['properties']
    assert primary['role'] == 'primary'
    assert primary['tokens_endpoint'] == {
        'get_attr': ['primary_tokens_handle', 'endpoint']}
    join = resources['swarm_join']['properties']['value']['str_replace']
    # Through list_join: the real Heat refuses a str_replace whose
    # template is not yet a string when it creates the stack.
    assert join['template'] == {'list_join': [
        '', [{'get_attr': ['primary_tokens_wait', 'data']}]]}
    for group in ('swarm_secondary_masters', 'swarm_nodes'):
        props = resources[group]['properties']['resource_def']['properties']
        assert props['swarm_join'] == {'get_attr': ['swarm_join', 'value']}
        assert props['primary_ip'] == {
            'get_attr': ['swarm_primary', 'private_address']}
    assert resources['swarm_secondary_masters']['properties'][
        'count'] == {'get_param': 'number_of_secondary_masters'}


def test_only_managers_get_the_ca_and_its_key():
    defn = definition(shape='three managers behind a load balancer')
    resources = defn['template']['resources']
    assert defn['template']['parameters']['ca_key_b64']['hidden'] is True
    for name in ('swarm_primary',):
        assert resources[name]['properties']['ca_key_b64'] == {
            'get_param': 'ca_key_b64'}
    secondary = resources['swarm_secondary_masters']['properties'][
        'resource_def']['properties']
    assert secondary['ca_key_b64'] == {'get_param': 'ca_key_b64'}
    workers = resources['swarm_nodes']['properties']['resource_def'][
        'properties']
    assert not {'ca_key_b64', 'ca_cert_b64'} & set(workers)
    worker = nested(defn, 'swarmworker.yaml')
    assert not {'ca_key_b64', 'ca_cert_b64'} & set(worker['parameters'])
    assert 'CA_KEY' not in user_data(worker)['template']
    manager = nested(defn, 'swarmmanager.yaml')
    assert manager['parameters']['ca_key_b64']['hidden'] is True
    assert '__CAAS_CA_KEY_B64__' in user_data(manager)['template']


def test_ca_key_parameters_are_the_base64_pems():
    values = swarm.UbuntuSwarmDriver().ca_key_parameters(
        {'kubernetes': ('CERT', b'KEY')})
    assert base64.b64decode(values['ca_cert_b64']) == b'CERT'
    assert base64.b64decode(values['ca_key_b64']) == b'KEY'
    # A CA rotation is not handed to the nodes through their user data.
    assert swarm.UbuntuSwarmDriver().ca_parameters(['PEM']) == {}


def test_load_balancer_in_front_of_the_managers_docker_api():
    defn = definition(shape='three managers behind a load balancer')
    resources = defn['template']['resources']
    assert resources['api_listener']['properties']['protocol'] == 'TCP'
    assert resources['api_listener']['properties']['protocol_port'] == {
        'get_param': 'docker_api_port'}
    assert resources['api_lb_floating_ip']['properties']['port_id'] == {
        'get_attr': ['api_lb', 'vip_port_id']}
    assert defn['template']['outputs']['api_address']['value'][
        'str_replace']['params']['HOST'] == {
            'get_attr': ['api_lb_floating_ip', 'floating_ip_address']}
    manager = nested(defn, 'swarmmanager.yaml')
    member = manager['resources']['api_pool_member']['properties']
    assert member['pool'] == {'get_param': 'api_pool'}
    assert 'api_pool_member' not in nested(
        defn, 'swarmworker.yaml')['resources']
    assert defn['parameters']['number_of_secondary_masters'] == 2


def test_without_a_load_balancer_the_api_is_the_first_manager():
    defn = definition()
    assert not {'api_lb', 'api_pool'} & set(defn['template']['resources'])
    assert defn['template']['outputs']['api_address']['value'][
        'str_replace']['params']['HOST'] == {
            'get_attr': ['swarm_primary', 'address']}
    assert 'api_pool_member' not in nested(
        defn, 'swarmmanager.yaml')['resources']


def test_bare_metal_has_no_volumes_and_no_server_groups():
    defn = definition(shape='bare metal')
    assert not {'manager_server_group', 'worker_server_group'} & set(
        defn['template']['resources'])
    for name in ('swarmmanager.yaml', 'swarmworker.yaml'):
        node = nested(defn, name)
        assert not {'docker_volume', 'docker_volume_attach'} & set(
            node['resources'])
        assert 'scheduler_hints' not in node['resources']['server'][
            'properties']
    assert 'docker_volume_size' not in defn['template']['parameters']


def test_vm_volume_carries_its_type_and_zone():
    defn = definition(shape='docker volume with type and zone')
    node = nested(defn, 'swarmworker.yaml')
    volume = node['resources']['docker_volume']['properties']
    assert volume == {'size': {'get_param': 'docker_volume_size'},
                      'volume_type': {'get_param': 'docker_volume_type'},
                      'availability_zone': {'get_param':
                                            'availability_zone'}}
    assert defn['parameters']['docker_volume_type'] == 'ssd'
    assert defn['parameters']['availability_zone'] == 'az1'
    assert node['resources']['server']['properties']['scheduler_hints'] == {
        'group': {'get_param': 'server_group'}}


@pytest.mark.parametrize('fields, template_fields, word', [
    ({}, {'server_type': 'bm'}, 'fixed_network'),
    ({}, {'tls_disabled': True}, 'tls_disabled'),
    ({}, {'docker_storage_driver': 'devicemapper'}, 'docker_storage_driver'),
    ({}, {'network_driver': 'flannel'}, 'network_driver'),
    ({'master_lb_enabled': True, 'fixed_network': 'n'}, {}, 'fixed_subnet'),
])
def test_what_the_driver_cannot_build_is_refused(fields, template_fields,
                                                 word):
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        swarm.UbuntuSwarmDriver().stack_definition(
            cluster(**fields), template(**template_fields), [])
    assert word in str(exc.value)


def test_user_data_formats():
    ubuntu = user_data(nested(definition(), 'swarmmanager.yaml'))
    assert ubuntu['template'].startswith('#cloud-config\n')
    fcos = user_data(nested(definition(swarm.FedoraCoreOSSwarmDriver),
                            'swarmmanager.yaml'))
    ignition = json.loads(fcos['template'])
    assert ignition['ignition']['version'] == '3.4.0'
    paths = {f['path']: f for f in ignition['storage']['files']}
    assert paths['/etc/caas/ca-key.pem']['mode'] == 0o600
    assert paths['/etc/caas/ca-key.pem']['contents']['source'] == \
        'data:;base64,__CAAS_CA_KEY_B64__'
    worker = json.loads(user_data(nested(
        definition(swarm.FedoraCoreOSSwarmDriver),
        'swarmworker.yaml'))['template'])
    assert [f['path'] for f in worker['storage']['files']] == [
        swarm_template.SCRIPT_PATH]


def test_every_placeholder_in_the_script_is_filled():
    script = swarm_template.bootstrap_script()
    import re
    used = set(re.findall(r'__CAAS_[A-Z0-9_]+__', script))
    for name in ('swarmmanager.yaml', 'swarmworker.yaml'):
        params = user_data(nested(definition(), name))['params']
        assert used - set(params) == set(), name
        if name == 'swarmworker.yaml':
            # Workers have no Docker API, no CA and no tokens to signal.
            assert {params[k] for k in swarm_template.MANAGER_ONLY} == {''}


def test_resize_parameters():
    params = swarm.UbuntuSwarmDriver().update_parameters(
        cluster(master_count=3), template(),
        [{'role': 'master', 'node_count': 3},
         {'role': 'worker', 'node_count': 5}], remove=['3', '4'])
    assert params == {'number_of_secondary_masters': 2,
                      'number_of_minions': 5, 'minions_to_remove': '3,4'}


def test_outputs_become_cluster_values():
    outputs = {'api_address': 'tcp://127.0.0.7:2376',
               'swarm_primary_master': ['127.0.0.7'],
               'swarm_secondary_masters': ['127.0.0.8', None],
               'swarm_nodes': ['127.0.0.9'],
               'docker_version': '{"1": "24.0.7"}'}
    values = swarm.UbuntuSwarmDriver().cluster_values_from_outputs(outputs)
    assert values == {'api_address': 'tcp://127.0.0.7:2376',
                      'master_addresses': ['127.0.0.7', '127.0.0.8'],
                      'node_addresses': ['127.0.0.9'],
                      'coe_version': '24.0.7',
                      'container_version': '24.0.7'}


@pytest.mark.parametrize('data', [None, '', '{}', '{"1": null}', 'garbage',
                                  '{"1": "24; rm -rf /"}'])
def test_docker_version_ignores_what_is_not_a_version(data):
    assert swarm.docker_version(data) is None


def test_an_address_not_known_yet_is_no_api_address():
    values = swarm.UbuntuSwarmDriver().cluster_values_from_outputs(
        {'api_address': 'tcp://:2376'})
    assert values['api_address'] is None


def test_worker_members_for_nodes_to_remove():
    members = swarm.UbuntuSwarmDriver().worker_members(
        {'swarm_node_servers': {'0': 'srv-a', '1': 'srv-b', '2': None}})
    assert members == {'srv-a': '0', 'srv-b': '1'}


def test_engine_labels_of_a_nodegroup():
    text = base64.b64decode(swarm.engine_labels(
        {'name': 'gpu', 'node_labels': {'accel': 'yes'}})).decode()
    assert json.loads(text) == ['accel=yes', 'caas.nodegroup=gpu']


def test_nodegroup_stack_joins_through_the_cluster_outputs():
    outputs = {'cluster_network': 'net-1', 'cluster_subnet': 'sub-1',
               'cluster_secgroup': 'sg-1', 'primary_private_ip': '10.0.0.5',
               'swarm_join': '1:worker=SWMTKN-1-a-b;manager=SWMTKN-1-a-c'}
    ng = {'uuid': 'f0c5b0f3-1b7b-4ad6-9c63-0e3bb8f7e0a1', 'name': 'extra',
          'role': 'worker', 'node_count': 2, 'image_id': 'ubuntu-jammy',
          'is_default': False}
    defn = swarm.UbuntuSwarmDriver().nodegroup_stack_definition(
        cluster(), template(), ng, outputs)
    assert hotcheck.check_definition(defn) == []
    params = defn['parameters']
    assert params['swarm_join'] == outputs['swarm_join']
    assert params['primary_ip'] == '10.0.0.5'
    assert params['number_of_minions'] == 2
    assert defn['template']['parameters']['swarm_join']['hidden'] is True
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        swarm.UbuntuSwarmDriver().nodegroup_stack_definition(
            cluster(), template(), ng, {})
    assert 'swarm_join' in str(exc.value)


@pytest.mark.parametrize('label, value', [
    ('auto_healing_enabled', 'sometimes'), ('rexray_preempt', 'true'),
    ('fixed_subnet_cidr', '10.0.0.0'), ('docker_volume_type', '')])
def test_ill_typed_labels_are_refused(label, value):
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        swarm.UbuntuSwarmDriver().validate_labels({label: value})
    assert label in str(exc.value)


def test_labels_are_typed_and_defaulted():
    driver = swarm.UbuntuSwarmDriver()
    assert driver.validate_labels({'auto_healing_enabled': 'true'}) == {
        'auto_healing_enabled': True}
    labels = driver.effective_labels({'labels': {}}, {})
    assert labels == {'fixed_subnet_cidr': '10.0.0.0/24',
                      'auto_healing_enabled': False}


@pytest.mark.parametrize('server_type', ['vm', 'bm'])
@pytest.mark.parametrize('os_distro, name', [
    ('ubuntu', 'swarm_ubuntu_v1'), ('fedora-coreos', 'swarm_fcos_v1')])
def test_swarm_mode_templates_find_their_driver(server_type, os_distro,
                                                name):
    driver = caas.drivers.find_driver(server_type, os_distro, 'swarm-mode')
    assert driver.name == name


def _groups(image='ubuntu-jammy'):
    return [{'uuid': 'm', 'name': 'default-master', 'role': 'master',
             'node_count': 1, 'image_id': image, 'labels': {}},
            {'uuid': 'w', 'name': 'default-worker', 'role': 'worker',
             'node_count': 3, 'image_id': image, 'labels': {}}]


def test_upgrade_is_a_new_image_replaced_in_batches():
    driver = swarm.UbuntuSwarmDriver()
    new = template(image_id='ubuntu-noble')
    assert driver.installed({}, new, {}) == {'image_id': 'ubuntu-noble'}
    old_master, old_worker = _groups()
    ngs = [driver.pinned_nodegroup(cluster(), template(), old_master),
           driver.upgraded_nodegroup(new, old_worker)]
    defn = driver.upgrade_definition(cluster(), template(), ngs, 2,
                                     ['NEW CA PEM'])
    params = defn['parameters']
    assert params['server_image'] == 'ubuntu-jammy'
    assert params['minion_image'] == 'ubuntu-noble'
    assert params['update_max_batch_size'] == 2
    assert params['number_of_minions'] == 3
    # The CA and its key are left as the stack has them (a PATCH keeps
    # what it is not given): the managers keep the CA they booted with.
    assert not {'ca_cert_b64', 'ca_key_b64'} & set(params)
    resources = defn['template']['resources']
    for group in ('swarm_secondary_masters', 'swarm_nodes'):
        assert resources[group]['update_policy'] == {'rolling_update': {
            'max_batch_size': {'get_param': 'update_max_batch_size'}}}
