"""OS::Neutron::* resource types of the simulated Heat.

Networks, subnets, security groups and ports are records of the cloud's
tables, so that what one stack makes another can name (a nodegroup's stack
joins the network of its cluster's stack). Neutron's refusals are failures
of the resource: a port or subnet on a network that does not exist, a
fixed IP on a subnet of another network, a router gateway or floating IP on
a network that is not external, a rule whose port range is reversed.
Addresses are on loopback whatever the subnet's CIDR says: nothing the
simulated cloud hands out may lead off 127.0.0.0/8.
"""

import ipaddress

from caas.sim import hot
from caas.sim import props as p
from caas.sim import rbase
from caas.sim.props import P

_VALUE_SPECS = P(p.MAP)
_TAGS = P(p.LIST, items=P())
_RULE = {
    'direction': P(allowed=['ingress', 'egress']),
    'ethertype': P(allowed=['IPv4', 'IPv6']),
    'port_range_min': P(p.INTEGER, min=0, max=65535),
    'port_range_max': P(p.INTEGER, min=0, max=65535),
    'protocol': P(),
    'remote_group_id': P(),
    'remote_ip_prefix': P(),
    'remote_mode': P(allowed=['remote_ip_prefix', 'remote_group_id']),
}


def find(cloud, kind, name_or_id):
    return cloud.find(kind, name_or_id) if name_or_id else None


def not_found(res, entity, name):
    rbase.fail(res, 'NotFound', 'Unable to find %s with name or id '
                                "'%s'" % (entity, name))


def _check_rule(res, rule):
    low, high = rule.get('port_range_min'), rule.get('port_range_max')
    if low is not None and high is not None and int(low) > int(high):
        rbase.fail(res, 'BadRequest', 'For TCP/UDP protocols, '
                   'port_range_min must be <= port_range_max (HTTP 400)')
        return False
    return True


class Net(rbase.Recorded):
    kind = 'networks'
    properties = {
        'name': P(), 'admin_state_up': P(p.BOOLEAN),
        'shared': P(p.BOOLEAN), 'port_security_enabled': P(p.BOOLEAN),
        'dhcp_agent_ids': P(p.LIST), 'dns_domain': P(), 'qos_policy': P(),
        'tenant_id': P(), 'value_specs': _VALUE_SPECS, 'tags': _TAGS}
    attributes = ('admin_state_up', 'l2_adjacency', 'mtu', 'name',
                  'qos_policy_id', 'segments', 'status', 'subnets',
                  'tenant_id', 'port_security_enabled')

    def record(self, cloud, stack, res):
        return {'name': res['props'].get('name') or
                rbase.physical_name(stack, res), 'external': False}

    def values(self, cloud, rec):
        subnets = [s['id'] for s in cloud.data['subnets'].values()
                   if s['network_id'] == rec['id']]
        return dict(rec, subnets=subnets, admin_state_up=True, mtu=1450,
                    status='ACTIVE', tenant_id=rec['project_id'])


class Subnet(rbase.Recorded):
    kind = 'subnets'
    properties = {
        'network': P(), 'network_id': P(), 'cidr': P(), 'name': P(),
        'ip_version': P(p.INTEGER, allowed=[4, 6]),
        'dns_nameservers': P(p.LIST, items=P()),
        'gateway_ip': P(), 'enable_dhcp': P(p.BOOLEAN),
        'allocation_pools': P(p.LIST, items=P(p.MAP, keys={
            'start': P(required=True), 'end': P(required=True)})),
        'host_routes': P(p.LIST, items=P(p.MAP, keys={
            'destination': P(required=True), 'nexthop': P(required=True)})),
        'ipv6_address_mode': P(), 'ipv6_ra_mode': P(), 'prefixlen': P(
            p.INTEGER), 'segment': P(), 'subnetpool': P(), 'tenant_id': P(),
        'value_specs': _VALUE_SPECS, 'tags': _TAGS}
    attributes = ('allocation_pools', 'cidr', 'dns_nameservers',
                  'enable_dhcp', 'gateway_ip', 'host_routes', 'ip_version',
                  'name', 'network_id', 'tenant_id', 'subnetpool_id')

    def validate(self, res_name, props):
        super().validate(res_name, props)
        if props.get('network') is None and props.get('network_id') is None:
            p.check(res_name, {'network': P(required=True)}, {})

    def record(self, cloud, stack, res):
        props = res['props']
        name = props.get('network') or props.get('network_id')
        net = find(cloud, 'networks', name)
        if net is None:
            return not_found(res, 'network', name)
        try:
            cidr = ipaddress.ip_network(props.get('cidr') or '10.0.0.0/24')
        except ValueError:
            return rbase.fail(res, 'BadRequest', "Invalid input for "
                              "operation: '%s' is not a valid IP subnet. "
                              '(HTTP 400)' % props.get('cidr'))
        gateway = props.get('gateway_ip') or str(next(cidr.hosts()))
        return {'name': props.get('name') or '', 'network_id': net['id'],
                'cidr': str(cidr), 'gateway_ip': gateway,
                'ip_version': cidr.version,
                'dns_nameservers': props.get('dns_nameservers') or [],
                'enable_dhcp': props.get('enable_dhcp', True) is not False,
                'allocation_pools': props.get('allocation_pools') or [],
                'host_routes': props.get('host_routes') or []}

    def values(self, cloud, rec):
        return dict(rec, tenant_id=rec['project_id'], subnetpool_id=None)


