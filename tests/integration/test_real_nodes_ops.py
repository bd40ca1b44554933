"""Real nodes for operations: two clouds side by side, and kill -9.

* Two clouds with real nodes on one machine (two data directories, as two
  test workers) hold different floating IP ranges; each one's floating IP
  reaches its own node, and a third cloud told to use a range that one of
  them holds is refused.
* ``kill -9`` of ``caas-all --real-nodes`` in the middle of a real-node
  create (a 3-node Docker Swarm from a Heat template, created through the
  simulated Heat's API), at two points: before any node has started, and
  with nodes booting. Restarted on the same data directory, the stack
  completes with exactly its 3 servers, each with exactly one node (one
  cgroup, one namespace, one dockerd), the Swarm answers on its floating
  IP with 3 Ready nodes, and once the stack is deleted and caas-all
  stopped nothing of the nodes is left and the root namespace is as it
  was.

Needs root and the base root filesystem: skipped without them, failed
under CI. Every test boots real nodes: run under the machine's real-node
lock (``flock /tmp/caas-realnodes.lock``).
"""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from caas.sim import server as sim_server
from caas.sim import stacks
from caas.sim.realnodes import base as base_mod
from caas.sim.realnodes import node as node_mod
from tests.integration import test_real_nodes as rn

base = rn.base
sim = rn.sim
CAAS_ALL = os.path.join(os.path.dirname(sys.executable), 'caas-all')
BOOT_TIMEOUT = rn.BOOT_TIMEOUT


# Two clouds side by side -------------------------------------------------
WEB = r'''#!/bin/sh
set -e
mkdir -p /srv/www
hostname > /srv/www/index.html
busybox httpd -p 80 -h /srv/www
wc_notify --data-binary '{"status": "SUCCESS"}'
'''


def web_template(name):
    template = rn.node_template(WEB)
    res = template['resources']
    res['port'] = {'type': 'OS::Neutron::Port', 'properties': {
        'network': 'private'}}
    res['fip'] = {'type': 'OS::Neutron::FloatingIP', 'properties': {
        'floating_network': 'public', 'port_id': {'get_resource': 'port'}}}
    res['node']['properties']['name'] = name
    res['node']['properties']['networks'] = [{'port': {
        'get_resource': 'port'}}]
    template['outputs'] = {'fip': {'value': {'get_attr': [
        'fip', 'floating_ip_address']}}}
    return template


def _get(url, deadline):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.read().decode().strip()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_two_clouds_have_their_own_floating_ips(base, tmp_path):
    before = rn.root_namespace(base)
    clouds = []
    try:
        for name in ('one', 'two'):
            server = sim_server.SimServer(
                state_dir=str(tmp_path / name), real_nodes=base,
                server_boot_delay=0.2, resource_delay=0.0, delete_delay=0.0)
            server.start()
            clouds.append(server)
        ranges = [c.cloud.realnodes.floating_range for c in clouds]
        assert ranges[0] != ranges[1]
        assert not ranges[0].overlaps(ranges[1])
        # A third cloud told to take the first one's range is refused.
        third = sim_server.SimServer(
            state_dir=str(tmp_path / 'three'), real_nodes=base,
            floating_ip_range=str(ranges[0]))
        with pytest.raises(base_mod.Unavailable) as err:
            third.start()
        assert 'floating IP range %s is held by another cloud' % ranges[0] \
            in str(err.value)
        assert third._server is None
        made = [(c, rn.create(c, web_template('web-%s' % n)))
                for c, n in zip(clouds, ('one', 'two'))]
        fips = []
        for server, stack in made:
            status, reason = rn.settle(server, stack)
            assert status == 'CREATE_COMPLETE', reason
            with server.cloud.lock:
                fips.append(stacks.output_value(server.cloud, stack, 'fip'))
        for fip, net in zip(fips, ranges):
            assert fip.split('.')[:3] == str(net.network_address).split(
                '.')[:3]
        deadline = time.monotonic() + 30
        # Each floating IP reaches its own cloud's node, on port 80.
        assert [_get('http://%s/' % fip, deadline) for fip in fips] == [
            'web-one', 'web-two']
        for server, stack in made:
            rn.delete(server, stack)
    finally:
        backends = [c.cloud.realnodes for c in clouds]
        for server in clouds:
            server.stop()
    for backend in backends:
        assert rn.traces(backend) == []
    assert rn.root_namespace(base) == before


# kill -9 of caas-all --real-nodes --------------------------------------
def _retrying(script):
    """A bootstrap that retries its signal, as one must when the cloud's
    API restarts under it (nodes outlive a killed caas-all)."""
    return script.replace(
        "wc_notify --data-binary '{\"status\": \"SUCCESS\"}'",
        "until wc_notify --fail --data-binary '{\"status\": \"SUCCESS\"}'; "
        "do sleep 1; done")


