"""Real nodes of the simulated cloud (caas.sim.realnodes).

A server of the ``debian-bookworm-docker`` image is a network namespace
with an overlay root filesystem that boots its user data with cloud-init:
its wait-condition signal travels over its network to the simulated Heat,
its failure reaches the stack's status_reason, and its deletion leaves no
namespace, veth, mount, process, cgroup or file, and nothing changed in
the root namespace. Needs root and the base root filesystem
(tools/build-node-rootfs.sh): skipped without them, failed under CI.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from caas.sim import realnodes
from caas.sim import server as sim_server
from caas.sim import stacks
from caas.sim import state as st
from tests.conftest import in_ci

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
PROJECT_ID = st.PROJECTS['demo']
BOOT_TIMEOUT = int(os.environ.get("CAAS_TEST_BOOT_TIMEOUT", 240))


def _base():
    return subprocess.run(
        [os.path.join(ROOT, 'tools/build-node-rootfs.sh'), '--path'],
        capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope='module')
def base():
    path = _base()
    try:
        realnodes.check(path)
    except realnodes.Unavailable as exc:
        if in_ci():
            pytest.fail('real nodes unavailable under CI: %s' % exc)
        pytest.skip(str(exc))
    return path


def _run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout


def _docker(base):
    """The host's docker CLI, or else the nodes' own (Debian's docker.io
    client in the base runs on the host: same Debian release)."""
    return shutil.which('docker') or os.path.join(base, 'usr', 'bin',
                                                  'docker')


def _firewall(base, tool):
    """The root namespace's rules, with the host's tool or else the
    nodes' own (a chroot keeps the caller's network namespace)."""
    if shutil.which(tool):
        return _run(tool)
    return _run('chroot', base, tool)


# Counters and clocks that move on their own.
VOLATILE = re.compile(
    r'^(fs\.(dentry-state|file-nr|inode-nr|inode-state|aio-nr|quota\.)|'
    r'kernel\.(random\.|ns_last_pid|pty\.nr)|'
    r'net\.netfilter\.nf_conntrack_count)')


def root_namespace(base):
    """What real nodes must never change in the root namespace."""
    sysctls = [line for line in _run('sysctl', '-a').splitlines()
               if not VOLATILE.match(line)]
    with open('/etc/resolv.conf') as resolv:
        resolv_conf = resolv.read()
    return {'route': _run('ip', 'route', 'show', 'table', 'all'),
            'link': re.sub(r'\d+ bytes|RX:.*|TX:.*', '',
                           _run('ip', '-o', 'link')),
            'addr': _run('ip', '-o', 'addr'),
            'iptables': re.sub(r'\[\d+:\d+\]|^#.*$', '',
                               _firewall(base, 'iptables-save') +
                               _firewall(base, 'ip6tables-save'),
                               flags=re.M),
            'nft': _run('nft', 'list', 'ruleset') if shutil.which('nft')
            else None,
            'sysctl': sysctls, 'hostname': _run('hostname'),
            'resolv.conf': resolv_conf,
            # Every named network namespace is a mount under /run/netns:
            # those of other clouds (another test worker's) come and go;
            # a cloud's own are checked by traces(). /run/netns itself
            # becomes a mount point at the machine's first `ip netns add`
            # (iproute2 makes it once per boot and never undoes it): on a
            # fresh machine, whichever worker creates the first namespace.
            'mounts': [m for m in _run('cat', '/proc/self/mounts')
                       .splitlines() if ' /run/netns/caas' not in m and
                       m.split()[1:2] != ['/run/netns']]}


def traces(backend):
    """Everything of the backend's still on the machine."""
    return traces_of(backend.tag, backend.workdir)


def traces_of(tag, workdir):
    tag = 'caas%s-' % tag
    found = [n for n in os.listdir('/run/netns') if n.startswith(tag)]
    found += glob.glob('/sys/fs/cgroup/*/%s*' % tag)
    for proc in glob.glob('/proc/[0-9]*/root'):
        try:
            if os.readlink(proc).startswith(workdir):
                found.append(proc)
        except OSError:
            pass
    with open('/proc/self/mountinfo') as mounts:
        found += [m for m in mounts if workdir in m]
    if os.path.exists(workdir):
        # The owner file is the live backend's, not a node's.
        found += [f for f in os.listdir(workdir) if f != 'owner']
    return found


@pytest.fixture
def sim(base, tmp_path):
    before = root_namespace(base)
    server = sim_server.SimServer(state_dir=str(tmp_path), real_nodes=base,
                                  server_boot_delay=0.2, resource_delay=0.0,
                                  delete_delay=0.0)
    server.start()
    backend = server.cloud.realnodes
    try:
        yield server
    finally:
        server.stop()
    assert traces(backend) == []
    assert not os.path.exists(backend.workdir)
    after = root_namespace(base)
    changed = {k: (before[k], after[k]) for k in before
               if before[k] != after[k]}
    assert changed == {}


