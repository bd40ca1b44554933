"""OS::Octavia::* resource types of the simulated Heat.

A load balancer is a record of the cloud's ``loadbalancers`` table with a
VIP port on its subnet's network, so its ``vip_address`` is on loopback
(127.0.0.0/8, something may connect to it) and a floating IP can be
associated with ``vip_port_id``; it becomes ACTIVE ``loadbalancer_delay``
seconds after it was asked for. Listeners, pools, members and health
monitors are records of ``lb_objects``. What Octavia refuses fails the
resource: a VIP on a subnet that does not exist, a listener on a missing
load balancer, a pool without a listener or load balancer, a member of a
missing pool or on a missing subnet, a member address that is not an IP.
"""

import abc
import ipaddress

from caas.sim import hot
from caas.sim import props as p
from caas.sim import rbase
from caas.sim.props import P

PROTOCOLS = ['TCP', 'HTTP', 'HTTPS', 'TERMINATED_HTTPS', 'UDP', 'SCTP']
_PORT = P(p.INTEGER, required=True, min=1, max=65535)


def _lb_object(cloud, kind, ident):
    rec = cloud.data['lb_objects'].get(ident) if ident else None
    return rec if rec is not None and rec['kind'] == kind else None


class LoadBalancer(rbase.Recorded):
    kind = 'loadbalancers'
    properties = {
        'vip_subnet': P(), 'vip_network': P(), 'vip_address': P(),
        'vip_qos_policy': P(), 'name': P(), 'description': P(),
        'provider': P(), 'flavor': P(), 'tenant_id': P(),
        'admin_state_up': P(p.BOOLEAN), 'availability_zone': P()}
    attributes = ('vip_address', 'vip_port_id', 'vip_subnet_id', 'pools',
                  'listeners', 'flavor_id', 'provisioning_status',
                  'operating_status')

    def validate(self, res_name, props):
        super().validate(res_name, props)
        if props.get('vip_subnet') is None and \
                props.get('vip_network') is None:
            raise hot.HOTError('Property error: resources.%s.properties: '
                               'At least one of the following properties '
                               'must be specified: vip_subnet, vip_network.'
                               % res_name)

    def settle_later(self, cloud, res, delay=None):
        super().settle_later(cloud, res, cloud.knobs['loadbalancer_delay'])

    def record(self, cloud, stack, res):
        props = res['props']
        subnet = net = None
        if props.get('vip_subnet'):
            subnet = cloud.find('subnets', props['vip_subnet'])
            if subnet is None:
                return rbase.fail(res, 'NotFound', 'Subnet %s not found. '
                                  '(HTTP 404)' % props['vip_subnet'])
            net = cloud.data['networks'].get(subnet['network_id'])
        else:
            net = cloud.find('networks', props['vip_network'])
            if net is None:
                return rbase.fail(res, 'NotFound', 'Network %s not found. '
                                  '(HTTP 404)' % props['vip_network'])
        wanted = props.get('vip_address')
        if wanted and ipaddress.ip_address(wanted) not in \
                ipaddress.ip_network('127.0.0.0/8'):
            return rbase.fail(res, 'BadRequest', 'Validation failure: '
                              'vip_address %s is not on loopback: the '
                              'simulated cloud hands out 127.0.0.0/8 '
                              'only. (HTTP 400)' % wanted)
        port = cloud.create_port(net['id'], stack['project_id'],
                                 name='octavia-lb-' + res['name'])
        if wanted:
            port['fixed_ip'] = wanted
        port['subnet_id'] = subnet['id'] if subnet else None
        port['device_owner'] = 'Octavia'
        return {'name': props.get('name') or '',
                'vip_address': port['fixed_ip'], 'vip_port_id': port['id'],
                'vip_subnet_id': port['subnet_id'],
                'flavor_id': props.get('flavor')}

    def update(self, cloud, stack, res, props):
        # A VIP stays where it is: only the name and description change.
        res['props'] = props
        rec = cloud.data['loadbalancers'].get(res.get('physical_id'))
        if rec is not None:
            rec['name'] = props.get('name') or ''
            cloud.touch('loadbalancers', rec['id'])

    def delete(self, cloud, stack, res):
        rec = cloud.data['loadbalancers'].pop(res.get('physical_id'), None)
        if rec is not None:
            cloud.delete_port(rec['vip_port_id'])

    def values(self, cloud, rec):
        objs = [o for o in cloud.data['lb_objects'].values()
                if o.get('loadbalancer_id') == rec['id']]
        return dict(rec, pools=[{'id': o['id']} for o in objs
                                if o['kind'] == 'pool'],
                    listeners=[{'id': o['id']} for o in objs
                               if o['kind'] == 'listener'],
                    provisioning_status='ACTIVE', operating_status='ONLINE')


