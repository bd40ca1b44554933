"""kill -9 of caas-all --real-nodes in the middle of a real Swarm CLUSTER.

The cluster is made as a person would with the unchanged CLI: through
caas-all's own API, ``openstack coe cluster template create`` with the
seeded real-node image and ``--coe swarm-mode`` (the Debian Swarm driver),
then ``openstack coe cluster create`` of 1 manager and 2 workers. While the
cluster is CREATE_IN_PROGRESS with a node booting, caas-all is killed with
SIGKILL and started again on the same data directory. The conductor must
resume its flow: the cluster reaches CREATE_COMPLETE with exactly its 3
servers, each exactly one node (one cgroup, one namespace, one dockerd),
``docker node ls`` with ``openstack coe cluster config``'s TLS environment
lists 3 Ready nodes, and the delete leaves nothing of the nodes and the
root namespace as it was.

Uses the caas-all harness of test_real_nodes_ops (kept apart from it for
the modules' size). Needs root and the base root filesystem: skipped
without them, failed under CI. Run under ``flock
/tmp/caas-realnodes.lock``.
"""

import os
import re
import subprocess
import sys
import time

import pytest
import requests

from tests.integration import test_real_nodes as rn
from tests.integration import test_real_nodes_ops as ops

base = rn.base
OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')
TIMEOUT = rn.BOOT_TIMEOUT


def _api(aio):
    """caas-all's API, from its banner (a new port on every start)."""
    found = re.findall(r'API:\s+(\S+)/v1', ''.join(aio.output))
    assert found, ''.join(aio.output)[-3000:]
    return found[-1]


def _coe(aio, *args):
    """The openstack CLI with the environment caas-all's banner gives."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('OS_') and k not in (
               'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')}
    env.update(OS_AUTH_TYPE='none', OS_ENDPOINT=_api(aio) + '/v1',
               SHELL='/bin/bash')
    proc = subprocess.run([OPENSTACK, 'coe'] + list(args), env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def _magnum(aio):
    from magnumclient import client
    return client.Client('1', endpoint_override=_api(aio) + '/v1',
                         auth_token='any')


def _cluster(aio, name):
    return _magnum(aio).clusters.get(name)


def _clusters(aio):
    return _magnum(aio).clusters.list()


def _servers(aio):
    """The simulated Nova's servers that are not deleted (every project)."""
    sim_url = aio.auth_url.split('/identity')[0]
    state = requests.get(sim_url + '/sim/state', timeout=10).json()
    return [s for s in state['servers'] if s['status'] != 'DELETED']


def _bootstrap_logs(tag):
    """The Swarm bootstrap's log of each running node (through one of its
    processes: a node's mounts are its own)."""
    logs = []
    for pids in ops.node_cgroups(tag).values():
        for pid in pids:
            try:
                with open('/proc/%d/root/var/log/caas-bootstrap.log'
                          % pid) as log:
                    logs.append(log.read())
                break
            except OSError:
                continue
    return logs


# node-booting: the first node (the swarm's first manager) has started.
# primary-signalling: it has initialised the swarm and is about to signal
# the join tokens to Heat, which is down while caas-all is (a lost signal
# would leave the workers, and the cluster, waiting for ever).
@pytest.mark.parametrize('kill_point', ['node-booting',
                                        'primary-signalling'])