def node_template(script):
    return {'heat_template_version': '2021-04-16', 'resources': {
        'handle': {'type': 'OS::Heat::WaitConditionHandle'},
        'wait': {'type': 'OS::Heat::WaitCondition', 'properties': {
            'handle': {'get_resource': 'handle'}, 'timeout': BOOT_TIMEOUT}},
        'node': {'type': 'OS::Nova::Server', 'properties': {
            'name': 'real-node-0', 'flavor': 'm1.small',
            'image': 'debian-bookworm-docker', 'networks': [
                {'network': 'private'}],
            'user_data_format': 'RAW', 'user_data': {'str_replace': {
                'template': script,
                'params': {'wc_notify': {'get_attr': ['handle',
                                                      'curl_cli']}}}}}}},
        'outputs': {'data': {'value': {'get_attr': ['wait', 'data']}}}}


def create(server, template):
    with server.cloud.lock:
        return stacks.create_stack(server.cloud, 'real', PROJECT_ID,
                                   st.USERS['demo'][0], template)


def settle(server, stack):
    deadline = time.monotonic() + BOOT_TIMEOUT + 30
    while time.monotonic() < deadline:
        with server.cloud.lock:
            status, reason = stacks.stack_status(server.cloud, stack)
        if status != 'CREATE_IN_PROGRESS':
            return status, reason
        time.sleep(0.5)
    return status, reason


def delete(server, stack):
    with server.cloud.lock:
        stacks.delete_stack(server.cloud, stack)
    deadline = time.monotonic() + 60
    backend = server.cloud.realnodes
    while backend.nodes and time.monotonic() < deadline:
        time.sleep(0.2)
    backend.wait_idle()


SIGNAL = r'''#!/bin/sh
set -e
address=$(ip -o -4 addr show eth0 | awk '{print $4}')
wc_notify --data-binary \
    "{\"status\": \"SUCCESS\", \"data\": \"$(hostname) $address\"}"
'''


def test_node_boots_its_user_data_and_signals_over_its_network(sim):
    stack = create(sim, node_template(SIGNAL))
    endpoint = stacks.resource_attr(sim.cloud, stack, 'handle', 'endpoint',
                                    [])
    assert endpoint.startswith('http://169.254.169.254/heat/')
    status, reason = settle(sim, stack)
    assert (status, reason) == ('CREATE_COMPLETE', 'Stack CREATE completed '
                                                   'successfully')
    srv = next(s for s in sim.cloud.visible_servers()
               if s['name'] == 'real-node-0')
    fixed = sim.cloud.data['ports'][srv['port_ids'][0]]['fixed_ip']
    assert fixed.startswith('10.0.0.')
    with sim.cloud.lock:
        data = stacks.resource_attr(sim.cloud, stack, 'wait', 'data', [])
    # The hostname cloud-init set and the address the node really has,
    # both reported from inside the node.
    assert 'real-node-0 %s/26' % fixed in data
    backend = sim.cloud.realnodes
    assert srv['id'] in backend.nodes
    assert backend.rss(srv['id']) > 0
    delete(sim, stack)
    assert backend.nodes == {}


# Fails before it can signal; the error is the node's own.
FAIL = '''#!/bin/sh
set -e
echo "frobnicator quota exceeded on $(hostname)" >&2
exit 3
wc_notify --data-binary '{"status": "SUCCESS"}'
'''


def test_failed_user_data_fails_the_stack_with_the_node_error(sim):
    stack = create(sim, node_template(FAIL))
    status, reason = settle(sim, stack)
    assert status == 'CREATE_FAILED'
    assert 'WaitConditionFailure: resources.wait' in reason
    assert 'frobnicator quota exceeded on real-node-0' in reason
    delete(sim, stack)


def _status(pid):
    try:
        with open('/proc/%d/status' % pid) as status:
            return status.read()[:300]
    except OSError:
        return pid


def test_deleted_node_leaves_nothing(sim):
    stack = create(sim, node_template(SIGNAL))
    assert settle(sim, stack)[0] == 'CREATE_COMPLETE'
    backend = sim.cloud.realnodes
    node = next(iter(backend.nodes.values()))
    node_pids = realnodes.node_mod.cgroup_pids(node.cgroup) | {node.pid}
    assert len(node_pids) > 2
    assert traces(backend) != []
    delete(sim, stack)
    assert traces(backend) == []
    assert [_status(p) for p in node_pids
            if os.path.exists('/proc/%d' % p)] == []
    assert not os.path.exists(node.dir)



