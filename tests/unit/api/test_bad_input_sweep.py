"""Every field of every request body, given every wrong kind of value,
gets a 4xx with Magnum's error body: never a 500, never a traceback."""

import json

import pytest

from caas.api.schemas import cluster as cluster_schema
from caas.api.schemas import clustertemplate as template_schema
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import template_body

WRONG_VALUES = [None, True, -1, 2 ** 63, 1.5, '', 'x' * 5000, '\u2603\x00',
                [], ['a'], {}, {'a': {'b': []}}]

HEADERS = dict(PROJECT_A, **LATEST)


def _assert_clean_4xx(resp):
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.data)
    body = resp.json_body
    assert body['errors'][0]['status'] == resp.status_code
    assert 'Traceback' not in json.dumps(body)


@pytest.mark.parametrize('field', sorted(template_schema.PROPERTIES))
def test_template_fields(api, field):
    for value in WRONG_VALUES:
        body = template_body()
        body[field] = value
        resp = api.post('/v1/clustertemplates', body, headers=HEADERS)
        if resp.status_code < 400:
            continue      # a value that happens to be valid for this field
        _assert_clean_4xx(resp)


@pytest.mark.parametrize('field', sorted(
    cluster_schema.create()['properties']))
def test_cluster_fields(api, template, field):
    for value in WRONG_VALUES:
        body = {'name': 'c', 'cluster_template_id': template['uuid'],
                'node_count': 1}
        body[field] = value
        resp = api.post('/v1/clusters', body, headers=HEADERS)
        if resp.status_code < 400:
            continue
        _assert_clean_4xx(resp)


@pytest.mark.parametrize('raw', [b'', b'{', b'[]', b'null', b'"x"', b'1',
                                 b'\xff\xfe', b'{"a": ' * 200])
@pytest.mark.parametrize('path', ['/v1/clustertemplates', '/v1/clusters'])
def test_malformed_bodies(api, path, raw):
    resp = api.post(path, raw=raw, headers=dict(
        HEADERS, **{'Content-Type': 'application/json'}))
    _assert_clean_4xx(resp)


@pytest.mark.parametrize('patch', [
    'not a list', [{}], [{'op': 'explode', 'path': '/node_count'}],
    [{'op': 'replace', 'path': '/node_count'}],
    [{'op': 'replace', 'path': '/status', 'value': 'CREATE_COMPLETE'}],
    [{'op': 'replace', 'path': '/node_count', 'value': None}],
    [{'op': 'remove', 'path': '/node_count'}],
    [{'op': 'replace', 'path': '', 'value': {}}],
])
def test_malformed_cluster_patches(api, make_cluster, patch):
    from tests.unit.api.conftest import settle
    uuid = make_cluster()
    settle(uuid)
    resp = api.patch("/v1/clusters/%s" % uuid, patch, headers=HEADERS)
    _assert_clean_4xx(resp)
