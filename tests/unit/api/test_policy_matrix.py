"""Who gets what: every endpoint and method, every kind of caller.

The app runs with ``auth_strategy = keystone`` behind a stand-in for
keystonemiddleware that turns a token into the identity headers the real
one sets (and strips any a client sent), so a token without a project
arrives exactly as in production: with no ``X-Project-Id`` at all.

Callers: a member and a reader of project A, a member of project B, a
token with roles but no project, a system-scoped administrator (no
project), an administrator of project C with and without
``all_projects=true``, and A's member asking for ``all_projects``.

For each (endpoint, caller) the exact status is asserted; on any refusal
the stored rows are compared with a snapshot taken before and no RPC cast
may have been sent. Endpoints come from the Flask url_map: a new endpoint
without a row here fails ``test_every_endpoint_is_in_the_matrix``.

Another project's cluster or private template is a 404 (it is not there
for that caller, as in Magnum); a resource the caller can see but may not
change is a 403.
"""

import contextlib
import json
import sqlite3

import pytest
import sqlalchemy as sa
from keystonemiddleware import auth_token

from caas.api import app as api_app
from caas.api import microversions
from caas.common import policy
from caas.conf import CONF
from caas.db import migration
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.drivers.fake import driver as fake_driver
from tests.unit.api import conftest as api_conftest
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import template_body
from tests.unit.pki import helpers as pki_helpers

# token -> identity (what Keystone would have put in the token)
TOKENS = {
    'member-a': {'project': 'project-a', 'user': 'alice',
                 'roles': 'member,reader'},
    'reader-a': {'project': 'project-a', 'user': 'rita', 'roles': 'reader'},
    'member-b': {'project': 'project-b', 'user': 'bob',
                 'roles': 'member,reader'},
    'no-project': {'project': None, 'user': 'nemo',
                   'roles': 'admin,member,reader'},
    'system-admin': {'project': None, 'user': 'root',
                     'roles': 'admin,member,reader', 'system': 'all'},
    'admin-c': {'project': 'project-c', 'user': 'carol',
                'roles': 'admin,member,reader'},
}

# caller -> (token, extra query string)
CALLERS = {
    'member_a': ('member-a', ''),
    'reader_a': ('reader-a', ''),
    'member_b': ('member-b', ''),
    'no_project': ('no-project', ''),
    'system_admin': ('system-admin', ''),
    'admin_c': ('admin-c', ''),
    'admin_c_all': ('admin-c', 'all_projects=true'),
    'member_a_all': ('member-a', 'all_projects=true'),
}

FakeAuthToken = api_conftest.fake_auth_token(TOKENS)

SECRET_A = 'secret-of-a'
SECRET_PUBLIC = 'secret-of-c'


def _build(rpc, cloud, find_driver):
    return api_conftest.Api(api_app.build_app(
        CONF, rpcapi=rpc, cloud=cloud, find_driver=find_driver))


def _as(token, extra=None):
    headers = {'X-Auth-Token': token}
    headers.update(LATEST)
    headers.update(extra or {})
    return headers


@contextlib.contextmanager
def _keystone_mode(database_url):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(auth_token, 'AuthProtocol', FakeAuthToken)
        CONF.set_override('auth_strategy', 'keystone')
        CONF.set_override('validate_references', True, group='cloud')
        CONF.set_override('connection', database_url, group='database')
        CONF.set_override('encryption_keys', [api_conftest.PKI_KEY],
                          group='pki')
        CONF.set_override('event_stream_lifetime', 0.1, group='api')
        engine.dispose()
        policy.reset()
        try:
            yield
        finally:
            engine.dispose()
            policy.reset()
            CONF.clear_override('auth_strategy')
            CONF.clear_override('validate_references', group='cloud')
            CONF.clear_override('connection', group='database')
            CONF.clear_override('encryption_keys', group='pki')
            CONF.clear_override('event_stream_lifetime', group='api')


