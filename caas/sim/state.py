"""The persistent model of the simulated cloud.

One ``Cloud`` object holds everything the simulated services know: users,
projects, tokens, flavors, images, keypairs, networks, ports, floating IPs,
servers and Heat stacks.  It is a tree of plain dicts and lists so that it
can be written to JSON as a whole.

Time-based states (a server leaving BUILD, a stack finishing) are not driven
by threads: each record stores the timestamps and the outcome chosen when it
was created, and readers compute the current state from the clock.  That is
why a restarted cloud continues exactly where the killed one stopped.

Every access goes through ``Cloud.lock`` (the WSGI server is threaded).
Writers call ``Cloud.save()`` after a mutation; with a state directory the
file is replaced atomically (temporary file + ``os.replace``).
"""

import json
import logging
import os
import random
import tempfile
import threading
import time
import uuid

LOG = logging.getLogger(__name__)

STATE_FILE = 'cloudsim.json'
STATE_VERSION = 1
TOKEN_TTL = 24 * 3600

DEFAULT_KNOBS = {
    'server_boot_delay': 1.0,
    'resource_delay': 0.05,
    'delete_delay': 0.2,
    'server_failure_rate': 0.0,
    'api_error_rate': 0.0,
    'api_latency': 0.0,
    'admin_password': 'caas',
}

DOMAIN_ID = 'default'
PROJECTS = {
    'admin': '0a1b2c3d4e5f40000000000000000001',
    'service': '0a1b2c3d4e5f40000000000000000002',
    'demo': '0a1b2c3d4e5f40000000000000000003',
}
USERS = {
    # name: (id, default project)
    'admin': ('1a1b2c3d4e5f40000000000000000001', 'admin'),
    'caas': ('1a1b2c3d4e5f40000000000000000002', 'service'),
    'demo': ('1a1b2c3d4e5f40000000000000000003', 'demo'),
    # Only the reader role: what a read-only user of a project gets.
    'viewer': ('1a1b2c3d4e5f40000000000000000004', 'demo'),
}
FLAVORS = [
    ('2', 'm1.small', 1, 2048, 20),
    ('3', 'm1.medium', 2, 4096, 40),
    ('4', 'm1.large', 4, 8192, 80),
]
IMAGES = [
    ('7d2b6a5e-1c8f-4f0e-9a51-2b7f1c4e0a01', 'ubuntu-jammy', 'ubuntu'),
    ('7d2b6a5e-1c8f-4f0e-9a51-2b7f1c4e0a02', 'fedora-coreos',
     'fedora-coreos'),
]
PUBLIC_NET_ID = '5e0f7c2a-3b1d-4c6e-8f90-1a2b3c4d5e01'
PRIVATE_NET_ID = '5e0f7c2a-3b1d-4c6e-8f90-1a2b3c4d5e02'
FAULT_MESSAGE = ('No valid host was found. There are not enough hosts '
                 'available.')


def now():
    return time.time()


def isotime(ts, micro=False):
    fmt = '%Y-%m-%dT%H:%M:%S'
    text = time.strftime(fmt, time.gmtime(ts))
    if micro:
        text += '.%06d' % int((ts % 1) * 1e6)
    return text + 'Z'


def new_uuid():
    return str(uuid.uuid4())


def _empty_data():
    return {
        'version': STATE_VERSION,
        'users': {}, 'projects': {}, 'tokens': {}, 'flavors': {},
        'images': {}, 'keypairs': {}, 'networks': {}, 'ports': {},
        'floating_ips': {}, 'servers': {}, 'stacks': {},
        'counters': {'fixed': 0, 'floating': 0},
    }


