"""Rolling updates of the simulated ResourceGroup (caas.sim.rolling)."""

import time

import pytest

from caas.sim import state as st
from caas.sim import stacks

BOOT = 0.05

TEMPLATE = {
    'heat_template_version': '2021-04-16',
    'parameters': {
        'count': {'type': 'number', 'default': 5},
        'image': {'type': 'string'},
        'batch': {'type': 'number', 'default': 1},
        'note': {'type': 'string', 'default': ''},
    },
    'resources': {
        'nodes': {
            'type': 'OS::Heat::ResourceGroup',
            'update_policy': {'rolling_update': {
                'max_batch_size': {'get_param': 'batch'}}},
            'properties': {
                'count': {'get_param': 'count'},
                'resource_def': {
                    'type': 'OS::Nova::Server',
                    'properties': {
                        'name': 'node-%index%',
                        'image': {'get_param': 'image'},
                        'flavor': 'm1.small',
                        'metadata': {'note': {'get_param': 'note'}}}}}},
    },
    'outputs': {'ids': {'value': {'get_attr': ['nodes', 'refs']}}},
}


@pytest.fixture
def cloud():
    return st.Cloud(server_boot_delay=BOOT, resource_delay=0.0,
                    delete_delay=0.0)


def _wait(cloud, stack, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with cloud.lock:
            status, _reason = stacks.stack_status(cloud, stack)
        if not status.endswith('IN_PROGRESS'):
            return status
        time.sleep(BOOT / 5)
    raise AssertionError('stack still %s' % status)


def _group(stack):
    return stack['resources']['nodes']


def _servers(cloud, stack):
    with cloud.lock:
        return stacks.output_value(cloud, stack, 'ids')


def _create(cloud, **params):
    params = dict({'image': 'ubuntu-jammy'}, **params)
    with cloud.lock:
        stack = stacks.create_stack(cloud, 'rolling', 'p', 'u', TEMPLATE,
                                    params)
    assert _wait(cloud, stack) == 'CREATE_COMPLETE'
    return stack


def _update(cloud, stack, **params):
    with cloud.lock:
        stacks.update_stack(cloud, stack, params=params, existing=True)


def _max_in_flight(intervals):
    """Most intervals (start, end) open at one moment."""
    points = sorted([(s, 1) for s, _e in intervals] +
                    [(e, -1) for _s, e in intervals])
    most = now = 0
    for _t, step in points:
        now += step
        most = max(most, now)
    return most


def test_a_new_image_replaces_members_two_at_a_time(cloud):
    stack = _create(cloud)
    before = _servers(cloud, stack)
    _update(cloud, stack, image='fedora-coreos', batch=2)
    assert _wait(cloud, stack) == 'UPDATE_COMPLETE'
    after = _servers(cloud, stack)
    assert len(after) == 5 and not set(before) & set(after)
    entry = _group(stack)['data']['rolling_log'][-1]
    assert entry['status'] == 'COMPLETE'
    assert [b['members'] for b in entry['batches']] == [
        ['0', '1'], ['2', '3'], ['4']]
    # A batch starts only once the previous one has completed...
    for prev, nxt in zip(entry['batches'], entry['batches'][1:]):
        assert prev['completed_at'] is not None
        assert nxt['started_at'] >= prev['completed_at']
    # ...and the servers agree: never more than two being built at once.
    new = [cloud.data['servers'][sid] for sid in after]
    assert _max_in_flight([(s['created_at'], s['ready_at'])
                           for s in new]) == 2
    assert all(cloud.data['servers'][sid]['delete_at'] is not None
               for sid in before)


def test_one_at_a_time_by_default_and_each_member_once(cloud):
    stack = _create(cloud, count=3)
    _update(cloud, stack, image='fedora-coreos')
    assert _wait(cloud, stack) == 'UPDATE_COMPLETE'
    entry = _group(stack)['data']['rolling_log'][-1]
    members = [m for b in entry['batches'] for m in b['members']]
    assert members == ['0', '1', '2']
    assert all(len(b['members']) == 1 for b in entry['batches'])
    replaced = [r['data'].get('replaced', 0) for r in
                _group(stack)['nested']['resources'].values()]
    assert replaced == [1, 1, 1]


def test_the_same_update_again_replaces_nothing(cloud):
    stack = _create(cloud, count=2)
    _update(cloud, stack, image='fedora-coreos', batch=2)
    assert _wait(cloud, stack) == 'UPDATE_COMPLETE'
    ids = _servers(cloud, stack)
    _update(cloud, stack, image='fedora-coreos', batch=2)
    assert _wait(cloud, stack) == 'UPDATE_COMPLETE'
    assert _servers(cloud, stack) == ids
    # The group's definition did not change: no second rolling update.
    assert len(_group(stack)['data']['rolling_log']) == 1


def test_batches_keep_their_pace_however_rarely_someone_looks(cloud):
    stack = _create(cloud, count=4)
    _update(cloud, stack, image='fedora-coreos', batch=1)
    time.sleep(BOOT * 4 + 0.1)        # nobody polls while it runs
    assert _wait(cloud, stack) == 'UPDATE_COMPLETE'
    entry = _group(stack)['data']['rolling_log'][-1]
    starts = [b['started_at'] for b in entry['batches']]
    assert len(starts) == 4
    # Each batch started when the one before completed, not when read.
    for prev, nxt in zip(entry['batches'], entry['batches'][1:]):
        assert nxt['started_at'] == prev['completed_at']


def test_a_failed_batch_stops_the_update(cloud):
    stack = _create(cloud, count=4)
    cloud.knobs['server_failure_rate'] = 1.0
    _update(cloud, stack, image='fedora-coreos', batch=2)
    assert _wait(cloud, stack) == 'UPDATE_FAILED'
    entry = _group(stack)['data']['rolling_log'][-1]
    assert entry['status'] == 'FAILED'
    assert [b['members'] for b in entry['batches']] == [['0', '1']]
    nested = _group(stack)['nested']['resources']
    assert [nested[m]['data'].get('replaced', 0) for m in '0123'] == \
        [1, 1, 0, 0]


def test_an_in_place_change_goes_in_batches_too(cloud):
    stack = _create(cloud, count=3)
    ids = _servers(cloud, stack)
    _update(cloud, stack, note='rotated', batch=2)
    assert _wait(cloud, stack) == 'UPDATE_COMPLETE'
    assert _servers(cloud, stack) == ids
    entry = _group(stack)['data']['rolling_log'][-1]
    assert [b['members'] for b in entry['batches']] == [['0', '1'], ['2']]


def test_a_group_without_the_policy_updates_at_once(cloud):
    template = dict(TEMPLATE, resources={'nodes': dict(
        TEMPLATE['resources']['nodes'])})
    del template['resources']['nodes']['update_policy']
    with cloud.lock:
        stack = stacks.create_stack(cloud, 'plain', 'p', 'u', template,
                                    {'image': 'ubuntu-jammy', 'count': 3})
    assert _wait(cloud, stack) == 'CREATE_COMPLETE'
    with cloud.lock:
        stacks.update_stack(cloud, stack, params={'image': 'fedora-coreos'},
                            existing=True)
    assert _wait(cloud, stack) == 'UPDATE_COMPLETE'
    assert 'rolling_log' not in _group(stack)['data']
    servers = [cloud.data['servers'][s] for s in _servers(cloud, stack)]
    assert _max_in_flight([(s['created_at'], s['ready_at'])
                           for s in servers]) == 3