def test_kill_9_in_a_real_swarm_cluster_create_resumes_to_exactly_3_nodes(
        base, tmp_path, kill_point):
    before = rn.root_namespace(base)
    config = tmp_path / 'caas.conf'
    # Servers stay 1 s in BUILD; no probes of the COE (the API answers
    # from the stack and Nova).
    config.write_text('[sim]\nserver_boot_delay = 1\nresource_delay = 0\n')
    aio = ops.AllInOne(tmp_path / 'data', config).start()
    tag = workdir = None
    try:
        workdir, tag, fip_range = aio.workdir, aio.tag, aio.range
        _coe(aio, 'cluster', 'template', 'create', 'swarm-real', '--coe',
             'swarm-mode', '--image', 'debian-bookworm-docker',
             '--external-network', 'public', '--flavor', 'm1.small',
             '--master-flavor', 'm1.small')
        _coe(aio, 'cluster', 'create', 'swarm1', '--cluster-template',
             'swarm-real', '--master-count', '1', '--node-count', '2')
        uuid = _cluster(aio, 'swarm1').uuid
        # Kill point: a node has started (its cgroup holds processes).
        ops._wait(lambda: [n for n, pids in ops.node_cgroups(tag).items()
                           if pids], TIMEOUT, 'a node to start')
        if kill_point == 'primary-signalling':
            ops._wait(lambda: [log for log in _bootstrap_logs(tag)
                               if 'Swarm initialized' in log],
                      TIMEOUT, 'the swarm to be initialised')
        running = [n for n, p in ops.node_cgroups(tag).items() if p]
        status_at_kill = _cluster(aio, uuid).status
        aio.kill()
        assert status_at_kill == 'CREATE_IN_PROGRESS'
        assert running != []
        aio.start()
        assert (aio.tag, aio.range) == (tag, fip_range)
        recovered = re.findall(r'tag %s\): (\d+) adopted, (\d+) removed, '
                               r'(\d+) booted again' % tag,
                               ''.join(aio.output))
        assert recovered, ''.join(aio.output)[-3000:]
        # The nodes that ran were adopted, none booted twice.
        assert int(recovered[-1][0]) == len(running)
        deadline = time.monotonic() + TIMEOUT + 120
        while True:
            cluster = _cluster(aio, uuid)
            if cluster.status != 'CREATE_IN_PROGRESS':
                break
            # Not settled: the nodes' own account of their bootstrap.
            assert time.monotonic() < deadline, _bootstrap_logs(tag)
            time.sleep(1)
        assert cluster.status == 'CREATE_COMPLETE', (
            cluster.status, cluster.status_reason,
            ''.join(aio.output)[-3000:])
        assert cluster.api_address.startswith(
            'tcp://%s.' % fip_range.rsplit('.', 1)[0])
        # Exactly 3 servers, each exactly one node: its cgroup, its
        # namespace, one dockerd, its directory; nothing else of the tag.
        servers = _servers(aio)
        assert sorted(s['status'] for s in servers) == ['ACTIVE'] * 3
        assert len({s['name'] for s in servers}) == 3
        names = {'caas%s-%s' % (tag, s['id'].replace('-', '')[:10])
                 for s in servers}
        groups = ops.node_cgroups(tag)
        assert set(groups) == names
        assert sorted(n for n in os.listdir('/run/netns')
                      if n.startswith('caas%s-' % tag)
                      and '-net' not in n) == sorted(names)
        for name, pids in groups.items():
            assert ops.dockerd_daemons(pids) == 1, name
        assert sorted(e for e in os.listdir(workdir) if e != 'owner') == \
            sorted(s['id'] for s in servers)
        # The Swarm works, with the TLS environment the CLI writes.
        certs = tmp_path / 'certs'
        certs.mkdir()
        out = _coe(aio, 'cluster', 'config', 'swarm1', '--dir', str(certs),
                   '--output-certs')
        env = {k: v for k, v in os.environ.items()
               if k not in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')}
        env.update(re.findall(r'export (\w+)=(\S+)', out))
        assert env['DOCKER_HOST'] == cluster.api_address
        deadline = time.monotonic() + TIMEOUT
        while True:
            nodes = subprocess.run(
                [rn._docker(base), 'node', 'ls', '--format',
                 '{{.Hostname}} {{.Status}}'],
                env=env, capture_output=True, text=True, timeout=60)
            assert nodes.returncode == 0, nodes.stderr
            listed = sorted(nodes.stdout.split('\n')[:-1])
            if [n.split()[1] for n in listed] == ['Ready'] * 3:
                break
            assert time.monotonic() < deadline, listed
            time.sleep(1)
        assert [n.split()[0] for n in listed] == sorted(
            s['name'] for s in servers)
        _coe(aio, 'cluster', 'delete', 'swarm1')
        ops._wait(lambda: not _clusters(aio) and not _servers(aio)
                  and not ops.node_cgroups(tag), TIMEOUT, 'the nodes to go')
    finally:
        aio.stop()
    assert rn.traces_of(tag, workdir) == []
    assert ops.marked_processes(tag) == []
    assert rn.root_namespace(base) == before
