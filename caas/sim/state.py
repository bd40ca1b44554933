"""The persistent model of the simulated cloud.

One ``Cloud`` object holds everything the simulated services know: users,
projects, tokens, flavors, images, keypairs, networks, ports, floating IPs,
servers and Heat stacks, as tables of plain dicts keyed by id.

Time-based states (a server leaving BUILD, a stack finishing) are not driven
by threads: each record stores the timestamps and the outcome chosen when it
was created, and readers compute the current state from the clock.  That is
why a restarted cloud continues exactly where the killed one stopped.

Every access goes through ``Cloud.lock`` (the WSGI server is threaded).
Persistence is per record (``caas.sim.store``): a table notes the ids that
were added, replaced or removed; code that changes a record in place says so
with ``Cloud.touch(kind, id)`` (a stack is one record with its nested
stacks); ``Cloud.save()`` then writes those records and nothing else.
"""

import contextlib
import heapq
import ipaddress
import logging
import random
import threading
import time
import uuid

from caas.sim import identity
from caas.sim import store as store_mod

LOG = logging.getLogger(__name__)

STATE_VERSION = 1
KINDS = ('users', 'projects', 'tokens', 'flavors', 'images', 'keypairs',
         'networks', 'ports', 'floating_ips', 'servers', 'stacks',
         'counters', 'roles', 'assignments', 'trusts',
         # Heat-made objects other stacks may name (caas.sim.*_types).
         'subnets', 'security_groups', 'server_groups', 'volumes',
         'loadbalancers', 'lb_objects', 'software_configs')
TOKEN_TTL = 24 * 3600

DEFAULT_KNOBS = {
    'server_boot_delay': 1.0,
    'resource_delay': 0.05,
    'delete_delay': 0.2,
    'server_failure_rate': 0.0,
    'api_error_rate': 0.0,
    'api_latency': 0.0,
    'admin_password': 'caas',
    # Seconds a service other than Keystone keeps accepting a token it
    # validated once, after Keystone revoked it (keystonemiddleware's
    # token_cache_time default).
    'token_cache_time': 300.0,
    # Servers signal the wait-condition handles in their user data (1) or
    # never do (0: their wait conditions time out), node_signal_delay
    # seconds after they became ACTIVE (caas.sim.signals).
    'nodes_signal': 1.0,
    'node_signal_delay': 0.0,
    # Seconds a server on a bare-metal (Ironic) flavor takes to deploy.
    'baremetal_boot_delay': 1.0,
    # Seconds an Octavia load balancer takes to become ACTIVE.
    'loadbalancer_delay': 0.2,
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
    # Ironic-backed: a whole machine, scheduled on its custom resource
    # class with the standard resources zeroed, as Ironic's flavors are.
    ('10', 'baremetal', 8, 32768, 200),
]
FLAVOR_EXTRA_SPECS = {
    '10': {'resources:CUSTOM_BAREMETAL': '1', 'resources:VCPU': '0',
           'resources:MEMORY_MB': '0', 'resources:DISK_GB': '0',
           'cpu_arch': 'x86_64', 'capabilities:boot_mode': 'uefi'},
}
IMAGES = [
    ('7d2b6a5e-1c8f-4f0e-9a51-2b7f1c4e0a01', 'ubuntu-jammy', 'ubuntu'),
    ('7d2b6a5e-1c8f-4f0e-9a51-2b7f1c4e0a02', 'fedora-coreos',
     'fedora-coreos'),
]
# Glance properties beyond os_distro. A server of an image whose
# caas_node_backend is "real" becomes a real node when the cloud runs the
# real-node backend (caas.sim.realnodes), a simulated one otherwise.
REAL_IMAGE_ID = '7d2b6a5e-1c8f-4f0e-9a51-2b7f1c4e0a03'
IMAGES.append((REAL_IMAGE_ID, 'debian-bookworm-docker', 'debian'))
IMAGE_PROPERTIES = {REAL_IMAGE_ID: {'caas_node_backend': 'real'}}
PUBLIC_NET_ID = '5e0f7c2a-3b1d-4c6e-8f90-1a2b3c4d5e01'
PRIVATE_NET_ID = '5e0f7c2a-3b1d-4c6e-8f90-1a2b3c4d5e02'
SUBNETS = [
    ('6e0f7c2a-3b1d-4c6e-8f90-1a2b3c4d5e01', 'public-subnet', PUBLIC_NET_ID,
     '172.24.4.0/24'),
    ('6e0f7c2a-3b1d-4c6e-8f90-1a2b3c4d5e02', 'private-subnet',
     PRIVATE_NET_ID, '10.0.0.0/26'),
]
FAULT_MESSAGE = ('No valid host was found. There are not enough hosts '
                 'available.')


