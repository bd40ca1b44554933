"""Swarm nodes named in nodes_to_remove drain and leave (caas.conductor.drain).

The Docker API is faked at its boundary (the client's get/request): a small
swarm whose tasks stop some reads after a drain, as Swarm moves them.
"""

import json
import urllib.parse

import pytest

from caas.conductor import drain
from caas.conductor.monitors import tls


class FakeSwarm:
    """/nodes, /tasks, POST /nodes/<id>/update, DELETE /nodes/<id>."""

    def __init__(self, nodes, tasks, stop_after=2, fail=None):
        self.nodes = {n['ID']: n for n in nodes}
        self.tasks = tasks           # [{'node': id, 'state': ...}]
        self.stop_after = stop_after  # task reads before a drain stops them
        self.fail = fail
        self.calls = []

    def get(self, path):
        return self.request('GET', path)

    def request(self, method, path, body=None):
        self.calls.append((method, path.split('?')[0], body))
        if self.fail:
            raise tls.ProbeError(self.fail)
        if (method, path) == ('GET', '/nodes'):
            return 200, json.dumps(list(self.nodes.values())).encode()
        if method == 'GET' and path.startswith('/tasks?'):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
            node = json.loads(query['filters'][0])['node'][0]
            drained = self.nodes[node]['Spec'].get('Availability') == 'drain'
            out = []
            for task in self.tasks:
                if task['node'] != node:
                    continue
                if drained:
                    task['reads'] = task.get('reads', 0) + 1
                    if task['reads'] > self.stop_after:
                        task['state'] = 'shutdown'
                out.append({'ID': task['id'], 'Status': {
                    'State': task['state']}})
            return 200, json.dumps(out).encode()
        if method == 'POST' and path.startswith('/nodes/'):
            node_id = path.split('/')[2]
            assert 'version=%d' % self.nodes[node_id]['Version']['Index'] \
                in path
            self.nodes[node_id]['Spec'] = body
            return 200, b''
        if method == 'DELETE':
            node_id = path.split('/')[2].split('?')[0]
            assert 'force=true' in path
            if self.nodes.pop(node_id, None) is None:
                return 404, b'{"message": "node not found"}'
            return 200, b''
        return 404, b'{}'


def node(node_id, host, state='ready', availability='active'):
    return {'ID': node_id, 'Version': {'Index': 7},
            'Description': {'Hostname': host},
            'Spec': {'Role': 'worker', 'Availability': availability},
            'Status': {'State': state}}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def run(api, names, clock=None):
    clock = clock or Clock()
    return drain.SwarmDrain(api, clock, clock.sleep).release('c-1', names)


def test_a_busy_node_drains_before_it_is_removed():
    api = FakeSwarm([node('n1', 'w-0'), node('n2', 'w-1')],
                    [{'id': 't1', 'node': 'n1', 'state': 'running'},
                     {'id': 't2', 'node': 'n2', 'state': 'running'}])
    assert run(api, ['w-0']) == ['w-0']
    assert 'n1' not in api.nodes and 'n2' in api.nodes
    methods = [(m, p) for m, p, _b in api.calls]
    update = methods.index(('POST', '/nodes/n1/update'))
    delete = methods.index(('DELETE', '/nodes/n1'))
    # Removed only after a read of its tasks found none running.
    reads = [i for i, c in enumerate(methods) if c == ('GET', '/tasks')]
    assert update < reads[0] and len(reads) == 3 and reads[-1] < delete
    assert api.calls[update][2] == {'Role': 'worker',
                                    'Availability': 'drain'}
    # The other node was not touched.
    assert not any('n2' in p for _m, p, _b in api.calls)


def test_a_node_that_never_drains_is_removed_at_the_timeout(conf):
    conf('drain_timeout', 10, group='conductor')
    api = FakeSwarm([node('n1', 'w-0')],
                    [{'id': 't1', 'node': 'n1', 'state': 'running'}],
                    stop_after=10 ** 6)
    clock = Clock()
    assert run(api, ['w-0'], clock) == ['w-0']
    assert api.nodes == {}
    assert 10 <= clock.now <= 11


