"""The simulated Keystone's identity admin API, driven by the real
python-keystoneclient: what tempest's dynamic credentials do (a fresh
project with admin, member and reader users) and what must be refused."""

import pytest
import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import identity
from keystoneauth1 import session as ks_session
from keystoneclient import exceptions as kc_exc
from keystoneclient.v3 import client as ks_client
from novaclient import client as nova_client

from caas.sim import server as sim_server
from tests.unit.sim.test_cloudsim import assert_store_matches


@pytest.fixture
def cloud(tmp_path):
    srv = sim_server.SimServer(port=0, state_dir=str(tmp_path))
    srv.start()
    yield srv
    srv.stop()
    assert_store_matches(srv.cloud, str(tmp_path))


def session(srv, user, project, password='caas'):
    return ks_session.Session(auth=identity.v3.Password(
        auth_url=srv.auth_url, username=user, password=password,
        project_name=project, user_domain_name='Default',
        project_domain_name='Default'))


@pytest.fixture
def admin(cloud):
    return ks_client.Client(session=session(cloud, 'admin', 'admin'))


def roles_of(srv, user, project, password):
    return session(srv, user, project, password).auth.get_access(
        session(srv, user, project, password)).role_names


def make_project_with_personas(admin):
    """tempest's dynamic credentials, step by step."""
    domain = admin.domains.list(name='Default')[0]
    project = admin.projects.create('tempest-p', domain=domain.id)
    roles = {r.name: r for r in admin.roles.list()}
    if 'creator' not in roles:
        roles['creator'] = admin.roles.create('creator')
    users = {}
    for persona in ('admin', 'member', 'reader'):
        user = admin.users.create('tempest-%s' % persona, domain=domain.id,
                                  password='pw-%s' % persona,
                                  default_project=project.id,
                                  email='x@example.com')
        admin.roles.grant(roles[persona], user=user, project=project)
        users[persona] = user
    return project, users, roles


def test_dynamic_credentials_flow(cloud, admin):
    project, users, roles = make_project_with_personas(admin)
    # Implied roles: admin -> member -> reader, per assignment.
    assert roles_of(cloud, 'tempest-admin', 'tempest-p', 'pw-admin') == [
        'admin', 'member', 'reader']
    assert roles_of(cloud, 'tempest-member', 'tempest-p', 'pw-member') == [
        'member', 'reader']
    assert roles_of(cloud, 'tempest-reader', 'tempest-p', 'pw-reader') == [
        'reader']
    assert admin.roles.check(roles['member'], user=users['member'],
                             project=project)
    assigned = admin.role_assignments.list(user=users['member'],
                                           project=project)
    assert [a.role['id'] for a in assigned] == [roles['member'].id]
    effective = admin.role_assignments.list(user=users['admin'],
                                            project=project, effective=True)
    assert sorted(a.role['id'] for a in effective) == sorted(
        roles[n].id for n in ('admin', 'member', 'reader'))
    assert admin.users.get(users['reader'].id).default_project_id == \
        project.id
    # A user's password is theirs: the shared seed password does not work.
    with pytest.raises(ks_exc.Unauthorized):
        roles_of(cloud, 'tempest-member', 'tempest-p', 'caas')
    # Clean-up as tempest does it: users, then the project.
    for user in users.values():
        admin.users.delete(user)
    admin.projects.delete(project)
    with pytest.raises(kc_exc.NotFound):
        admin.projects.get(project.id)
    with pytest.raises(ks_exc.Unauthorized):
        roles_of(cloud, 'tempest-member', 'tempest-p', 'pw-member')


def test_a_user_without_a_role_on_a_project_cannot_scope_to_it(cloud,
                                                                admin):
    project = admin.projects.create('lonely', domain='default')
    admin.users.create('nobody', domain='default', password='pw')
    with pytest.raises(ks_exc.Unauthorized):
        roles_of(cloud, 'nobody', 'lonely', 'pw')
    # The seeded member of "service" is not a member of "demo" either.
    with pytest.raises(ks_exc.Unauthorized):
        roles_of(cloud, 'caas', 'demo', 'caas')
    del project


def test_revoking_a_role_takes_it_from_new_tokens(cloud, admin):
    project, users, roles = make_project_with_personas(admin)
    admin.roles.grant(roles['reader'], user=users['member'], project=project)
    admin.roles.revoke(roles['member'], user=users['member'],
                       project=project)
    assert roles_of(cloud, 'tempest-member', 'tempest-p', 'pw-member') == [
        'reader']
    with pytest.raises(kc_exc.NotFound):
        admin.roles.check(roles['member'], user=users['member'],
                          project=project)


