"""The simulated cloud's HTTP server: keep-alive connections, bodies of
any size and encoding between requests on one connection, a stop with
connections open, enough threads for every caller at once."""

import http.client
import json
import socket
import threading

import pytest

from caas.conf import CONF
from caas.sim import server as sim_server

PASSWORD_AUTH = {'auth': {'identity': {'methods': ['password'], 'password': {
    'user': {'name': 'caas', 'domain': {'name': 'Default'},
             'password': 'caas'}}},
    'scope': {'project': {'name': 'service', 'domain': {'name': 'Default'}}}}}


@pytest.fixture
def srv():
    server = sim_server.SimServer(port=0)
    server.start()
    yield server
    server.stop()


def connect(srv):
    return http.client.HTTPConnection('127.0.0.1', srv.port, timeout=30)


def answer(conn, method, path, body=None, headers=None, **kwargs):
    """(status, headers, body) of one request on ``conn``; the connection's
    local port after it (None: the client closed it as the server asked)."""
    conn.request(method, path, body=body, headers=headers or {}, **kwargs)
    resp = conn.getresponse()
    data = resp.read()
    port = conn.sock.getsockname()[1] if conn.sock is not None else None
    return resp.status, dict(resp.getheaders()), data, port


def test_one_connection_serves_several_requests(srv):
    conn = connect(srv)
    try:
        conn.connect()
        local = conn.sock.getsockname()[1]
        ports = []
        for path in ('/identity/v3', '/identity', '/sim/requests'):
            status, headers, _body, port = answer(conn, 'GET', path)
            assert status in (200, 300)
            assert headers.get('Connection', '').lower() != 'close'
            ports.append(port)
        # Every answer came on the connection opened first.
        assert ports == [local] * 3
    finally:
        conn.close()


def test_a_token_then_a_service_call_on_one_connection(srv):
    conn = connect(srv)
    try:
        body = json.dumps(PASSWORD_AUTH)
        status, headers, _b, port = answer(
            conn, 'POST', '/identity/v3/auth/tokens', body=body,
            headers={'Content-Type': 'application/json'})
        assert status == 201
        token = headers['X-Subject-Token']
        status, _h, data, port2 = answer(
            conn, 'GET', '/compute/v2.1/flavors',
            headers={'X-Auth-Token': token})
        assert status == 200
        assert 'm1.small' in {f['name'] for f in json.loads(data)['flavors']}
        assert port2 == port
    finally:
        conn.close()


def _big_auth(pad):
    """A token request whose body is ``pad`` bytes longer (an unknown
    field, ignored, as Keystone ignores it)."""
    body = json.loads(json.dumps(PASSWORD_AUTH))
    body['auth']['padding'] = 'x' * pad
    return json.dumps(body).encode()


def test_chunked_large_body_then_another_request(srv):
    # Larger than what waitress keeps in memory (it spools to a file).
    raw = _big_auth(3 * 1024 * 1024)
    chunks = (raw[i:i + 65536] for i in range(0, len(raw), 65536))
    conn = connect(srv)
    try:
        status, headers, _b, port = answer(
            conn, 'POST', '/identity/v3/auth/tokens', body=chunks,
            headers={'Content-Type': 'application/json',
                     'Transfer-Encoding': 'chunked'}, encode_chunked=True)
        assert status == 201
        assert headers['X-Subject-Token']
        status, _h, data, port2 = answer(conn, 'GET', '/identity/v3')
        assert status == 200
        assert json.loads(data)['version']['id'] == 'v3.14'
        assert port2 == port
    finally:
        conn.close()


def test_large_body_then_another_request(srv):
    raw = _big_auth(2 * 1024 * 1024)
    conn = connect(srv)
    try:
        status, _h, _b, port = answer(
            conn, 'POST', '/identity/v3/auth/tokens', body=raw,
            headers={'Content-Type': 'application/json'})
        assert status == 201
        status, _h, _b, port2 = answer(conn, 'GET', '/identity/v3')
        assert (status, port2) == (200, port)
    finally:
        conn.close()


