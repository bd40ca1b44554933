"""Every request leaves exactly one access-log line, refused ones too."""

import logging
import re

import pytest
from werkzeug import test as wz_test

from caas.api import app as api_app
from caas.conf import CONF
from tests.unit.api.conftest import PROJECT_A

LINE = re.compile(r'^(?P<method>[A-Z]+) (?P<path>\S+) status=(?P<status>\d+) '
                  r'duration_ms=(?P<ms>\d+\.\d) request_id=(?P<rid>\S+) '
                  r'project=(?P<project>\S+)$')


@pytest.fixture
def access(caplog):
    caplog.set_level(logging.INFO, logger='caas.api.access')

    def lines():
        found = [LINE.match(r.getMessage()) for r in caplog.records
                 if r.name == 'caas.api.access']
        assert all(found), [r.getMessage() for r in caplog.records]
        return [m.groupdict() for m in found]
    lines.clear = caplog.clear
    return lines


def _one(access, resp, method, path, status, project):
    lines = access()
    assert len(lines) == 1, lines
    line = lines[0]
    assert (line['method'], line['path'], int(line['status']),
            line['project']) == (method, path, status, project)
    assert line['rid'] == resp.headers['x-openstack-request-id']
    assert line['rid'].startswith('req-')
    assert float(line['ms']) >= 0
    access.clear()


def test_200(api, access):
    resp = api.get('/v1/clusters', headers=PROJECT_A)
    assert resp.status_code == 200
    _one(access, resp, 'GET', '/v1/clusters', 200, 'project-a')


def test_400(api, access):
    resp = api.post('/v1/clusters', {'node_count': 'many'},
                    headers=PROJECT_A)
    assert resp.status_code == 400
    _one(access, resp, 'POST', '/v1/clusters', 400, 'project-a')


def test_404(api, access):
    resp = api.get('/v1/clusters/no-such-cluster', headers=PROJECT_A)
    assert resp.status_code == 404
    _one(access, resp, 'GET', '/v1/clusters/no-such-cluster', 404,
         'project-a')


def test_413_refused_before_authentication(api, access):
    body = b'{"name": "%s"}' % (b'x' * (CONF.api.max_request_body_size + 1))
    resp = api.request('POST', '/v1/clusters', raw=body,
                       headers=dict(PROJECT_A,
                                    **{'Content-Type': 'application/json'}))
    assert resp.status_code == 413
    # Refused before any identity was established: no project.
    _one(access, resp, 'POST', '/v1/clusters', 413, '-')


def test_400_of_the_input_guard(api, access):
    resp = api.get('/v1/clusters?name=%00', headers=PROJECT_A)
    assert resp.status_code == 400
    _one(access, resp, 'GET', '/v1/clusters', 400, '-')


def test_401_in_keystone_mode(database, rpc, cloud, conf, access):
    conf('auth_strategy', 'keystone')
    api_app.build_app(CONF, rpcapi=rpc, cloud=cloud)
    conf('www_authenticate_uri', 'http://keystone.example.com:5000',
         group='keystone_authtoken')
    client = wz_test.Client(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud))
    access.clear()
    resp = client.get('/v1/clusters', headers={'X-Project-Id': 'forged'})
    assert resp.status_code == 401
    resp.close()
    _one(access, resp, 'GET', '/v1/clusters', 401, '-')


def test_a_streamed_response_is_logged_once_when_it_ends(api, access):
    resp = api.get('/v1/openapi.json')
    assert resp.status_code == 200
    _one(access, resp, 'GET', '/v1/openapi.json', 200, 'admin')
