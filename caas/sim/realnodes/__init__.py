"""Real nodes for the simulated cloud: servers that boot their user data.

On the data path: simulated Nova (``caas.sim.state.Cloud.create_server``)
hands a server whose Glance image carries ``caas_node_backend: real`` to
``RealNodes.boot``; ``Cloud.delete_server`` hands it to ``destroy``. Other
servers stay simulated. A real node is a Linux network namespace on a
bridge of its Neutron network's namespace, with the fixed IP Neutron gave
it, an overlay root filesystem over the cached base
(``tools/build-node-rootfs.sh``) and a first boot by cloud-init from a
NoCloud seed holding the server's user data (``caas.sim.realnodes.node``).

What crosses namespaces, and how (nothing is added to the root namespace
but listening sockets on loopback):

* Nodes reach the simulated Heat (wait-condition signals) at
  ``http://169.254.169.254``, an address of every network's bridge, where a
  listener opened inside the network's namespace relays to the cloud on
  127.0.0.1 - as Neutron's metadata proxy does. One address for every
  network, because a handle's endpoint is made before Heat places a server
  on a network, and because networks' ranges may overlap.
* A floating IP is a 127.0.0.0/8 address whose listeners (one per port of
  ``forward_ports``) connect, from a socket made inside the network's
  namespace, to the node's fixed IP: a cloud's NAT, one way.

Needs Linux, root, ``ip``, ``nsenter``/``unshare`` and the base root
filesystem; ``check`` says which is missing (``caas.sim.realnodes.base``,
which also builds the base).
"""

import logging
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time

from caas.sim.realnodes import base as base_mod
from caas.sim.realnodes import fiprange
from caas.sim.realnodes import netns
from caas.sim.realnodes import secgroups
from caas.sim.realnodes import node as node_mod
from caas.sim.realnodes import sweep

LOG = logging.getLogger(__name__)
IMAGE_PROPERTY = 'caas_node_backend'
BACKEND = 'real'
HEAT_ADDRESS = '169.254.169.254'
HEAT_PORT = 80
FORWARD_PORTS = (22, 80, 443, 2376, 2377, 6443)
STAMP = base_mod.STAMP
DEFAULT_WORKDIR = '/var/lib/caas-nodes'
# What the cloud's state keeps for its real nodes across restarts.
TAG_COUNTER = 'realnodes_tag'
RANGE_COUNTER = 'realnodes_floating_range'
Unavailable = base_mod.Unavailable


def wants_real_node(image):
    return bool(image) and image.get(IMAGE_PROPERTY) == BACKEND


def check(base):
    """Raise Unavailable naming what real nodes need and lack."""
    base_mod.check(base)


class _Network(object):
    def __init__(self, name, factory, relay):
        self.name = name
        self.factory = factory
        self.relay = relay
        self.nodes = set()


