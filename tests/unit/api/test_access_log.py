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


def _old_write(environ, seen, ms):
    """The line as it was written before (LOG.info, caller found by
    logging), for comparison."""
    from caas.api import accesslog
    status = int(str(seen.get('status', '500')).split(' ', 1)[0])
    accesslog.LOG.info(accesslog._FORMAT, {
        'method': environ.get('REQUEST_METHOD', '-'),
        'path': environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', ''),
        'status': status, 'ms': ms,
        'rid': accesslog._request_id(environ, seen.get('headers')),
        'project': accesslog._project(environ)})


def test_the_line_is_the_record_log_info_made_without_searching_the_stack(
        monkeypatch):
    """Same message, arguments, level, logger, extra values (oslo.log's
    adapter's) and handlers as ``LOG.info``; the caller is ``_write``
    itself, and logging's ``findCaller`` (a walk of the whole stack) is
    not called for it."""
    import time as time_mod
    from caas.api import accesslog
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = accesslog.LOG.logger
    handler = Keep()
    logger.addHandler(handler)
    monkeypatch.setattr(logger, 'level', logging.INFO)
    searched = []
    real = logger.findCaller
    monkeypatch.setattr(logger, 'findCaller',
                        lambda *a, **k: searched.append(1) or real(*a, **k))
    environ = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '',
               'PATH_INFO': '/v1/clusters',
               'openstack.request_id': 'req-1'}
    seen = {'status': '200 OK', 'headers': [('X-OpenStack-Request-ID',
                                             'req-2')]}
    try:
        accesslog._write(environ, seen, time_mod.monotonic())
        assert searched == []
        _old_write(environ, seen, records[0].args['ms'])
        assert searched == [1]
        # Off below INFO: nothing made.
        monkeypatch.setattr(logger, 'level', logging.WARNING)
        logger.manager._clear_cache()
        accesslog._write(environ, seen, time_mod.monotonic())
    finally:
        logger.removeHandler(handler)
        logger.manager._clear_cache()
    assert len(records) == 2
    new, old = records
    assert new.getMessage() == old.getMessage()
    assert new.getMessage().startswith('GET /v1/clusters status=200 ')
    assert 'request_id=req-2 project=-' in new.getMessage()
    assert (new.funcName, new.module, new.filename) == \
        ('_write', 'accesslog', 'accesslog.py')
    assert new.pathname == accesslog._write.__code__.co_filename
    skip = {'created', 'msecs', 'relativeCreated', 'args', 'lineno',
            'funcName', 'pathname', 'filename', 'module'}
    assert {k: v for k, v in new.__dict__.items() if k not in skip} == \
        {k: v for k, v in old.__dict__.items() if k not in skip}
    assert (new.project, new.version, new.extra_keys) == \
        ('unknown', 'unknown', ['project', 'version'])