class AllInOne(object):
    """caas-all --real-nodes in a process of its own."""

    def __init__(self, data_dir, config):
        self.data_dir = data_dir
        self.config = config
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [CAAS_ALL, '--real-nodes', '--data-dir', str(self.data_dir),
             '--port', '0', '--sim-port', '0', '--config-file',
             str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, PYTHONWARNINGS='ignore'))
        # Its log and banner, read as they come (a full pipe would block
        # it).
        self.output = []
        threading.Thread(target=self._drain, args=(self.proc,),
                         daemon=True).start()
        text = _wait(lambda: self._banner() or self.proc.poll() is not None,
                     120, 'the banner')
        assert isinstance(text, dict), ''.join(self.output)[-3000:]
        self.auth_url = text['auth']
        self.range = text['range']
        self.workdir = text['workdir']
        self.tag = os.path.basename(self.workdir)
        return self

    def _drain(self, proc):
        for line in proc.stdout:
            self.output.append(line)

    def _banner(self):
        text = ''.join(self.output)
        auth = re.search(r'simulated cloud: (\S+)', text)
        real = re.search(r'floating IPs (\S+), nodes in (\S+)', text)
        if auth and real:
            return {'auth': auth.group(1), 'range': real.group(1),
                    'workdir': real.group(2)}
        return None

    def clients(self):
        from heatclient import client as heat_client
        from keystoneauth1.identity import v3
        from keystoneauth1 import session as ks_session
        from novaclient import client as nova_client
        auth = v3.Password(auth_url=self.auth_url, username='demo',
                           password='caas', project_name='demo',
                           user_domain_id='default',
                           project_domain_id='default')
        session = ks_session.Session(auth=auth)
        return (heat_client.Client('1', session=session),
                nova_client.Client('2.1', session=session))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(120)


def node_cgroups(tag):
    """{cgroup name: PIDs} of the tag's nodes (every hierarchy)."""
    found = {}
    for hierarchy in node_mod.hierarchies():
        for path in glob.glob(os.path.join(hierarchy, 'caas%s-*' % tag)):
            name = os.path.basename(path)
            found.setdefault(name, set()).update(node_mod.cgroup_pids(name))
    return found


def marked_processes(tag):
    """Live processes carrying the nodes' mark (CAAS_NODE=caas<tag>-...)."""
    mark = b'CAAS_NODE=caas%s-' % tag.encode()
    found = []
    for environ in glob.glob('/proc/[0-9]*/environ'):
        try:
            with open(environ, 'rb') as env:
                if mark in env.read():
                    found.append(environ.split('/')[2])
        except OSError:
            pass
    return found


def _comm(pid):
    try:
        with open('/proc/%d/comm' % pid) as comm:
            return comm.read().strip()
    except OSError:
        return None