def _make_world(kapi):
    def make_template(token, **kw):
        resp = kapi.post('/v1/clustertemplates', template_body(**kw),
                         headers=_as(token))
        assert resp.status_code == 201, resp.json_body
        return resp.json_body
    w = {
        'tpl_a': make_template(
            'member-a', name='tpl-a',
            http_proxy='http://alice:%s@proxy.a:3128' % SECRET_A),
        # A newer image: what the cluster can be upgraded to.
        'spare_a': make_template('member-a', name='spare-a',
                                 image_id='ubuntu'),
        'public': make_template(
            'admin-c', name='tpl-public', public=True,
            https_proxy='http://carol:%s@proxy.c:3128' % SECRET_PUBLIC),
        'hidden': make_template('admin-c', name='tpl-hidden', public=True,
                                hidden=True),
    }
    resp = kapi.post('/v1/quotas', {'project_id': 'project-a',
                                    'hard_limit': 10},
                     headers=_as('admin-c'))
    assert resp.status_code == 201, resp.json_body
    resp = kapi.post('/v1/clusters', {'name': 'cl-a', 'cluster_template_id':
                                      w['tpl_a']['uuid'], 'node_count': 1},
                     headers=_as('member-a'))
    assert resp.status_code == 202, resp.json_body
    w['cluster'] = resp.json_body['uuid']
    # Its CAs, as its create's conductor makes them.
    pki_helpers.conductor_makes_cas(w['cluster'])
    api_conftest.settle(w['cluster'])
    resp = kapi.post('/v1/clusters/%s/nodegroups' % w['cluster'],
                     {'name': 'ng-a', 'node_count': 1},
                     headers=_as('member-a'))
    assert resp.status_code == 202, resp.json_body
    api_conftest.settle(w['cluster'])
    return w


def _find_driver(server_type, os_distro, coe, explicit=None):
    return fake_driver.FakeDriver()


@pytest.fixture(scope='module')
def world_file(tmp_path_factory):
    """Made once per module: project A's private template and settled
    cluster, a spare template of A, and project C's public and
    public-but-hidden templates (each test gets a copy)."""
    path = tmp_path_factory.mktemp('world') / 'world.sqlite'
    with _keystone_mode('sqlite:///%s' % path):
        migration.upgrade()
        world = _make_world(_build(api_conftest.FakeRpc(),
                                   api_conftest.FakeCloud(), _find_driver))
    return path, world


@pytest.fixture
def world(world_file, tmp_path):
    source, world = world_file
    target = tmp_path / 't.sqlite'
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    with _keystone_mode('sqlite:///%s' % target):
        yield world


@pytest.fixture
def kapi(world, rpc, cloud, drivers):
    return _build(rpc, cloud, drivers)


def snapshot():
    """Every stored row of the API's tables, in a comparable form."""
    tables = (models.ClusterTemplate, models.Cluster, models.NodeGroup,
              models.Operation, models.ClusterCA, models.Quota)
    with engine.session_scope(readonly=True) as session:
        return {model.__tablename__: sorted(
            json.dumps(row.as_dict(), sort_keys=True, default=str)
            for row in session.scalars(sa.select(model)))
            for model in tables}


def _names(resp, key):
    return sorted(item['name'] for item in resp.json_body[key])


# Each endpoint: (method, url_map rule) -> (path builder, body builder,
# {caller: status}). Path builders get the world.
ALL_READ = {'member_a': 200, 'reader_a': 200, 'member_b': 404,
            'no_project': 403, 'system_admin': 403, 'admin_c': 200,
            'admin_c_all': 200, 'member_a_all': 200}


def _change(ok):
    return {'member_a': ok, 'reader_a': 403, 'member_b': 404,
            'no_project': 403, 'system_admin': 403, 'admin_c': ok,
            'admin_c_all': ok, 'member_a_all': ok}


LIST = {'member_a': 200, 'reader_a': 200, 'member_b': 200,
        'no_project': 403, 'system_admin': 403, 'admin_c': 200,
        'admin_c_all': 200, 'member_a_all': 403}