def test_a_down_node_is_removed_without_waiting():
    api = FakeSwarm([node('n1', 'w-0', state='down')],
                    [{'id': 't1', 'node': 'n1', 'state': 'running'}],
                    stop_after=10 ** 6)
    clock = Clock()
    assert run(api, ['w-0'], clock) == ['w-0']
    assert api.nodes == {} and clock.now == 0


def test_every_node_under_the_name_goes_and_others_stay():
    # A replaced server left its old node (Down) under the same name.
    api = FakeSwarm([node('old', 'w-0', state='down'), node('new', 'w-0'),
                     node('n2', 'w-1')], [])
    assert run(api, ['W-0']) == ['W-0']
    assert list(api.nodes) == ['n2']


def test_a_node_not_in_the_swarm_is_already_done():
    api = FakeSwarm([node('n2', 'w-1')], [])
    assert run(api, ['w-0']) == []
    assert [(m, p) for m, p, _b in api.calls] == [('GET', '/nodes')]


def test_an_already_draining_node_is_not_updated_again():
    api = FakeSwarm([node('n1', 'w-0', availability='drain')], [])
    assert run(api, ['w-0']) == ['w-0']
    assert not [c for c in api.calls if c[0] == 'POST']


def test_a_refused_update_is_an_error_not_a_removal():
    api = FakeSwarm([node('n1', 'w-0')], [])
    api.request = lambda method, path, body=None: (
        (500, b'{"message": "rpc error"}') if method == 'POST' else
        FakeSwarm.request(api, method, path, body))
    with pytest.raises(drain.DrainError, match='HTTP 500: .*rpc error'):
        run(api, ['w-0'])
    assert 'n1' in api.nodes


def test_release_skips_other_coes_and_unreachable_apis(monkeypatch, conf):
    conf('probe_networks', ['127.0.0.0/8'], group='health')
    asked = []
    monkeypatch.setattr(drain.tls, 'client_context',
                        lambda uuid, coe: asked.append(uuid))
    assert drain.release('c-1', 'kubernetes', 'https://127.0.0.9:6443',
                         ['w-0']) == []
    assert drain.release('c-1', 'swarm-mode', None, ['w-0']) == []
    # Outside the networks probes may reach: no packet, no drain.
    assert drain.release('c-1', 'swarm-mode', 'tcp://10.1.2.3:2376',
                         ['w-0']) == []
    assert asked == []
    # Nothing listens there: logged, the resize goes on.
    assert drain.release('c-1', 'swarm-mode', 'tcp://127.0.0.9:1',
                         ['w-0']) == []
    assert asked == ['c-1']


def test_a_swarm_resize_drains_the_chosen_worker_before_heat_deletes_it(
        make_runner, sim, monkeypatch):
    from caas.clients import cloud
    from caas.common import states
    from caas.db import api as db_api
    from tests.unit.conductor.conftest import make_swarm_cluster
    from tests.unit.conductor.conftest import wait_operation
    released = []

    def release(cluster_uuid, coe, api_address, names):
        # What the stack was doing when the node was asked to leave.
        stack = sim.cloud.summary()['stacks'][0]['status']
        released.append((cluster_uuid, coe, api_address, names, stack))
        return names

    monkeypatch.setattr(drain, 'release', release)
    runner = make_runner()
    cluster, op = make_swarm_cluster(2)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    nova = cloud.CloudClients().nova
    workers = sorted((s for s in nova.servers.list() if '-node-' in s.name),
                     key=lambda s: s.name)
    assert len(workers) == 2
    _, op = db_api.start_operation(
        cluster.uuid, 'cluster_update',
        {'node_count': 1, 'nodes_to_remove': [workers[0].id]})
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert released == [(cluster.uuid, 'swarm-mode', row.api_address,
                         [workers[0].name], 'CREATE_COMPLETE')]
    left = {s.id for s in nova.servers.list() if '-node-' in s.name and
            getattr(s, 'OS-EXT-STS:task_state', None) != 'deleting'}
    assert left == {workers[1].id}
    # A plain resize asks no node to leave.
    _, op = db_api.start_operation(cluster.uuid, 'cluster_update',
                                   {'node_count': 2})
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    assert len(released) == 1
