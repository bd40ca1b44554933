"""list_latency's raw clients: one keep-alive connection each, GETs and
creates from the same class, every answer checked before it is timed."""

import http.server
import os
import sys
import threading
import uuid

import orjson
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    'benchmarks'))

import list_latency  # noqa: E402


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.seen.append((self.command, self.path, None,
                                 self.client_address))
        self._answer(200, b'x' * 1000)

    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        self.server.seen.append((self.command, self.path, body,
                                 self.client_address))
        self._answer(*self.server.answer())


class _Server(http.server.ThreadingHTTPServer):
    def __init__(self):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.seen = []
        self.connections = 0
        self.answer = lambda: (202, orjson.dumps({'uuid': str(uuid.uuid4())}))

    def process_request(self, request, address):
        self.connections += 1
        super().process_request(request, address)


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(server, path):
    return 'http://127.0.0.1:%d%s' % (server.server_address[1], path)


def test_creates_name_a_new_cluster_each_over_one_connection(server):
    make = list_latency.create_client(_url(server, '/v1/clusters'),
                                      {'cluster_template_id': 't'})
    first, second = make(3), make(4)
    for _ in range(3):
        first.send()
    second.send()
    first.close()
    second.close()
    bodies = [orjson.loads(body) for _, _, body, _ in server.seen]
    assert [b['name'] for b in bodies] == [
        'post-03-00000000', 'post-03-00000001', 'post-03-00000002',
        'post-04-00000000']
    assert {b['cluster_template_id'] for b in bodies} == {'t'}
    assert {(m, p) for m, p, _, _ in server.seen} == {('POST',
                                                       '/v1/clusters')}
    # Keep-alive: the three creates of one client on its one connection.
    peers = [peer for *_, peer in server.seen]
    assert len(set(peers[:3])) == 1 and peers[3] != peers[0]
    assert server.connections == 2


def test_a_create_answered_otherwise_than_202_raises(server):
    server.answer = lambda: (409, b'{"errors": []}')
    client = list_latency.create_client(_url(server, '/v1/clusters'), {})(0)
    with pytest.raises(RuntimeError, match='status 409'):
        client.send()
    client.close()


@pytest.mark.parametrize('body', [b'{}', b'{"uuid": "nope"}',
                                  # A fixed UUID: xdist's workers must
                                  # collect the same test names.
                                  b'{"uuid": "0b7e3c52-5f0a-4d8e-9a57-'
                                  b'3c1f2e4d6a80", "x": 1}'])
def test_a_202_without_exactly_a_uuid_raises(server, body):
    server.answer = lambda: (202, body)
    client = list_latency.create_client(_url(server, '/v1/clusters'), {})(0)
    with pytest.raises(Exception):
        client.send()
    client.close()


def test_gets_check_the_length_and_send_no_body(server):
    client = list_latency.get_client(_url(server, '/v1/clusters?limit=5'),
                                     1000)(0)
    assert client.send() == 1000
    assert client.send() == 1000
    client.close()
    assert [(m, p, b) for m, p, b, _ in server.seen] == [
        ('GET', '/v1/clusters?limit=5', None)] * 2
    short = list_latency.get_client(_url(server, '/'), 999)(0)
    with pytest.raises(RuntimeError, match='body of 1000 bytes'):
        short.send()
    short.close()


def test_load_processes_times_every_create_from_its_own_process(server):
    samples, wall, warm, cpu = list_latency.load_processes(
        list_latency.create_client(_url(server, '/v1/clusters'), {}),
        total=12, clients=3, timeout=30)
    assert len(samples) == 12 and len(warm) == 3 and wall > 0
    assert cpu > 0
    names = [orjson.loads(body)['name'] for _, _, body, _ in server.seen]
    # 3 warm-up creates and 12 timed, all named apart.
    assert len(names) == len(set(names)) == 15
    assert server.connections == 3