def _ppid(pid):
    try:
        with open('/proc/%d/stat' % pid) as stat:
            return int(stat.read().rsplit(')', 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def dockerd_daemons(pids):
    """How many of ``pids`` are Docker daemons: a ``dockerd`` whose parent
    is not one. dockerd forks itself for moments (a child named dockerd
    until it execs, seen beside its parent in a node's cgroup): that child
    is not a second daemon."""
    return sum(1 for pid in pids if _comm(pid) == 'dockerd'
               and _comm(_ppid(pid) or 0) != 'dockerd')


def _processes(pids):
    """PID, parent, state, command line and start of each process: what
    a failed count of a node's processes shows."""
    lines = []
    for pid in sorted(pids):
        try:
            with open('/proc/%d/status' % pid) as status:
                fields = dict(line.split(':', 1) for line in status
                              if ':' in line)
            with open('/proc/%d/cmdline' % pid, 'rb') as cmdline:
                argv = cmdline.read().replace(b'\0', b' ').decode(
                    errors='replace')
            with open('/proc/%d/stat' % pid) as stat:
                started = stat.read().rsplit(')', 1)[1].split()[19]
        except OSError:
            lines.append('%d (gone)' % pid)
            continue
        lines.append('%d ppid %s %s start %s: %s' % (
            pid, fields['PPid'].strip(), fields['State'].strip(), started,
            argv[:200]))
    return '\n'.join(lines)


def _stack_status(heat, stack_id):
    return heat.stacks.get(stack_id).stack_status


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail('timed out waiting for %s' % what)


@pytest.mark.parametrize('kill_point', ['no-node-started', 'nodes-booting'])
def test_kill_9_in_a_real_node_create_ends_with_exactly_its_nodes(
        base, tmp_path, kill_point):
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID
    before = rn.root_namespace(base)
    config = tmp_path / 'caas.conf'
    # Servers stay 4 s in BUILD: the window before any node starts.
    config.write_text('[sim]\nserver_boot_delay = 4\nresource_delay = 0\n')
    aio = AllInOne(tmp_path / 'data', config).start()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = rn._cert('caas test CA', ca_key, 'caas test CA', ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    client = rn._cert('admin', key, 'caas test CA', ca_key,
                      usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    certs = tmp_path / 'certs'
    certs.mkdir()
    for name, obj in (('ca.pem', ca), ('cert.pem', client),
                      ('key.pem', key)):
        (certs / name).write_text(rn._pem(obj))
    template = rn.swarm_template(rn._pem(ca), rn._pem(ca_key),
                                 rn._pem(client), rn._pem(key))
    for res in template['resources'].values():
        if res['type'] == 'OS::Nova::Server':
            params = res['properties']['user_data']['str_replace']
            params['template'] = _retrying(params['template'])
    try:
        heat, _nova = aio.clients()
        stack_id = heat.stacks.create(stack_name='swarm',
                                      template=template)['stack']['id']
        if kill_point == 'nodes-booting':
            _wait(lambda: [n for n, pids in node_cgroups(aio.tag).items()
                           if pids], 120, 'a node to start')
        at_kill = {n: len(p) for n, p in node_cgroups(aio.tag).items()}
        status_at_kill = _stack_status(heat, stack_id)
        aio.kill()
        assert status_at_kill == 'CREATE_IN_PROGRESS'
        running = [n for n, count in at_kill.items() if count]
        if kill_point == 'no-node-started':
            assert running == []
        else:
            assert running != []
        workdir, tag, fip_range = aio.workdir, aio.tag, aio.range
        aio.start()
        # The same cloud again: same nodes' tag, same floating IP range.
        assert (aio.tag, aio.range) == (tag, fip_range)
        recovered = re.findall(r'tag %s\): (\d+) adopted, (\d+) removed, '
                               r'(\d+) booted again' % tag,
                               ''.join(aio.output))
        adopted, _removed, rebooted = (int(n) for n in recovered[-1])
        # Running nodes are adopted, the others booted: one each.
        assert adopted == len(running)
        assert adopted + rebooted == 3
        heat, nova = aio.clients()
        _wait(lambda: _stack_status(heat, stack_id) != 'CREATE_IN_PROGRESS',
              BOOT_TIMEOUT + 60, 'the stack to settle')
        stack = heat.stacks.get(stack_id)
        assert stack.stack_status == 'CREATE_COMPLETE', \
            stack.stack_status_reason
        servers = nova.servers.list()
        assert sorted((s.name, s.status) for s in servers) == [
            ('manager', 'ACTIVE'), ('worker-0', 'ACTIVE'),
            ('worker-1', 'ACTIVE')]
        # Exactly one node per server: its cgroup, its namespace, one
        # dockerd; nothing else of the tag.
        names = {'caas%s-%s' % (tag, s.id.replace('-', '')[:10])
                 for s in servers}
        groups = node_cgroups(tag)
        assert set(groups) == names
        assert sorted(n for n in os.listdir('/run/netns')
                      if n.startswith('caas%s-' % tag)
                      and '-net' not in n) == sorted(names)
        assert len([n for n in os.listdir('/run/netns')
                    if n.startswith('caas%s-net' % tag)]) == 1
        for name, pids in groups.items():
            assert dockerd_daemons(pids) == 1, _processes(pids)
        assert sorted(e for e in os.listdir(workdir) if e != 'owner') == \
            sorted(s.id for s in servers)
        # The Swarm works, through the manager's floating IP.
        api = next(o['output_value'] for o in stack.outputs
                   if o['output_key'] == 'api')
        assert api.startswith(fip_range.rsplit('.', 1)[0] + '.')
        env = {k: v for k, v in os.environ.items()
               if k not in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')}
        env.update(DOCKER_HOST='tcp://%s:2376' % api, DOCKER_TLS_VERIFY='1',
                   DOCKER_CERT_PATH=str(certs))
        nodes = subprocess.run(
            [rn._docker(base), 'node', 'ls',
             '--format', '{{.Hostname}} {{.Status}}'],
            env=env, capture_output=True, text=True, timeout=60)
        assert nodes.returncode == 0, nodes.stderr
        assert sorted(nodes.stdout.split('\n')) == [
            '', 'manager Ready', 'worker-0 Ready', 'worker-1 Ready']
        heat.stacks.delete(stack_id)
        _wait(lambda: not node_cgroups(tag), 120, 'the nodes to go')
    finally:
        aio.stop()
    assert rn.traces_of(tag, workdir) == []
    assert marked_processes(tag) == []
    assert rn.root_namespace(base) == before


# Security groups in the nodes --------------------------------------------
SERVE = r'''#!/bin/sh
set -e
mkdir -p /srv/www
hostname > /srv/www/index.html
busybox httpd -p 80 -h /srv/www
busybox httpd -p 8080 -h /srv/www
wc_notify --data-binary '{"status": "SUCCESS"}'
'''
# Waits for the server's allowed port, then tries the other one once.
PROBE = r'''#!/bin/sh
set -u
for i in $(seq 120); do
    curl -sf --max-time 2 -o /dev/null http://__A__:80/ && break
    sleep 1
done
one() {
    if curl -sf --max-time 3 -o /dev/null "http://__A__:$1/"; then
        echo "$1=open"
    else
        echo "$1=closed"
    fi
}
result="$(one 80) $(one 8080)"
wc_notify --data-binary "{\"status\": \"SUCCESS\", \"data\": \"$result\"}"
'''


def secgroup_template():
    def server(name, script, networks, params, handle):
        return {'type': 'OS::Nova::Server', 'properties': {
            'name': name, 'flavor': 'm1.small',
            'image': 'debian-bookworm-docker', 'networks': networks,
            'user_data_format': 'RAW', 'user_data': {'str_replace': {
                'template': script, 'params': dict(params, wc_notify={
                    'get_attr': [handle, 'curl_cli']})}}}}

    def wait(handle):
        return {'type': 'OS::Heat::WaitCondition', 'properties': {
            'handle': {'get_resource': handle}, 'timeout': BOOT_TIMEOUT}}
    a_ip = {'get_attr': ['a_port', 'fixed_ips', 0, 'ip_address']}
    return {'heat_template_version': '2021-04-16', 'resources': {
        'sg': {'type': 'OS::Neutron::SecurityGroup', 'properties': {
            'rules': [{'protocol': 'tcp', 'port_range_min': 80,
                       'port_range_max': 80,
                       'remote_ip_prefix': '10.0.0.0/26'}]}},
        'a_port': {'type': 'OS::Neutron::Port', 'properties': {
            'network': 'private',
            'security_groups': [{'get_resource': 'sg'}]}},
        'a_handle': {'type': 'OS::Heat::WaitConditionHandle'},
        'a_wait': wait('a_handle'),
        'a': server('served', SERVE, [{'port': {'get_resource': 'a_port'}}],
                    {}, 'a_handle'),
        'b_handle': {'type': 'OS::Heat::WaitConditionHandle'},
        'b_wait': wait('b_handle'),
        'b': server('prober', PROBE, [{'network': 'private'}],
                    {'__A__': a_ip}, 'b_handle')},
        'outputs': {'a_ip': {'value': a_ip},
                    'probe': {'value': {'get_attr': ['b_wait', 'data']}}}}


def test_security_group_refuses_a_port_it_does_not_allow(sim):
    from caas.sim.realnodes import netns
    stack = rn.create(sim, secgroup_template())
    status, reason = rn.settle(sim, stack)
    assert status == 'CREATE_COMPLETE', reason
    with sim.cloud.lock:
        a_ip = stacks.output_value(sim.cloud, stack, 'a_ip')
        probe = stacks.output_value(sim.cloud, stack, 'probe')
    # From the other node: 80 is allowed, 8080 is not.
    assert list(json.loads(probe).values()) == [
        '80=open 8080=closed']
    backend = sim.cloud.realnodes
    names = {srv['name']: backend._node_name(srv['id'])
             for srv in sim.cloud.visible_servers()}
    # 8080 is served: from inside the node itself it answers.
    factory = netns.SocketFactory(names['served'])
    try:
        factory.connect(a_ip, 8080).close()
    finally:
        factory.stop()
    table = subprocess.run(
        ['nsenter', '--net=/run/netns/%s' % names['served'], 'nft', 'list',
         'ruleset'], capture_output=True, text=True, check=True).stdout
    # (as nft prints it back)
    assert 'ip saddr 10.0.0.0/26 tcp dport 80 accept' in \
        table
    # The prober's port named no group: no table in its namespace.
    assert subprocess.run(
        ['nsenter', '--net=/run/netns/%s' % names['prober'], 'nft', 'list',
         'ruleset'], capture_output=True, text=True,
        check=True).stdout.count('caas_sg') == 0
    rn.delete(sim, stack)
    # The sim fixture then checks that the root namespace's ruleset, like
    # everything else of it, is unchanged.