def test_password_update_then_authenticates(cloud, admin):
    user = admin.users.create('pat', domain='default', password='old')
    project = admin.projects.create('pats', domain='default')
    admin.roles.grant(admin.roles.list(name='member')[0], user=user,
                      project=project)
    admin.users.update(user, password='new')
    assert roles_of(cloud, 'pat', 'pats', 'new') == ['member', 'reader']
    with pytest.raises(ks_exc.Unauthorized):
        roles_of(cloud, 'pat', 'pats', 'old')


def test_duplicates_are_409(admin):
    admin.users.create('twin', domain='default', password='x')
    with pytest.raises(kc_exc.Conflict):
        admin.users.create('twin', domain='default', password='y')
    admin.projects.create('twinp', domain='default')
    with pytest.raises(kc_exc.Conflict):
        admin.projects.create('twinp', domain='default')


@pytest.mark.parametrize('user,project', [('demo', 'demo'),
                                          ('caas', 'service'),
                                          ('viewer', 'demo')])
def test_the_admin_api_is_admin_only(cloud, user, project):
    other = ks_client.Client(session=session(cloud, user, project))
    if user != 'caas':
        # caas's service user manages its trustee users (caas.sim.trusts)
        # and nothing else of the admin API.
        with pytest.raises(kc_exc.Forbidden):
            other.users.create('intruder', domain='default', password='x')
    with pytest.raises(kc_exc.Forbidden):
        other.projects.list()
    with pytest.raises(kc_exc.Forbidden):
        other.role_assignments.list()
    with pytest.raises(kc_exc.Forbidden):
        other.roles.grant('admin' + '0' * 27,
                          user=other.session.get_user_id(),
                          project='0a1b2c3d4e5f40000000000000000001')
    # Users may read themselves.
    me = other.session.get_user_id()
    assert other.users.get(me).name == user


def test_bad_bodies_are_400(cloud, admin):
    token = admin.session.get_token()
    for path, body in [('/users', {'user': {'password': 'x'}}),
                       ('/users', {'user': 'bob'}),
                       ('/projects', {'project': {'name': ''}}),
                       ('/roles', {})]:
        resp = requests.post(cloud.auth_url + path, json=body,
                             headers={'X-Auth-Token': token}, timeout=10)
        assert resp.status_code == 400, (path, resp.text)
        assert resp.json()['error']['code'] == 400


def test_deleting_a_user_keeps_their_keypairs_as_nova_does(cloud, admin):
    project, users, _roles = make_project_with_personas(admin)
    nova = nova_client.Client('2.1', session=session(
        cloud, 'tempest-member', 'tempest-p', 'pw-member'))
    nova.keypairs.create('k', public_key='ssh-ed25519 AAAA k')
    admin.users.delete(users['member'])
    # Keystone does not tell Nova; the keypair stays (Nova's behaviour).
    with cloud.cloud.lock:
        assert [k for k in cloud.cloud.data['keypairs'].values()
                if k['user_id'] == users['member'].id]
    del project


def test_a_revoked_token_lives_on_in_a_services_cache_only(cloud, admin):
    """keystonemiddleware in Nova caches a validated token (token_cache_time):
    after Keystone revokes it, Nova still accepts it for a while, Keystone
    does not, and a service that never validated it refuses it."""
    project, users, _roles = make_project_with_personas(admin)
    sess = session(cloud, 'tempest-member', 'tempest-p', 'pw-member')
    token = sess.get_token()
    nova_url = cloud.url + '/compute/v2.1/os-keypairs'
    heat_url = cloud.url + '/heat/v1/%s/stacks' % project.id
    hdrs = {'X-Auth-Token': token}
    assert requests.get(nova_url, headers=hdrs, timeout=10).status_code == 200
    admin.users.delete(users['member'])
    assert requests.get(nova_url, headers=hdrs, timeout=10).status_code == 200
    assert requests.get(heat_url, headers=hdrs, timeout=10).status_code == 401
    check = requests.get(cloud.auth_url + '/auth/tokens', timeout=10,
                         headers={'X-Auth-Token': admin.session.get_token(),
                                  'X-Subject-Token': token})
    assert check.status_code == 404
    cloud.cloud.knobs['token_cache_time'] = 0.0
    assert requests.get(nova_url, headers=hdrs, timeout=10).status_code == 401
