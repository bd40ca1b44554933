"""Magnum compatibility details found by running Magnum's API tests and the
CLI against caas (issue 7, item 2)."""

import json

import pytest
from keystonemiddleware import auth_token

from caas.api import app as api_app
from caas.conf import CONF
from caas.db import api as db
from caas.db import operations as db_ops
from caas.drivers.kubernetes import driver as k8s
from tests.unit.api import conftest as api_conftest
from tests.unit.api.conftest import ADMIN
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import settle
from tests.unit.api.conftest import template_body

READER_A = {'X-Project-Id': 'project-a', 'X-User-Id': 'rita',
            'X-Roles': 'reader'}
JSON = {'Content-Type': 'application/json'}


def _title(resp):
    return resp.json_body['errors'][0]['title']


def _v(version, **headers):
    out = {'OpenStack-API-Version': version}
    out.update(headers)
    return out


# -- microversions -----------------------------------------------------------

def test_max_version_is_1_14(api):
    resp = api.get('/v1/clusters', headers=LATEST)
    assert resp.headers['OpenStack-API-Version'] == 'container-infra 1.14'
    assert resp.headers['OpenStack-API-Maximum-Version'] == \
        'container-infra 1.14'
    assert resp.headers['OpenStack-API-Minimum-Version'] == \
        'container-infra 1.1'
    assert api.get('/').json_body['versions'][0]['max_version'] == '1.14'
    assert api.get('/v1/clusters', headers=_v(
        'container-infra 1.15')).status_code == 406


def test_official_service_type_is_accepted_and_answered_as_magnum(api):
    resp = api.get('/v1/clusters', headers=_v(
        'container-infrastructure-management 1.7'))
    assert resp.status_code == 200
    assert resp.headers['OpenStack-API-Version'] == 'container-infra 1.7'


