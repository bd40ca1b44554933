"""caas-api with ``[api] workers = 2``: two processes serve the one port,
a worker that dies is replaced, and none outlives its parent."""

import os
import signal
import subprocess
import time

import pytest
import requests

from tests.integration import deployment

HEADERS = {'X-Project-Id': 'p1', 'X-Roles': 'member',
           'OpenStack-API-Version': 'container-infra latest'}


def _children(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return sorted(int(c) for c in f.read().split())
    except OSError:
        return []


def _alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _wait(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError('condition not met in %ss' % timeout)


@pytest.fixture
def api(tmp_path):
    port = deployment.free_port()
    conf = tmp_path / 'caas.conf'
    conf.write_text('\n'.join([
        '[DEFAULT]', 'auth_strategy = noauth',
        'transport_url = kombu+caas-memory:////',
        '[database]', 'connection = sqlite:///%s' % (tmp_path / 'c.sqlite'),
        '[api]', 'host = 127.0.0.1', 'port = %d' % port, 'workers = 2',
        'threads = 2', '']))
    bin_dir = deployment.BIN
    subprocess.run([os.path.join(bin_dir, 'caas-manage'), '--config-file',
                    str(conf), 'db', 'upgrade'], check=True,
                   capture_output=True)
    log = open(tmp_path / 'api.log', 'ab')
    proc = subprocess.Popen([os.path.join(bin_dir, 'caas-api'),
                             '--config-file', str(conf)], stdout=log,
                            stderr=subprocess.STDOUT)
    url = 'http://127.0.0.1:%d' % port
    try:
        deployment.wait_http(url + '/', 60)
        yield proc, url
    finally:
        children = _children(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()


def _answers(url):
    r = requests.get(url + '/v1/clusters', headers=HEADERS, timeout=10)
    return r.status_code == 200 and r.json()['clusters'] == []


def test_two_workers_serve_the_port_and_a_dead_one_is_replaced(api):
    proc, url = api
    workers = _wait(lambda: len(_children(proc.pid)) == 2 and
                    _children(proc.pid))
    assert all(_answers(url) for _ in range(20))
    os.kill(workers[0], signal.SIGKILL)
    replaced = _wait(lambda: len(_children(proc.pid)) == 2 and
                     workers[0] not in _children(proc.pid) and
                     _children(proc.pid))
    assert workers[1] in replaced
    _wait(lambda: _answers(url))
    assert all(_answers(url) for _ in range(20))


def test_sigterm_stops_every_worker(api):
    proc, url = api
    workers = _wait(lambda: len(_children(proc.pid)) == 2 and
                    _children(proc.pid))
    proc.terminate()
    assert proc.wait(30) == 0
    assert not any(_alive(pid) for pid in workers)
    with pytest.raises(requests.ConnectionError):
        requests.get(url + '/', timeout=5)


def test_workers_do_not_outlive_a_killed_parent(api):
    proc, url = api
    workers = _wait(lambda: len(_children(proc.pid)) == 2 and
                    _children(proc.pid))
    proc.kill()
    proc.wait(10)
    _wait(lambda: not any(_alive(pid) for pid in workers))