class _LBObject(rbase.Recorded):
    kind = 'lb_objects'
    object_kind = None

    def record(self, cloud, stack, res):
        rec = self.fields(cloud, res, res['props'])
        if rec is not None:
            rec['kind'] = self.object_kind
        return rec

    @abc.abstractmethod
    def fields(self, cloud, res, props):
        """The fields of the Octavia object, or None after ``fail``."""

    def values(self, cloud, rec):
        return dict(rec, provisioning_status='ACTIVE')


class Listener(_LBObject):
    object_kind = 'listener'
    properties = {
        'loadbalancer': P(required=True), 'protocol': P(
            required=True, allowed=PROTOCOLS), 'protocol_port': _PORT,
        'default_pool': P(), 'name': P(), 'description': P(),
        'admin_state_up': P(p.BOOLEAN), 'connection_limit': P(p.INTEGER),
        'allowed_cidrs': P(p.LIST, items=P()),
        'default_tls_container_ref': P(), 'sni_container_refs': P(p.LIST),
        'tenant_id': P()}
    attributes = ('default_pool_id', 'loadbalancers', 'pools')

    def fields(self, cloud, res, props):
        lb = cloud.find('loadbalancers', props['loadbalancer'])
        if lb is None:
            return rbase.fail(res, 'NotFound', 'Load Balancer %s not found. '
                              '(HTTP 404)' % props['loadbalancer'])
        return {'loadbalancer_id': lb['id'], 'protocol': props['protocol'],
                'protocol_port': int(props['protocol_port']),
                'default_pool_id': props.get('default_pool'),
                'loadbalancers': [{'id': lb['id']}]}


class Pool(_LBObject):
    object_kind = 'pool'
    properties = {
        'lb_algorithm': P(required=True, allowed=[
            'ROUND_ROBIN', 'LEAST_CONNECTIONS', 'SOURCE_IP',
            'SOURCE_IP_PORT']),
        'protocol': P(required=True, allowed=PROTOCOLS + ['PROXY']),
        'listener': P(), 'loadbalancer': P(), 'name': P(),
        'description': P(), 'admin_state_up': P(p.BOOLEAN),
        'session_persistence': P(p.MAP, keys={
            'type': P(required=True, allowed=[
                'SOURCE_IP', 'HTTP_COOKIE', 'APP_COOKIE']),
            'cookie_name': P()}),
        'tls_enabled': P(p.BOOLEAN), 'tenant_id': P()}
    attributes = ('healthmonitor_id', 'listeners', 'members')

    def validate(self, res_name, props):
        super().validate(res_name, props)
        if props.get('listener') is None and \
                props.get('loadbalancer') is None:
            raise hot.HOTError('Property error: resources.%s.properties: '
                               'At least one of the following properties '
                               'must be specified: listener, loadbalancer.'
                               % res_name)

    def fields(self, cloud, res, props):
        lb_id = None
        if props.get('listener'):
            listener = _lb_object(cloud, 'listener', props['listener'])
            if listener is None:
                return rbase.fail(res, 'NotFound', 'Listener %s not found. '
                                  '(HTTP 404)' % props['listener'])
            lb_id = listener['loadbalancer_id']
        if props.get('loadbalancer'):
            lb = cloud.find('loadbalancers', props['loadbalancer'])
            if lb is None:
                return rbase.fail(res, 'NotFound', 'Load Balancer %s not '
                                  'found. (HTTP 404)' % props['loadbalancer'])
            lb_id = lb['id']
        return {'loadbalancer_id': lb_id, 'protocol': props['protocol'],
                'lb_algorithm': props['lb_algorithm'],
                'listeners': [{'id': props['listener']}]
                if props.get('listener') else []}

    def values(self, cloud, rec):
        objs = [o for o in cloud.data['lb_objects'].values()
                if o.get('pool_id') == rec['id']]
        monitors = [o['id'] for o in objs if o['kind'] == 'healthmonitor']
        return dict(rec, members=[{'id': o['id']} for o in objs
                                  if o['kind'] == 'member'],
                    healthmonitor_id=monitors[0] if monitors else None)