EVERYONE = dict.fromkeys(CALLERS, 200)

ADMINS_ONLY = {'member_a': 403, 'reader_a': 403, 'member_b': 403,
               'no_project': 403, 'system_admin': 403}


def _admins(ok):
    return dict(ADMINS_ONLY, admin_c=ok, admin_c_all=ok, member_a_all=403)


MATRIX = {
    ('GET', '/'): (lambda w: '/', None, EVERYONE),
    ('GET', '/v1'): (lambda w: '/v1', None, EVERYONE),
    ('GET', '/v1/openapi.json'): (lambda w: '/v1/openapi.json', None,
                                  EVERYONE),
    ('GET', '/v1/clustertemplates'): (
        lambda w: '/v1/clustertemplates', None, LIST),
    ('GET', '/v1/clustertemplates/detail'): (
        lambda w: '/v1/clustertemplates/detail', None, LIST),
    ('POST', '/v1/clustertemplates'): (
        lambda w: '/v1/clustertemplates',
        lambda w: template_body(name='new'),
        {'member_a': 201, 'reader_a': 403, 'member_b': 201,
         'no_project': 403, 'system_admin': 403, 'admin_c': 201,
         'admin_c_all': 201, 'member_a_all': 201}),
    ('GET', '/v1/clustertemplates/<ident>'): (
        lambda w: '/v1/clustertemplates/%s' % w['tpl_a']['uuid'], None,
        ALL_READ),
    ('PATCH', '/v1/clustertemplates/<ident>'): (
        lambda w: '/v1/clustertemplates/%s' % w['tpl_a']['uuid'],
        lambda w: [{'op': 'replace', 'path': '/name', 'value': 'renamed'}],
        _change(200)),
    ('DELETE', '/v1/clustertemplates/<ident>'): (
        lambda w: '/v1/clustertemplates/%s' % w['spare_a']['uuid'], None,
        _change(204)),
    ('GET', '/v1/clusters'): (lambda w: '/v1/clusters', None, LIST),
    ('GET', '/v1/clusters/detail'): (
        lambda w: '/v1/clusters/detail', None, LIST),
    # A's private template is not there for B, nor for C's administrator
    # creating in C: a 400 naming cluster_template_id, as for a typo.
    ('POST', '/v1/clusters'): (
        lambda w: '/v1/clusters',
        lambda w: {'name': 'new', 'cluster_template_id': w['tpl_a']['uuid']},
        {'member_a': 202, 'reader_a': 403, 'member_b': 400,
         'no_project': 403, 'system_admin': 403, 'admin_c': 400,
         'admin_c_all': 400, 'member_a_all': 202}),
    ('GET', '/v1/clusters/<ident>'): (
        lambda w: '/v1/clusters/%s' % w['cluster'], None, ALL_READ),
    ('PATCH', '/v1/clusters/<ident>'): (
        lambda w: '/v1/clusters/%s' % w['cluster'],
        lambda w: [{'op': 'replace', 'path': '/node_count', 'value': 2}],
        _change(202)),
    ('DELETE', '/v1/clusters/<ident>'): (
        lambda w: '/v1/clusters/%s' % w['cluster'], None, _change(204)),
    ('POST', '/v1/clusters/<ident>/actions/resize'): (
        lambda w: '/v1/clusters/%s/actions/resize' % w['cluster'],
        lambda w: {'node_count': 3}, _change(202)),
    # C's administrator may name a template of the cluster's project.
    ('POST', '/v1/clusters/<ident>/actions/upgrade'): (
        lambda w: '/v1/clusters/%s/actions/upgrade' % w['cluster'],
        lambda w: {'cluster_template': w['spare_a']['uuid'],
                   'max_batch_size': 2}, _change(202)),
    ('GET', '/v1/clusters/<ident>/nodegroups'): (
        lambda w: '/v1/clusters/%s/nodegroups' % w['cluster'], None,
        ALL_READ),
    ('GET', '/v1/clusters/<ident>/nodegroups/<nodegroup>'): (
        lambda w: '/v1/clusters/%s/nodegroups/default-worker' % w['cluster'],
        None, ALL_READ),
    ('POST', '/v1/clusters/<ident>/nodegroups'): (
        lambda w: '/v1/clusters/%s/nodegroups' % w['cluster'],
        lambda w: {'name': 'ng-new', 'node_count': 1}, _change(202)),
    ('PATCH', '/v1/clusters/<ident>/nodegroups/<nodegroup>'): (
        lambda w: '/v1/clusters/%s/nodegroups/ng-a' % w['cluster'],
        lambda w: [{'op': 'replace', 'path': '/max_node_count',
                    'value': 5}], _change(202)),
    ('DELETE', '/v1/clusters/<ident>/nodegroups/<nodegroup>'): (
        lambda w: '/v1/clusters/%s/nodegroups/ng-a' % w['cluster'], None,
        _change(204)),
    ('GET', '/v1/certificates/<ident>'): (
        lambda w: '/v1/certificates/%s' % w['cluster'], None, ALL_READ),
    # The cluster is a field of the body: another project's is a 400.
    ('POST', '/v1/certificates'): (
        lambda w: '/v1/certificates',
        lambda w: {'cluster_uuid': w['cluster'],
                   'csr': pki_helpers.make_csr()},
        {'member_a': 201, 'reader_a': 403, 'member_b': 400,
         'no_project': 403, 'system_admin': 403, 'admin_c': 201,
         'admin_c_all': 201, 'member_a_all': 201}),
    ('PATCH', '/v1/certificates/<ident>'): (
        lambda w: '/v1/certificates/%s' % w['cluster'], None, _change(202)),
    # Until the maximum microversion reaches 1.12 every caller gets
    # Magnum's 406 (tests/unit/api/test_credentials.py checks the policy
    # with the maximum raised).
    ('PATCH', '/v1/credentials/<ident>'): (
        lambda w: '/v1/credentials/%s' % w['cluster'], None,
        _change(202) if microversions.MAX_VERSION >=
        microversions.CREDENTIAL_ROTATION else dict.fromkeys(CALLERS, 406)),
    ('GET', '/v1/clusters/<ident>/events'): (
        lambda w: '/v1/clusters/%s/events' % w['cluster'], None, ALL_READ),
    ('GET', '/v1/events'): (lambda w: '/v1/events', None, LIST),
    ('GET', '/v1/events/stream'): (lambda w: '/v1/events/stream', None,
                                   LIST),
    ('GET', '/v1/conductors'): (
        lambda w: '/v1/conductors', None,
        {'member_a': 403, 'reader_a': 403, 'member_b': 403,
         'no_project': 403, 'system_admin': 200, 'admin_c': 200,
         'admin_c_all': 200, 'member_a_all': 403}),
    # Another project's counts are refused; all_projects means nothing.
    ('GET', '/v1/stats'): (
        lambda w: '/v1/stats?project_id=project-a', None,
        {'member_a': 200, 'reader_a': 200, 'member_b': 403,
         'no_project': 403, 'system_admin': 403, 'admin_c': 200,
         'admin_c_all': 200, 'member_a_all': 200}),
    ('GET', '/v1/quotas'): (lambda w: '/v1/quotas', None, _admins(200)),
    ('POST', '/v1/quotas'): (
        lambda w: '/v1/quotas',
        lambda w: {'project_id': 'project-b', 'hard_limit': 3},
        _admins(201)),
    # A project's readers see its quota; other projects get a 403.
    ('GET', '/v1/quotas/<project_id>/<resource>'): (
        lambda w: '/v1/quotas/project-a/Cluster', None,
        {'member_a': 200, 'reader_a': 200, 'member_b': 403,
         'no_project': 403, 'system_admin': 403, 'admin_c': 200,
         'admin_c_all': 200, 'member_a_all': 200}),
    ('PATCH', '/v1/quotas/<project_id>/<resource>'): (
        lambda w: '/v1/quotas/project-a/Cluster',
        lambda w: {'project_id': 'project-a', 'resource': 'Cluster',
                   'hard_limit': 5}, _admins(202)),
    ('DELETE', '/v1/quotas/<project_id>/<resource>'): (
        lambda w: '/v1/quotas/project-a/Cluster', None, _admins(204)),
    ('GET', '/v1/mservices'): (
        lambda w: '/v1/mservices', None,
        {'member_a': 403, 'reader_a': 403, 'member_b': 403,
         'no_project': 403, 'system_admin': 200, 'admin_c': 200,
         'admin_c_all': 200, 'member_a_all': 403}),
}


