"""The Swarm-mode user data as the real tools see it.

Each node's user data is rendered the way Heat's str_replace renders it,
with values shaped like the real ones (addresses, a wait condition
endpoint and token, base64 PEMs, the tokens without their JSON), and
handed to ``shellcheck`` (the bootstrap script) and ``cloud-init schema``
(Ubuntu's cloud-config). Fedora CoreOS's Ignition config is checked for
what Ignition 3.4.0 requires of the fields used. A tool that is missing
skips its test, and fails it under CI.
"""

import base64
import json
import os
import shutil
import subprocess
import urllib.parse

import pytest
import yaml

from caas.drivers.swarm import driver as swarm
from caas.drivers.swarm import template as swarm_template

from . import test_swarm as swarm_test

SAMPLE = {
    '__CAAS_OS_DISTRO__': 'ubuntu',
    '__CAAS_CLUSTER_UUID__': swarm_test.UUID,
    '__CAAS_PRIVATE_IP__': '10.0.0.11',
    '__CAAS_PUBLIC_IP__': '127.0.0.42',
    '__CAAS_PRIMARY_IP__': '10.0.0.10',
    '__CAAS_SWARM_JOIN__': '1:worker=SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8'
                           'atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7'
                           'rcgdbx;manager=SWMTKN-1-3pu6hszjas19xyp7ghgo'
                           'syx9k8atbfcr8p2is99znpy26u2lkl-7p73s1dx5in4'
                           'tatdymyhg9hu2',
    '__CAAS_TOKENS_ENDPOINT__': 'http://127.0.0.1:8004/v1/p/stacks/s/i/'
                                'resources/primary_tokens_handle/signal',
    '__CAAS_TOKENS_TOKEN__': 'gAAAAABn-token_1=',
    '__CAAS_WAIT_ENDPOINT__': 'http://127.0.0.1:8004/v1/p/stacks/s/i/'
                              'resources/wait_handle/signal',
    '__CAAS_WAIT_TOKEN__': 'gAAAAABn-token_2=',
    '__CAAS_CA_CERT_B64__': base64.b64encode(
        b'-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
    ).decode(),
    '__CAAS_CA_KEY_B64__': base64.b64encode(
        b'-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n'
    ).decode(),
    '__CAAS_API_ADDRESSES__': '10.0.0.99,127.0.0.43',
    '__CAAS_LB_ADDRESS__': '10.0.0.99',
    '__CAAS_API_PORT__': '2376',
    '__CAAS_STORAGE_DRIVER__': 'overlay2',
    '__CAAS_VOLUME_ID__': '6a4c3f2e-8e1b-4a43-9d3e-3f7a5c2b1d00',
    '__CAAS_ENGINE_LABELS__': swarm.engine_labels(
        {'name': 'gpu', 'node_labels': {'accel': 'yes'}}),
    '__CAAS_HTTP_PROXY__': 'http://proxy.example:3128',
    '__CAAS_HTTPS_PROXY__': 'http://proxy.example:3128',
    '__CAAS_NO_PROXY__': 'localhost,.svc',
}
ROLES = ('primary', 'manager', 'worker')


def render(driver_cls, role):
    """The user data of one node as Heat's str_replace makes it."""
    defn = swarm_test.definition(
        driver_cls, 'three managers behind a load balancer')
    name = 'swarmworker.yaml' if role == 'worker' else 'swarmmanager.yaml'
    replace = swarm_test.user_data(yaml.safe_load(defn['files'][name]))
    values = dict(SAMPLE, __CAAS_ROLE__=role,
                  __CAAS_OS_DISTRO__=driver_cls.os_distro)
    text = replace['template']
    # Longest first, as Heat does, so no key eats another's prefix.
    for key in sorted(replace['params'], key=len, reverse=True):
        text = text.replace(key, str(values[key]))
    return text


def tool(name):
    path = shutil.which(name)
    if path is None:
        if os.environ.get('CI'):
            pytest.fail('%s is not installed' % name)
        pytest.skip('%s is not installed' % name)
    return path


def script_of(driver_cls, role):
    text = render(driver_cls, role)
    if driver_cls.os_distro == 'fedora-coreos':
        files = json.loads(text)['storage']['files']
        source = next(f for f in files
                      if f['path'] == swarm_template.SCRIPT_PATH)[
                          'contents']['source']
        assert source.startswith('data:,')
        return urllib.parse.unquote(source[len('data:,'):])
    return yaml.safe_load(text)['write_files'][0]['content']


