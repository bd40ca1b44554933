"""Look-ups made with users' own tokens share the process's pooled HTTP
connections (no new TCP connection per create) and never carry a cookie
from one user's answer into another's request."""

import http.server
import json
import threading

from keystoneauth1 import token_endpoint
import pytest

from caas.clients import cloud


class _Nova(http.server.BaseHTTPRequestHandler):
    """Keypairs per token, HTTP/1.1 keep-alive; every answer sets a
    cookie naming the token it answered."""

    protocol_version = 'HTTP/1.1'

    def do_GET(self):
        token = self.headers.get('X-Auth-Token')
        self.server.seen.append((token, self.headers.get('Cookie'),
                                 self.path))
        name = self.path.rsplit('/', 1)[-1]
        mine = self.server.keypairs.get(token, ())
        status, body = ((200, {'keypair': {'name': name}}) if name in mine
                        else (404, {'itemNotFound': {'code': 404}}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Set-Cookie', 'session=%s; Path=/' % token)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(('127.0.0.1', 0), _Nova)
        self.connections = 0
        self.seen = []
        self.keypairs = {'token-a': {'alices'}, 'token-c': {'carols'}}

    def get_request(self):
        self.connections += 1
        return super().get_request()


@pytest.fixture
def nova():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _as(nova, token):
    """The clients one request makes for its user."""
    return cloud.CloudClients.for_user(token_endpoint.Token(
        'http://127.0.0.1:%d/v2.1' % nova.server_address[1], token))


def test_one_users_creates_reuse_one_connection(nova):
    for _ in range(20):
        assert _as(nova, 'token-a').find_keypair('alices') == {
            'name': 'alices'}
    assert len(nova.seen) == 20
    assert nova.connections == 1


def test_users_share_the_pool_but_not_cookies_or_answers(nova):
    for _ in range(5):
        assert _as(nova, 'token-a').find_keypair('alices') == {
            'name': 'alices'}
        with pytest.raises(cloud.exceptions.NotFound):
            _as(nova, 'token-c').find_keypair('alices')
        assert _as(nova, 'token-c').find_keypair('carols') == {
            'name': 'carols'}
    assert nova.connections == 1
    # Each request carried its own user's token and no cookie, though
    # every answer set one.
    assert [token for token, _cookie, _path in nova.seen] == \
        ['token-a', 'token-c', 'token-c'] * 5
    assert [cookie for _token, cookie, _path in nova.seen] == [None] * 15
    assert not list(cloud.user_http().cookies)


def test_the_users_pool_is_one_per_process_and_as_large_as_the_threads(
        conf, monkeypatch):
    monkeypatch.setattr(cloud, '_USER_HTTP', [])
    conf('threads', 40, group='api')
    http = cloud.user_http()
    assert cloud.user_http() is http
    assert http.get_adapter('http://127.0.0.1:9/')._pool_maxsize >= 40
