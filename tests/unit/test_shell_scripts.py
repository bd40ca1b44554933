"""The project's shell scripts pass shellcheck, and the devstack plugin's
service logic holds without a cloud.

The scripts are checked as they run: from the repository's root, following
what they source (-x), at every severity. The plugin's phases against real
services are in tests/openstack/test_devstack_plugin.py.
"""

import os
import shutil
import subprocess

import pytest

from tests import checks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

SCRIPTS = (
    'devstack/plugin.sh',
    'devstack/settings',
    'devstack/lib/caas',
    'tests/openstack/devstack_shim.sh',
    'tools/services.sh',
    'tools/lib/rabbitmq.sh',
    'tools/openstack/local.sh',
    '.ci/run',
)


def _shellcheck(*paths, cwd=ROOT):
    tool = checks.require_tool('shellcheck')
    return subprocess.run(
        [tool, '-x', '--format=gcc', '--color=never', *paths],
        cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('path', SCRIPTS)
def test_script_passes_shellcheck(path):
    proc = _shellcheck(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_of_the_plugin_is_not_a_rubber_stamp(tmp_path):
    # The same invocation on the plugin's library with one careless line
    # added must fail and name it.
    os.makedirs(tmp_path / 'devstack' / 'lib')
    for name in ('plugin.sh', 'settings', 'lib/caas'):
        shutil.copy(os.path.join(ROOT, 'devstack', name),
                    tmp_path / 'devstack' / name)
    with open(tmp_path / 'devstack' / 'lib' / 'caas', 'a') as f:
        f.write('function oops {\n    rm -rf $CAAS_STATE_PATH/*\n}\n')
    proc = _shellcheck('devstack/plugin.sh', 'devstack/lib/caas',
                       cwd=tmp_path)
    assert proc.returncode != 0
    assert 'SC2115' in proc.stdout or 'SC2086' in proc.stdout, proc.stdout


def _plugin_shell(script):
    """bash with devstack's service functions (the shim's) and the
    plugin's settings and library; no cloud is reached."""
    env = dict(os.environ, SHIM_DIR='/nonexistent-shim-dir', SHIM_BIN='/bin',
               CAAS_OSTACK_AUTH_URL='http://127.0.0.1:1/v3',
               CAAS_OSTACK_PASSWORD='x',
               CAAS_OSTACK_DB_ADMIN_URL='mysql+pymysql://u:p@127.0.0.1:1/',
               CAAS_OSTACK_TRANSPORT_URL='rabbit://127.0.0.1:1/')
    lines = [
        # The shim's functions without its directories.
        'mkdir() { :; }',
        'source tests/openstack/devstack_shim.sh',
        'get_python_exec_prefix() { echo /nonexistent; }',
        'source devstack/settings',
        'source devstack/lib/caas',
        script,
        # (The script's last test may be false; errexit ends it otherwise.)
        'true',
    ]
    proc = subprocess.run(['bash', '-c', '\n'.join(lines)], cwd=ROOT,
                          env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_conductors_are_enabled_one_service_each():
    # run_process and stop_process act only on enabled services: each
    # conductor must be one, or start_caas would start none of them.
    enabled = _plugin_shell(
        'CAAS_CONDUCTOR_COUNT=3; caas_enable_conductors; '
        'for s in caas-cond-1 caas-cond-2 caas-cond-3 caas-cond-4; do '
        'is_service_enabled $s && echo $s; done')
    assert enabled == ['caas-cond-1', 'caas-cond-2', 'caas-cond-3']


def test_disabled_conductors_stay_disabled():
    enabled = _plugin_shell(
        'disable_service caas-cond; caas_enable_conductors; '
        'is_service_enabled caas-cond-1 && echo caas-cond-1; '
        'is_service_enabled caas-api && echo caas-api; true')
    assert enabled == ['caas-api']


def test_endpoint_is_magnums_port_and_path():
    assert _plugin_shell(
        'SERVICE_HOST=192.0.2.10; CAAS_SERVICE_HOST=$SERVICE_HOST; '
        'caas_endpoint_url') == ['http://192.0.2.10:9511/v1']


@pytest.mark.parametrize('option,known', [
    ('trustee_domain_name', True), ('no_such_option', False)])
def test_only_options_caas_registers_are_written(option, known):
    out = _plugin_shell('CAAS_DIR=%s; caas_has_option trust %s && echo yes '
                        '|| echo no' % (ROOT, option))
    assert out == ['yes' if known else 'no']
