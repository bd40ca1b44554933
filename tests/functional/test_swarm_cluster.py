"""A Docker Swarm-mode cluster through the embedded caas-all, end to end.

The real python-magnumclient creates a swarm-mode template and cluster
(the swarm_ubuntu_v1 driver builds the stack on the simulated cloud) and
deletes it; the real ``openstack coe cluster config --output-certs``
writes the Docker client environment; a stand-in Docker API serves mutual
TLS on the cluster's api_address with a server certificate issued by the
manager bootstrap's own openssl commands from the CA the conductor handed
the managers; and the real ``docker`` CLI, given only that environment,
talks to it.
"""

import base64
import http.server
import os
import re
import shutil
import ssl
import subprocess
import threading
import time
from urllib import parse

import pytest
from cryptography import x509

from caas.drivers.swarm import template as swarm_template
from tests.functional.test_cluster_config import cli
from tests.integration.helpers import wait_status

DOCKER_VERSION = '24.0.7'


def _swarm_template(mc, **fields):
    values = dict(name='swarm', coe='swarm-mode', image_id='ubuntu-jammy',
                  flavor_id='m1.small', master_flavor_id='m1.small',
                  keypair_id='default', external_network_id='public')
    values.update(fields)
    return mc.cluster_templates.create(**values)


@pytest.fixture
def swarm_cluster(aio, mc):
    _swarm_template(mc)
    c = mc.clusters.create(name='swarm1', cluster_template_id='swarm',
                           master_count=1, node_count=2)
    return wait_status(mc, c.uuid, 'CREATE_COMPLETE', timeout=90, poll=0.1)


def _stack(aio, cluster):
    with aio.sim.cloud.lock:
        found = [s for s in aio.sim.cloud.data['stacks'].values()
                 if s['name'] == 'caas-%s' % cluster.uuid]
    assert found, sorted(s['name'] for s in
                         aio.sim.cloud.data['stacks'].values())
    return found[0]


def _servers(aio, cluster):
    stack = _stack(aio, cluster)
    with aio.sim.cloud.lock:
        return [s for s in aio.sim.cloud.data['servers'].values()
                if s.get('stack_id') == stack['id']]


def test_swarm_cluster_is_created_and_deleted(aio, mc, swarm_cluster):
    cluster = swarm_cluster
    template = mc.cluster_templates.get('swarm')
    assert template.cluster_distro == 'ubuntu'
    url = parse.urlsplit(cluster.api_address)
    assert (url.scheme, url.port) == ('tcp', 2376)
    assert cluster.master_addresses == [url.hostname]
    assert len(cluster.node_addresses) == 2
    groups = {ng.role: ng for ng in mc.nodegroups.list(cluster.uuid)}
    assert groups['worker'].node_count == 2

    # The conductor handed the cluster CA and its key to the stack, and
    # only the manager's user data carries them.
    params = _stack(aio, cluster)['param_values']
    ca = mc.certificates.get(cluster_uuid=cluster.uuid).pem
    assert base64.b64decode(params['ca_cert_b64']).decode() == ca
    key_b64 = params['ca_key_b64']
    assert base64.b64decode(key_b64).startswith(b'-----BEGIN')
    servers = _servers(aio, cluster)
    assert len(servers) == 3
    holders = sorted(s['name'].rsplit('-', 2)[-2] for s in servers
                     if key_b64 in (s.get('user_data') or ''))
    assert holders == ['manager']

    mc.clusters.delete(cluster.uuid)
    wait_status(mc, cluster.uuid, 'gone', timeout=60, poll=0.1)
    with aio.sim.cloud.lock:
        left = set(aio.sim.cloud.data['servers']) & {s['id'] for s in servers}
    assert left == set()


def test_swarm_cluster_resizes(aio, mc, swarm_cluster):
    mc.clusters.resize(swarm_cluster.uuid, 3)
    resized = wait_status(mc, swarm_cluster.uuid, 'UPDATE_COMPLETE',
                          timeout=60, poll=0.1)
    assert len(resized.node_addresses) == 3
    assert resized.master_addresses == swarm_cluster.master_addresses