class RealNodes(object):
    """The real-node backend of one simulated cloud."""

    def __init__(self, cloud, cloud_port, base, workdir=None,
                 forward_ports=FORWARD_PORTS, boot_timeout=600,
                 floating_ip_range=None, fip_lock_dir=None):
        check(base)
        self.cloud = cloud
        self.cloud_port = cloud_port
        self.base = os.path.realpath(base)
        # Names of namespaces and cgroups are machine-wide: a tag kept in
        # the cloud's state keeps two clouds (two data directories) apart,
        # and lets a restarted cloud find the nodes it had started.
        with cloud.lock:
            counters = cloud.data['counters']
            self.tag = counters.get(TAG_COUNTER) or secrets.token_hex(3)
        self.workdir = os.path.join(workdir or DEFAULT_WORKDIR, self.tag)
        self.forward_ports = tuple(forward_ports)
        self.boot_timeout = boot_timeout
        self.heat_url = 'http://%s' % HEAT_ADDRESS
        self.nodes = {}      # server id -> node_mod.Node
        self.booted = {}     # server id -> (seconds, exit status)
        self.adopted = set()  # server ids of nodes a dead cloud started
        self.networks = {}   # network id -> _Network
        self.forwards = {}   # (address, port) -> (server id, netns.Relay)
        self.rules = {}      # server id -> nft script loaded in its node
        self._lock = threading.RLock()
        self._threads = []
        self._closed = False
        owner = sweep.owner(self.workdir)
        if owner is not None and owner != os.getpid():
            raise Unavailable('the real nodes of this cloud (%s) belong to '
                              'the running process %d' % (self.workdir,
                                                         owner))
        self._fips = fiprange.reserve(
            cloud.state_dir or self.tag,
            recorded=counters.get(RANGE_COUNTER),
            configured=floating_ip_range, owner=cloud.state_dir or '',
            **({'lock_dir': fip_lock_dir} if fip_lock_dir else {}))
        self.floating_range = self._fips.network
        with cloud.lock:
            counters[TAG_COUNTER] = self.tag
            counters[RANGE_COUNTER] = str(self.floating_range)
            cloud.floating_range = self.floating_range
            cloud.save()
        sweep.sweep(os.path.dirname(self.workdir), spare=self.tag)
        sweep.claim(self.workdir, cloud.state_dir)
        sweep.adopt_or_remove(self)
        self._watcher = threading.Thread(target=self._watch, daemon=True,
                                         name='realnodes-fip')
        self._watcher.start()

    # naming --------------------------------------------------------------
    def _node_name(self, server_id):
        return 'caas%s-%s' % (self.tag, server_id.replace('-', '')[:10])

    def _net_name(self, network_id):
        return 'caas%s-net%s' % (self.tag, (network_id or 'none')
                                 .replace('-', '')[:8])

    # boot ----------------------------------------------------------------
    def boot(self, srv):
        """Start booting ``srv`` (called under the cloud's lock)."""
        self._spawn(self._boot, self.spec(srv))

    def spec(self, srv):
        return {'id': srv['id'], 'name': srv['name'],
                'user_data': srv.get('user_data'),
                'metadata': dict(srv.get('metadata') or {}),
                'ready_at': srv.get('ready_at') or 0,
                'ports': self._ports(srv)}

    def _ports(self, srv):
        ports = []
        for port_id in srv['port_ids']:
            port = self.cloud.data['ports'].get(port_id) or {}
            subnet = self.cloud.port_subnet(port)
            if subnet is None:
                continue
            ports.append({'network_id': port['network_id'],
                          'address': port['fixed_ip'],
                          'cidr': subnet['cidr'],
                          'gateway': subnet['gateway_ip']})
        return ports

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _network(self, network_id, cidr, gateway, adopt=False):
        """The network's namespace, made now (or, ``adopt``, taken over
        from a dead cloud that made it: only the relay is new)."""
        with self._lock:
            net = self.networks.get(network_id)
            if net is not None:
                return net
            name = self._net_name(network_id)
            if not (adopt and netns.exists(name)):
                netns.add(name)
                prefix = cidr.split('/')[1]
                netns.ip('link', 'add', 'br0', 'type', 'bridge', netns=name)
                netns.ip('addr', 'add', '%s/%s' % (gateway, prefix), 'dev',
                         'br0', netns=name)
                netns.ip('addr', 'add', HEAT_ADDRESS + '/32', 'dev', 'br0',
                         netns=name)
                netns.ip('link', 'set', 'br0', 'up', netns=name)
            factory = netns.SocketFactory(name)
            port = self.cloud_port
            relay = netns.Relay(
                factory.listen(HEAT_ADDRESS, HEAT_PORT),
                lambda: socket.create_connection(('127.0.0.1', port), 10),
                'heat-%s' % name)
            net = self.networks[network_id] = _Network(name, factory, relay)
            return net

    def _wire(self, spec):
        name = self._node_name(spec['id'])
        netns.add(name)
        for i, port in enumerate(spec['ports']):
            net = self._network(port['network_id'], port['cidr'],
                                port['gateway'])
            with self._lock:
                net.nodes.add(spec['id'])
            veth = 'v%s%d' % (spec['id'].replace('-', '')[:10], i)
            dev = 'eth%d' % i
            netns.ip('link', 'add', veth, 'type', 'veth', 'peer', 'name',
                     dev, 'netns', name, netns=net.name)
            netns.ip('link', 'set', veth, 'master', 'br0', 'up',
                     netns=net.name)
            netns.ip('addr', 'add', '%s/%s' % (
                port['address'], port['cidr'].split('/')[1]), 'dev', dev,
                netns=name)
            netns.ip('link', 'set', dev, 'up', netns=name)
            if i == 0:
                netns.ip('route', 'add', 'default', 'via', port['gateway'],
                         netns=name)
        # Before the node's first process: no moment without its rules.
        self.sync_security_groups(spec['id'], name)
        return name

    def _node_rules(self, server_id):
        with self.cloud.lock:
            srv = self.cloud.server(server_id)
            if srv is None:
                return None
            return secgroups.ruleset(self.cloud, [
                self.cloud.data['ports'][p] for p in srv['port_ids']
                if p in self.cloud.data['ports']])

    def sync_security_groups(self, server_id, name=None):
        """Load the node's security group rules if they changed."""
        script = self._node_rules(server_id)
        if self.rules.get(server_id) == script:
            return
        secgroups.apply(name or self._node_name(server_id), script)
        self.rules[server_id] = script

    def _boot(self, spec):
        server_id = spec['id']
        # The node starts when Nova's BUILD ends (scheduling, networking
        # and the image are what BUILD stands for), as a hypervisor starts
        # the guest.
        while time.time() < spec['ready_at']:
            if self._closed or not self._wanted(server_id):
                return
            time.sleep(min(0.2, max(0, spec['ready_at'] - time.time())))
        started = time.monotonic()
        try:
            if not spec['ports']:
                raise RuntimeError('no port on a network with a subnet')
            name = self._wire(spec)
            node = node_mod.Node(self.workdir, self.base, spec, name, name)
            with self._lock:
                if self._closed or not self._wanted(server_id):
                    raise RuntimeError('deleted while booting')
                self.nodes[server_id] = node
            node.prepare('--cgroup-parent=/%s' % name)
            node.start()
            LOG.info('Real node %s (%s) started as PID %d', spec['name'],
                     server_id, node.pid)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            LOG.error('Real node %s (%s) did not start: %s', spec['name'],
                      server_id, getattr(exc, 'stderr', None) or exc)
            self._fail(server_id, 'the node did not start: %s' % exc)
            self._destroy(server_id)
            return
        self._watch_boot(spec, node, started)

    def watch_adopted(self, spec, node):
        self._spawn(self._watch_boot, spec, node, time.monotonic())

    def _watch_boot(self, spec, node, started):
        server_id = spec['id']
        while time.monotonic() - started < self.boot_timeout:
            try:
                result = node.boot_result()
            except RuntimeError as exc:
                if not self._wanted(server_id):
                    return
                LOG.error('Real node %s (%s) failed: %s', spec['name'],
                          server_id, exc)
                self._fail(server_id, str(exc))
                return
            if result is not None:
                break
            time.sleep(0.2)
        else:
            result = (None, ['boot timed out'], '')
        rc, errors, tail = result
        self.booted[server_id] = (time.monotonic() - started, rc)
        LOG.info('Real node %s (%s) ran its user data in %.1f s (exit %s)',
                 spec['name'], server_id, time.monotonic() - started, rc)
        if rc != 0 or errors:
            self._signal_failure(server_id, spec['name'], rc, errors, tail)

    def _wanted(self, server_id):
        with self.cloud.lock:
            srv = self.cloud.server(server_id)
            return srv is not None and srv['delete_at'] is None

    def _fail(self, server_id, reason):
        with self.cloud.lock:
            srv = self.cloud.server(server_id)
            if srv is not None:
                srv['outcome'] = 'ERROR'
                # What Nova's fault and Heat's reason then show.
                srv['fault_message'] = 'Real node: %s' % reason
                self.cloud.touch('servers', server_id)
                self.cloud.save()

    def _signal_failure(self, server_id, name, rc, errors, tail):
        """What a failed bootstrap's own trap would send: a FAILURE signal
        naming the node's error, to every handle its user data names, so
        the stack fails now rather than at its timeout."""
        from caas.sim import signals
        reason = 'Node %s: cloud-init exit %s: %s%s' % (
            name, rc, '; '.join(str(e) for e in errors) or 'no error noted',
            (' | boot log: ' + tail) if tail else '')
        with self.cloud.lock:
            srv = self.cloud.server(server_id)
            if srv is None:
                return
            signals.node_failed(self.cloud, srv, reason[:2000])
            self.cloud.save()

    # floating IPs -------------------------------------------------------
    def _watch(self):
        while not self._closed:
            try:
                self.sync_floating_ips()
                # Groups' rules and members change after a node boots.
                for server_id in list(self.nodes):
                    self.sync_security_groups(server_id)
            except Exception:  # keep forwarding whatever went wrong once
                LOG.exception('Real nodes: floating IP or security group '
                              'sync failed')
            time.sleep(0.3)

    def sync_floating_ips(self):
        """Listen on every floating IP of a running node, forward into it."""
        wanted = {}
        with self.cloud.lock:
            for server_id in list(self.nodes):
                srv = self.cloud.server(server_id)
                if srv is None:
                    continue
                for port_id in srv['port_ids']:
                    port = self.cloud.data['ports'].get(port_id)
                    if port is None:
                        continue
                    for fip in self.cloud.data['floating_ips'].values():
                        if fip.get('port_id') == port_id:
                            for number in self.forward_ports:
                                wanted[(fip['address'], number)] = (
                                    server_id, port['network_id'],
                                    port['fixed_ip'])
        with self._lock:
            for key in [k for k, (sid, _r) in self.forwards.items()
                        if wanted.get(k, (None,))[0] != sid]:
                self.forwards.pop(key)[1].close()
            for key, (server_id, network_id, fixed) in wanted.items():
                net = self.networks.get(network_id)
                if key in self.forwards or net is None:
                    continue
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR,
                                    1)
                try:
                    listener.bind(key)
                except OSError as exc:
                    LOG.warning('Floating IP %s:%d is taken: %s', key[0],
                                key[1], exc)
                    listener.close()
                    continue
                listener.listen(64)
                factory, port = net.factory, key[1]
                self.forwards[key] = (server_id, netns.Relay(
                    listener, lambda f=factory, a=fixed, p=port:
                    f.connect(a, p), 'fip-%s:%d' % key))

    # delete --------------------------------------------------------------
    def destroy(self, server_id):
        """Stop the node's processes and remove all it had (async)."""
        self._spawn(self._destroy, server_id)

    def _destroy(self, server_id):
        with self._lock:
            node = self.nodes.pop(server_id, None)
            self.rules.pop(server_id, None)
            for key in [k for k, (sid, _r) in self.forwards.items()
                        if sid == server_id]:
                self.forwards.pop(key)[1].close()
        name = self._node_name(server_id)
        if node is not None:
            killed = node.stop()
            LOG.info('Real node %s stopped (%d processes)', server_id,
                     len(killed))
        netns.delete(name)
        with self._lock:
            for network_id, net in list(self.networks.items()):
                net.nodes.discard(server_id)
                if not net.nodes:
                    self._drop_network(network_id)

    def _drop_network(self, network_id):
        net = self.networks.pop(network_id)
        net.relay.close()
        net.factory.stop()
        netns.delete(net.name)

    def rss(self, server_id):
        """Resident memory (bytes) of every process of the node."""
        node = self.nodes.get(server_id)
        total = 0
        for pid in node_mod.cgroup_pids(node.cgroup) if node else ():
            try:
                with open('/proc/%d/status' % pid) as status:
                    for line in status:
                        if line.startswith('VmRSS:'):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def wait_idle(self, timeout=60):
        """Wait for the boots and deletions under way (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0, deadline - time.monotonic()))

    def close(self):
        """Destroy every node and network (the cloud stops)."""
        self._closed = True
        for server_id in list(self.nodes):
            self._destroy(server_id)
        self.wait_idle()
        with self._lock:
            for network_id in list(self.networks):
                self._drop_network(network_id)
        shutil.rmtree(self.workdir, ignore_errors=True)
        self._fips.release()
