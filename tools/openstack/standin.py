"""Glance and Neutron stand-ins for the local OpenStack tier.

Nova needs an `image` and a `network` endpoint in the catalog even with the
fake virt driver: it reads an image's record and Glance's image schema when
it boots a server, and its server views ask Neutron for ports and security
groups. No Glance or Neutron runs here, so this process answers exactly those
reads (standard library only, any venv's Python runs it):

    python standin.py GLANCE_PORT NEUTRON_PORT SUBNET

Images are fixed (IMAGES below). Neutron has an external network, `public`,
for the cluster templates' external_network_id, and a shared tenant network,
`private`, with one subnet (SUBNET, a /24 in 127.0.0.0/8 the tier derives
from its port base) on which Nova boots servers: it creates, shows, lists,
updates and deletes their ports, each with the next free address of the
subnet. Ports live in memory only: a restarted tier is a new cloud. List
queries filter on any field the records have (repeated keys: any of the
values), as the real services do; security groups and floating IPs are
always an empty list.
"""

import ipaddress
import json
import sys
import threading
import uuid
from http import server
from urllib import parse

# Nova reads these base properties from Glance's image schema.
_BASE_PROPS = ('id', 'name', 'status', 'visibility', 'protected',
               'checksum', 'owner', 'size', 'min_disk', 'min_ram',
               'disk_format', 'container_format', 'created_at',
               'updated_at', 'tags', 'virtual_size', 'os_hidden',
               'os_hash_algo', 'os_hash_value', 'direct_url', 'locations',
               'file', 'self', 'schema')

NETWORKS = [
    {'id': '5d4bb3a6-2f7e-4bb2-8d0a-7f7c43b10001', 'name': 'public',
     'router:external': True, 'status': 'ACTIVE', 'subnets': [],
     'admin_state_up': True, 'shared': True},
    {'id': '5d4bb3a6-2f7e-4bb2-8d0a-7f7c43b10002', 'name': 'private',
     'router:external': False, 'status': 'ACTIVE',
     'subnets': ['5d4bb3a6-2f7e-4bb2-8d0a-7f7c43b20002'],
     'admin_state_up': True, 'shared': True, 'mtu': 1500,
     'port_security_enabled': True},
]
for _net in NETWORKS:
    _net.update({'tenant_id': '', 'project_id': '', 'description': '',
                 'tags': []})

IMAGES = [
    {'id': '0b7e2c6c-5a52-4b8a-9a3e-6b2f0b1c0001', 'name': 'ubuntu-jammy',
     'os_distro': 'ubuntu'},
    {'id': '0b7e2c6c-5a52-4b8a-9a3e-6b2f0b1c0002',
     'name': 'fedora-coreos-40', 'os_distro': 'fedora-coreos'},
]


def _image(rec):
    img = {'status': 'active', 'visibility': 'public', 'protected': False,
           'size': 1048576, 'virtual_size': 1048576, 'min_disk': 0,
           'min_ram': 0, 'disk_format': 'qcow2', 'container_format': 'bare',
           'created_at': '2026-01-01T00:00:00Z',
           'updated_at': '2026-01-01T00:00:00Z', 'tags': [],
           'owner': None, 'checksum': None, 'os_hidden': False,
           'file': '/v2/images/%s/file' % rec['id'],
           'self': '/v2/images/%s' % rec['id'], 'schema': '/v2/schemas/image'}
    img.update(rec)
    return img


class _Handler(server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        sys.stderr.write('%s %s\n' % (self.server.name, fmt % args))

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, method):
        url = parse.urlsplit(self.path)
        path = url.path.rstrip('/')
        query = {}
        for key, value in parse.parse_qsl(url.query):
            query.setdefault(key, []).append(value)
        body = None
        length = int(self.headers.get('Content-Length') or 0)
        if length:
            body = json.loads(self.rfile.read(length) or b'null')
        answer = self.server.route(method, path, query, body)
        if answer is None:
            self._send(404, {'NeutronError': {
                'type': 'NotFound', 'message': 'not found: %s' % path,
                'detail': ''}})
        elif answer == ():
            self.send_response(204)
            self.send_header('Content-Length', '0')
            self.end_headers()
        else:
            code, body = answer if isinstance(answer, tuple) else (200,
                                                                    answer)
            self._send(code, body)

    def do_GET(self):
        self._answer('GET')

    def do_POST(self):
        self._answer('POST')

    def do_PUT(self):
        self._answer('PUT')

    def do_DELETE(self):
        self._answer('DELETE')


def _matches(value, wanted):
    if isinstance(value, bool):
        value = str(value).lower()
        wanted = [w.lower() for w in wanted]
    return value is not None and str(value) in wanted


def _filter(records, query):
    """The records matching every filter of a query on a field they have
    (a list filter: any of its values); `fields` and paging are ignored."""
    return [r for r in records
            if all(_matches(r[k], query[k]) for k in query if k in r)]


def glance_route(method, path, query, body):
    if method != 'GET':
        return None
    if path in ('', '/versions'):
        return {'versions': [{'id': 'v2.16', 'status': 'CURRENT',
                              'links': [{'rel': 'self', 'href': '/v2/'}]}]}
    if path == '/v2/schemas/image':
        return {'name': 'image', 'additionalProperties': {'type': 'string'},
                'properties': {p: {} for p in _BASE_PROPS}}
    if path == '/v2/images':
        return {'images': [_image(i) for i in _filter(IMAGES, query)]}
    for rec in IMAGES:
        if path == '/v2/images/%s' % rec['id']:
            return _image(rec)
    return None


