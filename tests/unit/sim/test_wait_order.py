"""What depends on a wait condition waits for it (caas.sim.stacks).

Heat creates a resource only once everything it depends on is complete;
the simulated Heat creates at once what depends on resources whose
attributes are known at once, but a resource that reads a wait
condition's data (a Swarm worker's join token, signalled by the first
manager) or ``depends_on`` it is created only when the condition is
complete, with its data in its properties, at the time it completed.
Time is moved with ``state.clock_at``; signals are posted as a node does.
"""

import json

import pytest

from caas.sim import signals
from caas.sim import stacks
from caas.sim import state as st

PROJECT_ID = st.PROJECTS['demo']


@pytest.fixture
def cloud():
    # Servers never signal by themselves: the test is the node.
    return st.Cloud(server_boot_delay=1.0, resource_delay=0.0,
                    delete_delay=0.0, nodes_signal=0)


def server(user_data, name):
    return {'type': 'OS::Nova::Server', 'properties': {
        'name': name, 'flavor': 'm1.small', 'image': 'ubuntu-jammy',
        'user_data_format': 'RAW', 'user_data': user_data}}


def swarm_like(timeout=60):
    """A manager whose wait condition carries the join token; a worker
    group reading it through a Value; one more server depends_on it."""
    return {'heat_template_version': '2021-04-16', 'parameters': {},
            'resources': {
                'handle': {'type': 'OS::Heat::WaitConditionHandle'},
                'wait': {'type': 'OS::Heat::WaitCondition', 'properties': {
                    'handle': {'get_resource': 'handle'},
                    'timeout': timeout}},
                'manager': server({'get_attr': ['handle', 'endpoint']},
                                  'manager'),
                'token': {'type': 'OS::Heat::Value', 'properties': {
                    'value': {'get_attr': ['wait', 'data']}}},
                'workers': {'type': 'OS::Heat::ResourceGroup',
                            'properties': {'count': 2, 'resource_def': server(
                                {'get_attr': ['token', 'value']},
                                'worker-%index%')}},
                'after': dict(server('plain', 'after'), depends_on='wait'),
            },
            'outputs': {'workers': {'value': {'get_attr': [
                'workers', 'name']}}}}


def create(cloud, template):
    with cloud.lock:
        return stacks.create_stack(cloud, 's1', PROJECT_ID,
                                   st.USERS['demo'][0], template)


def servers(cloud):
    return {s['name']: s for s in cloud.visible_servers()}


def post(cloud, stack, body, at):
    with st.clock_at(at), cloud.lock:
        signals.signal(stack['resources']['handle'], body)


def read(cloud, stack, at):
    with st.clock_at(at), cloud.lock:
        return stacks.stack_status(cloud, stack)


def test_dependents_of_a_wait_condition_wait_for_its_signal(cloud):
    stack = create(cloud, swarm_like())
    t0 = stack['started_at']
    assert set(servers(cloud)) == {'manager'}
    rows = {r['name']: status for _s, r, status, _why in
            stacks.resource_rows(cloud, stack)}
    assert rows['workers'] == rows['token'] == rows['after'] == \
        'INIT_COMPLETE'
    assert read(cloud, stack, t0 + 5) == ('CREATE_IN_PROGRESS',
                                          'Stack CREATE started')
    # However often it is read, nothing waiting starts before the signal.
    assert set(servers(cloud)) == {'manager'}
    with cloud.lock:
        # Heat shows nothing for attributes of what it has not made yet.
        assert stacks.output_value(cloud, stack, 'workers') is None
    post(cloud, stack, {'status': 'SUCCESS', 'data': 'worker=SWMTKN-1-abc'},
         t0 + 6)
    assert read(cloud, stack, t0 + 6.5)[0] == 'CREATE_IN_PROGRESS'
    made = servers(cloud)
    assert set(made) == {'manager', 'worker-0', 'worker-1', 'after'}
    # The token is in the workers' user data, and they were made when the
    # signal came (not when someone happened to read the stack).
    for name in ('worker-0', 'worker-1'):
        assert json.loads(made[name]['user_data']) == {
            '1': 'worker=SWMTKN-1-abc'}
        assert made[name]['created_at'] == pytest.approx(t0 + 6)
    assert read(cloud, stack, t0 + 7.5) == (
        'CREATE_COMPLETE', 'Stack CREATE completed successfully')


def test_a_failed_wait_condition_creates_nothing_after_it(cloud):
    stack = create(cloud, swarm_like())
    t0 = stack['started_at']
    post(cloud, stack, {'status': 'FAILURE', 'reason': 'no docker'}, t0 + 2)
    status, reason = read(cloud, stack, t0 + 3)
    assert status == 'CREATE_FAILED'
    assert 'no docker' in reason
    assert set(servers(cloud)) == {'manager'}


def test_a_timed_out_wait_condition_creates_nothing_after_it(cloud):
    stack = create(cloud, swarm_like(timeout=10))
    status, reason = read(cloud, stack, stack['started_at'] + 11)
    assert status == 'CREATE_FAILED'
    assert 'WaitConditionTimeout' in reason
    assert set(servers(cloud)) == {'manager'}


def test_deleting_a_stack_that_waits_deletes_what_was_made(cloud):
    stack = create(cloud, swarm_like())
    with cloud.lock:
        stacks.delete_stack(cloud, stack)
    assert servers(cloud) == {}


def test_an_update_after_the_signal_keeps_the_token(cloud):
    template = swarm_like()
    stack = create(cloud, template)
    t0 = stack['started_at']
    post(cloud, stack, {'status': 'SUCCESS', 'data': 'worker=SWMTKN-1-x'},
         t0 + 2)
    assert read(cloud, stack, t0 + 4)[0] == 'CREATE_COMPLETE'
    template['resources']['workers']['properties']['count'] = 3
    with st.clock_at(t0 + 5), cloud.lock:
        stacks.update_stack(cloud, stack, template)
    # A condition already complete holds nothing up: the new worker is
    # made at once, with the token.
    made = servers(cloud)
    assert json.loads(made['worker-2']['user_data']) == {
        '1': 'worker=SWMTKN-1-x'}
    assert read(cloud, stack, t0 + 7)[0] == 'UPDATE_COMPLETE'


def test_what_waits_survives_a_reload(tmp_path):
    cloud = st.Cloud(state_dir=str(tmp_path), server_boot_delay=1.0,
                     resource_delay=0.0, delete_delay=0.0, nodes_signal=0)
    stack = create(cloud, swarm_like())
    t0 = stack['started_at']
    with cloud.lock:
        cloud.save()
    again = st.Cloud(state_dir=str(tmp_path), server_boot_delay=1.0,
                     resource_delay=0.0, delete_delay=0.0, nodes_signal=0)
    stack = again.data['stacks'][stack['id']]
    post(again, stack, {'status': 'SUCCESS', 'data': 'worker=SWMTKN-1-y'},
         t0 + 2)
    assert read(again, stack, t0 + 4)[0] == 'CREATE_COMPLETE'
    assert {'worker-0', 'worker-1'} <= set(servers(again))