def test_node_that_cannot_start_is_in_error_with_the_reason(sim):
    template = node_template(SIGNAL)
    template['resources']['bare'] = {'type': 'OS::Neutron::Net'}
    template['resources']['node']['properties']['networks'] = [
        {'network': {'get_resource': 'bare'}}]
    stack = create(sim, template)
    status, reason = settle(sim, stack)
    assert status == 'CREATE_FAILED'
    assert 'ResourceInError: resources.node: Went to status ERROR due to ' \
           '"Message: Real node: the node did not start: no port on a ' \
           'network with a subnet' in reason
    delete(sim, stack)


# A cloud with a booted node, then SIGKILLed (it never deletes the node).
KILLED = '''
import sys, time
from caas.sim import server as sim_server
from tests.integration import test_real_nodes as t
srv = sim_server.SimServer(state_dir=sys.argv[2], real_nodes=sys.argv[1],
                           server_boot_delay=0.2, resource_delay=0.0)
srv.start()
stack = t.create(srv, t.node_template(t.SIGNAL))
backend = srv.cloud.realnodes
print(t.settle(srv, stack)[0], backend.tag, backend.workdir, flush=True)
time.sleep(600)
'''


def test_nodes_of_a_killed_cloud_are_swept_by_the_next(base, tmp_path):
    before = root_namespace(base)
    child = subprocess.Popen(
        [sys.executable, '-c', KILLED, base, str(tmp_path / 'killed')],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        status, tag, workdir = child.stdout.readline().split()
    finally:
        child.kill()
        child.wait()
    assert status == 'CREATE_COMPLETE'
    left = traces_of(tag, workdir)
    assert [t for t in left if t.startswith('caas%s-' % tag)] != []
    server = sim_server.SimServer(state_dir=str(tmp_path / 'next'),
                                  real_nodes=base)
    server.start()
    server.stop()
    assert traces_of(tag, workdir) == []
    assert root_namespace(base) == before

# A Docker Swarm of real nodes: a manager whose Docker API listens with
# mutual TLS (a server certificate it issues from the cluster CA the stack
# hands it, as the Swarm driver's managers do) and two workers joining it
# with the token the manager signalled. The test's docker client reaches
# the manager only through its floating IP.
MANAGER = r'''#!/bin/bash
set -euo pipefail
ip=$(ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1)
tls=/etc/docker/tls
mkdir -p $tls
printf '%s\n' "__CA__" > $tls/ca.pem
printf '%s\n' "__CA_KEY__" > $tls/ca-key.pem
openssl ecparam -name prime256v1 -genkey -noout -out $tls/key.pem
openssl req -new -key $tls/key.pem -subj "/CN=$(hostname)" -out $tls/csr
printf 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:%s,IP:%s\n' \
    "$ip" "__FIP__" > $tls/ext
openssl x509 -req -in $tls/csr -CA $tls/ca.pem -CAkey $tls/ca-key.pem \
    -CAcreateserial -days 1 -extfile $tls/ext -out $tls/cert.pem
rm $tls/ca-key.pem
cat > /etc/docker/daemon.json <<JSON
{"tlsverify": true, "tlscacert": "$tls/ca.pem", "tlscert": "$tls/cert.pem",
 "tlskey": "$tls/key.pem",
 "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"]}
JSON
systemctl restart docker
docker swarm init --advertise-addr "$ip" >/dev/null
wc_notify --data-binary '{"status": "SUCCESS"}'
'''
# The simulated Heat creates every resource at once (a dependent server
# does not wait for the manager's wait condition), so workers ask the
# manager's Docker API for the join token, with a client certificate.
WORKER = r'''#!/bin/bash
set -euo pipefail
manager=__MANAGER_IP__
tls=/etc/caas-client
mkdir -p $tls
printf '%s\n' "__CA__" > $tls/ca.pem
printf '%s\n' "__CERT__" > $tls/cert.pem
printf '%s\n' "__KEY__" > $tls/key.pem
systemctl start docker
for attempt in $(seq 240); do
    if token=$(docker --tlsverify --tlscacert $tls/ca.pem \
            --tlscert $tls/cert.pem --tlskey $tls/key.pem \
            -H "tcp://$manager:2376" swarm join-token -q worker); then
        break
    fi
    sleep 1
done
docker swarm join --token "$token" "$manager:2377" >/dev/null
wc_notify --data-binary '{"status": "SUCCESS"}'
'''


def _cert(subject, key, issuer, issuer_key, ca=False, usage=None):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = x509.CertificateBuilder().subject_name(x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, subject)])).issuer_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
    ).public_key(key.public_key()).serial_number(
        x509.random_serial_number()).not_valid_before(
        now - datetime.timedelta(minutes=5)).not_valid_after(
        now + datetime.timedelta(days=1)).add_extension(
        x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(obj):
    from cryptography.hazmat.primitives import serialization
    if hasattr(obj, 'private_bytes'):
        return obj.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()).decode()
    return obj.public_bytes(serialization.Encoding.PEM).decode()


