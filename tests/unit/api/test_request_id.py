"""caas.api.middleware.RequestId: oslo.middleware's request ids without
a webob request and response around every request."""

import sys

import pytest
import webob.exc
import webob.request

from caas.api import middleware
from tests.unit.api.conftest import PROJECT_A

GLOBAL_ID = 'req-0123abcd-0123-4567-89ab-0123456789ab'


def _call(app, headers=None, method='GET'):
    environ = {'REQUEST_METHOD': method, 'PATH_INFO': '/', 'SERVER_NAME': 'x',
               'SERVER_PORT': '80', 'wsgi.url_scheme': 'http'}
    for name, value in (headers or {}).items():
        environ['HTTP_' + name.upper().replace('-', '_')] = value
    started = []
    body = middleware.RequestId(app)(
        environ, lambda status, hdrs, exc_info=None: started.append(
            (status, hdrs)))
    return environ, started, body


def _app(status='200 OK', headers=(), body=(b'ok',)):
    def app(environ, start_response):
        start_response(status, list(headers))
        return body
    return app


def test_a_plain_success_builds_no_webob_request(api, monkeypatch):
    built = []
    init = webob.request.BaseRequest.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(webob.request.BaseRequest, '__init__', counting)
    resp = api.get('/v1/clusters', headers=PROJECT_A)
    assert resp.status_code == 200
    assert resp.headers['x-openstack-request-id'].startswith('req-')
    assert built == []


def test_each_request_gets_a_new_id_in_environ_and_header():
    ids = []
    for _ in range(2):
        environ, started, _body = _call(_app())
        rid = environ['openstack.request_id']
        assert started == [('200 OK', [('x-openstack-request-id', rid)])]
        ids.append(rid)
    assert ids[0] != ids[1]
    assert all(rid.startswith('req-') and len(rid) == 40 for rid in ids)


def test_a_global_request_id_of_the_right_form_is_kept():
    environ, _started, _body = _call(
        _app(), headers={'X-OpenStack-Request-ID': GLOBAL_ID})
    assert environ['openstack.global_request_id'] == GLOBAL_ID
    assert environ['openstack.request_id'] != GLOBAL_ID


@pytest.mark.parametrize('value', [
    'req-nope', GLOBAL_ID.upper(), GLOBAL_ID + 'x', ''])
def test_a_global_request_id_of_another_form_is_dropped(value):
    environ, _started, _body = _call(
        _app(), headers={'X-OpenStack-Request-ID': value})
    assert 'openstack.global_request_id' not in environ


def test_the_apps_own_request_id_header_is_kept_alone():
    _environ, started, _body = _call(
        _app(headers=[('X-OpenStack-Request-Id', 'req-mine')]))
    assert started == [('200 OK', [('X-OpenStack-Request-Id', 'req-mine')])]


def test_the_body_goes_out_as_the_app_gave_it():
    body = iter([b'a', b'b'])
    _environ, _started, out = _call(_app(body=body))
    assert out is body


def test_exc_info_is_raised_where_it_is_given():
    def app(environ, start_response):
        try:
            raise KeyError('boom')
        except KeyError:
            start_response('500 Internal Server Error', [], sys.exc_info())
        return [b'']

    with pytest.raises(KeyError):
        _call(app)


def test_a_webob_http_exception_raised_inside_is_its_response():
    def app(environ, start_response):
        raise webob.exc.HTTPConflict()

    _environ, started, body = _call(app)
    assert started[0][0] == '409 Conflict'
    assert b'409' in b''.join(body)