def _served_endpoints(flask_app):
    return {(method, rule.rule) for rule in flask_app.url_map.iter_rules()
            for method in rule.methods - {'HEAD', 'OPTIONS'}
            if rule.endpoint != 'static'}


def test_every_endpoint_is_in_the_matrix(database, rpc, cloud):
    app = api_app.build_flask_app(api_app.Services(CONF, rpcapi=rpc,
                                                   cloud=cloud))
    served = _served_endpoints(app)
    assert served == set(MATRIX), (
        'endpoints without a policy matrix row: %s; rows for endpoints '
        'that are gone: %s' % (sorted(served - set(MATRIX)),
                               sorted(set(MATRIX) - served)))


SYNCHRONOUS = {('PATCH', '/v1/quotas/<project_id>/<resource>')}

CASES = [(endpoint, caller) for endpoint in MATRIX for caller in CALLERS]


@pytest.mark.parametrize('endpoint,caller', CASES,
                         ids=['%s %s as %s' % (e[0], e[1], c)
                              for e, c in CASES])
def test_matrix(kapi, rpc, world, endpoint, caller):
    path_of, body_of, expected = MATRIX[endpoint]
    token, query = CALLERS[caller]
    path = path_of(world)
    if query:
        path += ('&' if '?' in path else '?') + query
    before = snapshot()
    resp = kapi.request(endpoint[0], path,
                        body=body_of(world) if body_of else None,
                        headers=_as(token))
    assert resp.status_code == expected[caller], (
        caller, endpoint, resp.status_code, resp.json_body)
    if resp.status_code >= 400:
        assert snapshot() == before
        assert rpc.casts == []
        assert resp.json_body['errors'][0]['status'] == resp.status_code
    elif resp.status_code == 202 and endpoint not in SYNCHRONOUS:
        assert len(rpc.casts) == 1
    if caller not in ('member_a', 'reader_a', 'member_a_all', 'admin_c',
                      'admin_c_all'):
        # Nobody outside A and no non-administrator sees A's secrets.
        assert SECRET_A.encode() not in resp.data
    if caller in ('member_a', 'reader_a', 'member_b', 'member_a_all'):
        assert SECRET_PUBLIC.encode() not in resp.data


