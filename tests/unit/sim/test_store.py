"""The simulated cloud's store: one row per record, kept across kill -9."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import requests
from heatclient import client as heat_client

from caas.sim import state
from caas.sim import store
from tests.unit.sim.test_cloudsim import create_cluster
from tests.unit.sim.test_cloudsim import make_session
from tests.unit.sim.test_cloudsim import wait_for


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _start_cloudsim(state_dir, port):
    exe = os.path.join(os.path.dirname(sys.executable), 'caas-cloudsim')
    proc = subprocess.Popen(
        [exe, '--port', str(port), '--state-dir', state_dir,
         '--config-file', os.devnull],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = 'http://127.0.0.1:%d' % port
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url + '/sim/state', timeout=1)
            return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError('caas-cloudsim did not start')


class _Srv:
    def __init__(self, url):
        self.auth_url = url + '/identity/v3'


def test_kill_9_keeps_every_acknowledged_change(tmp_path):
    """Stacks created before a SIGKILL are all there after the restart
    (each change is committed before the HTTP answer)."""
    port = _free_port()
    proc, url = _start_cloudsim(str(tmp_path), port)
    try:
        heat = heat_client.Client('1', session=make_session(_Srv(url)))
        ids = [create_cluster(heat, 'k%d' % i, count=1) for i in range(3)]
        heat.stacks.delete(ids[0])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    proc, url = _start_cloudsim(str(tmp_path), port)
    try:
        heat = heat_client.Client('1', session=make_session(_Srv(url)))
        for stack_id in ids[1:]:
            assert wait_for(heat, stack_id, ('CREATE_COMPLETE',)).id == \
                stack_id
        names = {s.stack_name for s in heat.stacks.list()}
        assert names == {'k1', 'k2'}
        counts = requests.get(url + '/sim/state').json()['counts']
        assert counts['servers'] == 2
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def test_a_state_dir_of_the_json_version_is_imported(tmp_path):
    legacy = {'version': 1, 'stacks': {}, 'tokens': {},
              'keypairs': {'old': {'name': 'old', 'type': 'ssh'}},
              'counters': {'fixed': 7, 'floating': 3}}
    with open(os.path.join(str(tmp_path), store.LEGACY_FILE), 'w') as f:
        json.dump(legacy, f)
    cloud = state.Cloud(state_dir=str(tmp_path))
    assert cloud.data['keypairs']['old']['name'] == 'old'
    with cloud.lock:
        assert cloud.next_fixed_ip() == '127.10.0.10'
        cloud.save()
    assert not os.path.exists(os.path.join(str(tmp_path),
                                           store.LEGACY_FILE))
    again = state.Cloud(state_dir=str(tmp_path))
    assert 'old' in again.data['keypairs']
    assert again.data['counters']['fixed'] == 8


def test_a_change_in_place_that_is_touched_is_written(tmp_path):
    cloud = state.Cloud(state_dir=str(tmp_path))
    with cloud.lock:
        srv = cloud.create_server('p', 'u', 'one', {'id': '2'}, None)
        cloud.save()
        written = cloud.store.rows_written
        cloud.delete_server(srv, delay=3600)
        cloud.save()
    # The server and nothing else.
    assert cloud.store.rows_written == written + 1
    loaded = store.Store(str(tmp_path)).load()
    assert loaded['servers'][srv['id']]['delete_at'] is not None


def test_without_a_state_dir_nothing_is_written():
    cloud = state.Cloud()
    with cloud.lock:
        cloud.create_server('p', 'u', 'one', {'id': '2'}, None)
        cloud.save()
    assert cloud.store.rows_written == 0 and cloud.path is None


def test_a_record_reads_back_as_the_json_it_was(tmp_path):
    # Integer keys (YAML maps them so) become strings, as json.dumps makes
    # them; an integer beyond 64 bits (which orjson refuses) still saves.
    record = {'id': 's1', 'template': {'resources': {1: {'port': 6443}}},
              'big': 2 ** 70, 'ratio': 0.25, 'name': 'caf\u00e9',
              'nested': [{'a': None, 'b': True}]}
    db = store.Store(str(tmp_path))
    db.write([('stacks', 's1', record),
              ('stacks', 's2', {'id': 's2', 'n': 1})], [])
    db.close()
    loaded = store.Store(str(tmp_path)).load()['stacks']
    assert loaded['s1'] == json.loads(json.dumps(record))
    assert loaded['s2'] == {'id': 's2', 'n': 1}


def _nested(stack):
    for res in stack['resources'].values():
        if res.get('nested'):
            yield res['nested']
            yield from _nested(res['nested'])


def test_nested_stacks_files_are_stored_once_with_the_root(tmp_path):
    srv_dir = str(tmp_path)
    cloud = state.Cloud(state_dir=srv_dir)
    from caas.sim import stacks
    from tests.unit.sim.test_cloudsim import CLUSTER, MEMBER
    files = {'member.yaml': MEMBER}
    with cloud.lock:
        stack = stacks.create_stack(
            cloud, 'c1', 'p', 'u', CLUSTER, {'count': 2, 'image': 'x'},
            files)
        cloud.save()
    nested = list(_nested(stack))
    assert len(nested) == 3  # the group and its two members
    assert all(n['files'] is stack['files'] for n in nested)
    row = json.loads(cloud.store.conn.execute(
        'SELECT body FROM records WHERE id = ?', (stack['id'],)).fetchone()[0])
    # The files are in the row once: the root's.
    assert [s.get('files') for s in _nested(row)] == [None] * 3
    assert [s.get(state.FILES_OF_PARENT) for s in _nested(row)] == [True] * 3
    assert row['files'] == files
    # The live record was not changed by writing it.
    assert all(n['files'] is stack['files'] for n in _nested(stack))
    again = state.Cloud(state_dir=srv_dir)
    loaded = again.data['stacks'][stack['id']]
    assert json.loads(json.dumps(loaded)) == json.loads(json.dumps(stack))
    assert all(n['files'] is loaded['files'] for n in _nested(loaded))


def test_an_update_with_new_files_keeps_the_nested_stacks_own(tmp_path):
    """An update that gives the root new files leaves a nested stack with
    the files it had (they are then written with it), as before files were
    stored once."""
    from caas.sim import stacks
    from tests.unit.sim.test_cloudsim import CLUSTER, MEMBER
    cloud = state.Cloud(state_dir=str(tmp_path))
    with cloud.lock:
        stack = stacks.create_stack(
            cloud, 'c1', 'p', 'u', CLUSTER, {'count': 1, 'image': 'x'},
            {'member.yaml': MEMBER})
        cloud.save()
        old_files = stack['files']
        stacks.update_stack(cloud, stack, files={'extra.yaml': 'x: 1'},
                            existing=True, params={'count': 1})
        cloud.save()
    assert stack['files'] is not old_files
    group = next(_nested(stack))
    kept = group['files']
    again = state.Cloud(state_dir=str(tmp_path))
    loaded = again.data['stacks'][stack['id']]
    assert next(_nested(loaded))['files'] == kept == old_files
    assert loaded['files'] == stack['files']
    assert json.loads(json.dumps(loaded)) == json.loads(json.dumps(stack))