class Router(rbase.Resource):
    properties = {
        'name': P(), 'admin_state_up': P(p.BOOLEAN),
        'external_gateway_info': P(p.MAP, keys={
            'network': P(required=True), 'enable_snat': P(p.BOOLEAN),
            'external_fixed_ips': P(p.LIST)}),
        'distributed': P(p.BOOLEAN), 'ha': P(p.BOOLEAN),
        'l3_agent_ids': P(p.LIST), 'value_specs': _VALUE_SPECS,
        'tags': _TAGS}
    attributes = ('admin_state_up', 'external_gateway_info', 'name',
                  'status', 'tenant_id')

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        gateway = res['props'].get('external_gateway_info') or {}
        net = None
        if gateway:
            net = find(cloud, 'networks', gateway.get('network'))
            if net is None:
                return not_found(res, 'network', gateway.get('network'))
            if not net.get('external'):
                return rbase.fail(res, 'BadRequest', 'Bad router request: '
                                  'Network %s is not an external network. '
                                  '(HTTP 400)' % net['id'])
        res['data'] = {'name': res['props'].get('name') or '',
                       'admin_state_up': True, 'status': 'ACTIVE',
                       'tenant_id': stack['project_id'],
                       'external_gateway_info': {
                           'network_id': net['id']} if net else None}


class RouterInterface(rbase.Resource):
    properties = {'router': P(required=True), 'subnet': P(), 'port': P()}

    def validate(self, res_name, props):
        super().validate(res_name, props)
        if props.get('subnet') is None and props.get('port') is None:
            raise hot.HOTError('Property error: resources.%s.properties: '
                               'At least one of the following properties '
                               'must be specified: subnet, port.' % res_name)

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        props = res['props']
        if props.get('subnet') and \
                find(cloud, 'subnets', props['subnet']) is None:
            not_found(res, 'subnet', props['subnet'])
        elif props.get('port') and \
                find(cloud, 'ports', props['port']) is None:
            not_found(res, 'port', props['port'])


class SecurityGroup(rbase.Recorded):
    kind = 'security_groups'
    properties = {'name': P(), 'description': P(), 'tags': _TAGS,
                  'rules': P(p.LIST, items=P(p.MAP, keys=_RULE))}

    def record(self, cloud, stack, res):
        rules = res['props'].get('rules') or []
        if not all(_check_rule(res, r) for r in rules):
            return None
        return {'name': res['props'].get('name') or
                rbase.physical_name(stack, res),
                'description': res['props'].get('description') or '',
                'rules': [dict(r) for r in rules]}


class SecurityGroupRule(rbase.Resource):
    properties = dict(
        {k: v for k, v in _RULE.items()
         if k not in ('remote_group_id', 'remote_mode')},
        security_group=P(required=True), remote_group=P(), description=P())

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        props = res['props']
        group = find(cloud, 'security_groups', props['security_group'])
        if group is None:
            return not_found(res, 'security_group', props['security_group'])
        if props.get('remote_group') and props['remote_group'] != \
                'default' and find(cloud, 'security_groups',
                                   props['remote_group']) is None:
            return not_found(res, 'security_group', props['remote_group'])
        if _check_rule(res, props):
            res['data'] = {'security_group_id': group['id']}


