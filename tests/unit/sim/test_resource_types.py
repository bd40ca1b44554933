"""The simulated Heat's resource types refuse what Heat and the cloud refuse.

In process (no HTTP); time is moved with ``state.clock_at`` instead of
sleeping, so nothing here depends on how fast the machine is.
"""

import pytest

from caas.sim import hot
from caas.sim import resources
from caas.sim import stacks
from caas.sim import state as st

PROJECT = st.PROJECTS['demo']
USER = st.USERS['demo'][0]


@pytest.fixture
def cloud():
    return st.Cloud(server_boot_delay=1.0, resource_delay=0.0,
                    delete_delay=0.0, loadbalancer_delay=0.5)


def tpl(resources_, parameters=None, outputs=None):
    return {'heat_template_version': '2021-04-16',
            'parameters': parameters or {}, 'resources': resources_,
            'outputs': outputs or {}}


def create(cloud, template, params=None, files=None):
    with cloud.lock:
        return stacks.create_stack(cloud, 's1', PROJECT, USER, template,
                                   params, files)


def status(cloud, stack, later=0.0):
    with st.clock_at(stack['started_at'] + later), cloud.lock:
        return stacks.stack_status(cloud, stack)


NET = {
    'net': {'type': 'OS::Neutron::Net', 'properties': {'name': 'n1'}},
    'subnet': {'type': 'OS::Neutron::Subnet', 'properties': {
        'network': {'get_resource': 'net'}, 'cidr': '10.0.0.0/24'}},
}


# properties and attributes, refused at create (400) --------------------------
def test_unknown_property_is_refused_like_heat(cloud):
    with pytest.raises(hot.HOTError, match=r'^Property error: resources\.net'
                       r'\.properties: Unknown Property colour$'):
        create(cloud, tpl({'net': {'type': 'OS::Neutron::Net',
                                   'properties': {'colour': 'red'}}}))


def test_unknown_key_inside_a_list_of_maps_is_refused(cloud):
    rules = [{'protocol': 'tcp', 'port': 22}]
    with pytest.raises(hot.HOTError, match=r'properties\.rules\[0\]: '
                                           'Unknown Property port'):
        create(cloud, tpl({'sg': {'type': 'OS::Neutron::SecurityGroup',
                                  'properties': {'rules': rules}}}))


@pytest.mark.parametrize('rtype,props,message', [
    ('OS::Neutron::Port', {'network': 'private', 'fixed_ips': 'x'},
     r'fixed_ips: "x" is not a list'),
    ('OS::Heat::RandomString', {'length': 'long'},
     r"length: Value 'long' is not an integer"),
    ('OS::Neutron::Net', {'admin_state_up': 'maybe'},
     r'admin_state_up: Unrecognized value "maybe"'),
    ('OS::Nova::Server', {'flavor': 'm1.small', 'metadata': ['a']},
     r'metadata: "\[\'a\'\]" is not a map'),
    ('OS::Heat::RandomString', {'length': 0},
     r'length: 0 is out of range \(min: 1, max: 512\)'),
])
def test_wrong_types_are_refused(cloud, rtype, props, message):
    with pytest.raises(hot.HOTError, match=message):
        create(cloud, tpl({'r': {'type': rtype, 'properties': props}}))


def test_missing_required_property_is_refused(cloud):
    with pytest.raises(hot.HOTError, match='Property protocol not assigned'):
        create(cloud, tpl({'l': {'type': 'OS::Octavia::Listener',
                                 'properties': {'loadbalancer': 'x',
                                                'protocol_port': 80}}}))


def test_parameter_values_are_checked_before_anything_is_made(cloud):
    template = tpl({'sg': {'type': 'OS::Nova::ServerGroup', 'properties': {
        'policies': [{'get_param': 'policy'}]}}},
        parameters={'policy': {'type': 'string'}})
    with pytest.raises(hot.HOTError, match=r'"spread" is not an allowed '
                                           r'value \[anti-affinity'):
        create(cloud, template, {'policy': 'spread'})
    assert not cloud.data['server_groups']
    stack = create(cloud, template, {'policy': 'soft-anti-affinity'})
    assert status(cloud, stack)[0] == 'CREATE_COMPLETE'


def test_get_attr_of_an_attribute_the_type_lacks_is_refused(cloud):
    with pytest.raises(hot.HOTError, match=r'The Referenced Attribute '
                                           r'\(net cidr\) is incorrect'):
        create(cloud, tpl(dict(NET), outputs={
            'x': {'value': {'get_attr': ['net', 'cidr']}}}))
    stack = create(cloud, tpl(dict(NET), outputs={
        'x': {'value': {'get_attr': ['subnet', 'cidr']}}}))
    assert stacks.outputs(cloud, stack)[0]['output_value'] == '10.0.0.0/24'