@pytest.mark.parametrize('role', ROLES)
@pytest.mark.parametrize('driver_cls', swarm_test.DRIVERS)
def test_rendered_script_passes_shellcheck(driver_cls, role, tmp_path):
    shellcheck = tool('shellcheck')
    script = script_of(driver_cls, role)
    assert '__CAAS_' not in script
    path = tmp_path / 'bootstrap.sh'
    path.write_text(script)
    proc = subprocess.run([shellcheck, '--severity=style', str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_catches_a_broken_script(tmp_path):
    shellcheck = tool('shellcheck')
    path = tmp_path / 'bad.sh'
    path.write_text(swarm_template.bootstrap_script().replace(
        'mkdir -p /var/lib/docker', 'mkdir -p $(echo /var/lib/docker)'))
    proc = subprocess.run([shellcheck, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0 and 'SC2046' in proc.stdout


def cloud_init_schema(path):
    proc = subprocess.run([tool('cloud-init'), 'schema', '--config-file',
                           str(path)], capture_output=True, text=True,
                          timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize('role', ROLES)
def test_rendered_cloud_config_passes_cloud_init_schema(role, tmp_path):
    text = render(swarm.UbuntuSwarmDriver, role)
    assert text.startswith('#cloud-config\n')
    path = tmp_path / 'user-data'
    path.write_text(text)
    code, out = cloud_init_schema(path)
    assert code == 0, out
    config = yaml.safe_load(text)
    files = {f['path']: f for f in config['write_files']}
    if role == 'worker':
        assert set(files) == {swarm_template.SCRIPT_PATH}
    else:
        key = files[swarm_template.CA_KEY_PATH]
        assert key['permissions'] == '0600' and key['encoding'] == 'b64'
        assert base64.b64decode(key['content']).startswith(
            b'-----BEGIN PRIVATE KEY-----')
    assert config['runcmd'] == [[swarm_template.SCRIPT_PATH]]


def test_cloud_init_schema_catches_a_bad_cloud_config(tmp_path):
    text = render(swarm.UbuntuSwarmDriver, 'worker').replace(
        "permissions: '0755'", 'permissions: [0755]')
    path = tmp_path / 'user-data'
    path.write_text(text)
    code, out = cloud_init_schema(path)
    assert code != 0, out


@pytest.mark.parametrize('role', ROLES)
def test_rendered_ignition_config_is_well_formed(role):
    config = json.loads(render(swarm.FedoraCoreOSSwarmDriver, role))
    assert config['ignition'] == {'version': '3.4.0'}
    for entry in config['storage']['files']:
        assert entry['path'].startswith('/')
        assert isinstance(entry['mode'], int)
        source = entry['contents']['source']
        assert source.startswith(('data:,', 'data:;base64,'))
        if source.startswith('data:;base64,'):
            base64.b64decode(source[len('data:;base64,'):], validate=True)
    units = config['systemd']['units']
    assert [u['name'] for u in units] == ['caas-swarm-bootstrap.service']
    assert 'ExecStart=%s' % swarm_template.SCRIPT_PATH in units[0][
        'contents']
    paths = [f['path'] for f in config['storage']['files']]
    assert (swarm_template.CA_KEY_PATH in paths) == (role != 'worker')


def _prune_script():
    script = swarm_template.bootstrap_script()
    start = script.index("<<'PRUNE'\n") + len("<<'PRUNE'\n")
    return script[start:script.index('\nPRUNE\n', start) + 1]


def test_node_pruner_passes_shellcheck(tmp_path):
    path = tmp_path / 'caas-swarm-prune'
    path.write_text(_prune_script())
    proc = subprocess.run([tool('shellcheck'), '--severity=style',
                           str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_node_pruner_forgets_only_replaced_nodes(tmp_path):
    """Run against a stand-in ``docker`` whose node list has a replaced
    manager and worker (Down, with a Ready twin of the same name) and a
    node that is merely down (no twin: it must stay)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'calls'
    docker = bin_dir / 'docker'
    docker.write_text(
        '#!/bin/bash\n'
        'if [ "$1 $2" = "node ls" ]; then\n'
        '  printf "%%s\\n" "old-m s-manager-primary Down" '
        '"new-m s-manager-primary Ready" "old-w s-node-0 Down" '
        '"new-w s-node-0 Ready" "lost s-node-1 Down"\n'
        'else echo "$*" >> "%s"; fi\n' % calls)
    docker.chmod(0o755)
    script = tmp_path / 'prune'
    script.write_text(_prune_script())
    proc = subprocess.run(
        ['bash', str(script)], capture_output=True, text=True, timeout=60,
        env={'PATH': '%s:%s' % (bin_dir, os.environ.get('PATH', '/bin'))})
    assert proc.returncode == 0, proc.stderr
    assert calls.read_text().splitlines() == [
        'node demote old-m', 'node rm --force old-m',
        'node demote old-w', 'node rm --force old-w']
