"""The simulated Nova's keypairs: per user, and shaped by the microversion
asked (what tempest's response schemas check)."""

import pytest
import requests
from novaclient import client as nova_client
from novaclient import exceptions as nova_exc

from caas.sim import server as sim_server
from tests.unit.sim.test_keystone_admin import session

KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDtest test@example'


@pytest.fixture
def cloud(tmp_path):
    srv = sim_server.SimServer(port=0, state_dir=str(tmp_path),
                               server_boot_delay=0.05)
    srv.start()
    yield srv
    srv.stop()


def nova(srv, user, project, version='2.1'):
    return nova_client.Client(version, session=session(srv, user, project))


def call(srv, user, project, method, path, version, json=None):
    sess = session(srv, user, project)
    return requests.request(
        method, srv.url + '/compute/v2.1' + path, json=json, timeout=10,
        headers={'X-Auth-Token': sess.get_token(),
                 'X-OpenStack-Nova-API-Version': version})


def test_two_users_own_the_same_name(cloud):
    demo, admin = nova(cloud, 'demo', 'demo'), nova(cloud, 'admin', 'admin')
    demo.keypairs.create('mine', public_key=KEY)
    with pytest.raises(nova_exc.NotFound):
        admin.keypairs.get('mine')
    admin.keypairs.create('mine', public_key=KEY)
    assert demo.keypairs.get('mine').user_id != \
        admin.keypairs.get('mine').user_id
    demo.keypairs.delete('mine')
    assert admin.keypairs.get('mine').name == 'mine'
    with pytest.raises(nova_exc.Conflict):
        admin.keypairs.create('mine', public_key=KEY)
    assert [k.name for k in demo.keypairs.list()] == ['default']


def test_shapes_at_2_1(cloud):
    created = call(cloud, 'demo', 'demo', 'POST', '/os-keypairs', '2.1',
                   {'keypair': {'name': 'k', 'public_key': KEY}})
    assert created.status_code == 200
    assert set(created.json()['keypair']) == {
        'name', 'public_key', 'fingerprint', 'user_id'}
    shown = call(cloud, 'demo', 'demo', 'GET', '/os-keypairs/k', '2.1')
    assert 'type' not in shown.json()['keypair']
    assert shown.json()['keypair']['user_id'] == created.json()[
        'keypair']['user_id']
    listed = call(cloud, 'demo', 'demo', 'GET', '/os-keypairs', '2.1')
    assert {'name', 'public_key', 'fingerprint'} == set(
        listed.json()['keypairs'][0]['keypair'])
    bad = call(cloud, 'demo', 'demo', 'POST', '/os-keypairs', '2.1',
               {'keypair': {'name': 'x', 'public_key': KEY, 'type': 'ssh'}})
    assert bad.status_code == 400
    deleted = call(cloud, 'demo', 'demo', 'DELETE', '/os-keypairs/k', '2.1')
    assert deleted.status_code == 202


def test_shapes_at_2_2(cloud):
    created = call(cloud, 'demo', 'demo', 'POST', '/os-keypairs', '2.2',
                   {'keypair': {'name': 'k', 'type': 'x509'}})
    assert created.status_code == 201
    body = created.json()['keypair']
    assert body['type'] == 'x509' and 'private_key' in body
    listed = call(cloud, 'demo', 'demo', 'GET', '/os-keypairs', '2.2')
    assert all('type' in k['keypair'] for k in listed.json()['keypairs'])
    assert call(cloud, 'demo', 'demo', 'DELETE', '/os-keypairs/k',
                '2.2').status_code == 204


def test_only_an_admin_names_another_user(cloud):
    demo_id = session(cloud, 'demo', 'demo').get_user_id()
    as_admin = call(cloud, 'admin', 'admin', 'GET',
                    '/os-keypairs/default?user_id=%s' % demo_id, '2.10')
    assert as_admin.json()['keypair']['user_id'] == demo_id
    as_member = call(cloud, 'caas', 'service', 'GET',
                     '/os-keypairs/default?user_id=%s' % demo_id, '2.10')
    assert as_member.status_code == 403


def test_a_server_boots_with_the_callers_keypair(cloud):
    demo, admin = nova(cloud, 'demo', 'demo'), nova(cloud, 'admin', 'admin')
    demo.keypairs.create('only-demo', public_key=KEY)
    with pytest.raises(nova_exc.BadRequest):
        admin.servers.create('vm', None, '2', key_name='only-demo')
    assert demo.servers.create('vm', None, '2', key_name='only-demo').id