class Cloud(object):
    """State of the simulated cloud plus its behaviour knobs."""

    def __init__(self, state_dir=None, **knobs):
        unknown = set(knobs) - set(DEFAULT_KNOBS)
        if unknown:
            raise TypeError('unknown knobs: %s' % ', '.join(sorted(unknown)))
        self.lock = threading.RLock()
        self.knobs = dict(DEFAULT_KNOBS)
        self.knobs.update({k: v for k, v in knobs.items() if v is not None})
        self.state_dir = state_dir
        self.rand = random.Random()
        self.data = _empty_data()
        self._load()
        with self.lock:
            self._seed()
            self.save()

    # persistence ---------------------------------------------------------
    @property
    def path(self):
        if not self.state_dir:
            return None
        return os.path.join(self.state_dir, STATE_FILE)

    def _load(self):
        path = self.path
        if not path or not os.path.exists(path):
            return
        with open(path) as f:
            loaded = json.load(f)
        data = _empty_data()
        data.update(loaded)
        self.data = data
        LOG.info('Loaded simulated cloud state from %s (%d stacks, '
                 '%d servers)', path, len(data['stacks']),
                 len(data['servers']))

    def save(self):
        """Write the whole state atomically; a no-op without a state dir."""
        with self.lock:
            self.prune()
            path = self.path
            if not path:
                return
            os.makedirs(self.state_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.state_dir,
                                       prefix='.cloudsim-', suffix='.tmp')
            try:
                with os.fdopen(fd, 'w') as f:
                    json.dump(self.data, f, separators=(',', ':'))
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    def prune(self):
        """Forget records whose deletion finished."""
        t = now()
        d = self.data
        for sid, stack in list(d['stacks'].items()):
            ready = stack.get('delete_ready_at')
            if ready is not None and t >= ready:
                del d['stacks'][sid]
        for sid, srv in list(d['servers'].items()):
            if srv.get('delete_at') is not None and t >= srv['delete_at']:
                self._forget_server(sid)
        for tok, rec in list(d['tokens'].items()):
            if rec['expires_at'] < t:
                del d['tokens'][tok]

    def _forget_server(self, server_id):
        d = self.data
        d['servers'].pop(server_id, None)
        for pid, port in list(d['ports'].items()):
            if port.get('device_id') == server_id:
                if port.get('auto'):
                    self.delete_port(pid)
                else:
                    port['device_id'] = None

    # seeding -------------------------------------------------------------
    def _seed(self):
        d = self.data
        for name, pid in PROJECTS.items():
            d['projects'].setdefault(pid, {
                'id': pid, 'name': name, 'domain_id': DOMAIN_ID,
                'enabled': True, 'description': name + ' project'})
        for name, (uid, project) in USERS.items():
            d['users'].setdefault(uid, {
                'id': uid, 'name': name, 'domain_id': DOMAIN_ID,
                'enabled': True, 'default_project_id': PROJECTS[project]})
        for fid, name, vcpus, ram, disk in FLAVORS:
            d['flavors'].setdefault(fid, {
                'id': fid, 'name': name, 'vcpus': vcpus, 'ram': ram,
                'disk': disk, 'swap': '', 'rxtx_factor': 1.0,
                'OS-FLV-EXT-DATA:ephemeral': 0,
                'OS-FLV-DISABLED:disabled': False,
                'os-flavor-access:is_public': True})
        for iid, name, distro in IMAGES:
            d['images'].setdefault(iid, {
                'id': iid, 'name': name, 'status': 'active',
                'os_distro': distro, 'min_disk': 0, 'min_ram': 0,
                'disk_format': 'qcow2', 'container_format': 'bare',
                'size': 1073741824, 'virtual_size': None,
                'visibility': 'public', 'protected': False, 'tags': [],
                'owner': PROJECTS['admin'],
                'checksum': uuid.uuid5(uuid.NAMESPACE_URL, name).hex,
                'created_at': '2024-01-01T00:00:00Z',
                'updated_at': '2024-01-01T00:00:00Z'})
        d['keypairs'].setdefault('default', {
            'name': 'default', 'type': 'ssh', 'user_id': USERS['admin'][0],
            'fingerprint': '9f:3c:1d:2b:55:aa:10:7e:01:cd:ef:42:8a:7b:6c:01',
            'public_key': ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNhYXNzaW1'
                           'kZWZhdWx0a2V5Zm9ydGVzdHM default@cloudsim'),
            'created_at': '2024-01-01T00:00:00Z'})
        d['networks'].setdefault(PUBLIC_NET_ID, {
            'id': PUBLIC_NET_ID, 'name': 'public', 'external': True,
            'project_id': PROJECTS['admin']})
        d['networks'].setdefault(PRIVATE_NET_ID, {
            'id': PRIVATE_NET_ID, 'name': 'private', 'external': False,
            'project_id': PROJECTS['admin']})

    # lookups -------------------------------------------------------------
    def find(self, kind, name_or_id):
        """A record of ``kind`` by id, else by unique name; None if absent."""
        table = self.data[kind]
        if name_or_id in table:
            return table[name_or_id]
        for rec in table.values():
            if rec.get('name') == name_or_id:
                return rec
        return None

    def user_by_name(self, name, domain_id=DOMAIN_ID):
        for user in self.data['users'].values():
            if user['name'] == name and user['domain_id'] == domain_id:
                return user
        return None

    def project_by_name(self, name, domain_id=DOMAIN_ID):
        for project in self.data['projects'].values():
            if project['name'] == name and project['domain_id'] == domain_id:
                return project
        return None

    def check_password(self, user, password):
        return password == self.knobs['admin_password'] and user['enabled']

    # tokens --------------------------------------------------------------
    def issue_token(self, user, project, methods, expires_at=None):
        token = uuid.uuid4().hex
        t = now()
        self.data['tokens'][token] = {
            'user_id': user['id'],
            'project_id': project['id'] if project else None,
            'methods': methods, 'issued_at': t,
            'expires_at': expires_at or t + TOKEN_TTL,
            'audit_id': uuid.uuid4().hex[:22]}
        self.save()
        return token

    def token(self, token):
        rec = self.data['tokens'].get(token or '')
        if rec is None or rec['expires_at'] < now():
            return None
        return rec

    def roles_of(self, user):
        # Keystone's implied roles: admin -> member -> reader.
        if user['name'] == 'admin':
            return ['admin', 'member', 'reader']
        if user['name'] == 'viewer':
            return ['reader']
        return ['member', 'reader']

    # addresses -----------------------------------------------------------
    def _next(self, counter):
        self.data['counters'][counter] += 1
        return self.data['counters'][counter]

    # Fixed and floating addresses are both on loopback (127.10.0.x and
    # 127.24.4.x up): a kubeconfig points at a cluster's api_address, which
    # is one or the other, and nothing may send a packet off 127.0.0.0/8.
    def next_fixed_ip(self):
        n = self._next('fixed') + 2
        return '127.10.%d.%d' % (n // 250, n % 250 + 1) if n >= 250 \
            else '127.10.0.%d' % n

    def next_floating_ip(self):
        n = self._next('floating') + 2
        return '127.24.%d.%d' % (4 + n // 250, n % 250 + 1) if n >= 250 \
            else '127.24.4.%d' % n

    def network(self, name_or_id):
        """A network by id or name; an unknown name is taken as it is."""
        if not name_or_id:
            return self.data['networks'][PRIVATE_NET_ID]
        return (self.find('networks', name_or_id) or
                {'id': None, 'name': name_or_id})

    def create_port(self, network, project_id, name='', auto=False,
                    device_id=None):
        net = self.network(network)
        port = {'id': new_uuid(), 'name': name, 'network_id': net['id'],
                'network_name': net['name'], 'project_id': project_id,
                'fixed_ip': self.next_fixed_ip(), 'device_id': device_id,
                'auto': auto,
                'mac_address': 'fa:16:3e:%02x:%02x:%02x' % tuple(
                    self.rand.randrange(256) for _ in range(3))}
        self.data['ports'][port['id']] = port
        return port

    def delete_port(self, port_id):
        self.data['ports'].pop(port_id, None)
        for fip in self.data['floating_ips'].values():
            if fip.get('port_id') == port_id:
                fip['port_id'] = None

    def create_floating_ip(self, project_id, port_id=None):
        fip = {'id': new_uuid(), 'address': self.next_floating_ip(),
               'port_id': port_id, 'project_id': project_id}
        self.data['floating_ips'][fip['id']] = fip
        return fip

    # servers -------------------------------------------------------------
    def create_server(self, project_id, user_id, name, flavor, image,
                      key_name=None, networks=None, metadata=None,
                      user_data=None, stack_id=None):
        """Create a server in BUILD; its outcome is decided now."""
        t = now()
        failed = self.rand.random() < self.knobs['server_failure_rate']
        srv = {'id': new_uuid(), 'name': name, 'project_id': project_id,
               'user_id': user_id, 'flavor_id': flavor['id'],
               'image_id': image['id'] if image else '',
               'key_name': key_name, 'metadata': dict(metadata or {}),
               'user_data': user_data, 'created_at': t, 'updated_at': t,
               'ready_at': t + self.knobs['server_boot_delay'],
               'outcome': 'ERROR' if failed else 'ACTIVE',
               'port_ids': [], 'delete_at': None, 'stack_id': stack_id}
        for entry in networks or [{}]:
            port_id = entry.get('port')
            port = self.data['ports'].get(port_id) if port_id else None
            if port is None:
                port = self.create_port(entry.get('network') or
                                        entry.get('uuid'), project_id,
                                        auto=True, device_id=srv['id'])
            port['device_id'] = srv['id']
            srv['port_ids'].append(port['id'])
            fip = self.data['floating_ips'].get(entry.get('floating_ip'))
            if fip is not None:
                fip['port_id'] = port['id']
        self.data['servers'][srv['id']] = srv
        return srv

    def server(self, server_id):
        srv = self.data['servers'].get(server_id)
        if srv is None:
            return None
        if srv['delete_at'] is not None and now() >= srv['delete_at']:
            return None
        return srv

    def visible_servers(self):
        t = now()
        return [s for s in self.data['servers'].values()
                if s['delete_at'] is None or t < s['delete_at']]

    def server_status(self, srv):
        return 'BUILD' if now() < srv['ready_at'] else srv['outcome']

    def server_addresses(self, srv):
        addresses = {}
        fips = {f['port_id']: f for f in self.data['floating_ips'].values()
                if f.get('port_id')}
        for port_id in srv['port_ids']:
            port = self.data['ports'].get(port_id)
            if port is None:
                continue
            entries = addresses.setdefault(port['network_name'], [])
            entries.append({'addr': port['fixed_ip'], 'version': 4,
                            'OS-EXT-IPS:type': 'fixed',
                            'OS-EXT-IPS-MAC:mac_addr': port['mac_address']})
            fip = fips.get(port_id)
            if fip is not None:
                entries.append({'addr': fip['address'], 'version': 4,
                                'OS-EXT-IPS:type': 'floating',
                                'OS-EXT-IPS-MAC:mac_addr':
                                    port['mac_address']})
        return addresses

    def delete_server(self, srv, delay=None):
        if srv['delete_at'] is None:
            if delay is None:
                delay = self.knobs['delete_delay']
            srv['delete_at'] = now() + delay

    # summary -------------------------------------------------------------
    def summary(self):
        with self.lock:
            from caas.sim import stacks as stacks_mod
            stacks = []
            for stack in self.data['stacks'].values():
                status, _reason = stacks_mod.stack_status(self, stack)
                if status is None:
                    continue
                stacks.append({'id': stack['id'], 'name': stack['name'],
                               'status': status,
                               'project_id': stack['project_id']})
            servers = [{'id': s['id'], 'name': s['name'],
                        'status': self.server_status(s),
                        'project_id': s['project_id'],
                        'stack_id': s.get('stack_id')}
                       for s in self.visible_servers()]
            return {'stacks': stacks, 'servers': servers,
                    'counts': {'stacks': len(stacks),
                               'servers': len(servers),
                               'tokens': len(self.data['tokens']),
                               'floating_ips':
                                   len(self.data['floating_ips'])}}
