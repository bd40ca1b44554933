"""``caas-api`` with two worker processes on PostgreSQL, each remembering
list pages: a write committed by another process (here the test, as a
conductor would) is listed by whichever worker answers next, and lists
made while writes commit never go back behind a committed write."""

import os
import signal
import subprocess
import threading

import pytest
import requests
import sqlalchemy as sa

from caas.conf import CONF
from caas.db import api as db_api
from caas.db import migration
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.integration import deployment

HEADERS = {'X-Project-Id': 'p1', 'X-User-Id': 'u', 'X-Roles': 'member',
           'OpenStack-API-Version': 'container-infra latest'}


@pytest.fixture
def two_workers(services, tmp_path):
    url = deployment.create_database(services['db_url'])
    CONF.set_override('connection', url, group='database')
    engine.dispose()
    migration.upgrade()
    port = deployment.free_port()
    conf = tmp_path / 'caas.conf'
    conf.write_text('\n'.join([
        '[DEFAULT]', 'auth_strategy = noauth',
        'transport_url = kombu+caas-memory:////',
        '[database]', 'connection = %s' % url,
        '[api]', 'host = 127.0.0.1', 'port = %d' % port, 'workers = 2',
        'threads = 4', '']))
    log = open(tmp_path / 'api.log', 'ab')
    proc = subprocess.Popen([os.path.join(deployment.BIN, 'caas-api'),
                             '--config-file', str(conf)], stdout=log,
                            stderr=subprocess.STDOUT)
    base = 'http://127.0.0.1:%d' % port
    try:
        deployment.wait_http(base + '/', 60)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        engine.dispose()
        CONF.clear_override('connection', group='database')


def _cluster():
    tmpl = db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': 'ubuntu'})
    cluster, _ = db_api.create_cluster(
        {'name': 'c', 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': 1, 'master_count': 1},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1},
         {'name': 'default-worker', 'role': 'worker', 'node_count': 1}],
        timeout_minutes=60)
    return cluster.uuid


def _node_count(base, uuid):
    # A new connection per request: the kernel spreads new connections
    # over the workers' sockets (SO_REUSEPORT).
    r = requests.get(base + '/v1/clusters', headers=HEADERS, timeout=30)
    r.raise_for_status()
    return {c['uuid']: c for c in r.json()['clusters']}[uuid]['node_count']


def _set(uuid, value):
    with engine.session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == uuid).values(node_count=value))


def test_each_worker_lists_a_write_committed_elsewhere(two_workers):
    uuid = _cluster()
    for value in (2, 3, 4):
        # Both workers have the page by now (ten connections each round).
        assert {_node_count(two_workers, uuid) for _ in range(10)} == \
            {value - 1}
        _set(uuid, value)
        assert [_node_count(two_workers, uuid) for _ in range(10)] == \
            [value] * 10


def test_lists_never_go_behind_a_committed_write(two_workers):
    uuid = _cluster()
    committed = [1]
    stop = threading.Event()
    behind, served = [], []

    def conductor():
        # Writes go on until the clients have listed between them (on a
        # loaded machine 58 writes were done before they listed 5 times),
        # bounded in count.
        try:
            for value in range(2, 60):
                _set(uuid, value)
                committed[0] = value
            for value in range(60, 2000):
                if len(served) >= 40:
                    break
                _set(uuid, value)
                committed[0] = value
        finally:
            stop.set()

    def client():
        while not stop.is_set():
            floor = committed[0]
            seen = _node_count(two_workers, uuid)
            served.append(seen)
            if seen < floor:
                behind.append((floor, seen))

    threads = [threading.Thread(target=conductor)] + [
        threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not behind, behind[:10]
    assert len(served) > 10
    assert {_node_count(two_workers, uuid) for _ in range(10)} == \
        {committed[0]}