# -- what the lists contain, per caller ---------------------------------------

def _list(kapi, path, caller):
    token, query = CALLERS[caller]
    return kapi.get(path + ('?' + query if query else ''), headers=_as(token))


def test_template_lists_per_caller(kapi, world):
    def names(caller):
        return _names(_list(kapi, '/v1/clustertemplates/detail', caller),
                      'clustertemplates')
    assert names('member_a') == ['spare-a', 'tpl-a', 'tpl-public']
    assert names('reader_a') == ['spare-a', 'tpl-a', 'tpl-public']
    assert names('member_b') == ['tpl-public']
    # Hidden templates are listed for administrators only.
    assert names('admin_c') == ['tpl-hidden', 'tpl-public']
    assert names('admin_c_all') == ['spare-a', 'tpl-a', 'tpl-hidden',
                                    'tpl-public']


def test_cluster_lists_per_caller(kapi, world):
    def names(caller):
        return _names(_list(kapi, '/v1/clusters', caller), 'clusters')
    assert names('member_a') == ['cl-a']
    assert names('reader_a') == ['cl-a']
    assert names('member_b') == []
    assert names('admin_c') == []
    assert names('admin_c_all') == ['cl-a']


def test_public_template_proxy_credentials_stay_with_its_project(kapi,
                                                                 world):
    uuid = world['public']['uuid']
    shown = kapi.get('/v1/clustertemplates/%s' % uuid,
                     headers=_as('member-b')).json_body
    assert shown['https_proxy'] == 'http://***@proxy.c:3128'
    listed = _list(kapi, '/v1/clustertemplates/detail',
                   'member_b').json_body['clustertemplates']
    assert listed[0]['https_proxy'] == 'http://***@proxy.c:3128'
    owner = kapi.get('/v1/clustertemplates/%s' % uuid,
                     headers=_as('admin-c')).json_body
    assert SECRET_PUBLIC in owner['https_proxy']


