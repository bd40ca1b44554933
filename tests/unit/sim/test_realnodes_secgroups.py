"""Neutron security groups as the nftables rules of a real node
(caas.sim.realnodes.secgroups): which ports are filtered and what each
rule becomes. Loading them into a node is tried in
tests/integration/test_real_nodes_ops.py."""

from caas.sim import state as st
from caas.sim.realnodes import secgroups
from tests.unit.sim.test_realnodes_sim import real_stack
from tests.unit.sim.test_signals import create


def _cloud(rules, name='web'):
    cloud = st.Cloud(resource_delay=0.0)
    cloud.data['security_groups']['g1'] = {'id': 'g1', 'name': name,
                                           'rules': rules}
    return cloud


def _port(cloud, groups, fixed='10.0.0.5'):
    port = {'id': 'p-%s' % fixed, 'fixed_ip': fixed,
            'security_groups': groups}
    cloud.data['ports'][port['id']] = port
    return port


def test_ports_without_named_groups_are_not_filtered():
    cloud = _cloud([])
    assert secgroups.ruleset(cloud, [_port(cloud, [])]) is None
    assert secgroups.ruleset(cloud, [_port(cloud, ['default'])]) is None


def test_a_named_group_without_rules_drops_every_new_ingress():
    cloud = _cloud([])
    script = secgroups.ruleset(cloud, [_port(cloud, ['g1'])])
    assert 'hook input priority 0; policy drop;' in script
    assert 'ct state established,related accept' in script
    assert 'iifname "lo" accept' in script
    assert script.count('accept') == 2


def test_each_ingress_rule_becomes_one_accept():
    cloud = _cloud([
        {'protocol': 'tcp', 'port_range_min': 80, 'port_range_max': 80,
         'remote_ip_prefix': '10.0.0.0/24'},
        {'protocol': 'udp', 'port_range_min': 4789, 'port_range_max': 4790},
        {'protocol': 'icmp'},
        {'protocol': 'tcp', 'port_range_min': 22, 'port_range_max': 22,
         'direction': 'egress'},
        {'protocol': 'tcp', 'ethertype': 'IPv6'},
    ])
    script = secgroups.ruleset(cloud, [_port(cloud, ['g1'])])
    lines = [line.strip() for line in script.splitlines()]
    assert 'ip saddr 10.0.0.0/24 meta l4proto tcp tcp dport 80 accept' \
        in lines
    assert 'meta l4proto udp udp dport 4789-4790 accept' in lines
    assert 'meta l4proto icmp accept' in lines
    # Egress and IPv6 rules match no IPv4 ingress packet.
    assert 'dport 22' not in script and script.count('accept') == 5


def test_a_remote_group_rule_names_the_groups_members():
    cloud = _cloud([{'protocol': 'tcp', 'remote_mode': 'remote_group_id',
                     'remote_group_id': 'g1'}])
    port = _port(cloud, ['g1'], '10.0.0.5')
    _port(cloud, ['g1'], '10.0.0.7')
    _port(cloud, [], '10.0.0.9')
    script = secgroups.ruleset(cloud, [port])
    assert 'ip saddr { 10.0.0.5, 10.0.0.7 } meta l4proto tcp accept' in \
        script


def test_heat_ports_and_servers_record_their_groups_by_id():
    cloud = st.Cloud(resource_delay=0.0, server_boot_delay=0.0)
    template = real_stack()
    resources = template['resources']
    resources['sg'] = {'type': 'OS::Neutron::SecurityGroup', 'properties': {
        'name': 'web', 'rules': [{'protocol': 'tcp', 'port_range_min': 80,
                                  'port_range_max': 80}]}}
    server = next(r for r in resources.values()
                  if r['type'] == 'OS::Nova::Server')
    server['properties']['security_groups'] = [{'get_resource': 'sg'},
                                               'default']
    resources['port'] = {'type': 'OS::Neutron::Port', 'properties': {
        'network': 'private', 'security_groups': ['web']}}
    create(cloud, template)
    group = cloud.find('security_groups', 'web')
    srv = cloud.visible_servers()[0]
    assert cloud.data['ports'][srv['port_ids'][0]]['security_groups'] == \
        [group['id'], 'default']
    named = [p for p in cloud.data['ports'].values() if not p['auto']]
    assert [p['security_groups'] for p in named] == [[group['id']]]