class Port(rbase.Resource):
    properties = {
        'network': P(), 'network_id': P(), 'name': P(),
        'fixed_ips': P(p.LIST, items=P(p.MAP, keys={
            'subnet': P(), 'subnet_id': P(), 'ip_address': P()})),
        'security_groups': P(p.LIST, items=P()),
        'allowed_address_pairs': P(p.LIST, items=P(p.MAP, keys={
            'ip_address': P(required=True), 'mac_address': P()})),
        'admin_state_up': P(p.BOOLEAN), 'mac_address': P(),
        'device_id': P(), 'device_owner': P(), 'dns_name': P(),
        'binding:vnic_type': P(allowed=['normal', 'direct', 'macvtap',
                                        'direct-physical', 'baremetal',
                                        'virtio-forwarder', 'smart-nic']),
        'binding:profile': P(p.MAP), 'no_fixed_ips': P(p.BOOLEAN),
        'port_security_enabled': P(p.BOOLEAN), 'qos_policy': P(),
        'replacement_policy': P(allowed=['REPLACE_ALWAYS', 'AUTO']),
        'propagate_uplink_status': P(p.BOOLEAN),
        'value_specs': _VALUE_SPECS, 'tags': _TAGS}
    attributes = ('admin_state_up', 'allowed_address_pairs', 'device_id',
                  'device_owner', 'dns_assignment', 'fixed_ips',
                  'mac_address', 'name', 'network', 'network_id',
                  'port_security_enabled', 'qos_policy_id',
                  'security_groups', 'status', 'subnets', 'tenant_id')

    def validate(self, res_name, props):
        super().validate(res_name, props)
        if props.get('network') is None and props.get('network_id') is None:
            p.check(res_name, {'network': P(required=True)}, {})

    def create(self, cloud, stack, res):
        props = res['props']
        res['ready_at'] = res['started_at']
        name = props.get('network') or props.get('network_id')
        net = find(cloud, 'networks', name)
        if net is None:
            return not_found(res, 'network', name)
        subnet_ids = []
        for entry in props.get('fixed_ips') or []:
            ident = entry.get('subnet') or entry.get('subnet_id')
            if not ident:
                continue
            subnet = find(cloud, 'subnets', ident)
            if subnet is None:
                return not_found(res, 'subnet', ident)
            if subnet['network_id'] != net['id']:
                return rbase.fail(res, 'BadRequest', 'Invalid input for '
                                  'operation: Failed to create port on '
                                  'network %s, because fixed_ips included '
                                  'invalid subnet %s. (HTTP 400)'
                                  % (net['id'], subnet['id']))
            subnet_ids.append(subnet['id'])
        groups = []
        for group in props.get('security_groups') or []:
            record = None if group == 'default' else \
                find(cloud, 'security_groups', group)
            if group != 'default' and record is None:
                return not_found(res, 'security_group', group)
            groups.append(record['id'] if record else group)
        port = cloud.create_port(net['id'], stack['project_id'],
                                 name=props.get('name') or '',
                                 subnet_id=subnet_ids[0] if subnet_ids
                                 else None, security_groups=groups)
        res['physical_id'] = port['id']
        self.settle_later(cloud, res)

    def delete(self, cloud, stack, res):
        cloud.delete_port(res.get('physical_id'))

    def attr(self, cloud, stack, res, name, path):
        port = cloud.data['ports'].get(res.get('physical_id')) or {}
        values = {
            'fixed_ips': [{'ip_address': port.get('fixed_ip'),
                           'subnet_id': port.get('subnet_id')}],
            'mac_address': port.get('mac_address'),
            'network_id': port.get('network_id'),
            'network': port.get('network_name'),
            'subnets': [port['subnet_id']] if port.get('subnet_id') else [],
            'name': port.get('name'), 'device_id': port.get('device_id'),
            'status': 'ACTIVE' if port.get('device_id') else 'DOWN',
            'tenant_id': port.get('project_id'), 'admin_state_up': True,
            'allowed_address_pairs': res['props'].get(
                'allowed_address_pairs') or [],
            'security_groups': res['props'].get('security_groups') or [],
            'show': port}
        return hot._dig(values.get(name), path)


def _external(cloud, res, name):
    net = find(cloud, 'networks', name)
    if net is None:
        not_found(res, 'network', name)
    elif not net.get('external'):
        rbase.fail(res, 'BadRequest', 'Bad floatingip request: Network %s '
                   'is not a valid external network. (HTTP 400)' % net['id'])
    else:
        return net
    return None


