"""Every ``openstack coe`` command, as a new user of a cloud would run it.

The real CLI (python-openstackclient + python-magnumclient, each command a
process) logs in to the simulated Keystone as the demo user (a project
member) or the admin, finds caas through the service catalog, and drives
caas-api, a caas-conductor process, RabbitMQ and PostgreSQL from a first
template to the last delete. The set of commands run is compared with the
set the installed client offers, so a command nobody tried fails here.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from caas.sim import state as sim_state
from tests.functional.test_cli_compat import _fields
from tests.functional.test_cli_compat import _table
from tests.integration import helpers
from tests.integration.test_keystone import _magnum

pytestmark = pytest.mark.integration

OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')
DEMO_PROJECT = sim_state.PROJECTS['demo']


class Cli:
    """Runs ``openstack coe ...`` as one user and remembers the commands."""

    def __init__(self, dep, ran, user, project):
        self.ran = ran
        self.env = {
            'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
            'HOME': os.environ.get('HOME', '/tmp'), 'SHELL': '/bin/bash',
            'OS_AUTH_TYPE': 'password',
            'OS_AUTH_URL': dep.sim_url + '/identity/v3',
            'OS_USERNAME': user, 'OS_PASSWORD': 'caas',
            'OS_PROJECT_NAME': project, 'OS_USER_DOMAIN_NAME': 'Default',
            'OS_PROJECT_DOMAIN_NAME': 'Default',
            'OS_IDENTITY_API_VERSION': '3'}

    def __call__(self, *args, as_json=False):
        words = [a for a in args if not a.startswith('-')]
        # The command is the words before the first argument value.
        for size in (3, 2):
            if ' '.join(words[:size]) in COMMANDS:
                self.ran.add(' '.join(words[:size]))
                break
        argv = [OPENSTACK, 'coe'] + list(args)
        if as_json:
            argv += ['-f', 'json']
        proc = subprocess.run(argv, env=self.env, capture_output=True,
                              text=True, timeout=180)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        # Some commands print a failure and still exit 0.
        assert 'failed' not in proc.stdout.lower(), (args, proc.stdout)
        if not as_json:
            return proc.stdout
        # Some commands print a sentence before the document.
        start = min(i for i in (proc.stdout.find('{'), proc.stdout.find('['))
                    if i >= 0)
        return json.loads(proc.stdout[start:])


def _client_commands():
    out = subprocess.run([OPENSTACK, 'help', 'coe'], capture_output=True,
                         text=True, timeout=120,
                         env={'PATH': os.environ.get('PATH', '/usr/bin'),
                              'HOME': os.environ.get('HOME', '/tmp')}).stdout
    return {line.strip()[len('coe '):] for line in out.splitlines()
            if line.strip().startswith('coe ')}


COMMANDS = _client_commands()


def _wait(mc, uuid, status):
    return helpers.wait_status(mc, uuid, status, timeout=120, poll=0.3)


def _wait_nodegroup(mc, cluster, name, status=None, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        groups = {ng.name: ng for ng in mc.nodegroups.list(cluster)}
        if status is None and name not in groups:
            return None
        if status is not None and name in groups and \
                groups[name].status == status:
            return groups[name]
        time.sleep(0.3)
    raise AssertionError('nodegroup %s never reached %s' % (name, status))


def _csr(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, 'demo-admin'),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'system:masters'),
    ])).sign(key, hashes.SHA256())
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return key


def test_every_openstack_coe_command(deploy, tmp_path):
    dep = deploy(conductors=1, boot_delay=0.2, auth_strategy='keystone')
    ran = set()
    demo = Cli(dep, ran, 'demo', 'demo')
    admin = Cli(dep, ran, 'admin', 'admin')
    mc = _magnum(dep, 'demo', 'demo')

    # Templates.
    common = ('--coe', 'kubernetes', '--image', 'ubuntu-jammy',
              '--external-network', 'public', '--flavor', 'm1.small',
              '--master-flavor', 'm1.small', '--keypair', 'default')
    made = demo('cluster', 'template', 'create', 'k8s', *common,
                as_json=True)
    assert made['coe'] == 'kubernetes'
    demo('cluster', 'template', 'create', 'k8s-new', *common,
         '--labels', 'kube_tag=v1.31.1', as_json=True)
    listed = demo('cluster', 'template', 'list', '--fields', 'coe,image_id',
                  as_json=True)
    assert {(t['name'], t['coe'], t['image_id']) for t in listed} == {
        ('k8s', 'kubernetes', 'ubuntu-jammy'),
        ('k8s-new', 'kubernetes', 'ubuntu-jammy')}
    demo('cluster', 'template', 'update', 'k8s', '--dns-nameserver',
         '127.0.0.53', as_json=True)
    shown = demo('cluster', 'template', 'show', 'k8s', as_json=True)
    assert shown['dns_nameserver'] == '127.0.0.53'

    # A cluster, its changes and its credentials.
    demo('cluster', 'create', 'demo', '--cluster-template', 'k8s',
         '--node-count', '1', '--master-count', '1')
    uuid = mc.clusters.get('demo').uuid
    _wait(mc, uuid, 'CREATE_COMPLETE')
    assert [c['name'] for c in demo('cluster', 'list', as_json=True)] == \
        ['demo']
    demo('cluster', 'update', 'demo', '--node-count', '2')
    _wait(mc, uuid, 'UPDATE_COMPLETE')
    assert demo('cluster', 'show', 'demo', as_json=True)['node_count'] == 2
    demo('cluster', 'resize', 'demo', '1')
    shown = _wait(mc, uuid, 'UPDATE_COMPLETE')
    assert shown.node_count == 1

    demo('nodegroup', 'create', 'demo', 'extra', '--node-count', '1',
         '--max-nodes', '3', '--node-labels', 'tier=batch',
         '--node-taints', 'dedicated=batch:NoSchedule')
    _wait_nodegroup(mc, uuid, 'extra', 'CREATE_COMPLETE')
    workers = demo('nodegroup', 'list', 'demo', '--role', 'worker',
                   as_json=True)
    assert sorted(ng['name'] for ng in workers) == ['default-worker',
                                                     'extra']
    demo('nodegroup', 'update', 'demo', 'extra', '--min-nodes', '1')
    _wait(mc, uuid, 'UPDATE_COMPLETE')
    extra = demo('nodegroup', 'show', 'demo', 'extra', as_json=True)
    assert extra['min_node_count'] == 1
    assert extra['node_labels'] == {'tier': 'batch'}
    demo('nodegroup', 'delete', 'demo', 'extra')
    _wait_nodegroup(mc, uuid, 'extra', None)
    _wait(mc, uuid, 'UPDATE_COMPLETE')

    demo('cluster', 'upgrade', 'demo', 'k8s-new', '--max-batch-size', '2')
    upgraded = _wait(mc, uuid, 'UPDATE_COMPLETE')
    assert upgraded.cluster_template_id == mc.cluster_templates.get(
        'k8s-new').uuid

    out = tmp_path / 'kube'
    out.mkdir()
    assert 'KUBECONFIG' in demo('cluster', 'config', 'demo', '--dir',
                                str(out))
    assert (out / 'config').exists()
    ca_pem = demo('ca', 'show', 'demo')
    ca = x509.load_pem_x509_certificate(ca_pem.strip().encode())
    _csr(tmp_path / 'me.csr')
    signed = demo('ca', 'sign', 'demo', str(tmp_path / 'me.csr'))
    x509.load_pem_x509_certificate(
        signed.strip().encode()).verify_directly_issued_by(ca)
    demo('ca', 'rotate', 'demo')
    _wait(mc, uuid, 'UPDATE_COMPLETE')
    assert demo('ca', 'show', 'demo').strip() != ca_pem.strip()
    demo('credential', 'rotate', 'demo')
    _wait(mc, uuid, 'UPDATE_COMPLETE')

    stats = _fields(demo('stats', 'list', DEMO_PROJECT))
    assert stats['clusters'] == '1'

    # What only administrators do.
    services = admin('service', 'list', as_json=True)
    assert [s['binary'] for s in services] == ['magnum-conductor']
    admin('quotas', 'create', '--project-id', DEMO_PROJECT, '--resource',
          'Cluster', '--hard-limit', '5')
    rows = _table(admin('quotas', 'list', '--all-tenants'))
    assert [DEMO_PROJECT, 'Cluster', '5'] in rows[1:]
    admin('quotas', 'update', '--project-id', DEMO_PROJECT, '--resource',
          'Cluster', '--hard-limit', '6')
    shown = _fields(admin('quotas', 'show', '--project-id', DEMO_PROJECT,
                          '--resource', 'Cluster'))
    assert shown['hard_limit'] == '6'
    admin('quotas', 'delete', '--project-id', DEMO_PROJECT, '--resource',
          'Cluster')

    demo('cluster', 'delete', 'demo')
    deadline = time.monotonic() + 120
    while mc.clusters.list() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert mc.clusters.list() == []
    demo('cluster', 'template', 'delete', 'k8s', 'k8s-new')
    assert demo('cluster', 'template', 'list', as_json=True) == []

    # Nothing is left in the cloud, and no command went untried.
    counts = dep.sim_state()['counts']
    assert counts['stacks'] == 0 and counts['servers'] == 0, counts
    assert COMMANDS and ran == COMMANDS, sorted(COMMANDS - ran)
