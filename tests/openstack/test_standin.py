"""The Neutron stand-in of the OpenStack tier (tools/openstack/standin.py),
without the tier: the ports Nova makes on the `private` network."""

import importlib.util
import ipaddress
import os

import pytest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'tools', 'openstack', 'standin.py')
_SPEC = importlib.util.spec_from_file_location('tier_standin', _PATH)
standin = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(standin)

CIDR = '127.103.232.0/24'
PRIVATE = standin.NETWORKS[1]['id']


@pytest.fixture
def neutron():
    return standin.Neutron(CIDR)


def _create(neutron, **port):
    return neutron.route('POST', '/v2.0/ports', {},
                         {'port': dict({'network_id': PRIVATE}, **port)})


def test_every_port_has_its_own_address_until_the_subnet_is_full(neutron):
    addresses = []
    while True:
        code, body = _create(neutron, tenant_id='p1')
        if code != 201:
            break
        [fixed] = body['port']['fixed_ips']
        addresses.append(fixed['ip_address'])
    assert code == 409
    assert body['NeutronError']['type'] == 'IpAddressGenerationFailure'
    # .2-.99 and .200-.254: never the network, gateway or broadcast
    # address, never a last octet the provider-template stand-ins use.
    assert len(addresses) == len(set(addresses)) == 98 + 55
    last = sorted(ipaddress.ip_address(a).packed[-1] for a in addresses)
    assert last == list(range(2, 100)) + list(range(200, 255))
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network(CIDR)
               for a in addresses)
    # A deleted port's address is free again, and only that one.
    [port] = neutron.route('GET', '/v2.0/ports', {'tenant_id': ['p1']},
                           None)['ports'][:1]
    assert neutron.route('DELETE', '/v2.0/ports/%s' % port['id'], {},
                         None) == ()
    code, body = _create(neutron, tenant_id='p1')
    assert code == 201
    assert body['port']['fixed_ips'] == port['fixed_ips']
    assert _create(neutron)[0] == 409


def test_a_port_bound_by_nova_is_active_and_keeps_its_address(neutron):
    _, body = _create(neutron, tenant_id='p1')
    port = body['port']
    assert (port['status'], port['binding:vif_type']) == ('DOWN', 'unbound')
    got = neutron.route('PUT', '/v2.0/ports/%s' % port['id'], {}, {'port': {
        'device_id': 'server-1', 'device_owner': 'compute:nova',
        'binding:host_id': 'ostack-compute',
        'fixed_ips': [{'ip_address': '127.250.250.250'}],
        'mac_address': 'fa:16:3e:00:00:00'}})['port']
    assert (got['status'], got['binding:vif_type']) == ('ACTIVE', 'ovs')
    assert got['fixed_ips'] == port['fixed_ips']
    assert got['mac_address'] == port['mac_address']
    # Nova's lists: by device (any of several), by project and device.
    _create(neutron, tenant_id='p2', device_id='server-2')
    listed = neutron.route('GET', '/v2.0/ports', {
        'device_id': ['server-1', 'server-2'], 'fields': ['id']}, None)
    assert len(listed['ports']) == 2
    listed = neutron.route('GET', '/v2.0/ports', {
        'tenant_id': ['p1'], 'device_id': ['server-2']}, None)
    assert listed['ports'] == []


def test_only_the_private_network_takes_ports(neutron):
    code, body = _create(neutron, network_id='no-such-network')
    assert code == 404
    public = standin.NETWORKS[0]['id']
    assert _create(neutron, network_id=public)[0] == 409
    assert neutron.route('GET', '/v2.0/ports/nope', {}, None) is None
    assert neutron.route('DELETE', '/v2.0/ports/nope', {}, None) is None


def test_networks_and_subnet_as_nova_lists_them(neutron):
    shared = neutron.route('GET', '/v2.0/networks', {'shared': ['True']},
                           None)['networks']
    assert sorted(n['name'] for n in shared) == ['private', 'public']
    own = neutron.route('GET', '/v2.0/networks', {
        'tenant_id': ['p1'], 'shared': ['False']}, None)['networks']
    assert own == []
    [net] = neutron.route('GET', '/v2.0/networks', {'name': ['private']},
                          None)['networks']
    [subnet] = neutron.route('GET', '/v2.0/subnets', {
        'id': net['subnets']}, None)['subnets']
    assert subnet['cidr'] == CIDR and subnet['gateway_ip'] == \
        '127.103.232.1'
    assert neutron.route('GET', '/v2.0/networks/%s' % net['id'], {},
                         None) == {'network': net}
    assert neutron.route('POST', '/v2.0/networks', {}, {}) is None
