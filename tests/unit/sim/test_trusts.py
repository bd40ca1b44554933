"""The simulated Keystone's OS-TRUST API and trustee users, through
python-keystoneclient and plain HTTP: Keystone's rules that caas and the
nodes' cloud provider depend on are kept."""

import pytest
import requests
from keystoneclient.v3 import client as ks_client

from caas.sim import server as sim_server
from tests.unit.sim.test_cloudsim import assert_store_matches
from tests.unit.sim.test_cloudsim import make_session


@pytest.fixture
def cloud(tmp_path):
    srv = sim_server.SimServer(port=0, state_dir=str(tmp_path))
    srv.start()
    yield srv
    srv.stop()
    # Users, passwords and trusts persist one record at a time.
    assert_store_matches(srv.cloud, str(tmp_path))


def _ks(srv, user='caas', project='service'):
    return ks_client.Client(session=make_session(srv, user, project))


def _login(srv, user_id, password, trust_id=None, project=None):
    auth = {'identity': {'methods': ['password'], 'password': {'user': {
        'id': user_id, 'password': password}}}}
    if trust_id:
        auth['scope'] = {'OS-TRUST:trust': {'id': trust_id}}
    elif project:
        auth['scope'] = {'project': {'id': project}}
    return requests.post(srv.auth_url + '/auth/tokens',
                         json={'auth': auth}, timeout=10)


@pytest.fixture
def trustee(cloud):
    return _ks(cloud).users.create(name='trustee-1', domain='default',
                                   password='s3cret-pw')


def _demo(cloud):
    demo = cloud.cloud.user_by_name('demo')
    return demo['id'], demo['default_project_id']


def test_a_user_made_with_a_password_logs_in_with_it_only(cloud, trustee):
    assert _login(cloud, trustee.id, 's3cret-pw').status_code == 201
    assert _login(cloud, trustee.id, 'caas').status_code == 401
    # Kept as a salted digest, never as text.
    assert 's3cret-pw' not in repr(cloud.cloud.data['users'])
    assert cloud.cloud.data['users'][trustee.id]['password_hash']
    _ks(cloud).users.update(trustee.id, password='other-pw')
    assert _login(cloud, trustee.id, 's3cret-pw').status_code == 401
    assert _login(cloud, trustee.id, 'other-pw').status_code == 201


def test_users_are_found_by_name_and_a_duplicate_is_a_409(cloud, trustee):
    ks = _ks(cloud)
    assert [u.id for u in ks.users.list(name='trustee-1',
                                        domain='default')] == [trustee.id]
    with pytest.raises(Exception) as err:
        ks.users.create(name='trustee-1', domain='default', password='x')
    assert getattr(err.value, 'http_status', None) == 409


def test_a_member_may_not_manage_users(cloud):
    with pytest.raises(Exception) as err:
        _ks(cloud, 'demo', 'demo').users.create(name='x', domain='default')
    assert getattr(err.value, 'http_status', None) == 403


def test_only_the_trustors_own_token_creates_a_trust(cloud, trustee):
    demo_id, demo_project = _demo(cloud)
    with pytest.raises(Exception) as err:
        _ks(cloud).trusts.create(trustee_user=trustee.id,
                                 trustor_user=demo_id, project=demo_project,
                                 role_names=['member'], impersonation=True)
    assert getattr(err.value, 'http_status', None) == 403
    with pytest.raises(Exception) as err:
        _ks(cloud, 'demo', 'demo').trusts.create(
            trustee_user=trustee.id, trustor_user=demo_id,
            project=demo_project, role_names=['admin'], impersonation=True)
    assert getattr(err.value, 'http_status', None) == 403   # not demo's role
    trust = _ks(cloud, 'demo', 'demo').trusts.create(
        trustee_user=trustee.id, trustor_user=demo_id, project=demo_project,
        role_names=['member'], impersonation=True)
    assert trust.trustor_user_id == demo_id
    assert [t.id for t in _ks(cloud).trusts.list(
        trustee_user=trustee.id)] == [trust.id]


def test_the_trustee_gets_the_trustors_token_with_the_trusts_roles(
        cloud, trustee):
    demo_id, demo_project = _demo(cloud)
    trust = _ks(cloud, 'demo', 'demo').trusts.create(
        trustee_user=trustee.id, trustor_user=demo_id, project=demo_project,
        role_names=['reader'], impersonation=True)
    resp = _login(cloud, trustee.id, 's3cret-pw', trust_id=trust.id)
    assert resp.status_code == 201, resp.text
    token = resp.json()['token']
    assert token['user']['id'] == demo_id
    assert token['project']['id'] == demo_project
    assert [r['name'] for r in token['roles']] == ['reader']
    assert token['OS-TRUST:trust']['id'] == trust.id
    # Someone else (with the right password for themselves) may not.
    other = _ks(cloud).users.create(name='other', domain='default',
                                    password='pw-2')
    assert _login(cloud, other.id, 'pw-2',
                  trust_id=trust.id).status_code == 401
    # Deleting the trust revokes the token issued from it.
    subject = resp.headers['X-Subject-Token']
    _ks(cloud).trusts.delete(trust.id)
    assert cloud.cloud.token(subject) is None
    assert _login(cloud, trustee.id, 's3cret-pw',
                  trust_id=trust.id).status_code == 401


def test_deleting_a_user_deletes_its_trusts(cloud, trustee):
    demo_id, demo_project = _demo(cloud)
    trust = _ks(cloud, 'demo', 'demo').trusts.create(
        trustee_user=trustee.id, trustor_user=demo_id, project=demo_project,
        role_names=['member'], impersonation=True)
    _ks(cloud).users.delete(trustee.id)
    assert trust.id not in cloud.cloud.data['trusts']
    assert trustee.id not in cloud.cloud.data['users']


def test_a_hidden_stack_parameter_is_shown_masked(cloud):
    from heatclient import client as heat_client
    heat = heat_client.Client('1', session=make_session(cloud))
    created = heat.stacks.create(stack_name='s', template={
        'heat_template_version': '2021-04-16',
        'parameters': {'pw': {'type': 'string', 'hidden': True},
                       'name': {'type': 'string'}},
        'resources': {}}, parameters={'pw': 'hush', 'name': 'n'})
    params = heat.stacks.get(created['stack']['id']).parameters
    assert params['pw'] == '******' and params['name'] == 'n'