_clock = threading.local()


def now():
    at = getattr(_clock, 'at', None)
    return time.time() if at is None else at


@contextlib.contextmanager
def clock_at(when):
    """Let this thread's ``now()`` be ``when`` (in the past): work that the
    cloud would have started at that moment, found out only when someone
    reads a state, gets the timestamps it would have had, so that how often
    clients poll never changes how long things take."""
    before = getattr(_clock, 'at', None)
    _clock.at = when
    try:
        yield
    finally:
        _clock.at = before


def isotime(ts, micro=False):
    fmt = '%Y-%m-%dT%H:%M:%S'
    text = time.strftime(fmt, time.gmtime(ts))
    if micro:
        text += '.%06d' % int((ts % 1) * 1e6)
    return text + 'Z'


def keypair_key(user_id, name):
    return '%s:%s' % (user_id, name)


def new_uuid():
    return str(uuid.uuid4())


# A nested stack's files are its parent's (the same dict) from its create
# until an update gives the root stack new ones. Its stored record then says
# so instead of holding a copy: a cluster's stack record was written with its
# templates five times over (~300 kB of its ~510 kB, at every change).
FILES_OF_PARENT = 'files_of_parent'


def stack_row(stack, parent_files=None):
    """The record of a top-level stack as stored (the live record is not
    changed: what differs is copied)."""
    row = stack
    if parent_files is not None and stack.get('files') is parent_files:
        row = dict(stack)
        del row['files']
        row[FILES_OF_PARENT] = True
    resources = None
    for name, res in stack['resources'].items():
        nested = res.get('nested')
        if not nested:
            continue
        nested_row = stack_row(nested, stack.get('files'))
        if nested_row is not nested:
            if resources is None:
                resources = dict(stack['resources'])
            resources[name] = dict(res, nested=nested_row)
    if resources is not None:
        if row is stack:
            row = dict(stack)
        row['resources'] = resources
    return row


def _stack_loaded(stack, parent_files=None):
    """A stored stack record made live again (in place)."""
    if stack.pop(FILES_OF_PARENT, False):
        stack['files'] = parent_files
    for res in stack['resources'].values():
        if res.get('nested'):
            _stack_loaded(res['nested'], stack.get('files'))
    return stack


def loaded_records(data):
    """{kind: {id: record}} as the store gave it, made live."""
    for stack in (data.get('stacks') or {}).values():
        _stack_loaded(stack)
    return data


