"""The benchmarks find PostgreSQL's and RabbitMQ's processes from their
PID files, else from the process that listens on their port."""

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    'benchmarks'))

import deploy  # noqa: E402

LISTENER = '''
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
sys.stdin.read()
'''


def _listener():
    proc = subprocess.Popen([sys.executable, '-c', LISTENER],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    return proc, int(proc.stdout.readline())


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_a_missing_pid_file_falls_back_to_the_listener(tmp_path,
                                                       monkeypatch):
    proc, port = _listener()
    try:
        monkeypatch.setenv('CAAS_SERVICES_DIR', str(tmp_path))
        monkeypatch.setenv('CAAS_RABBIT_PORT', str(port))
        monkeypatch.setenv('CAAS_PG_PORT', str(_free_port()))
        assert deploy.listener_pid(port) == proc.pid
        # No PID file for either; nothing listens on PostgreSQL's port.
        assert deploy.service_pids() == {'rabbitmq': proc.pid}
        # A PID file, where there is one, is taken as it is.
        (tmp_path / 'pg').mkdir()
        (tmp_path / 'pg' / 'postmaster.pid').write_text('4242\n/data\n')
        assert deploy.service_pids() == {'postgresql': 4242,
                                         'rabbitmq': proc.pid}
    finally:
        proc.stdin.close()
        proc.wait(10)


def test_a_port_nobody_listens_on_has_no_pid():
    assert deploy.listener_pid(_free_port()) is None


def test_the_port_comes_from_the_url_when_its_variable_is_unset(
        monkeypatch):
    monkeypatch.delenv('CAAS_RABBIT_PORT', raising=False)
    monkeypatch.setenv('CAAS_TEST_TRANSPORT_URL',
                       'rabbit://guest:guest@127.0.0.1:26240/')
    assert deploy.service_port('CAAS_RABBIT_PORT', 'CAAS_TEST_TRANSPORT_URL',
                               25672) == 26240
    # The variable wins over the URL; neither gives the default.
    monkeypatch.setenv('CAAS_RABBIT_PORT', '26999')
    assert deploy.service_port('CAAS_RABBIT_PORT', 'CAAS_TEST_TRANSPORT_URL',
                               25672) == 26999
    monkeypatch.delenv('CAAS_RABBIT_PORT')
    for url in ('', 'rabbit://guest:guest@127.0.0.1/',
                'rabbit://127.0.0.1:notaport/'):
        monkeypatch.setenv('CAAS_TEST_TRANSPORT_URL', url)
        assert deploy.service_port('CAAS_RABBIT_PORT',
                                   'CAAS_TEST_TRANSPORT_URL', 25672) == 25672


def test_a_listener_found_by_the_urls_port(tmp_path, monkeypatch):
    proc, port = _listener()
    try:
        monkeypatch.setenv('CAAS_SERVICES_DIR', str(tmp_path))
        monkeypatch.delenv('CAAS_PG_PORT', raising=False)
        monkeypatch.delenv('CAAS_RABBIT_PORT', raising=False)
        monkeypatch.setenv('CAAS_TEST_DB_URL',
                           'postgresql+psycopg2://postgres@127.0.0.1:%d/caas'
                           % port)
        monkeypatch.setenv('CAAS_TEST_TRANSPORT_URL',
                           'rabbit://guest:guest@127.0.0.1:%d/' % _free_port())
        assert deploy.service_pids() == {'postgresql': proc.pid}
    finally:
        proc.stdin.close()
        proc.wait(10)
