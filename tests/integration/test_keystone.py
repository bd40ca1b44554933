"""auth_strategy = keystone: keystonemiddleware validates real tokens issued
by the simulated Keystone, and python-magnumclient finds caas through the
service catalog, as it does on a cloud. Projects are isolated, a reader
changes nothing and a token without a project sees nothing."""

import pytest
import requests
import sqlalchemy as sa
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from magnumclient import client as magnum_client
from magnumclient import exceptions as mc_exc

from tests.integration import helpers

pytestmark = pytest.mark.integration


def _magnum(dep, user, project):
    auth = v3.Password(auth_url=dep.sim_url + '/identity/v3', username=user,
                       password='caas', project_name=project,
                       user_domain_name='Default',
                       project_domain_name='Default')
    return magnum_client.Client('1', session=ks_session.Session(auth=auth),
                                api_version='latest')


def _token(dep, user, project=None):
    """A token from the simulated Keystone; unscoped without a project."""
    auth = {'identity': {'methods': ['password'], 'password': {'user': {
        'name': user, 'domain': {'name': 'Default'}, 'password': 'caas'}}}}
    if project:
        auth['scope'] = {'project': {'name': project,
                                     'domain': {'name': 'Default'}}}
    resp = requests.post(dep.sim_url + '/identity/v3/auth/tokens',
                         json={'auth': auth}, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.headers['X-Subject-Token']


def _call(dep, method, path, token, json=None, headers=None):
    hdrs = {'X-Auth-Token': token,
            'OpenStack-API-Version': 'container-infra latest'}
    hdrs.update(headers or {})
    return requests.request(method, dep.api_url + path, json=json,
                            headers=hdrs, timeout=30)


def _rows(db_url):
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {table: sorted(str(tuple(r)) for r in conn.execute(
                sa.text('SELECT * FROM %s' % table)))
                for table in ('clusters', 'cluster_templates', 'nodegroups',
                              'operations')}
    finally:
        engine.dispose()


def test_tokens_are_validated_and_projects_isolated(deploy):
    dep = deploy(conductors=1, boot_delay=0.2, auth_strategy='keystone')
    assert requests.get(dep.api_url + '/v1/clusters',
                        timeout=10).status_code == 401
    assert requests.get(dep.api_url + '/v1/clusters', timeout=10,
                        headers={'X-Auth-Token': 'forged'}).status_code == 401
    # The version documents need no token (Magnum's rule), even a forged one.
    for path in ('/', '/v1'):
        resp = requests.get(dep.api_url + path, timeout=10)
        assert resp.status_code == 200, path
        assert requests.get(dep.api_url + path, timeout=10, headers={
            'X-Auth-Token': 'forged'}).status_code == 200, path

    demo = _magnum(dep, 'demo', 'demo')
    tmpl = helpers.make_template(demo)
    cluster = demo.clusters.create(name='mine', cluster_template_id=tmpl.uuid,
                                   node_count=1)
    done = helpers.wait_status(demo, cluster.uuid, 'CREATE_COMPLETE')
    assert done.project_id != 'admin'

    # Another project neither sees nor touches it, nor uses the template.
    other = _magnum(dep, 'caas', 'service')
    assert other.clusters.list() == []
    assert other.cluster_templates.list() == []
    with pytest.raises(mc_exc.NotFound):
        other.clusters.get(cluster.uuid)
    with pytest.raises(mc_exc.BadRequest):
        other.clusters.create(name='theirs', cluster_template_id=tmpl.uuid,
                              node_count=1)
    # Identity headers a client sends are replaced by the token's.
    service = _token(dep, 'caas', 'service')
    assert _call(dep, 'GET', '/v1/clusters/%s' % cluster.uuid, service,
                 headers={'X-Project-Id': done.project_id,
                          'X-Roles': 'admin'}).status_code == 404

    before = _rows(dep.db_url)
    # A token without a project, even the admin user's, is refused.
    for user in ('demo', 'admin'):
        unscoped = _token(dep, user)
        for method, path, body in [
                ('GET', '/v1/clusters', None),
                ('GET', '/v1/clusters/detail?all_projects=true', None),
                ('GET', '/v1/clustertemplates/detail', None),
                ('GET', '/v1/clusters/%s' % cluster.uuid, None),
                ('POST', '/v1/clusters', {'name': 'x', 'cluster_template_id':
                                          tmpl.uuid, 'node_count': 1}),
                ('DELETE', '/v1/clusters/%s' % cluster.uuid, None)]:
            resp = _call(dep, method, path, unscoped, json=body)
            assert resp.status_code == 403, (user, method, path, resp.text)

    # A reader of the project lists and shows, and changes nothing.
    viewer = _token(dep, 'viewer', 'demo')
    listed = _call(dep, 'GET', '/v1/clusters', viewer).json()['clusters']
    assert [c['uuid'] for c in listed] == [cluster.uuid]
    for method, path, body in [
            ('PATCH', '/v1/clusters/%s' % cluster.uuid,
             [{'op': 'replace', 'path': '/node_count', 'value': 2}]),
            ('POST', '/v1/clusters/%s/actions/resize' % cluster.uuid,
             {'node_count': 2}),
            ('DELETE', '/v1/clusters/%s' % cluster.uuid, None),
            ('DELETE', '/v1/clustertemplates/%s' % tmpl.uuid, None),
            ('POST', '/v1/clustertemplates', {'name': 'r', 'coe':
                                              'kubernetes', 'image_id':
                                              'ubuntu-jammy'})]:
        resp = _call(dep, method, path, viewer, json=body)
        assert resp.status_code == 403, (method, path, resp.text)
    assert _rows(dep.db_url) == before

    # An administrator lists its own project, and every project on request.
    admin = _token(dep, 'admin', 'admin')
    assert _call(dep, 'GET', '/v1/clusters', admin).json()['clusters'] == []
    every = _call(dep, 'GET', '/v1/clusters?all_projects=true',
                  admin).json()['clusters']
    assert [c['uuid'] for c in every] == [cluster.uuid]
    assert _call(dep, 'GET', '/v1/clusters/%s' % cluster.uuid,
                 admin).status_code == 200


def test_a_clusters_keypair_is_the_requesting_users(deploy):
    """Users made through the simulated Keystone's admin API work with
    caas at once, and Nova keypairs are per user: a cluster may use the
    requesting user's keypair, never another user's of the same name."""
    from keystoneclient.v3 import client as ks_client
    from novaclient import client as nova_client

    dep = deploy(conductors=1, boot_delay=0.2, auth_strategy='keystone')
    admin_auth = v3.Password(auth_url=dep.sim_url + '/identity/v3',
                             username='admin', password='caas',
                             project_name='admin',
                             user_domain_name='Default',
                             project_domain_name='Default')
    keystone = ks_client.Client(session=ks_session.Session(auth=admin_auth))
    project = keystone.projects.create('kp', domain='default')
    member = keystone.roles.list(name='member')[0]
    sessions = {}
    for name in ('alice', 'bob'):
        user = keystone.users.create(name, domain='default',
                                     password='pw-' + name)
        keystone.roles.grant(member, user=user, project=project)
        sessions[name] = ks_session.Session(auth=v3.Password(
            auth_url=dep.sim_url + '/identity/v3', username=name,
            password='pw-' + name, project_name='kp',
            user_domain_name='Default', project_domain_name='Default'))
    nova_client.Client('2.1', session=sessions['alice']).keypairs.create(
        'mine', public_key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA alice')

    alice = magnum_client.Client('1', session=sessions['alice'],
                                 api_version='latest')
    bob = magnum_client.Client('1', session=sessions['bob'],
                               api_version='latest')
    tmpl = alice.cluster_templates.create(
        name='kp', coe='kubernetes', image_id='ubuntu-jammy',
        flavor_id='m1.small', master_flavor_id='m1.small',
        keypair_id='mine', external_network_id='public')
    with pytest.raises(mc_exc.BadRequest, match='mine'):
        bob.clusters.create(name='bobs', cluster_template_id=tmpl.uuid,
                            keypair='mine', node_count=1)
    cluster = alice.clusters.create(name='alices', node_count=1,
                                    cluster_template_id=tmpl.uuid)
    done = helpers.wait_status(alice, cluster.uuid, 'CREATE_COMPLETE')
    assert done.keypair == 'mine'
