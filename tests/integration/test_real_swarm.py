"""A real Docker Swarm through the unchanged clients (issue 9).

caas-api, a caas-conductor and caas-cloudsim with real nodes
(``[sim] real_nodes``: servers of ``debian-bookworm-docker`` are network
namespaces that boot their user data) on real RabbitMQ and PostgreSQL.
The real ``openstack coe`` CLI (python-openstackclient with
python-magnumclient) makes a Swarm-mode cluster of 1 manager and 2 workers
with the Debian Swarm driver; ``openstack coe cluster config`` gives the
Docker TLS environment with which the ``docker`` CLI reaches the manager
through its floating IP only. One cluster is used by every step, in
order: its nodes, a replicated service whose tasks talk over an overlay
network, a resize up, a resize with ``nodes_to_remove`` (the node drains
and leaves the swarm before its server goes), health probes and
auto-healing of a node whose Docker was stopped, and the delete, after
which nothing of the nodes is left on the machine. A Kubernetes cluster on
the same image fails with the node's own reason.

Needs root and the base root filesystem (tools/build-node-rootfs.sh):
skipped without them, failed under CI. Real nodes are machine-wide: run
it under ``flock /tmp/caas-realnodes.lock``.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request

import pytest

from caas.sim import realnodes
from tests.conftest import in_ci
from tests.integration import deployment
from tests.integration import test_real_nodes as rn
from tests.integration.test_keystone import _magnum

pytestmark = pytest.mark.integration

OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')
TIMEOUT = int(os.environ.get('CAAS_TEST_BOOT_TIMEOUT', 240))
IMAGE = 'caas-busybox:1'
TIMINGS = {}


class RealDeployment(deployment.Deployment):
    """A deployment whose cloud boots real nodes, probed for health."""

    base = None

    def write_config(self):
        super().write_config()
        with open(self.conf, 'a') as f:
            # Later sections win over the ones above: real nodes serve
            # their COE API at their floating IPs, so probes are on.
            # One of two workers down is 50 %: healed.
            f.write('[sim]\nreal_nodes = %s\n'
                    '[health]\ncoe_probes = true\nauto_heal_after = 5\n'
                    'probe_timeout = 5\nmax_unhealthy_percent = 50\n'
                    % self.base)


class Cli:
    def __init__(self, dep, user='demo', project='demo'):
        self.env = {
            'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
            'HOME': os.environ.get('HOME', '/tmp'),
            # cluster config writes the environment for this shell.
            'SHELL': '/bin/bash', 'OS_AUTH_TYPE': 'password',
            'OS_AUTH_URL': dep.sim_url + '/identity/v3',
            'OS_USERNAME': user, 'OS_PASSWORD': 'caas',
            'OS_PROJECT_NAME': project, 'OS_USER_DOMAIN_NAME': 'Default',
            'OS_PROJECT_DOMAIN_NAME': 'Default',
            'OS_IDENTITY_API_VERSION': '3'}

    def __call__(self, *args):
        proc = subprocess.run([OPENSTACK, 'coe'] + list(args), env=self.env,
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc.stdout


class Swarm:
    """What the steps share: the deployment, clients and the cluster."""

    def __init__(self, dep, base, workdir):
        self.dep = dep
        self.base = base
        self.workdir = workdir
        self.cli = Cli(dep)
        self.mc = _magnum(dep, 'demo', 'demo')
        self.uuid = None
        self.env = None

    def docker(self, *args, check=True, timeout=120):
        proc = subprocess.run([rn._docker(self.base)] + list(args),
                              env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check:
            assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc

    def nodes(self):
        out = self.docker('node', 'ls', '--format',
                          '{{.Hostname}} {{.Status}} {{.Availability}}')
        return sorted(tuple(line.split()) for line in
                      out.stdout.splitlines() if line.strip())

    def wait_nodes(self, count, timeout=TIMEOUT):
        """The swarm's node list once it has ``count`` nodes, all Ready."""
        deadline = time.monotonic() + timeout
        while True:
            nodes = self.nodes()
            if len(nodes) == count and all(n[1] == 'Ready' for n in nodes):
                return nodes
            assert time.monotonic() < deadline, nodes
            time.sleep(1)

    def cluster(self):
        return self.mc.clusters.get(self.uuid)

    def wait_status(self, wanted, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            cluster = self.cluster()
            if cluster.status == wanted:
                return cluster
            assert not cluster.status.endswith('FAILED'), (
                cluster.status, cluster.status_reason)
            assert time.monotonic() < deadline, cluster.status
            time.sleep(1)

    def servers(self):
        """{name: id} of the cluster's servers, from the cloud's state."""
        stack = self.cluster().stack_id
        return {s['name']: s['id'] for s in self.dep.sim_state()['servers']
                if s.get('stack_id') == stack and s['status'] != 'DELETED'}


def _manager(names):
    return [n for n in names if '-manager-' in n][0]


def _workers(names):
    return sorted(n for n in names if '-manager-' not in n)


def _node_roots():
    """{server id: PID} of a process of each real node on the machine
    (its root is <workdir>/<tag>/<server id>/root)."""
    found = {}
    for proc in os.listdir('/proc'):
        if not proc.isdigit():
            continue
        try:
            root = os.readlink('/proc/%s/root' % proc)
        except OSError:
            continue
        if root.startswith(realnodes.DEFAULT_WORKDIR + '/'):
            found.setdefault(root.split('/')[-2], int(proc))
    return found


def _dockerd(server_id):
    for proc in os.listdir('/proc'):
        if not proc.isdigit():
            continue
        try:
            root = os.readlink('/proc/%s/root' % proc)
            with open('/proc/%s/comm' % proc) as comm:
                name = comm.read().strip()
        except OSError:
            continue
        if name == 'dockerd' and root.split('/')[-2:-1] == [server_id]:
            return int(proc)
    return None


def _image_tarball(base, path):
    """A root filesystem of Debian's busybox-static, from the node base."""
    with tarfile.open(path, 'w') as tar:
        tar.add(os.path.join(base, 'bin', 'busybox'), 'bin/busybox')
        for applet in ('sh', 'httpd', 'wget', 'hostname', 'mkdir', 'sleep',
                       'cat', 'echo', 'seq', 'nslookup'):
            info = tarfile.TarInfo('bin/%s' % applet)
            info.type = tarfile.SYMTYPE
            info.linkname = 'busybox'
            tar.addfile(info)
        for directory in ('tmp', 'www', 'etc'):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == 'tmp' else 0o755
            tar.addfile(info)


@pytest.fixture(scope='module')
def base():
    path = rn._base()
    try:
        realnodes.check(path)
    except realnodes.Unavailable as exc:
        if in_ci():
            pytest.fail('real nodes unavailable under CI: %s' % exc)
        pytest.skip(str(exc))
    return path


@pytest.fixture(scope='module')
def swarm(services, base, tmp_path_factory):
    workdir = tmp_path_factory.mktemp('real-swarm')
    before = rn.root_namespace(base)
    tags = set(os.listdir(realnodes.DEFAULT_WORKDIR)) \
        if os.path.isdir(realnodes.DEFAULT_WORKDIR) else set()
    dep = RealDeployment(workdir, deployment.create_database(
        services['db_url']), services['transport_url'], conductors=1,
        boot_delay=0.2, auth_strategy='keystone',
        conductor_opts={'health_check_interval': 2})
    dep.base = base
    dep.start()
    try:
        new = set(os.listdir(realnodes.DEFAULT_WORKDIR)) - tags
        assert len(new) == 1, new
        tag = new.pop()
        ctx = Swarm(dep, base, workdir)
        ctx.tag, ctx.nodes_dir = tag, os.path.join(
            realnodes.DEFAULT_WORKDIR, tag)
        yield ctx
    finally:
        # The cloud destroys the nodes it still has when it stops.
        dep.stop('cloudsim', timeout=120)
        dep.stop_all()
    assert rn.traces_of(tag, ctx.nodes_dir) == []
    after = rn.root_namespace(base)
    assert {k: (before[k], after[k]) for k in before
            if before[k] != after[k]} == {}


def test_create_gives_a_swarm_the_docker_cli_reaches_over_tls(swarm):
    cli = swarm.cli
    cli('cluster', 'template', 'create', 'swarm-real', '--coe', 'swarm-mode',
        '--image', 'debian-bookworm-docker', '--external-network', 'public',
        '--flavor', 'm1.small', '--master-flavor', 'm1.small',
        '--labels', 'auto_healing_enabled=true')
    started = time.monotonic()
    cli('cluster', 'create', 'swarm1', '--cluster-template', 'swarm-real',
        '--master-count', '1', '--node-count', '2')
    swarm.uuid = swarm.mc.clusters.get('swarm1').uuid
    cluster = swarm.wait_status('CREATE_COMPLETE')
    TIMINGS['create'] = time.monotonic() - started
    print('create -> CREATE_COMPLETE: %.1f s' % TIMINGS['create'])
    assert cluster.api_address.startswith('tcp://127.')
    assert cluster.api_address.endswith(':2376')
    assert re.match(r'^\d+\.\d+', cluster.coe_version), cluster.coe_version
    certs = swarm.workdir / 'certs'
    certs.mkdir()
    out = cli('cluster', 'config', 'swarm1', '--dir', str(certs),
              '--output-certs')
    env = dict(re.findall(r'export (\w+)=(\S+)', out))
    assert env['DOCKER_HOST'] == cluster.api_address
    assert sorted(os.listdir(certs)) == ['ca.pem', 'cert.pem', 'key.pem']
    swarm.env = {k: v for k, v in os.environ.items()
                 if k not in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')}
    swarm.env.update(env)
    nodes = swarm.wait_nodes(3)
    names = sorted(swarm.servers())
    assert [n[0] for n in nodes] == names
    managers = swarm.docker('node', 'ls', '--filter', 'role=manager',
                            '--format', '{{.Hostname}} {{.ManagerStatus}}')
    assert managers.stdout.split() == [_manager(names), 'Leader']
    # Without the client certificate the same address refuses.
    refused = subprocess.run(
        [rn._docker(swarm.base), 'node', 'ls'], capture_output=True,
        env=dict(swarm.env, DOCKER_CERT_PATH=str(swarm.workdir)), text=True,
        timeout=60)
    assert refused.returncode != 0


def _load_image(swarm):
    """No registry: the image is imported into every node's own Docker
    (its socket, seen through one of the node's processes)."""
    tarball = str(swarm.workdir / 'busybox.tar')
    if not os.path.exists(tarball):
        _image_tarball(swarm.base, tarball)
    for server_id, pid in _node_roots().items():
        if server_id not in swarm.servers().values():
            continue
        sock = 'unix:///proc/%d/root/run/docker.sock' % pid
        proc = subprocess.run(
            [rn._docker(swarm.base), '-H', sock, 'image', 'inspect', IMAGE],
            capture_output=True, text=True, timeout=60)
        if proc.returncode == 0:
            continue
        proc = subprocess.run(
            [rn._docker(swarm.base), '-H', sock, 'import', '-c',
             'CMD ["/bin/sh"]', tarball, IMAGE],
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr


def _tasks(swarm, service):
    out = swarm.docker('service', 'ps', service, '--filter',
                       'desired-state=running', '--format',
                       '{{.Node}} {{.CurrentState}}')
    return [line.split()[:2] for line in out.stdout.splitlines()]


def _wait_tasks(swarm, service, count, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        tasks = _tasks(swarm, service)
        running = [t for t in tasks if t[1] == 'Running']
        if len(running) == count and len(tasks) == count:
            return sorted(t[0] for t in running)
        assert time.monotonic() < deadline, tasks
        time.sleep(1)


def test_service_tasks_on_distinct_nodes_talk_over_an_overlay(swarm):
    _load_image(swarm)
    swarm.docker('network', 'create', '--driver', 'overlay', '--attachable',
                 'ovl')
    # Each task serves the name of its node, on port 80 of that node
    # (host-mode publishing: the kernel has no IPVS for the routing mesh).
    swarm.docker(
        'service', 'create', '--detach', '--name', 'web', '--replicas', '3',
        '--replicas-max-per-node', '1', '--endpoint-mode', 'dnsrr',
        '--network', 'ovl', '--publish', 'mode=host,target=80,published=80',
        '--hostname', '{{.Node.Hostname}}', '--no-resolve-image', IMAGE,
        'sh', '-c', 'hostname > /www/index.html && exec httpd -f -p 80 '
        '-h /www')
    nodes = _wait_tasks(swarm, 'web', 3)
    assert nodes == sorted(swarm.servers())
    # The overlay addresses of the tasks, as the manager's network
    # database learnt them from the other nodes (gossip).
    deadline = time.monotonic() + TIMEOUT
    while True:
        inspect = json.loads(swarm.docker(
            'network', 'inspect', '--verbose', 'ovl').stdout)[0]
        task_ips = [t['EndpointIP'].split('/')[0] for t in (
            inspect.get('Services') or {}).get('web', {}).get('Tasks') or []]
        if len(task_ips) == 3:
            break
        assert time.monotonic() < deadline, inspect.get('Services')
        time.sleep(1)
    # A probe task on the manager fetches every web task by overlay IP,
    # and the service by its name (the tasks' DNS round robin).
    manager = _manager(nodes)
    script = ' ; '.join(['wget -q -O - http://%s/' % ip
                         for ip in sorted(task_ips)] +
                        ['echo by-name: $(wget -q -O - http://web/)',
                         'sleep 3600'])
    swarm.docker(
        'service', 'create', '--detach', '--name', 'probe', '--network',
        'ovl', '--constraint', 'node.hostname==%s' % manager,
        '--restart-condition', 'none', '--no-resolve-image', IMAGE,
        'sh', '-c', script)
    deadline = time.monotonic() + TIMEOUT
    while True:
        logs = swarm.docker('service', 'logs', '--raw', 'probe',
                            check=False).stdout
        if 'by-name:' in logs:
            break
        assert time.monotonic() < deadline, logs
        time.sleep(1)
    fetched = [line.strip() for line in logs.splitlines()]
    # Every node's task answered over the overlay, the workers' across
    # nodes (VXLAN between the nodes' namespaces).
    assert sorted(f for f in fetched if not f.startswith('by-name:')) == \
        sorted(swarm.servers())
    by_name = [f for f in fetched if f.startswith('by-name:')][0]
    assert by_name.split(':', 1)[1].strip() in swarm.servers()
    swarm.docker('service', 'rm', 'probe')
    # Host-mode publishing: a worker's task answers at its node's
    # floating IP, port 80, from the machine.
    answers = set()
    for address in swarm.cluster().node_addresses:
        with urllib.request.urlopen('http://%s/' % address,
                                    timeout=30) as page:
            answers.add(page.read().decode().strip())
    assert answers == {n for n in nodes if n != manager}


def test_resize_up_adds_a_node_that_joins(swarm):
    started = time.monotonic()
    swarm.cli('cluster', 'resize', 'swarm1', '3')
    swarm.wait_status('UPDATE_COMPLETE')
    nodes = swarm.wait_nodes(4)
    TIMINGS['resize up'] = time.monotonic() - started
    assert [n[0] for n in nodes] == sorted(swarm.servers())


def test_resize_with_nodes_to_remove_drains_it_out_of_the_swarm(swarm):
    _load_image(swarm)
    busy = _workers(_wait_tasks(swarm, 'web', 3))[0]
    server_id = swarm.servers()[busy]
    started = time.monotonic()
    swarm.cli('cluster', 'resize', 'swarm1', '2', '--nodes-to-remove',
              server_id)
    swarm.wait_status('UPDATE_COMPLETE')
    TIMINGS['resize down'] = time.monotonic() - started
    assert busy not in swarm.servers()
    nodes = swarm.wait_nodes(3)
    assert busy not in [n[0] for n in nodes]
    # Its task moved to the node that had none; still one per node.
    assert _wait_tasks(swarm, 'web', 3) == sorted(swarm.servers())
    # The node left the swarm before Heat was asked to delete its server.
    log = swarm.dep.logs('conductor-0')
    drained = log.find('node %s drained and removed from the swarm' % busy)
    updating = log.find('updating stack', drained)
    assert 0 <= drained < updating


def test_stopped_docker_is_unhealthy_and_healed(swarm):
    worker = _workers(swarm.servers())[0]
    old_id = swarm.servers()[worker]
    assert swarm.wait_status('UPDATE_COMPLETE')
    pid = _dockerd(old_id)
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + TIMEOUT
    while True:
        cluster = swarm.cluster()
        reason = cluster.health_status_reason or {}
        if cluster.health_status == 'UNHEALTHY' and \
                reason.get('%s.Ready' % worker) == 'False':
            break
        assert time.monotonic() < deadline, (cluster.health_status, reason)
        time.sleep(1)
    # auto_healing_enabled: the server is replaced under the same name
    # and the swarm is back to 3 Ready nodes, the old one forgotten.
    while swarm.servers().get(worker) in (old_id, None):
        assert time.monotonic() < deadline, swarm.servers()
        time.sleep(1)
    nodes = swarm.wait_nodes(3)
    assert [n[0] for n in nodes] == sorted(swarm.servers())
    while swarm.cluster().health_status != 'HEALTHY':
        assert time.monotonic() < deadline, swarm.cluster().health_status
        time.sleep(1)


def test_delete_leaves_no_node(swarm):
    started = time.monotonic()
    swarm.cli('cluster', 'delete', 'swarm1')
    deadline = time.monotonic() + TIMEOUT
    while [c for c in swarm.mc.clusters.list() if c.uuid == swarm.uuid]:
        assert time.monotonic() < deadline
        time.sleep(1)
    TIMINGS['delete'] = time.monotonic() - started
    while rn.traces_of(swarm.tag, swarm.nodes_dir):
        assert time.monotonic() < deadline, rn.traces_of(
            swarm.tag, swarm.nodes_dir)
        time.sleep(1)
    print('real Swarm timings (s): %s' % {
        k: round(v, 1) for k, v in TIMINGS.items()})


def test_kubernetes_on_the_real_node_image_fails_with_the_node_reason(
        swarm):
    swarm.cli('cluster', 'template', 'create', 'k8s-real', '--coe',
              'kubernetes', '--image', 'debian-bookworm-docker',
              '--external-network', 'public', '--flavor', 'm1.small',
              '--master-flavor', 'm1.small')
    swarm.cli('cluster', 'create', 'k8s1', '--cluster-template', 'k8s-real',
              '--master-count', '1', '--node-count', '1')
    uuid = swarm.mc.clusters.get('k8s1').uuid
    deadline = time.monotonic() + TIMEOUT
    while True:
        cluster = swarm.mc.clusters.get(uuid)
        if cluster.status != 'CREATE_IN_PROGRESS':
            break
        assert time.monotonic() < deadline, 'still CREATE_IN_PROGRESS'
        time.sleep(1)
    assert cluster.status == 'CREATE_FAILED'
    # The node's own words: the bootstrap's failed step, not a timeout.
    assert re.search(r'WaitConditionFailure: resources\.wait_condition: '
                     r'bootstrap of (master|worker) 0 failed at line \d+: '
                     r'\S', cluster.status_reason), cluster.status_reason
    assert 'Timeout' not in cluster.status_reason
    swarm.cli('cluster', 'delete', 'k8s1')
    while [c for c in swarm.mc.clusters.list() if c.uuid == uuid]:
        assert time.monotonic() < deadline
        time.sleep(1)
    while rn.traces_of(swarm.tag, swarm.nodes_dir):
        assert time.monotonic() < deadline
        time.sleep(1)
    shutil.rmtree(str(swarm.workdir / 'certs'), ignore_errors=True)
