"""Error bodies: Magnum's shape, parsed by python-magnumclient."""

import json

import pytest
from magnumclient.common import httpclient

from caas.conf import CONF


def test_unknown_url_is_404_in_magnum_shape(api):
    resp = api.get('/v1/nothing-here')
    assert resp.status_code == 404
    err = resp.json_body['errors'][0]
    assert err['status'] == 404
    assert err['code'] == 'client'
    assert err['links'] == []
    assert err['request_id'] == resp.headers['x-openstack-request-id']


def test_wrong_method_is_405_with_allow(api):
    resp = api.request('PUT', '/v1/clusters')
    assert resp.status_code == 405
    assert 'GET' in resp.headers['Allow']
    assert resp.json_body['errors'][0]['status'] == 405


def test_malformed_json_is_400(api):
    resp = api.post('/v1/clusters', raw='{"name": ',
                    headers={'Content-Type': 'application/json'})
    assert resp.status_code == 400
    assert 'Malformed JSON' in resp.json_body['errors'][0]['title']


def test_body_over_limit_is_413(api):
    big = '{"name": "%s"}' % ('x' * (CONF.api.max_request_body_size + 1))
    resp = api.post('/v1/clustertemplates', raw=big,
                    headers={'Content-Type': 'application/json'})
    assert resp.status_code == 413
    assert resp.json_body['errors'][0]['status'] == 413


def test_unexpected_exception_is_generic_500(api, monkeypatch):
    from caas.db import api as db_api

    def boom(*args, **kwargs):
        raise RuntimeError('secret internals')
    monkeypatch.setattr(db_api, 'list_clusters', boom)
    resp = api.get('/v1/clusters')
    assert resp.status_code == 500
    title = resp.json_body['errors'][0]['title']
    assert 'secret' not in title and 'Traceback' not in title
    assert resp.json_body['errors'][0]['code'] == 'server'


class _Resp:
    def __init__(self, resp):
        self.headers = resp.headers
        self._body = resp.json_body

    def json(self):
        return self._body


def test_magnumclient_extracts_the_whole_message(api):
    resp = api.get('/v1/clusters/missing')
    parsed = httpclient._extract_error_json(resp.data, _Resp(resp))
    assert parsed['faultstring'] == 'Cluster missing could not be found.'
    assert parsed['debuginfo'] == 'Cluster missing could not be found.'


def test_a_body_without_length_over_the_limit_is_413(api):
    """A chunked body names no length up front: the limiter counts it as it
    is read (only requests that carry no body, or a length within the
    limit, go around it)."""
    import io
    from werkzeug import test as wz_test
    big = b'{"name": "%s"}' % (b'x' * (CONF.api.max_request_body_size + 1))
    environ = wz_test.EnvironBuilder(
        path='/v1/clustertemplates', method='POST',
        input_stream=io.BytesIO(big),
        headers={'Content-Type': 'application/json',
                 'Transfer-Encoding': 'chunked'}).get_environ()
    del environ['CONTENT_LENGTH']
    environ['wsgi.input_terminated'] = True
    statuses = []
    body = b''.join(api.client.application(
        environ, lambda status, headers, exc_info=None:
        statuses.append(status)))
    assert statuses[0].startswith('413'), (statuses, body[:300])


def _through_errors(app, method='GET'):
    from werkzeug import test as wz_test
    from caas.api import errors
    environ = wz_test.EnvironBuilder(path='/x', method=method).get_environ()
    started = []
    body = errors.ParsableErrorMiddleware(app)(
        environ, lambda status, headers, exc_info=None:
        started.append((status, headers)))
    return started, body


def test_a_success_goes_out_as_the_app_gave_it():
    given = [b'{"a": 1}']

    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'application/json')])
        return given
    started, body = _through_errors(app)
    assert body is given
    assert started == [('200 OK', [('Content-Type', 'application/json')])]


@pytest.mark.parametrize('style', ['write', 'late', 'returned'])
def test_errors_are_rewritten_however_the_app_answers(style):
    def app(environ, start_response):
        if style == 'write':
            start_response('404 Not Found', [('Content-Type', 'text/plain')])(
                b'404 Not Found\n\nno such thing')
            return []
        if style == 'late':
            def late():
                start_response('404 Not Found',
                               [('Content-Type', 'text/plain')])
                yield b'404 Not Found\n\nno such thing'
            return late()
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'404 Not Found\n\nno such thing']
    started, body = _through_errors(app)
    assert started[0][0] == '404 Not Found'
    error = json.loads(b''.join(body))['errors'][0]
    assert (error['status'], error['title']) == (404, 'no such thing')


def test_webob_still_shapes_a_location_a_head_and_a_failure():
    def created(environ, start_response):
        start_response('201 Created', [('Location', '/v1/x/1')])
        return [b'made']
    started, _ = _through_errors(created)
    assert ('Location', 'http://localhost/v1/x/1') in started[0][1]

    def ok(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'body']
    _, body = _through_errors(ok, method='HEAD')
    assert b''.join(body) == b''

    def broken(environ, start_response):
        raise RuntimeError('boom')
    started, body = _through_errors(broken)
    assert started[0][0].startswith('500')
    assert json.loads(b''.join(body))['errors'][0]['status'] == 500