def test_attributes_of_group_members_come_from_the_member_template(cloud):
    member = tpl({'v': {'type': 'OS::Heat::Value',
                        'properties': {'value': 'x'}}},
                 outputs={'address': {'value': {'get_attr': ['v', 'value']}}})
    group = {'g': {'type': 'OS::Heat::ResourceGroup', 'properties': {
        'count': 2, 'resource_def': {'type': 'member.yaml'}}}}
    files = {'member.yaml': member}
    stack = create(cloud, tpl(dict(group), outputs={
        'a': {'value': {'get_attr': ['g', 'address']}}}), files=files)
    assert stacks.outputs(cloud, stack)[0]['output_value'] == ['x', 'x']
    with pytest.raises(hot.HOTError, match=r'\(g addres\) is incorrect'):
        create(cloud, tpl(dict(group), outputs={
            'a': {'value': {'get_attr': ['g', 'addres']}}}), files=files)


def test_provider_properties_must_be_its_parameters(cloud):
    files = {'node.yaml': tpl({}, parameters={'name': {'type': 'string'}})}
    with pytest.raises(hot.HOTError, match='Unknown Property nmae'):
        create(cloud, tpl({'n': {'type': 'node.yaml',
                                 'properties': {'nmae': 'a'}}}), files=files)
    with pytest.raises(hot.HOTError, match='Property name not assigned'):
        create(cloud, tpl({'n': {'type': 'node.yaml'}}), files=files)


def test_values_known_only_at_create_are_checked_then(cloud):
    stack = create(cloud, tpl({
        'v': {'type': 'OS::Heat::Value', 'properties': {'value': 'long'}},
        'r': {'type': 'OS::Heat::RandomString', 'properties': {
            'length': {'get_attr': ['v', 'value']}}}}))
    state, reason = status(cloud, stack, 1)
    assert state == 'CREATE_FAILED'
    assert "Value 'long' is not an integer" in reason


# what the cloud refuses: the resource fails ----------------------------------
def test_port_on_a_missing_network_fails(cloud):
    stack = create(cloud, tpl({'port': {
        'type': 'OS::Neutron::Port', 'properties': {'network': 'nowhere'}}}))
    state, reason = status(cloud, stack, 1)
    assert state == 'CREATE_FAILED'
    assert "Unable to find network with name or id 'nowhere'" in reason
    assert not cloud.data['ports']


def test_fixed_ip_on_a_subnet_of_another_network_fails(cloud):
    stack = create(cloud, tpl(dict(NET, port={
        'type': 'OS::Neutron::Port', 'properties': {
            'network': 'private',
            'fixed_ips': [{'subnet': {'get_resource': 'subnet'}}]}})))
    state, reason = status(cloud, stack, 1)
    assert state == 'CREATE_FAILED' and 'invalid subnet' in reason


def test_router_gateway_must_be_an_external_network(cloud):
    def router(network):
        return tpl({'r': {'type': 'OS::Neutron::Router', 'properties': {
            'external_gateway_info': {'network': network}}}})
    assert status(cloud, create(cloud, router('public')), 1)[0] == \
        'CREATE_COMPLETE'
    state, reason = status(cloud, create(cloud, router('private')), 1)
    assert state == 'CREATE_FAILED'
    assert 'is not an external network' in reason


def test_reversed_port_range_fails(cloud):
    stack = create(cloud, tpl({'sg': {
        'type': 'OS::Neutron::SecurityGroup', 'properties': {'rules': [
            {'protocol': 'tcp', 'port_range_min': 90,
             'port_range_max': 80}]}}}))
    assert 'port_range_min must be <= port_range_max' in \
        status(cloud, stack, 1)[1]


def _server(flavor):
    return {'type': 'OS::Nova::Server', 'properties': {
        'flavor': flavor, 'image': 'ubuntu-jammy'}}


def _volume_stack(flavor):
    return tpl({
        'server': _server(flavor),
        'vol': {'type': 'OS::Cinder::Volume', 'properties': {'size': 10}},
        'attach': {'type': 'OS::Cinder::VolumeAttachment', 'properties': {
            'instance_uuid': {'get_resource': 'server'},
            'volume_id': {'get_resource': 'vol'}}}},
        outputs={'status': {'value': {'get_attr': ['vol', 'status']}}})


def test_volume_attaches_to_a_vm(cloud):
    stack = create(cloud, _volume_stack('m1.small'))
    assert status(cloud, stack, 2)[0] == 'CREATE_COMPLETE'
    assert stacks.outputs(cloud, stack)[0]['output_value'] == 'in-use'