@pytest.mark.parametrize('chunked', [False, True])
def test_body_nobody_reads_does_not_leak_into_the_next_request(srv,
                                                               chunked):
    # No route reads it (404): the body must still be consumed, not read
    # as the next request's first line.
    raw = b'GET /identity/v3 HTTP/1.1\r\nHost: x\r\n\r\n' * 3000
    conn = connect(srv)
    try:
        kwargs = {'encode_chunked': True} if chunked else {}
        body = (raw[i:i + 8192] for i in range(0, len(raw), 8192)) \
            if chunked else raw
        status, _h, _b, port = answer(conn, 'POST', '/nowhere', body=body,
                                      **kwargs)
        assert status == 404
        status, _h, data, port2 = answer(conn, 'GET', '/identity/v3')
        assert (status, port2) == (200, port)
        assert json.loads(data)['version']['id'] == 'v3.14'
    finally:
        conn.close()
    # The body's lines were never served as requests.
    status, _h, data, _p = answer(connect(srv), 'GET', '/sim/requests')
    assert json.loads(data) == {'GET /identity': 1}


def test_stop_closes_open_keep_alive_connections():
    earlier = set(threading.enumerate())
    server = sim_server.SimServer(port=0).start()
    # The server's own: its loop and its worker threads.
    ours = [t for t in threading.enumerate() if t not in earlier]
    assert len(ours) == 1 + sim_server.THREADS
    conns = [connect(server) for _ in range(3)]
    for conn in conns:
        status, _h, _b, _p = answer(conn, 'GET', '/identity/v3')
        assert status == 200
    port = server.port
    server.stop()
    for conn in conns:
        # The server closed its end: the next read sees the end of stream.
        conn.sock.settimeout(10)
        assert conn.sock.recv(1) == b''
        conn.close()
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', port), timeout=10).close()
    # The loop and the worker threads ended.
    for t in ours:
        t.join(10)
    assert not [t.name for t in ours if t.is_alive()]
    server.stop()  # a second stop does nothing


def test_more_idle_connections_than_waitress_default_limit(srv):
    # Conductors and caas-api keep pools of connections (44 per process);
    # waitress accepts no new one past its limit (100 by default).
    idle = []
    try:
        for _ in range(150):
            conn = connect(srv)
            status, _h, _b, _p = answer(conn, 'GET', '/identity/v3')
            assert status == 200
            idle.append(conn)
        status, _h, _b, _p = answer(connect(srv), 'GET', '/identity/v3')
        assert status == 200
    finally:
        for conn in idle:
            conn.close()


def callers():
    """Requests that may wait on the cloud at once: two conductors' flow
    workers and periodic tasks, two caas-api processes' threads."""
    return 2 * (CONF.conductor.workers + 4) + 2 * CONF.api.threads


def test_every_caller_is_served_at_once():
    """As many handlers run at once as there are callers (handlers sleep
    with the api_latency knob: a caller queued behind them would wait)."""
    wanted = callers()
    assert sim_server.THREADS >= wanted
    barrier = threading.Barrier(wanted, timeout=60)
    server = sim_server.SimServer(port=0)

    def app(environ, start_response):
        # Every request waits here until ``wanted`` are inside at once.
        try:
            barrier.wait()
            status = '200 OK'
        except threading.BrokenBarrierError:
            status = '503 Service Unavailable'
        start_response(status, [('Content-Length', '0')])
        return [b'']

    server.app = app
    server.start()
    try:
        results = []

        def call():
            status, _h, _b, _p = answer(connect(server), 'GET', '/')
            results.append(status)

        threads = [threading.Thread(target=call) for _ in range(wanted)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * wanted
    finally:
        server.stop()


def test_a_stack_sized_body_is_read_without_a_temporary_file(srv,
                                                             monkeypatch):
    from caas.sim import app as sim_app
    made = []
    original = sim_app._Request.make_tempfile

    def counted(self):
        made.append(1)
        return original(self)

    monkeypatch.setattr(sim_app._Request, 'make_tempfile', counted)
    conn = connect(srv)
    try:
        for pad in (80 * 1024, 2 * 1024 * 1024):
            status, _h, _b, _p = answer(
                conn, 'POST', '/identity/v3/auth/tokens', body=_big_auth(pad),
                headers={'Content-Type': 'application/json'})
            assert status == 201
    finally:
        conn.close()
    # Only the body beyond 1 MiB went to a file.
    assert made == [1]


def test_a_client_that_half_closes_after_its_request_is_answered(srv):
    # The real nodes' relay (caas.sim.realnodes.netns.Relay) passes a
    # node's end of stream on to the cloud as a half close.
    sock = socket.create_connection(('127.0.0.1', srv.port), timeout=30)
    try:
        sock.sendall(b'GET /identity/v3 HTTP/1.1\r\nHost: x\r\n\r\n')
        sock.shutdown(socket.SHUT_WR)
        data = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    head, _, body = data.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200 ')
    assert json.loads(body)['version']['id'] == 'v3.14'