class FloatingIP(rbase.Resource):
    properties = {
        'floating_network': P(), 'floating_network_id': P(),
        'floating_subnet': P(), 'floating_ip_address': P(),
        'fixed_ip_address': P(), 'port_id': P(), 'dns_name': P(),
        'dns_domain': P(), 'value_specs': _VALUE_SPECS}
    attributes = ('fixed_ip_address', 'floating_ip_address',
                  'floating_network_id', 'port_id', 'router_id',
                  'tenant_id')

    def validate(self, res_name, props):
        super().validate(res_name, props)
        if props.get('floating_network') is None and \
                props.get('floating_network_id') is None:
            p.check(res_name, {'floating_network': P(required=True)}, {})

    def create(self, cloud, stack, res):
        props = res['props']
        res['ready_at'] = res['started_at']
        net = _external(cloud, res, props.get('floating_network') or
                        props.get('floating_network_id'))
        if net is None:
            return
        if props.get('port_id') and props['port_id'] not in \
                cloud.data['ports']:
            return not_found(res, 'port', props['port_id'])
        try:
            fip = cloud.create_floating_ip(stack['project_id'],
                                           props.get('port_id'))
        except ValueError as exc:
            return rbase.fail(res, 'IpAddressGenerationFailureClient',
                              'No more IP addresses available on network '
                              '%s: %s (HTTP 409)' % (net['id'], exc))
        fip['network_id'] = net['id']
        res['physical_id'] = fip['id']
        self.settle_later(cloud, res)

    def update(self, cloud, stack, res, props):
        super().update(cloud, stack, res, props)
        fip = cloud.data['floating_ips'].get(res['physical_id'])
        if fip is not None:
            fip['port_id'] = props.get('port_id')
            cloud.touch('floating_ips', fip['id'])

    def delete(self, cloud, stack, res):
        cloud.data['floating_ips'].pop(res.get('physical_id'), None)

    def attr(self, cloud, stack, res, name, path):
        fip = cloud.data['floating_ips'].get(res.get('physical_id')) or {}
        port = cloud.data['ports'].get(fip.get('port_id')) or {}
        values = {'floating_ip_address': fip.get('address'),
                  'fixed_ip_address': port.get('fixed_ip'),
                  'port_id': fip.get('port_id'),
                  'floating_network_id': fip.get('network_id'),
                  'router_id': None, 'tenant_id': fip.get('project_id'),
                  'show': fip}
        return hot._dig(values.get(name), path)


class FloatingIPAssociation(rbase.Resource):
    properties = {'floatingip_id': P(required=True),
                  'port_id': P(required=True), 'fixed_ip_address': P()}

    def _fip(self, cloud, props):
        return cloud.data['floating_ips'].get(props.get('floatingip_id'))

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        fip = self._fip(cloud, res['props'])
        if fip is None:
            res['failed'] = ('NotFound: resources.%s: Floating IP %s could '
                             'not be found' % (res['name'], res['props'].get(
                                 'floatingip_id')))
        elif res['props'].get('port_id') not in cloud.data['ports']:
            not_found(res, 'port', res['props'].get('port_id'))
        else:
            fip['port_id'] = res['props'].get('port_id')
            cloud.touch('floating_ips', fip['id'])

    def update(self, cloud, stack, res, props):
        self.delete(cloud, stack, res)
        super().update(cloud, stack, res, props)
        fip = self._fip(cloud, props)
        if fip is not None:
            fip['port_id'] = props.get('port_id')
            cloud.touch('floating_ips', fip['id'])

    def delete(self, cloud, stack, res):
        fip = self._fip(cloud, res['props'])
        if fip is not None and fip.get('port_id') == \
                res['props'].get('port_id'):
            fip['port_id'] = None
            cloud.touch('floating_ips', fip['id'])


TYPES = {
    'OS::Neutron::Net': Net(),
    'OS::Neutron::Subnet': Subnet(),
    'OS::Neutron::Router': Router(),
    'OS::Neutron::RouterInterface': RouterInterface(),
    'OS::Neutron::SecurityGroup': SecurityGroup(),
    'OS::Neutron::SecurityGroupRule': SecurityGroupRule(),
    'OS::Neutron::Port': Port(),
    'OS::Neutron::FloatingIP': FloatingIP(),
    'OS::Neutron::FloatingIPAssociation': FloatingIPAssociation(),
}