class Table(dict):
    """A kind's records by id; notes which ids were set or removed."""

    def __init__(self, kind, dirty, *args):
        super().__init__(*args)
        self.kind = kind
        self._dirty = dirty

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self._dirty.add((self.kind, key))

    def __delitem__(self, key):
        super().__delitem__(key)
        self._dirty.add((self.kind, key))

    def pop(self, key, *default):
        if key in self:
            self._dirty.add((self.kind, key))
        return super().pop(key, *default)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


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
        # caas.sim.realnodes.RealNodes when servers may be real nodes.
        self.realnodes = None
        # An ipaddress network floating IPs come from ([sim]
        # floating_ip_range; the real-node backend's reserved range); None:
        # 127.24.4.0/22 as ever.
        self.floating_range = None
        self.rand = random.Random()
        self._dirty = set()
        # (time, kind, id) of records that go away at that time: tokens
        # expiring, stacks and servers whose deletion finishes.
        self._expiries = []
        self.store = store_mod.Store(state_dir)
        loaded = loaded_records(self.store.load())
        self.data = {kind: Table(kind, self._dirty, loaded.get(kind, {}))
                     for kind in KINDS}
        for kind in ('fixed', 'floating'):
            self.data['counters'].setdefault(kind, 0)
        for kind, field in (('tokens', 'expires_at'),
                            ('stacks', 'delete_ready_at'),
                            ('servers', 'delete_at')):
            for rid, rec in self.data[kind].items():
                self.expire_at(kind, rid, rec.get(field))
        if loaded:
            LOG.info('Loaded simulated cloud state from %s (%d stacks, '
                     '%d servers)', self.store.path,
                     len(self.data['stacks']), len(self.data['servers']))
        with self.lock:
            self._seed()
            self.save()

    # persistence ---------------------------------------------------------
    @property
    def path(self):
        return self.store.path

    def touch(self, kind, record_id):
        """Note that a record was changed in place (written on save)."""
        self._dirty.add((kind, record_id))

    def expire_at(self, kind, record_id, when):
        if when is not None:
            heapq.heappush(self._expiries, (when, kind, record_id))

    def save(self):
        """Write the records changed since the last save, one row each."""
        with self.lock:
            self.prune()
            dirty, upserts, deletes = sorted(self._dirty), [], []
            self._dirty.clear()
            for kind, rid in dirty:
                rec = self.data[kind].get(rid)
                if rec is None:
                    deletes.append((kind, rid))
                elif kind == 'stacks':
                    upserts.append((kind, rid, stack_row(rec)))
                else:
                    upserts.append((kind, rid, rec))
            self.store.write(upserts, deletes)

    def prune(self):
        """Forget records whose deletion finished (or token expired)."""
        t = now()
        d = self.data
        fields = {'tokens': 'expires_at', 'stacks': 'delete_ready_at',
                  'servers': 'delete_at'}
        while self._expiries and self._expiries[0][0] <= t:
            _when, kind, rid = heapq.heappop(self._expiries)
            rec = d[kind].get(rid)
            due = rec.get(fields[kind]) if rec is not None else None
            if due is None or due > t:
                continue
            if kind == 'servers':
                self._forget_server(rid)
            else:
                del d[kind][rid]

    def _forget_server(self, server_id):
        d = self.data
        srv = d['servers'].pop(server_id, None)
        for pid in (srv or {}).get('port_ids', ()):
            port = d['ports'].get(pid)
            if port is None or port.get('device_id') != server_id:
                continue
            if port.get('auto'):
                self.delete_port(pid)
            else:
                port['device_id'] = None
                self.touch('ports', pid)

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
                'os-flavor-access:is_public': True,
                'extra_specs': dict(FLAVOR_EXTRA_SPECS.get(fid, {}))})
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
                'updated_at': '2024-01-01T00:00:00Z',
                **IMAGE_PROPERTIES.get(iid, {})})
        # Keypairs are per user (as in Nova): each seeded user has one
        # named "default". A state from before that kept one, keyed by name.
        d['keypairs'].pop('default', None)
        for uid, _project in USERS.values():
            d['keypairs'].setdefault(keypair_key(uid, 'default'), {
                'name': 'default', 'type': 'ssh', 'user_id': uid,
                'fingerprint': '9f:3c:1d:2b:55:aa:10:7e:01:cd:ef:42:8a:7b:'
                               '6c:01',
                'public_key': ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNhYXN'
                               'zaW1kZWZhdWx0a2V5Zm9ydGVzdHM default@'
                               'cloudsim'),
                'created_at': '2024-01-01T00:00:00Z'})
        identity.seed(self, USERS, PROJECTS)
        d['networks'].setdefault(PUBLIC_NET_ID, {
            'id': PUBLIC_NET_ID, 'name': 'public', 'external': True,
            'project_id': PROJECTS['admin']})
        d['networks'].setdefault(PRIVATE_NET_ID, {
            'id': PRIVATE_NET_ID, 'name': 'private', 'external': False,
            'project_id': PROJECTS['admin']})
        # What devstack makes: a subnet on each, that clusters given a
        # fixed network and subnet (or load balancer members) may name.
        for sid, name, net_id, cidr in SUBNETS:
            d['subnets'].setdefault(sid, {
                'id': sid, 'name': name, 'network_id': net_id, 'cidr': cidr,
                'gateway_ip': cidr.rsplit('.', 1)[0] + '.1', 'ip_version': 4,
                'dns_nameservers': [], 'enable_dhcp': True,
                'allocation_pools': [], 'host_routes': [],
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
        return identity.password_matches(user, password,
                                         self.knobs['admin_password'])

    def keypair(self, user_id, name):
        """The user's keypair of that name (keypairs are per user)."""
        return self.data['keypairs'].get(keypair_key(user_id, name))

    def stack_keypair(self, stack, name):
        """A server of a stack boots with the stack owner's keypair, else
        (a simplification, not Nova's rule) any user's of that name: caas
        creates stacks as its service user, the keypair is its user's."""
        return self.keypair(stack.get('user_id'), name) or next(
            (k for k in self.data['keypairs'].values()
             if k['name'] == name), None)

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
        self.expire_at('tokens', token, self.data['tokens'][token][
            'expires_at'])
        self.save()
        return token

    def token(self, token):
        rec = self.data['tokens'].get(token or '')
        if rec is None or rec['expires_at'] < now():
            return None
        if rec.get('trust_id') and rec['trust_id'] not in self.data['trusts']:
            # Deleting a trust revokes the tokens issued from it.
            return None
        return rec

    def roles_of(self, user, project_id):
        """Role names the user holds on the project, implied included."""
        return [r['name'] for r in identity.effective_roles(
            self, user['id'], project_id)]

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
        if self.floating_range is not None:
            return self._next_in_range(self.floating_range)
        n = self._next('floating') + 2
        return '127.24.%d.%d' % (4 + n // 250, n % 250 + 1) if n >= 250 \
            else '127.24.4.%d' % n

    def _next_in_range(self, network):
        """The next address of ``network`` no floating IP has (its first
        host is left out, as a gateway's), wrapping around."""
        used = {f['address'] for f in self.data['floating_ips'].values()}
        size = network.num_addresses - 3
        base = int(network.network_address) + 2
        self.data['counters'].setdefault('floating_in_range', 0)
        for _ in range(size):
            n = (self._next('floating_in_range') - 1) % size
            address = str(ipaddress.ip_address(base + n))
            if address not in used:
                return address
        raise ValueError('no free floating IP left in %s' % network)

    def network(self, name_or_id):
        """A network by id or name; an unknown name is taken as it is."""
        if not name_or_id:
            return self.data['networks'][PRIVATE_NET_ID]
        return (self.find('networks', name_or_id) or
                {'id': None, 'name': name_or_id})

    def port_subnet(self, port, subnet_id=None):
        """The subnet a port's address is on (None: no subnet)."""
        subnets = self.data['subnets']
        subnet_id = subnet_id or port.get('subnet_id')
        if subnet_id in subnets:
            return subnets[subnet_id]
        return min((s for s in subnets.values()
                    if s['network_id'] == port.get('network_id')),
                   key=lambda s: s['id'], default=None)

    def next_subnet_ip(self, subnet):
        """The next free host address of a subnet (past its gateway)."""
        counter = 'subnet:' + subnet['id']
        self.data['counters'].setdefault(counter, 0)
        hosts = ipaddress.ip_network(subnet['cidr']).hosts()
        wanted = self._next(counter)
        for address in hosts:
            if str(address) == subnet['gateway_ip']:
                continue
            wanted -= 1
            if wanted == 0:
                return str(address)
        return None

    def create_port(self, network, project_id, name='', auto=False,
                    device_id=None, subnet_id=None, security_groups=None):
        net = self.network(network)
        fixed_ip = None
        if self.realnodes is not None:
            # Real nodes have the addresses Neutron gives them: the
            # subnet's, which exist only inside the nodes' namespaces.
            subnet = self.port_subnet({'network_id': net['id']}, subnet_id)
            fixed_ip = subnet and self.next_subnet_ip(subnet)
        port = {'id': new_uuid(), 'name': name, 'network_id': net['id'],
                'network_name': net['name'], 'project_id': project_id,
                'fixed_ip': fixed_ip or self.next_fixed_ip(),
                'device_id': device_id, 'subnet_id': subnet_id,
                'auto': auto,
                # Group ids, or 'default' (real nodes enforce the named
                # ones: caas.sim.realnodes.secgroups).
                'security_groups': list(security_groups or []),
                'mac_address': 'fa:16:3e:%02x:%02x:%02x' % tuple(
                    self.rand.randrange(256) for _ in range(3))}
        self.data['ports'][port['id']] = port
        return port

    def delete_port(self, port_id):
        self.data['ports'].pop(port_id, None)
        for fip in self.data['floating_ips'].values():
            if fip.get('port_id') == port_id:
                fip['port_id'] = None
                self.touch('floating_ips', fip['id'])

    def create_floating_ip(self, project_id, port_id=None):
        fip = {'id': new_uuid(), 'address': self.next_floating_ip(),
               'port_id': port_id, 'project_id': project_id}
        self.data['floating_ips'][fip['id']] = fip
        return fip

    # servers -------------------------------------------------------------
    def create_server(self, project_id, user_id, name, flavor, image,
                      key_name=None, networks=None, metadata=None,
                      user_data=None, stack_id=None, security_groups=None):
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
                                        auto=True, device_id=srv['id'],
                                        security_groups=security_groups)
            port['device_id'] = srv['id']
            self.touch('ports', port['id'])
            srv['port_ids'].append(port['id'])
            fip = self.data['floating_ips'].get(entry.get('floating_ip'))
            if fip is not None:
                fip['port_id'] = port['id']
                self.touch('floating_ips', fip['id'])
        self.data['servers'][srv['id']] = srv
        if self.realnodes is not None and not failed:
            from caas.sim import realnodes
            if realnodes.wants_real_node(image):
                srv['real_node'] = True
                self.realnodes.boot(srv)
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

    def set_server_status(self, srv, status):
        """A booted server changes state (stopped, started, broken): what
        Nova reports from now on. Heat does not look again, so the stack's
        server resource stays as it was."""
        srv.update(outcome=status, updated_at=now(), changed_after_boot=True)
        self.touch('servers', srv['id'])

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
            self.touch('servers', srv['id'])
            if srv.get('real_node') and self.realnodes is not None:
                self.realnodes.destroy(srv['id'])
            self.expire_at('servers', srv['id'], srv['delete_at'])

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