def _nodegroup(mc, cluster_uuid, name, wanted, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        groups = {g.name: g for g in mc.nodegroups.list(cluster_uuid)}
        if wanted is None and name not in groups:
            return None
        group = groups.get(name)
        if group is not None and wanted is not None:
            group = mc.nodegroups.get(cluster_uuid, name)
            assert not group.status.endswith('FAILED'), group.status_reason
            if group.status == wanted:
                return group
        time.sleep(0.2)
    raise AssertionError('nodegroup %s never %s' % (name, wanted))


def test_swarm_nodegroup_joins_and_goes(aio, mc, swarm_cluster):
    mc.nodegroups.create(swarm_cluster.uuid, name='extra', node_count=2,
                         node_labels={'tier': 'batch'})
    extra = _nodegroup(mc, swarm_cluster.uuid, 'extra', 'CREATE_COMPLETE')
    assert len(extra.node_addresses) == 2
    with aio.sim.cloud.lock:
        stacks = [s for s in aio.sim.cloud.data['stacks'].values()
                  if s['name'].startswith('caas-%s-ng-' %
                                          swarm_cluster.uuid)]
    assert len(stacks) == 1
    assert set(stacks[0]['param_values']) >= {'swarm_join', 'primary_ip',
                                              'engine_labels'}
    assert 'ca_key_b64' not in stacks[0]['param_values']
    wait_status(mc, swarm_cluster.uuid, 'UPDATE_COMPLETE', timeout=60,
                poll=0.1)
    mc.nodegroups.delete(swarm_cluster.uuid, 'extra')
    _nodegroup(mc, swarm_cluster.uuid, 'extra', None)


def test_swarm_template_with_tls_disabled_fails_the_create_with_a_reason(
        aio, mc):
    _swarm_template(mc, name='plain', tls_disabled=True)
    c = mc.clusters.create(name='plain1', cluster_template_id='plain',
                           master_count=1, node_count=1)
    failed = wait_status(mc, c.uuid, 'CREATE_FAILED', timeout=60, poll=0.1)
    assert 'tls_disabled' in failed.status_reason


def test_swarm_labels_are_type_checked(aio, mc):
    from magnumclient import exceptions as mc_exc
    with pytest.raises(mc_exc.BadRequest) as err:
        _swarm_template(mc, labels={'auto_healing_enabled': 'maybe'})
    assert 'auto_healing_enabled' in str(err.value)
    with pytest.raises(mc_exc.BadRequest) as err:
        _swarm_template(mc, network_driver='flannel')
    assert 'flannel' in str(err.value)


# The Docker client as a user runs it ----------------------------------------

def _issue_server_cert(tmp_path, ca_pem, key_pem, uuid, public_ip):
    """What a manager's bootstrap does at boot: its issue_server_cert
    function, run by bash with the real openssl."""
    script = swarm_template.bootstrap_script()
    functions = ''.join(
        re.search(r'^%s\(\) \{\n.*?^\}\n' % name, script,
                  re.S | re.M).group(0)
        for name in ('log', 'issue_server_cert'))
    caas_dir, tls_dir = tmp_path / 'etc-caas', tmp_path / 'tls'
    caas_dir.mkdir()
    (caas_dir / 'ca.pem').write_text(ca_pem)
    (caas_dir / 'ca-key.pem').write_bytes(key_pem)
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
           'CAAS_DIR': str(caas_dir), 'TLS_DIR': str(tls_dir),
           'CLUSTER_UUID': uuid, 'PRIVATE_IP': '10.0.0.11',
           'PUBLIC_IP': public_ip, 'API_ADDRESSES': ''}
    proc = subprocess.run(
        ['bash', '-euo', 'pipefail', '-c',
         functions + 'issue_server_cert\n'],
        env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The CA key does not stay on the manager's disk.
    assert not (caas_dir / 'ca-key.pem').exists()
    return tls_dir


class _DockerAPI(http.server.BaseHTTPRequestHandler):
    """Enough of the Docker Engine API for ``docker version``."""

    def _send(self, body=b'', ctype='text/plain'):
        self.send_response(200)
        self.send_header('Api-Version', '1.43')
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def do_HEAD(self):
        self._send(b'OK')

    def do_GET(self):
        if self.path.endswith('/_ping'):
            return self._send(b'OK')
        if self.path.endswith('/version'):
            return self._send((
                '{"Version": "%s", "ApiVersion": "1.43", '
                '"MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64", '
                '"GitCommit": "caas", "GoVersion": "go1.20", '
                '"KernelVersion": "6.1", "BuildTime": ""}'
                % DOCKER_VERSION).encode(), 'application/json')
        self.send_error(404)

    def log_message(self, *args):
        pass


def _serve(host, port, tls_dir):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls_dir / 'server-cert.pem'),
                            str(tls_dir / 'server-key.pem'))
    # dockerd --tlsverify: a client certificate from the cluster CA.
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(str(tls_dir / 'ca.pem'))
    server = http.server.ThreadingHTTPServer((host, port), _DockerAPI)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_cluster_config_gives_the_docker_cli_a_working_tls_environment(
        aio, mc, swarm_cluster, tmp_path):
    docker = shutil.which('docker')
    cluster = swarm_cluster
    out = tmp_path / 'docker-env'
    out.mkdir()
    proc = cli(aio, 'cluster', 'config', 'swarm1', '--dir', str(out),
               '--output-certs')
    env = dict(re.findall(r'^export (\w+)=(.*)$', proc.stdout, re.M))
    assert env == {'DOCKER_HOST': cluster.api_address,
                   'DOCKER_CERT_PATH': str(out),
                   'DOCKER_TLS_VERIFY': 'True'}
    ca_pem = (out / 'ca.pem').read_text()
    assert ca_pem == mc.certificates.get(cluster_uuid=cluster.uuid).pem
    cert = x509.load_pem_x509_certificate((out / 'cert.pem').read_bytes())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(
        ca_pem.encode()))
    assert (out / 'key.pem').exists()

    from caas.db import certificates as ca_db
    from caas.pki import keystore
    row = ca_db.get_ca(cluster.uuid, 'kubernetes')
    host = parse.urlsplit(cluster.api_address).hostname
    tls_dir = _issue_server_cert(tmp_path, row.cert_pem,
                                 keystore.decrypt(row.encrypted_key,
                                                  cluster.uuid),
                                 cluster.uuid, host)
    if docker is None:
        if os.environ.get('CI'):
            pytest.fail('the docker CLI is not installed')
        pytest.skip('the docker CLI is not installed')
    server = _serve(host, 2376, tls_dir)
    try:
        run_env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
                   'HOME': str(tmp_path), **env}
        version = subprocess.run(
            [docker, 'version', '--format', '{{.Server.Version}}'],
            env=run_env, capture_output=True, text=True, timeout=60)
        assert version.returncode == 0, version.stderr
        assert version.stdout.strip() == DOCKER_VERSION
        # Without the client certificate the daemon's side refuses.
        (out / 'cert.pem').rename(out / 'cert.pem.away')
        (out / 'key.pem').rename(out / 'key.pem.away')
        refused = subprocess.run(
            [docker, 'version', '--format', '{{.Server.Version}}'],
            env=run_env, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
    finally:
        server.shutdown()
        server.server_close()