def swarm_template(ca_pem, ca_key_pem, cert_pem, key_pem):
    def server(name, port, script, params):
        params = dict(params, wc_notify={'get_attr': [
            'manager_handle' if name == 'manager' else 'workers_handle',
            'curl_cli']})
        return {'type': 'OS::Nova::Server', 'properties': {
            'name': name, 'flavor': 'm1.small',
            'image': 'debian-bookworm-docker', 'networks': port,
            'user_data_format': 'RAW', 'user_data': {'str_replace': {
                'template': script, 'params': params}}}}

    join = {'__MANAGER_IP__': {'get_attr': ['manager_port', 'fixed_ips', 0,
                                            'ip_address']},
            '__CA__': ca_pem.strip(), '__CERT__': cert_pem.strip(),
            '__KEY__': key_pem.strip()}
    res = {
        'manager_port': {'type': 'OS::Neutron::Port', 'properties': {
            'network': 'private'}},
        'manager_fip': {'type': 'OS::Neutron::FloatingIP', 'properties': {
            'floating_network': 'public',
            'port_id': {'get_resource': 'manager_port'}}},
        'manager_handle': {'type': 'OS::Heat::WaitConditionHandle'},
        'manager_wait': {'type': 'OS::Heat::WaitCondition', 'properties': {
            'handle': {'get_resource': 'manager_handle'},
            'timeout': BOOT_TIMEOUT}},
        'manager': server('manager', [{'port': {
            'get_resource': 'manager_port'}}], MANAGER, {
            '__CA__': ca_pem.strip(), '__CA_KEY__': ca_key_pem.strip(),
            '__FIP__': {'get_attr': ['manager_fip',
                                     'floating_ip_address']}}),
        'workers_handle': {'type': 'OS::Heat::WaitConditionHandle'},
        'workers_wait': {'type': 'OS::Heat::WaitCondition', 'properties': {
            'handle': {'get_resource': 'workers_handle'}, 'count': 2,
            'timeout': BOOT_TIMEOUT}},
    }
    for i in range(2):
        res['worker%d' % i] = server('worker-%d' % i, [
            {'network': 'private'}], WORKER, join)
    return {'heat_template_version': '2021-04-16', 'resources': res,
            'outputs': {'api': {'value': {'get_attr': [
                'manager_fip', 'floating_ip_address']}}}}


def test_swarm_of_real_nodes_answers_over_tls_on_its_floating_ip(
        sim, base, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert('caas test CA', ca_key, 'caas test CA', ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    client = _cert('admin', key, 'caas test CA', ca_key,
                   usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    for name, obj in (('ca.pem', ca), ('cert.pem', client),
                      ('key.pem', key)):
        (tmp_path / name).write_text(_pem(obj))
    stack = create(sim, swarm_template(_pem(ca), _pem(ca_key),
                                       _pem(client), _pem(key)))
    status, reason = settle(sim, stack)
    assert status == 'CREATE_COMPLETE', reason
    with sim.cloud.lock:
        api = stacks.output_value(sim.cloud, stack, 'api')
    assert api.startswith('127.')
    env = {k: v for k, v in os.environ.items()
           if k not in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')}
    env.update(DOCKER_HOST='tcp://%s:2376' % api, DOCKER_TLS_VERIFY='1',
               DOCKER_CERT_PATH=str(tmp_path))
    nodes = subprocess.run(
        [_docker(base), 'node', 'ls',
         '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'],
        env=env, capture_output=True, text=True, timeout=60)
    assert nodes.returncode == 0, nodes.stderr
    assert sorted(nodes.stdout.split('\n')) == [
        '', 'manager Ready Leader', 'worker-0 Ready ', 'worker-1 Ready ']
    backend = sim.cloud.realnodes
    print('RSS per node (MB): %s' % sorted(
        round(backend.rss(sid) / 2 ** 20) for sid in backend.nodes))
    # Without a client certificate the floating IP still reaches Docker,
    # which refuses the caller.
    env.pop('DOCKER_CERT_PATH')
    env['DOCKER_CERT_PATH'] = str(tmp_path / 'none')
    refused = subprocess.run(
        [_docker(base), 'node', 'ls'],
        env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    delete(sim, stack)
