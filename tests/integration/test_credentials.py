"""``openstack coe credential rotate`` end to end, in keystone mode: the real
CLI (python-openstackclient + python-magnumclient, as a process) logged in
as the demo user, keystonemiddleware, RabbitMQ, PostgreSQL, a conductor
process and the simulated Keystone's trust API. The demo user becomes the
trustor, the nodes' credential works before and after, the old one stops
working only after the rotation, no process logs a password, and deleting
the cluster leaves no trust and no trustee user behind."""

import os
import subprocess
import sys

import pytest
import requests
import sqlalchemy as sa

from caas.api import microversions
from caas.pki import keystore
from tests.integration import helpers
from tests.integration.test_keystone import _magnum
from tests.integration.test_keystone import _token

pytestmark = pytest.mark.integration

OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')


def _trustees(dep, cluster_uuid):
    engine = sa.create_engine(dep.db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                'SELECT state, user_id, trust_id, encrypted_password, '
                'trustor_user_id FROM cluster_trustees WHERE cluster_uuid = '
                ':c ORDER BY id'), {'c': cluster_uuid}).mappings().all()
    finally:
        engine.dispose()
    return [dict(r, password=keystore.decrypt(
        r['encrypted_password'], cluster_uuid,
        keys=[dep.pki_key]).decode()) for r in rows]


def _keystone(dep, method, path, token):
    return requests.request(method, dep.sim_url + '/identity/v3' + path,
                            headers={'X-Auth-Token': token}, timeout=10)


def _trust_login(dep, row):
    """What a node's cloud provider does with its credential."""
    return requests.post(dep.sim_url + '/identity/v3/auth/tokens', json={
        'auth': {'identity': {'methods': ['password'], 'password': {
            'user': {'id': row['user_id'], 'password': row['password']}}},
            'scope': {'OS-TRUST:trust': {'id': row['trust_id']}}}},
        timeout=10)


def _cli(dep, *args):
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
           'HOME': os.environ.get('HOME', '/tmp'),
           'OS_AUTH_TYPE': 'password',
           'OS_AUTH_URL': dep.sim_url + '/identity/v3',
           'OS_USERNAME': 'demo', 'OS_PASSWORD': 'caas',
           'OS_PROJECT_NAME': 'demo', 'OS_USER_DOMAIN_NAME': 'Default',
           'OS_PROJECT_DOMAIN_NAME': 'Default',
           'OS_IDENTITY_API_VERSION': '3'}
    proc = subprocess.run([OPENSTACK, 'coe'] + list(args), env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.skipif(
    microversions.MAX_VERSION < microversions.CREDENTIAL_ROTATION,
    reason='the maximum microversion is below 1.12: the CLI (which asks '
           'for "latest") gets Magnum\'s 406 until it is raised')
def test_credential_rotate_with_the_cli(deploy):
    dep = deploy(conductors=1, boot_delay=0.2, auth_strategy='keystone')
    demo = _magnum(dep, 'demo', 'demo')
    tmpl = helpers.make_template(demo)
    cluster = demo.clusters.create(name='mine', cluster_template_id=tmpl.uuid,
                                   node_count=1)
    helpers.wait_status(demo, cluster.uuid, 'CREATE_COMPLETE')
    service = _token(dep, 'caas', 'service')
    demo_id = _keystone(dep, 'GET', '/users?name=demo', service).json()[
        'users'][0]['id']

    (old,) = _trustees(dep, cluster.uuid)
    assert old['state'] == 'current' and old['trustor_user_id'] == demo_id
    trust = _keystone(dep, 'GET', '/OS-TRUST/trusts/%s' % old['trust_id'],
                      service).json()['trust']
    assert trust['trustor_user_id'] == demo_id
    assert trust['trustee_user_id'] == old['user_id']
    assert _trust_login(dep, old).status_code == 201

    out = _cli(dep, 'credential', 'rotate', 'mine')
    assert out.strip() == ('Request to rotate credentials for cluster %s '
                           'accepted.' % cluster.uuid)
    done = helpers.wait_status(demo, cluster.uuid, 'UPDATE_COMPLETE')
    assert done.status_reason in (None, '')

    (new,) = _trustees(dep, cluster.uuid)
    assert new['trust_id'] != old['trust_id']
    assert new['user_id'] != old['user_id']
    assert new['password'] != old['password']
    assert new['trustor_user_id'] == demo_id
    login = _trust_login(dep, new)
    assert login.status_code == 201, login.text
    assert login.json()['token']['user']['id'] == demo_id
    assert _trust_login(dep, old).status_code == 401
    assert _keystone(dep, 'GET', '/OS-TRUST/trusts/%s' % old['trust_id'],
                     service).status_code == 404

    for name in ('api', 'conductor-0', 'cloudsim'):
        text = dep.logs(name)
        assert old['password'] not in text and new['password'] not in text

    demo.clusters.delete(cluster.uuid)
    helpers.wait_status(demo, cluster.uuid, 'gone')
    assert _keystone(dep, 'GET', '/OS-TRUST/trusts/%s' % new['trust_id'],
                     service).status_code == 404
    users = _keystone(dep, 'GET', '/users', service).json()['users']
    assert [u for u in users
            if u['name'].startswith('caas-%s' % cluster.uuid)] == []
