"""OpenStack's own Magnum API tests (magnum-tempest-plugin, from PyPI)
against caas in keystone mode, through tools/tempest.sh.

The tempest venv is cached outside the repository (``.ci/run`` makes it
with ``tools/tempest.sh venv``); without it the test is skipped, except
under CI where it fails. The script exits non-zero on any failure that
tools/tempest-expected.txt does not list with its reason.
"""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import in_ci
from tests.integration import deployment

pytestmark = pytest.mark.integration

SCRIPT = os.path.join(deployment.ROOT, 'tools', 'tempest.sh')
TALLY = re.compile(r'magnum-tempest-plugin: (\d+) passed, (\d+) failed, '
                   r'(\d+) skipped')


def _tempest_venv():
    cache = os.environ.get('CAAS_CACHE', '/var/cache/caas-ci')
    with open(SCRIPT) as f:
        text = f.read()
    versions = dict(re.findall(r'^(TEMPEST_VERSION|PLUGIN_VERSION)=(\S+)$',
                               text, re.M))
    return os.path.join(cache, 'tempest-%s-magnum-%s' % (
        versions['TEMPEST_VERSION'], versions['PLUGIN_VERSION']))


def test_magnum_tempest_plugin_api_tests(services, tmp_path):
    venv = _tempest_venv()
    if not os.path.exists(os.path.join(venv, '.installed')):
        if in_ci():
            pytest.fail('the tempest venv %s is missing (.ci/run makes it '
                        'with tools/tempest.sh venv)' % venv)
        pytest.skip('no tempest venv at %s (tools/tempest.sh venv)' % venv)
    env = dict(os.environ, CAAS_BIN=os.path.dirname(sys.executable),
               CAAS_TEMPEST_DIR=str(tmp_path),
               CAAS_TEST_DB_URL=services['db_url'],
               CAAS_TEST_TRANSPORT_URL=services['transport_url'])
    result = subprocess.run([SCRIPT, 'run'], env=env, capture_output=True,
                            text=True, timeout=40 * 60)
    print(result.stdout)
    print(result.stderr[-5000:], file=sys.stderr)
    tally = TALLY.search(result.stdout)
    assert tally, 'no tally printed'
    passed, _failed, skipped = (int(x) for x in tally.groups())
    assert result.returncode == 0, 'unexpected tempest failures (above)'
    assert passed > 0
    # A skip means a test class did not run (e.g. the RBAC classes when
    # scope enforcement is off): none is expected.
    assert skipped == 0