def test_official_service_type_reaches_versioned_features(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    resp = api.post('/v1/clusters/%s/actions/resize' % uuid,
                    {'node_count': 2}, headers=dict(PROJECT_A, **_v(
                        'container-infrastructure-management 1.7')))
    assert resp.status_code == 202


@pytest.mark.parametrize('value', [
    'container-infrastructure-management 1.99',
    'container-infrastructure-management 0.9',
    'container-infrastructure-management x.y',
    'container-infrastructure-management 1',
])
def test_official_service_type_with_a_bad_version_is_406(api, value):
    resp = api.get('/v1/clusters', headers=_v(value))
    assert resp.status_code == 406
    assert resp.json_body['errors'][0]['status'] == 406


def test_container_infra_wins_when_both_are_sent(api):
    resp = api.get('/v1/clusters', headers=_v(
        'container-infrastructure-management 1.9, container-infra 1.4'))
    assert resp.headers['OpenStack-API-Version'] == 'container-infra 1.4'


def test_v1_document_links_quotas_and_stats(api):
    body = api.get('/v1').json_body
    for name in ('quotas', 'stats'):
        assert body[name][0]['href'] == 'http://localhost/v1/%s/' % name


# -- PATCH bodies ------------------------------------------------------------

BAD_PATCHES = [
    ('dict', json.dumps({'node_count': 2})),
    ('string', json.dumps('replace node_count')),
    ('number', '3'),
    ('null', 'null'),
    ('empty list', '[]'),
    ('list of strings', json.dumps(['/node_count'])),
    ('op without path', json.dumps([{'op': 'replace', 'value': 2}])),
    ('too many operations', json.dumps(
        [{'op': 'replace', 'path': '/name', 'value': 'x'}] * 101)),
]


@pytest.mark.parametrize('name,raw', BAD_PATCHES,
                         ids=[b[0] for b in BAD_PATCHES])
@pytest.mark.parametrize('path', ['/v1/clusters/%s',
                                  '/v1/clustertemplates/%s'])
def test_a_patch_that_is_not_a_json_patch_list_is_400_before_lookup(
        api, rpc, name, raw, path):
    # An unknown resource: the shape is judged first, so 400 not 404.
    resp = api.request('PATCH', path % 'no-such-thing', raw=raw,
                       headers=dict(PROJECT_A, **JSON))
    assert resp.status_code == 400, (name, resp.json_body)
    assert 'patch' in _title(resp).lower()
    assert rpc.casts == []


def test_a_patch_beyond_the_body_limit_is_413(api, template):
    raw = json.dumps([{'op': 'replace', 'path': '/name',
                       'value': 'x' * (CONF.api.max_request_body_size + 1)}])
    resp = api.request('PATCH', '/v1/clustertemplates/%s' % template['uuid'],
                       raw=raw, headers=dict(PROJECT_A, **JSON))
    assert resp.status_code == 413


# -- health ------------------------------------------------------------------

def _health_patch(status='UNHEALTHY', reason=None):
    patch = [{'op': 'replace', 'path': '/health_status', 'value': status}]
    if reason is not None:
        patch.append({'op': 'replace', 'path': '/health_status_reason',
                      'value': reason})
    return patch


def test_health_patch_is_stored_without_an_operation(api, rpc, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    before = len(rpc.casts)
    resp = api.patch('/v1/clusters/%s' % uuid, _health_patch(
        'UNHEALTHY', {'api': 'down'}), headers=PROJECT_A)
    assert resp.status_code == 202
    assert resp.json_body == {'uuid': uuid}
    assert len(rpc.casts) == before
    row = db.get_cluster(uuid, scope='project-a')
    assert row.health_status == 'UNHEALTHY'
    assert row.health_status_reason == {'api': 'down'}
    assert row.operation_id is None and row.status == 'CREATE_COMPLETE'
    assert db.list_operations(uuid)[-1].kind == 'cluster_create'


def test_health_reason_as_magnumclient_sends_it(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    resp = api.patch('/v1/clusters/%s' % uuid, _health_patch(
        'HEALTHY', "{'nodes': 'ok'}"), headers=PROJECT_A)
    assert resp.status_code == 202
    assert db.get_cluster(uuid, scope='project-a').health_status_reason == \
        {'nodes': 'ok'}


def test_health_patch_needs_its_rule(api, make_cluster, tmp_path, conf):
    uuid = make_cluster()
    settle(uuid)
    assert api.patch('/v1/clusters/%s' % uuid, _health_patch(),
                     headers=READER_A).status_code == 403
    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text('"cluster:update_health_status": "role:admin"\n')
    conf('policy_file', str(policy_file), group='oslo_policy')
    from caas.common import policy
    policy.reset()
    resp = api.patch('/v1/clusters/%s' % uuid, _health_patch(),
                     headers=PROJECT_A)
    assert resp.status_code == 403
    assert 'update_health_status' in _title(resp)
    assert db.get_cluster(uuid, scope='project-a').health_status is None
    assert api.patch('/v1/clusters/%s' % uuid, _health_patch(),
                     headers=ADMIN).status_code == 202
    policy.reset()


def test_bad_health_status_is_400(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    resp = api.patch('/v1/clusters/%s' % uuid, _health_patch('GREAT'),
                     headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'health_status' in _title(resp)


def test_node_count_with_health_starts_one_update(api, rpc, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    before = len(rpc.casts)
    patch = _health_patch('HEALTHY') + [
        {'op': 'replace', 'path': '/node_count', 'value': 3}]
    assert api.patch('/v1/clusters/%s' % uuid, patch,
                     headers=PROJECT_A).status_code == 202
    assert [c['method'] for c in rpc.casts[before:]] == ['cluster_update']
    assert db.get_cluster(uuid, scope='project-a').health_status == 'HEALTHY'


def test_health_with_node_count_on_a_busy_cluster_changes_nothing(
        api, make_cluster):
    uuid = make_cluster()               # still CREATE_IN_PROGRESS
    patch = _health_patch('HEALTHY') + [
        {'op': 'replace', 'path': '/node_count', 'value': 3}]
    assert api.patch('/v1/clusters/%s' % uuid, patch,
                     headers=PROJECT_A).status_code == 409
    assert db.get_cluster(uuid, scope='project-a').health_status is None


# -- labels ------------------------------------------------------------------

@pytest.fixture
def labelled(api):
    resp = api.post('/v1/clustertemplates', template_body(
        name='lab', labels={'kube_tag': 'v1.28.0', 'tpl_only': 'x'}),
        headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    return resp.json_body


def _labels_of(api, uuid):
    return api.get('/v1/clusters/%s' % uuid,
                   headers=PROJECT_A).json_body['labels']


def test_cluster_without_labels_takes_the_templates(api, labelled):
    for labels in (None, {}):
        body = {'cluster_template_id': labelled['uuid']}
        if labels is not None:
            body['labels'] = labels
        uuid = api.post('/v1/clusters', body,
                        headers=PROJECT_A).json_body['uuid']
        assert _labels_of(api, uuid) == {'kube_tag': 'v1.28.0',
                                         'tpl_only': 'x'}


def test_cluster_labels_replace_the_templates_unless_merged(api, labelled):
    body = {'cluster_template_id': labelled['uuid'],
            'labels': {'kube_tag': 'v1.29.0'}}
    uuid = api.post('/v1/clusters', body, headers=PROJECT_A).json_body['uuid']
    assert _labels_of(api, uuid) == {'kube_tag': 'v1.29.0'}
    body['merge_labels'] = True
    uuid = api.post('/v1/clusters', body, headers=PROJECT_A).json_body['uuid']
    assert _labels_of(api, uuid) == {'kube_tag': 'v1.29.0', 'tpl_only': 'x'}


@pytest.fixture
def k8s_driver(api):
    """The real Kubernetes driver's labels schema behind the fake finder."""
    return k8s.UbuntuKubernetesDriver()


@pytest.fixture
def real_labels(cloud, rpc, database, k8s_driver):
    def find_driver(server_type, os_distro, coe, explicit=None):
        return k8s_driver
    CONF.set_override('auth_strategy', 'noauth')
    CONF.set_override('validate_references', True, group='cloud')
    CONF.set_override('encryption_keys', [api_conftest.PKI_KEY], group='pki')
    yield api_conftest.Api(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                                             find_driver=find_driver))
    CONF.clear_override('auth_strategy')
    CONF.clear_override('validate_references', group='cloud')
    CONF.clear_override('encryption_keys', group='pki')


def test_unknown_labels_are_stored_known_ones_type_checked(real_labels):
    api = real_labels
    resp = api.post('/v1/clustertemplates', template_body(
        labels={'boot_volume_size': '10', 'kube_tag': 'v1.28.0'}),
        headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    assert resp.json_body['labels']['boot_volume_size'] == '10'
    resp = api.post('/v1/clusters', {
        'cluster_template_id': 'k8s', 'merge_labels': True,
        'labels': {'heat_container_agent_tag': 'wallaby-stable-1'}},
        headers=PROJECT_A)
    assert resp.status_code == 202, resp.json_body
    assert _labels_of(api, resp.json_body['uuid']) == {
        'boot_volume_size': '10', 'kube_tag': 'v1.28.0',
        'heat_container_agent_tag': 'wallaby-stable-1'}
    resp = api.post('/v1/clusters', {
        'cluster_template_id': 'k8s', 'labels': {'kube_tag': 'latest'}},
        headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'kube_tag' in _title(resp)


def test_strict_labels_refuses_unknown_labels(real_labels, conf):
    conf('strict_labels', True, group='drivers')
    resp = real_labels.post('/v1/clustertemplates', template_body(
        labels={'boot_volume_size': '10'}), headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'boot_volume_size' in _title(resp)


def test_drivers_build_stacks_without_unknown_labels(k8s_driver):
    labels = k8s_driver.effective_labels(
        {'labels': {'boot_volume_size': '10', 'kube_tag': 'v1.28.0'}}, {})
    assert 'boot_volume_size' not in labels
    assert labels['kube_tag'] == 'v1.28.0'


# -- templates ---------------------------------------------------------------

@pytest.mark.parametrize('coe,field,value,allowed', [
    ('kubernetes', 'network_driver', 'weave', 'flannel, calico, cilium'),
    ('kubernetes', 'volume_driver', 'rexray', 'cinder'),
    ('swarm', 'network_driver', 'calico', 'docker, flannel'),
    ('swarm-mode', 'volume_driver', 'cinder', 'rexray'),
    ('mesos', 'network_driver', 'flannel', 'docker'),
])
def test_driver_not_supported_for_the_coe_is_400_naming_allowed(
        api, coe, field, value, allowed):
    resp = api.post('/v1/clustertemplates', template_body(
        coe=coe, **{field: value}), headers=PROJECT_A)
    assert resp.status_code == 400
    title = _title(resp)
    assert field in title and value in title and allowed in title


@pytest.mark.parametrize('field,value', [
    ('network_driver', 'calico'), ('network_driver', 'flannel'),
    ('volume_driver', 'cinder')])
def test_supported_drivers_are_accepted(api, field, value):
    resp = api.post('/v1/clustertemplates', template_body(**{field: value}),
                    headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    assert resp.json_body[field] == value


def test_patch_to_an_unsupported_driver_is_400(api, template):
    resp = api.patch('/v1/clustertemplates/%s' % template['uuid'],
                     [{'op': 'replace', 'path': '/volume_driver',
                       'value': 'rexray'}], headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'cinder' in _title(resp)


def test_template_create_accepts_cluster_distro(api, conf):
    resp = api.post('/v1/clustertemplates', template_body(
        cluster_distro='fedora-coreos'), headers=PROJECT_A)
    assert resp.status_code == 201
    # The image's os_distro wins when the image is looked up.
    resp = api.post('/v1/clustertemplates', template_body(
        name='u', image_id='ubuntu', cluster_distro='fedora-coreos'),
        headers=PROJECT_A)
    assert resp.json_body['cluster_distro'] == 'ubuntu'
    conf('validate_references', False, group='cloud')
    resp = api.post('/v1/clustertemplates', template_body(
        name='n', image_id='unlooked', cluster_distro='fedora-coreos'),
        headers=PROJECT_A)
    assert resp.status_code == 201
    assert resp.json_body['cluster_distro'] == 'fedora-coreos'


def test_template_keypair_is_checked_when_a_cluster_is_created(api, cloud):
    resp = api.post('/v1/clustertemplates', template_body(
        keypair_id='ghost'), headers=PROJECT_A)
    assert resp.status_code == 201
    assert 'ghost' not in cloud.lookups
    resp = api.post('/v1/clusters', {'cluster_template_id': 'k8s'},
                    headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'keypair' in _title(resp) and 'ghost' in _title(resp)
    # A cluster naming a keypair that exists is fine.
    resp = api.post('/v1/clusters', {'cluster_template_id': 'k8s',
                                     'keypair': 'default'},
                    headers=PROJECT_A)
    assert resp.status_code == 202


# -- nulls -------------------------------------------------------------------

def test_nulls_for_optional_fields_mean_not_given(api, make_cluster):
    resp = api.post('/v1/clustertemplates', template_body(
        name='nulls', public=None, hidden=None, registry_enabled=None,
        tls_disabled=None, server_type=None, labels=None, tags=None),
        headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    assert resp.json_body['public'] is False
    assert resp.json_body['server_type'] == 'vm'
    resp = api.post('/v1/clusters', {
        'cluster_template_id': 'nulls', 'master_count': None,
        'node_count': None, 'labels': None, 'merge_labels': None,
        'keypair': None}, headers=PROJECT_A)
    assert resp.status_code == 202, resp.json_body
    uuid = resp.json_body['uuid']
    shown = api.get('/v1/clusters/%s' % uuid, headers=PROJECT_A).json_body
    assert shown['master_count'] == 1 and shown['node_count'] == 1
    settle(uuid)
    # openstacksdk's resize.
    resp = api.post('/v1/clusters/%s/actions/resize' % uuid,
                    {'node_count': 2, 'nodes_to_remove': None,
                     'nodegroup': None},
                    headers=dict(PROJECT_A, **LATEST))
    assert resp.status_code == 202, resp.json_body


def test_null_for_a_required_field_is_still_400(api):
    resp = api.post('/v1/clusters', {'cluster_template_id': None},
                    headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'cluster_template_id' in _title(resp)


# -- 1.13 cluster_id ---------------------------------------------------------

def test_cluster_id_is_shown_from_1_13(api, make_cluster):
    from caas.db.sqlalchemy.engine import session_scope
    from caas.db.sqlalchemy import models
    import sqlalchemy as sa
    uuid = make_cluster()
    with session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == uuid).values(stack_id='stack-1'))
    for path in ('/v1/clusters/%s' % uuid, '/v1/clusters',
                 '/v1/clusters/detail'):
        new = api.get(path, headers=dict(PROJECT_A, **_v(
            'container-infra 1.13'))).json_body
        old = api.get(path, headers=dict(PROJECT_A, **_v(
            'container-infra 1.12'))).json_body
        new = new.get('clusters', [new])[0]
        old = old.get('clusters', [old])[0]
        assert new['cluster_id'] == 'stack-1', path
        assert 'cluster_id' not in old, path
        assert old['stack_id'] == new['stack_id'] == 'stack-1'


# -- mservices ---------------------------------------------------------------

def test_conductors_are_listed_as_magnum_conductor_with_stable_ids(api):
    db_ops.register_conductor('host-1', 'caas-conductor')
    db_ops.register_conductor('host-2', 'caas-all')
    first = api.get('/v1/mservices', headers=ADMIN).json_body['mservices']
    assert [(s['id'], s['host'], s['binary']) for s in first] == [
        (1, 'host-1', 'magnum-conductor'), (2, 'host-2', 'magnum-conductor')]
    # A restarted conductor keeps its id.
    db_ops.register_conductor('host-1', 'caas-conductor')
    again = api.get('/v1/mservices', headers=ADMIN).json_body['mservices']
    assert [s['id'] for s in again] == [1, 2]


# -- version documents without a token ---------------------------------------

TOKENS = {'tok-a': {'project': 'project-a', 'user': 'alice',
                    'roles': 'member,reader'}}


@pytest.fixture
def keystone_api(database, cloud, rpc, drivers, monkeypatch):
    monkeypatch.setattr(auth_token, 'AuthProtocol',
                        api_conftest.fake_auth_token(TOKENS))
    CONF.set_override('auth_strategy', 'keystone')
    yield api_conftest.Api(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                                             find_driver=drivers))
    CONF.clear_override('auth_strategy')


@pytest.mark.parametrize('path', ['/', '/v1', '/v1/'])
def test_version_documents_need_no_token_in_keystone_mode(keystone_api,
                                                          path):
    resp = keystone_api.get(path)
    assert resp.status_code == 200
    assert keystone_api.request('HEAD', path).status_code == 200


def test_everything_else_still_needs_a_token(keystone_api):
    for path in ('/v1/clusters', '/v1/mservices', '/v1/stats',
                 '/v1/quotas', '/v1/openapi.json', '/v2'):
        assert keystone_api.get(path).status_code == 401, path
    resp = keystone_api.post('/v1', {})
    assert resp.status_code in (401, 405)
    assert keystone_api.get('/v1/clusters', headers={
        'X-Auth-Token': 'tok-a'}).status_code == 200


def test_forged_identity_headers_are_dropped_on_public_documents(
        keystone_api, monkeypatch):
    seen = []
    from caas.api import middleware
    real = middleware.ContextMiddleware.__call__

    def spy(self, environ, start_response):
        seen.append({k: v for k, v in environ.items()
                     if k.startswith('HTTP_X_')})
        return real(self, environ, start_response)
    monkeypatch.setattr(middleware.ContextMiddleware, '__call__', spy)
    resp = keystone_api.get('/v1', headers={
        'X-Roles': 'admin', 'X-Project-Id': 'evil', 'X-User-Id': 'root',
        'X-Identity-Status': 'Confirmed'})
    assert resp.status_code == 200
    assert seen and not any(k.startswith(('HTTP_X_ROLE', 'HTTP_X_PROJECT',
                                          'HTTP_X_USER', 'HTTP_X_IDENTITY'))
                            for k in seen[0])