class Neutron:
    """The network side of the stand-in: fixed networks and subnet, ports
    made, changed and removed by Nova (and Heat), in memory."""

    def __init__(self, cidr):
        self.net = ipaddress.ip_network(cidr)
        private = NETWORKS[1]
        self.subnet = {
            'id': private['subnets'][0], 'name': 'private-subnet',
            'network_id': private['id'], 'ip_version': 4,
            'cidr': str(self.net), 'gateway_ip': str(self.net[1]),
            'enable_dhcp': False, 'dns_nameservers': [], 'host_routes': [],
            'allocation_pools': [{'start': str(self.net[2]),
                                  'end': str(self.net[-2])}],
            'tenant_id': '', 'project_id': '', 'description': '',
            'ipv6_address_mode': None, 'ipv6_ra_mode': None,
            'subnetpool_id': None, 'tags': []}
        self.ports = {}
        self.lock = threading.Lock()

    def _address(self):
        used = {ip['ip_address'] for port in self.ports.values()
                for ip in port['fixed_ips']}
        for host in list(self.net.hosts())[1:]:
            # Never 1xx in the last octet: the provider-template stand-ins
            # make up addresses whose octets are all 100-199.
            if 100 <= host.packed[-1] <= 199 or str(host) in used:
                continue
            return str(host)
        return None

    def _port(self, body):
        spec = (body or {}).get('port') or {}
        if spec.get('network_id') not in {n['id'] for n in NETWORKS}:
            return 404, {'NeutronError': {
                'type': 'NetworkNotFound', 'detail': '',
                'message': 'network %s not found' % spec.get('network_id')}}
        address = self._address()
        if spec['network_id'] != self.subnet['network_id'] or not address:
            return 409, {'NeutronError': {
                'type': 'IpAddressGenerationFailure', 'detail': '',
                'message': 'no address left on network %s'
                           % spec['network_id']}}
        port_id = str(uuid.uuid4())
        mac = 'fa:16:3e:%s:%s:%s' % (port_id[0:2], port_id[2:4],
                                     port_id[4:6])
        port = {
            'id': port_id, 'name': '', 'description': '',
            'network_id': spec['network_id'], 'tenant_id': '',
            'project_id': '', 'mac_address': mac, 'admin_state_up': True,
            'status': 'DOWN', 'device_id': '', 'device_owner': '',
            'fixed_ips': [{'subnet_id': self.subnet['id'],
                           'ip_address': address}],
            'security_groups': [], 'allowed_address_pairs': [],
            'extra_dhcp_opts': [], 'port_security_enabled': True,
            'binding:host_id': '', 'binding:vif_type': 'unbound',
            'binding:vnic_type': 'normal', 'binding:vif_details': {},
            'binding:profile': {}, 'dns_name': '', 'dns_assignment': [],
            'qos_policy_id': None, 'resource_request': None, 'tags': []}
        port.update({k: v for k, v in spec.items()
                     if k not in ('fixed_ips', 'id', 'mac_address')})
        port['project_id'] = port['tenant_id']
        self._bind(port)
        self.ports[port_id] = port
        return 201, {'port': port}

    @staticmethod
    def _bind(port):
        port['binding:vif_type'] = ('ovs' if port['binding:host_id']
                                    else 'unbound')
        port['status'] = 'ACTIVE' if port['device_id'] else 'DOWN'

    def route(self, method, path, query, body):
        with self.lock:
            return self._route(method, path, query, body)

    def _route(self, method, path, query, body):
        parts = path.split('/')[1:]
        if path in ('', '/v2.0'):
            return {'versions': [{'id': 'v2.0', 'status': 'CURRENT'}]}
        if parts[0] != 'v2.0' or len(parts) > 3:
            return None
        coll = parts[1]
        item = parts[2] if len(parts) == 3 else None
        if coll == 'ports':
            if method == 'POST' and item is None:
                return self._port(body)
            if item is None:
                return {'ports': _filter(list(self.ports.values()), query)}
            if item not in self.ports:
                return None
            if method == 'DELETE':
                del self.ports[item]
                return ()
            port = self.ports[item]
            if method == 'PUT':
                port.update({k: v for k, v in
                             ((body or {}).get('port') or {}).items()
                             if k not in ('fixed_ips', 'id', 'network_id',
                                          'mac_address')})
                self._bind(port)
            return {'port': port}
        if coll == 'quotas' and item:
            return {'quota': {'port': -1, 'network': -1, 'subnet': -1,
                              'security_group': -1, 'floatingip': -1}}
        if method != 'GET':
            return None
        records = {'networks': NETWORKS, 'subnets': [self.subnet]}.get(coll)
        if records is None:
            if coll in ('security-groups', 'floatingips', 'extensions') \
                    and item is None:
                return {coll.replace('-', '_'): []}
            return None
        if item is None:
            return {coll: _filter(records, query)}
        for rec in records:
            if rec['id'] == item:
                return {coll[:-1]: rec}
        return None


class _Server(server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def _serve(port, name, route):
    httpd = _Server(('127.0.0.1', port), _Handler)
    httpd.name, httpd.route = name, route
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return thread


def main():
    glance = _serve(int(sys.argv[1]), 'glance', glance_route)
    _serve(int(sys.argv[2]), 'neutron', Neutron(sys.argv[3]).route)
    glance.join()


if __name__ == '__main__':
    main()