def test_volume_on_a_bare_metal_server_is_refused(cloud):
    stack = create(cloud, _volume_stack('baremetal'))
    state, reason = status(cloud, stack, 2)
    assert state == 'CREATE_FAILED'
    assert 'bare-metal flavor' in reason and 'cannot attach' in reason


def test_bare_metal_flavor_is_ironic_backed(cloud):
    flavor = cloud.find('flavors', 'baremetal')
    assert flavor['extra_specs']['resources:CUSTOM_BAREMETAL'] == '1'
    assert flavor['extra_specs']['resources:VCPU'] == '0'


def test_server_on_a_missing_network_or_group_fails(cloud):
    for props in ({'networks': [{'network': 'nowhere'}]},
                  {'scheduler_hints': {'group': 'nope'}}):
        server = _server('m1.small')
        server['properties'].update(props)
        state, reason = status(cloud, create(cloud, tpl({'s': server})), 2)
        assert state == 'CREATE_FAILED', props
        assert 'could not be found' in reason or 'Invalid server group' in \
            reason


LB = dict(NET, **{
    'lb': {'type': 'OS::Octavia::LoadBalancer', 'properties': {
        'vip_subnet': {'get_resource': 'subnet'}}},
    'listener': {'type': 'OS::Octavia::Listener', 'properties': {
        'loadbalancer': {'get_resource': 'lb'}, 'protocol': 'TCP',
        'protocol_port': 6443}},
    'pool': {'type': 'OS::Octavia::Pool', 'properties': {
        'listener': {'get_resource': 'listener'}, 'protocol': 'TCP',
        'lb_algorithm': 'ROUND_ROBIN'}},
    'monitor': {'type': 'OS::Octavia::HealthMonitor', 'properties': {
        'pool': {'get_resource': 'pool'}, 'type': 'TCP', 'delay': 5,
        'max_retries': 3, 'timeout': 5}},
    'fip': {'type': 'OS::Neutron::FloatingIP', 'properties': {
        'floating_network': 'public',
        'port_id': {'get_attr': ['lb', 'vip_port_id']}}},
})


def test_load_balancer_vip_and_floating_ip_are_on_loopback(cloud):
    member = {'type': 'OS::Octavia::PoolMember', 'properties': {
        'pool': {'get_resource': 'pool'}, 'address': '127.10.0.9',
        'protocol_port': 6443, 'subnet': {'get_resource': 'subnet'}}}
    stack = create(cloud, tpl(dict(LB, member=member), outputs={
        'vip': {'value': {'get_attr': ['lb', 'vip_address']}},
        'fip': {'value': {'get_attr': ['fip', 'floating_ip_address']}}}))
    assert status(cloud, stack, 0.1)[0] == 'CREATE_IN_PROGRESS'
    assert status(cloud, stack, 0.6)[0] == 'CREATE_COMPLETE'
    out = {o['output_key']: o['output_value']
           for o in stacks.outputs(cloud, stack)}
    assert out['vip'].startswith('127.') and out['fip'].startswith('127.')


def test_pool_member_on_a_missing_subnet_fails(cloud):
    member = {'type': 'OS::Octavia::PoolMember', 'properties': {
        'pool': {'get_resource': 'pool'}, 'address': '127.10.0.9',
        'protocol_port': 6443, 'subnet': 'no-such-subnet'}}
    state, reason = status(cloud, create(cloud, tpl(dict(
        LB, member=member))), 1)
    assert state == 'CREATE_FAILED'
    assert 'Subnet no-such-subnet not found' in reason


def test_resources_are_deleted_in_reverse_order(cloud, monkeypatch):
    deleted = []
    for name in ('OS::Neutron::Net', 'OS::Neutron::Subnet',
                 'OS::Neutron::Port'):
        rtype = resources.TYPES[name]
        original = rtype.delete

        def record(cloud_, stack, res, original=original):
            deleted.append(res['name'])
            return original(cloud_, stack, res)
        monkeypatch.setattr(rtype, 'delete', record)
    stack = create(cloud, tpl(dict(NET, port={
        'type': 'OS::Neutron::Port', 'properties': {
            'network': {'get_resource': 'net'},
            'fixed_ips': [{'subnet': {'get_resource': 'subnet'}}]}})))
    assert list(stack['resources']) == ['net', 'subnet', 'port']
    with cloud.lock:
        stacks.delete_stack(cloud, stack)
    assert deleted == ['port', 'subnet', 'net']
    assert stack['resources']['subnet']['physical_id'] not in \
        cloud.data['subnets']
    assert not cloud.data['ports']
