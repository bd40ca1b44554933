"""Authentication middleware choice, noauth defaults and policy rules."""

from werkzeug import test as wz_test

from caas.api import app as api_app
from caas.common import context
from caas.common import policy
from caas.conf import CONF
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import template_body


def test_noauth_without_headers_is_admin(api, template):
    # No X-Project-Id: the operator's defaults, admin of project "admin".
    resp = api.get('/v1/clusters')
    assert resp.status_code == 200
    assert api.get('/v1/mservices').status_code == 200
    resp = api.post('/v1/clustertemplates', template_body(name='x'))
    assert resp.json_body['project_id'] == 'admin'


def test_noauth_project_without_roles_is_member(api):
    resp = api.get('/v1/mservices', headers={'X-Project-Id': 'p'})
    assert resp.status_code == 403
    assert 'magnum-service:get_all' in resp.json_body['errors'][0]['title']


def test_noauth_empty_project_header_is_a_token_without_a_project(api,
                                                                   template):
    headers = {'X-Project-Id': '', 'X-Roles': 'admin'}
    for path in ('/v1/clusters', '/v1/clustertemplates',
                 '/v1/clustertemplates/%s' % template['uuid']):
        resp = api.get(path, headers=headers)
        assert resp.status_code == 403, path
        assert 'needs a token scoped to a project' in \
            resp.json_body['errors'][0]['title']


def test_keystone_strategy_rejects_missing_token_in_magnum_shape(
        database, rpc, cloud, conf):
    conf('auth_strategy', 'keystone')
    # The first build registers [keystone_authtoken]; naming Keystone's URI
    # spares the 401 from discovering it.
    api_app.build_app(CONF, rpcapi=rpc, cloud=cloud)
    conf('www_authenticate_uri', 'http://keystone.example.com:5000',
         group='keystone_authtoken')
    client = wz_test.Client(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud))
    resp = client.get('/v1/clusters')
    assert resp.status_code == 401
    assert resp.json['errors'][0]['status'] == 401


def test_member_acts_on_own_project_only():
    policy.reset()
    ctx = context.RequestContext(project_id='a', user_id='u',
                                 roles=['member'])
    policy.authorize(ctx, 'cluster:get', {'project_id': 'a'})
    try:
        policy.authorize(ctx, 'cluster:get', {'project_id': 'b'})
    except Exception as exc:
        assert exc.code == 403
    else:
        raise AssertionError('member read another project')
    admin = context.RequestContext(project_id='x', roles=['admin'])
    policy.authorize(admin, 'cluster:get', {'project_id': 'b'})
    policy.authorize(admin, 'clustertemplate:publish')


def test_public_endpoint_used_in_links(api, conf, template):
    conf('public_endpoint', 'https://caas.example.com/', group='api')
    body = api.get('/v1/clustertemplates', headers=PROJECT_A).json_body
    assert body['clustertemplates'][0]['links'][0]['href'].startswith(
        'https://caas.example.com/v1/clustertemplates/')