def test_public_template_is_usable_but_not_changeable_by_others(kapi, rpc,
                                                                world):
    uuid = world['public']['uuid']
    resp = kapi.post('/v1/clusters', {'name': 'b1',
                                      'cluster_template_id': uuid},
                     headers=_as('member-b'))
    assert resp.status_code == 202
    cluster = kapi.get('/v1/clusters/%s' % resp.json_body['uuid'],
                       headers=_as('member-b')).json_body
    assert cluster['project_id'] == 'project-b'
    before = snapshot()
    patch = [{'op': 'replace', 'path': '/name', 'value': 'mine'}]
    assert kapi.patch('/v1/clustertemplates/%s' % uuid, patch,
                      headers=_as('member-b')).status_code == 403
    assert kapi.delete('/v1/clustertemplates/%s' % uuid,
                       headers=_as('member-b')).status_code == 403
    assert snapshot() == before


def test_hidden_template_is_still_usable_by_uuid(kapi, world):
    resp = kapi.post('/v1/clusters', {
        'name': 'h', 'cluster_template_id': world['hidden']['uuid']},
        headers=_as('member-b'))
    assert resp.status_code == 202


def test_an_administrator_reaches_another_project_by_uuid_only_after_its_own(
        kapi, world):
    # C's administrator names a template "tpl-a" too: names mean its own.
    mine = kapi.post('/v1/clustertemplates', template_body(name='tpl-a'),
                     headers=_as('admin-c')).json_body
    shown = kapi.get('/v1/clustertemplates/tpl-a',
                     headers=_as('admin-c')).json_body
    assert shown['uuid'] == mine['uuid']
    shown = kapi.get('/v1/clustertemplates/%s' % world['tpl_a']['uuid'],
                     headers=_as('admin-c')).json_body
    assert shown['project_id'] == 'project-a'


def test_reader_cannot_publish_or_hide_and_member_cannot_either(kapi, world):
    before = snapshot()
    for token in ('member-a', 'reader-a'):
        for field in ('public', 'hidden'):
            resp = kapi.patch(
                '/v1/clustertemplates/%s' % world['tpl_a']['uuid'],
                [{'op': 'replace', 'path': '/' + field, 'value': True}],
                headers=_as(token))
            assert resp.status_code == 403, (token, field)
    assert snapshot() == before


def test_all_projects_must_be_a_boolean(kapi, world):
    resp = kapi.get('/v1/clusters?all_projects=maybe',
                    headers=_as('admin-c'))
    assert resp.status_code == 400
    assert 'all_projects' in resp.json_body['errors'][0]['title']
    resp = kapi.get('/v1/clusters?all_projects=false',
                    headers=_as('admin-c'))
    assert resp.json_body['clusters'] == []


def test_next_link_keeps_all_projects(kapi, world):
    body = kapi.get('/v1/clustertemplates?all_projects=true&limit=1',
                    headers=_as('admin-c')).json_body
    assert 'all_projects=true' in body['next']
