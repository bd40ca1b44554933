"""caas.api.workers: one listening socket per worker, kept by the parent.

The workers here serve a one-line answer (their slot and pid) instead of
the API, so that which worker took a connection is visible; a worker
whose hold file exists does not accept yet (a busy or restarting worker).
"""

import gc
import multiprocessing
import os
import signal
import socket
import time

import pytest

from caas.api import workers


def _wait(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError('condition not met in %ss' % timeout)


def _serve(socks, state):
    def serve(sock):
        slot = socks.index(sock)
        with open(os.path.join(state, 'pid-%d' % slot), 'w') as f:
            f.write(str(os.getpid()))
        while os.path.exists(os.path.join(state, 'hold-%d' % slot)):
            time.sleep(0.02)
        sock.setblocking(True)
        while True:
            conn, _ = sock.accept()
            conn.sendall(b'%d %d\n' % (slot, os.getpid()))
            conn.close()
    return serve


def _pid(state, slot):
    try:
        with open(os.path.join(state, 'pid-%d' % slot)) as f:
            return int(f.read() or 0)
    except OSError:
        return 0


@pytest.fixture
def supervised(tmp_path, monkeypatch):
    """A started Supervisor of two workers: (port, state dir, process)."""
    monkeypatch.setattr(workers, 'RESTART_DELAY', 0.1)
    state = str(tmp_path)
    socks = workers.listen('127.0.0.1', 0, 2, backlog=128)
    port = socks[0].getsockname()[1]
    started = []

    def start():
        proc = multiprocessing.get_context('fork').Process(
            target=workers.Supervisor(socks, _serve(socks, state)).run)
        proc.start()
        for sock in socks:
            sock.close()     # the supervisor's process holds them now
        started.append(proc)
        _wait(lambda: _pid(state, 0) and _pid(state, 1))
        return proc

    yield port, state, start
    for proc in started:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGTERM)
            proc.join(20)
        assert proc.exitcode == 0


def _connect(port, count):
    conns = []
    for _ in range(count):
        conn = socket.create_connection(('127.0.0.1', port), timeout=20)
        conns.append(conn)
    return conns


def _answers(conns):
    """(slot, pid) of each connection's answer, in order."""
    out = []
    for conn in conns:
        data = b''
        while not data.endswith(b'\n'):
            chunk = conn.recv(64)
            if not chunk:
                raise ConnectionError('closed after %r' % data)
            data += chunk
        conn.close()
        slot, pid = data.split()
        out.append((int(slot), int(pid)))
    return out


def test_listen_gives_each_worker_its_own_socket_on_one_port():
    socks = workers.listen('127.0.0.1', 0, 3)
    try:
        ports = {sock.getsockname()[1] for sock in socks}
        assert len(ports) == 1 and 0 not in ports
        assert len({sock.fileno() for sock in socks}) == 3
    finally:
        for sock in socks:
            sock.close()


def test_listen_refuses_a_port_another_server_listens_on():
    socks = workers.listen('127.0.0.1', 0, 2)
    try:
        port = socks[0].getsockname()[1]
        with pytest.raises(OSError):
            workers.listen('127.0.0.1', port, 2)
    finally:
        for sock in socks:
            sock.close()


def test_connections_reach_a_worker_that_is_not_accepting_yet(supervised):
    # On one shared socket the worker that accepts takes every connection;
    # with a socket per worker the kernel gives the held one its share,
    # and they wait for it.
    port, state, start = supervised
    open(os.path.join(state, 'hold-1'), 'w').close()
    start()
    conns = _connect(port, 32)
    time.sleep(0.3)     # worker 0 could take them all meanwhile
    os.unlink(os.path.join(state, 'hold-1'))
    slots = [slot for slot, _pid in _answers(conns)]
    assert slots.count(0) > 0 and slots.count(1) > 0


def test_connections_queued_for_a_dead_worker_go_to_its_successor(
        supervised):
    port, state, start = supervised
    open(os.path.join(state, 'hold-1'), 'w').close()
    start()
    dead = _pid(state, 1)
    conns = _connect(port, 32)
    os.kill(dead, signal.SIGKILL)
    os.unlink(os.path.join(state, 'hold-1'))
    answers = _answers(conns)      # a reset connection raises here
    assert len(answers) == 32
    successors = {pid for slot, pid in answers if slot == 1}
    assert successors and dead not in successors


def test_sigterm_stops_the_workers_and_closes_every_socket(supervised):
    port, state, start = supervised
    proc = start()
    pids = [_pid(state, 0), _pid(state, 1)]
    assert len(_answers(_connect(port, 8))) == 8
    os.kill(proc.pid, signal.SIGTERM)
    proc.join(20)
    assert proc.exitcode == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(('127.0.0.1', port), timeout=5)


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()


def test_settle_heap_takes_live_objects_out_of_collections(unfrozen):
    class Node:
        pass

    kept = Node()
    kept.self = kept                   # a cycle, alive: tracked by gc
    garbage = Node()
    garbage.self = garbage
    garbage_id = id(garbage)
    del garbage
    workers.settle_heap()
    assert gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())
    assert not any(id(obj) == garbage_id and isinstance(obj, Node)
                   for obj in gc.get_objects())
    assert kept.self is kept


def test_a_worker_settles_its_heap_after_building_the_app(monkeypatch,
                                                          unfrozen):
    from caas.api import app as api_app
    from caas.api import server
    from caas import cmd
    from caas.cmd import api as cmd_api
    events = []

    class Httpd:
        def stop(self):
            events.append('stop')

    monkeypatch.setattr(api_app, 'build_app',
                        lambda conf: events.append('build') or 'app')
    monkeypatch.setattr(workers, 'settle_heap',
                        lambda: events.append('settle'))
    monkeypatch.setattr(server, 'serve', lambda app, *a, **kw:
                        events.append('serve %s' % app) or Httpd())
    monkeypatch.setattr(cmd, 'wait_for_stop_signal',
                        lambda name: events.append('wait'))
    cmd_api._serve()
    assert events == ['build', 'settle', 'serve app', 'wait', 'stop']
