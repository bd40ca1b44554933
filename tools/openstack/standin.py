"""Glance and Neutron stand-ins for the local OpenStack tier.

Nova needs an `image` and a `network` endpoint in the catalog even with the
fake virt driver: it reads an image's record and Glance's image schema when
it boots a server, and its server views ask Neutron for ports and security
groups. No Glance or Neutron runs here, so this process answers exactly those
reads (standard library only, any venv's Python runs it):

    python standin.py GLANCE_PORT NEUTRON_PORT

Images are fixed (IMAGES below). Neutron has one external network, `public`,
for the cluster templates' external_network_id, and no ports or security
groups: what a server booted with `networks: none` sees. List queries
filter on `name` and `id`, as the real services do.
"""

import json
import sys
import threading
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
]

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

    def do_GET(self):
        url = parse.urlsplit(self.path)
        path = url.path.rstrip('/')
        query = dict(parse.parse_qsl(url.query))
        answer = self.server.route(path, query)
        if answer is None:
            self._send(404, {'error': 'not found: %s' % path})
        else:
            self._send(200, answer)


def _filter(records, query):
    return [r for r in records
            if all(r.get(k) == query[k] for k in ('id', 'name') if k in query)]


def glance_route(path, query):
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


def neutron_route(path, query):
    if path in ('', '/v2.0'):
        return {'versions': [{'id': 'v2.0', 'status': 'CURRENT'}]}
    if path == '/v2.0/networks':
        return {'networks': _filter(NETWORKS, query)}
    for coll in ('ports', 'subnets', 'security-groups', 'floatingips',
                 'extensions'):
        if path == '/v2.0/' + coll:
            return {coll.replace('-', '_'): []}
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
    _serve(int(sys.argv[2]), 'neutron', neutron_route)
    glance.join()


if __name__ == '__main__':
    main()
