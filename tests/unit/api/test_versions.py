"""Version documents and microversion negotiation."""

from tests.unit.api.conftest import LATEST


def test_root_lists_v1_with_version_range(api):
    resp = api.get('/')
    assert resp.status_code == 200
    body = resp.json_body
    assert body['default_version']['id'] == 'v1'
    v1 = body['versions'][0]
    assert v1['status'] == 'CURRENT'
    assert v1['min_version'] == '1.1'
    assert v1['max_version'] == '1.14'
    assert v1['links'][0]['href'] == 'http://localhost/v1/'


def test_v1_document_links_resources_and_media_types(api):
    body = api.get('/v1').json_body
    assert body['id'] == 'v1'
    assert body['media_types'][0]['base'] == 'application/json'
    for name in ('clustertemplates', 'clusters', 'mservices'):
        assert body[name][0]['href'] == 'http://localhost/v1/%s/' % name


def test_missing_header_gets_minimum_version(api):
    resp = api.get('/v1')
    assert resp.headers['OpenStack-API-Version'] == 'container-infra 1.1'
    # Magnum's form: the range headers name the service type too.
    assert resp.headers['OpenStack-API-Minimum-Version'] == \
        'container-infra 1.1'
    assert resp.headers['OpenStack-API-Maximum-Version'] == \
        'container-infra 1.14'
    assert 'OpenStack-API-Version' in resp.headers['Vary']


def test_latest_gets_maximum_version(api):
    resp = api.get('/v1/clusters', headers=LATEST)
    assert resp.headers['OpenStack-API-Version'] == 'container-infra 1.14'


def test_explicit_version_is_echoed(api):
    resp = api.get('/v1/clusters',
                   headers={'OpenStack-API-Version': 'container-infra 1.7'})
    assert resp.status_code == 200
    assert resp.headers['OpenStack-API-Version'] == 'container-infra 1.7'


def test_out_of_range_version_is_406_with_range_headers(api):
    for value in ('container-infra 1.15', 'container-infra 1.0',
                  'container-infra 2.0'):
        resp = api.get('/v1/clusters',
                       headers={'OpenStack-API-Version': value})
        assert resp.status_code == 406, value
        assert resp.headers['OpenStack-API-Minimum-Version'] == \
            'container-infra 1.1'
        assert resp.headers['OpenStack-API-Maximum-Version'] == \
            'container-infra 1.14'
        assert 'supported version range is: [1.1, 1.14]' in (
            resp.json_body['errors'][0]['title'])


def test_garbage_version_is_406(api):
    resp = api.get('/v1/clusters',
                   headers={'OpenStack-API-Version': 'container-infra x.y'})
    assert resp.status_code == 406


def test_other_service_header_is_ignored(api):
    resp = api.get('/v1/clusters',
                   headers={'OpenStack-API-Version': 'compute 2.90'})
    assert resp.status_code == 200
    assert resp.headers['OpenStack-API-Version'] == 'container-infra 1.1'


def test_every_response_carries_request_id(api):
    assert api.get('/').headers['x-openstack-request-id'].startswith('req-')
    assert api.get('/nope').headers['x-openstack-request-id']


def test_proxy_headers_count_only_when_enabled(api, conf):
    forwarded = {'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'api.ex'}
    assert api.get('/v1', headers=forwarded).json_body['links'][0][
        'href'] == 'http://localhost/v1/'
    conf('enable_proxy_headers_parsing', True, group='oslo_middleware')
    assert api.get('/v1', headers=forwarded).json_body['links'][0][
        'href'] == 'https://api.ex/v1/'
