"""The waitress server helper and the real python-magnumclient."""

from magnumclient import exceptions as mc_exceptions
from magnumclient.v1 import client as mc_client
import pytest

from caas.api import app as api_app
from caas.api import server
from caas.conf import CONF


@pytest.fixture
def running(api, rpc, cloud, drivers):
    srv = server.serve(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                                         find_driver=drivers),
                       '127.0.0.1', 0, threads=2)
    yield srv
    srv.stop()


def test_serve_binds_a_port_and_stops(running):
    assert running.port > 0


def test_magnumclient_round_trip(running, rpc):
    mc = mc_client.Client(endpoint_override=running.url + '/v1',
                          auth_token='unused', api_version='latest')
    tpl = mc.cluster_templates.create(
        name='k8s', coe='kubernetes', image_id='fedora-coreos',
        flavor_id='m1.small', keypair_id='default')
    assert tpl.cluster_distro == 'fedora-coreos'
    created = mc.clusters.create(name='c1', cluster_template_id=tpl.uuid,
                                 node_count=2)
    cluster = mc.clusters.get('c1')
    assert cluster.uuid == created.uuid
    assert cluster.node_count == 2
    assert [c.name for c in mc.clusters.list()] == ['c1']
    assert [s.host for s in mc.mservices.list()] == []
    with pytest.raises(mc_exceptions.NotFound) as err:
        mc.clusters.get('ghost')
    assert 'Cluster ghost could not be found.' in str(err.value)
    with pytest.raises(mc_exceptions.BadRequest) as err:
        mc.clusters.create(name='c2', cluster_template_id=tpl.uuid,
                           node_count=-1)
    assert 'node_count' in str(err.value)


def test_the_loop_leaves_a_channel_alone_while_a_thread_sends_on_it(
        monkeypatch):
    """While a worker thread sends a body, waitress's loop does not wake
    for that channel (it used to find it writable, fail to take its lock
    and try again until the send was over); what the worker leaves
    unsent, the loop sends: a slow reader gets every byte."""
    import socket
    import threading
    import time

    body = bytes(range(256)) * (12 * 1024)      # 3 MiB, zero-copy path
    loop_writes, worker_sends = [], []
    sending = threading.Event()
    real_send = server.Channel.send
    real_handle_write = server.Channel.handle_write

    def send(self, data, do_close=True):
        if threading.current_thread().name != 'caas-api':
            # A worker's send that lasts (the interpreter lock let go),
            # while something else (another client) wakes the loop.
            worker_sends.append(len(data))
            sending.set()
            self.server.pull_trigger()
            time.sleep(0.05)
            sending.clear()
        return real_send(self, data, do_close=do_close)

    def handle_write(self):
        if sending.is_set():
            loop_writes.append(1)
        return real_handle_write(self)

    monkeypatch.setattr(server.Channel, 'send', send)
    monkeypatch.setattr(server.Channel, 'handle_write', handle_write)

    def app(environ, start_response):
        start_response('200 OK', [('Content-Length', str(len(body)))])
        return [body]

    srv = server.serve(app, '127.0.0.1', 0, threads=2)
    try:
        for slow in (False, True):
            worker_sends.clear()
            loop_writes.clear()
            with socket.create_connection(('127.0.0.1', srv.port)) as c:
                c.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
                if slow:
                    # The socket fills: the worker leaves the rest to
                    # the loop.
                    time.sleep(0.3)
                got = b''
                while len(got) < len(body) or b'\r\n\r\n' not in got:
                    chunk = c.recv(65536)
                    assert chunk
                    got += chunk
                    if slow:
                        time.sleep(0.001)
                head, _, rest = got.partition(b'\r\n\r\n')
                while len(rest) < len(body):
                    rest += c.recv(65536)
            assert head.startswith(b'HTTP/1.1 200 OK')
            assert rest == body
            assert worker_sends
            # At most the one wake-up already under way when the worker
            # began; before, hundreds in each 50 ms send.
            assert len(loop_writes) <= len(worker_sends), (
                len(loop_writes), len(worker_sends))
    finally:
        srv.stop()


def test_the_date_header_is_waitress_text_made_once_per_second():
    from waitress import utilities
    made = []

    def build(when):
        made.append(when)
        return utilities.build_http_date(when)

    date = server._HttpDate(build)
    base = 1792890000.0
    times = [base + d for d in (0.0, 0.1, 0.5, 0.999999, 1.0, 1.2, 59.9,
                                60.0, 86399.99, 86400.0)] + [1.5e9, 0.25]
    for when in times * 3:
        assert date(when) == utilities.build_http_date(when)
    # One text per second met: 100 responses within a second format one.
    for i in range(100):
        assert date(base + 86400.0 + i / 100.0) == \
            utilities.build_http_date(base + 86400.0)
    # Each run of the same second formats once: 8 runs of 12 times, three
    # rounds, then one for the 100 answers.
    assert len(made) == 3 * 8 + 1


def test_the_server_answers_with_the_remembered_date(running):
    import email.utils
    import time

    import requests
    import waitress.task

    assert isinstance(waitress.task.build_http_date, server._HttpDate)
    before = time.time()
    answers = [requests.get(running.url + '/') for _ in range(5)]
    after = time.time()
    for answer in answers:
        when = email.utils.parsedate_to_datetime(
            answer.headers['Date']).timestamp()
        assert int(before) <= when <= after