class PoolMember(_LBObject):
    object_kind = 'member'
    properties = {
        'pool': P(required=True), 'address': P(required=True),
        'protocol_port': _PORT, 'subnet': P(),
        'weight': P(p.INTEGER, min=0, max=256),
        'admin_state_up': P(p.BOOLEAN), 'monitor_address': P(),
        'monitor_port': P(p.INTEGER, min=1, max=65535), 'tags': P(p.LIST)}
    attributes = ('address', 'pool_id', 'operating_status')

    def fields(self, cloud, res, props):
        pool = _lb_object(cloud, 'pool', props['pool'])
        if pool is None:
            return rbase.fail(res, 'NotFound', 'Pool %s not found. '
                              '(HTTP 404)' % props['pool'])
        subnet = None
        if props.get('subnet'):
            subnet = cloud.find('subnets', props['subnet'])
            if subnet is None:
                return rbase.fail(res, 'NotFound', 'Subnet %s not found. '
                                  '(HTTP 404)' % props['subnet'])
        try:
            ipaddress.ip_address(props['address'])
        except ValueError:
            return rbase.fail(res, 'BadRequest', "Invalid input for field/"
                              "attribute address. Value: '%s'. (HTTP 400)"
                              % props['address'])
        return {'pool_id': pool['id'], 'address': props['address'],
                'protocol_port': int(props['protocol_port']),
                'subnet_id': subnet['id'] if subnet else None,
                'operating_status': 'ONLINE'}


class HealthMonitor(_LBObject):
    object_kind = 'healthmonitor'
    properties = {
        'pool': P(required=True), 'delay': P(p.INTEGER, required=True,
                                              min=0),
        'max_retries': P(p.INTEGER, required=True, min=1, max=10),
        'timeout': P(p.INTEGER, required=True, min=0),
        'type': P(required=True, allowed=[
            'HTTP', 'HTTPS', 'PING', 'TCP', 'TLS-HELLO', 'UDP-CONNECT',
            'SCTP']),
        'admin_state_up': P(p.BOOLEAN), 'expected_codes': P(),
        'http_method': P(), 'url_path': P(), 'tenant_id': P()}
    attributes = ('pools',)

    def fields(self, cloud, res, props):
        pool = _lb_object(cloud, 'pool', props['pool'])
        if pool is None:
            return rbase.fail(res, 'NotFound', 'Pool %s not found. '
                              '(HTTP 404)' % props['pool'])
        return {'pool_id': pool['id'], 'type': props['type'],
                'pools': [{'id': pool['id']}]}


TYPES = {
    'OS::Octavia::LoadBalancer': LoadBalancer(),
    'OS::Octavia::Listener': Listener(),
    'OS::Octavia::Pool': Pool(),
    'OS::Octavia::PoolMember': PoolMember(),
    'OS::Octavia::HealthMonitor': HealthMonitor(),
}
