"""Wait conditions signalled by simulated servers (caas.sim.signals).

A server signals every handle whose endpoint its user data carries, in
whatever wrapping a boot would unwrap, once it is ACTIVE; the knob
``nodes_signal`` makes servers never signal. Time is moved with
``state.clock_at``; the HTTP test uses the real signal URL.
"""

import base64
import json
import urllib.parse

import pytest
import requests

from caas.sim import server as sim_server
from caas.sim import signals
from caas.sim import stacks
from caas.sim import state as st

PROJECT_ID = st.PROJECTS['demo']


def tpl(resources_, outputs=None):
    return {'heat_template_version': '2021-04-16', 'parameters': {},
            'resources': resources_, 'outputs': outputs or {}}


def create(cloud, template):
    with cloud.lock:
        return stacks.create_stack(cloud, 's1', PROJECT_ID,
                                   st.USERS['demo'][0], template)


def status(cloud, stack, later=0.0):
    with st.clock_at(stack['started_at'] + later), cloud.lock:
        return stacks.stack_status(cloud, stack)


@pytest.fixture
def cloud():
    return st.Cloud(server_boot_delay=1.0, resource_delay=0.0,
                    delete_delay=0.0)


def _shell(curl):
    return {'str_replace': {
        'template': "#!/bin/sh\nset -e\nwc_notify --data-binary "
                    "'{\"status\": \"SUCCESS\"}'\n",
        'params': {'wc_notify': curl}}}


def node_stack(count=1, servers=1, user_data=_shell, timeout=60):
    res = {
        'handle': {'type': 'OS::Heat::WaitConditionHandle'},
        'wait': {'type': 'OS::Heat::WaitCondition', 'properties': {
            'handle': {'get_resource': 'handle'}, 'timeout': timeout,
            'count': count}},
    }
    for i in range(servers):
        res['node%d' % i] = {'type': 'OS::Nova::Server', 'properties': {
            'flavor': 'm1.small', 'image': 'ubuntu-jammy',
            'user_data_format': 'RAW',
            'user_data': user_data({'get_attr': ['handle', 'curl_cli']})}}
    return tpl(res, outputs={'data': {'value': {'get_attr': ['wait',
                                                             'data']}}})


def test_handle_has_heat_attributes(cloud):
    stack = create(cloud, node_stack())
    handle = stack['resources']['handle']
    curl = stacks.resource_attr(cloud, stack, 'handle', 'curl_cli', [])
    endpoint = stacks.resource_attr(cloud, stack, 'handle', 'endpoint', [])
    assert endpoint.endswith('/stacks/s1/%s/resources/handle/signal'
                             % stack['id'])
    assert urllib.parse.urlsplit(endpoint).hostname.startswith('127.')
    assert curl.startswith("curl -i -X POST -H 'X-Auth-Token: %s'"
                           % handle['data']['token'])
    assert curl.endswith(endpoint)


def test_wait_condition_completes_when_the_server_is_active(cloud):
    stack = create(cloud, node_stack())
    assert status(cloud, stack, 0.5)[0] == 'CREATE_IN_PROGRESS'
    assert status(cloud, stack, 1.1)[0] == 'CREATE_COMPLETE'
    with st.clock_at(stack['started_at'] + 2), cloud.lock:
        data = json.loads(stacks.outputs(cloud, stack)[0]['output_value'])
    assert list(data.values()) == [cloud.visible_servers()[0]['name']]


def test_count_needs_that_many_signals(cloud):
    # The first servers of a fresh cloud too: each signals once.
    stack = create(cloud, node_stack(count=2, servers=1, timeout=30))
    assert status(cloud, stack, 29)[0] == 'CREATE_IN_PROGRESS'
    state, reason = status(cloud, stack, 31)
    assert state == 'CREATE_FAILED'
    assert 'WaitConditionTimeout: resources.wait: 1 of 2 received' in reason
    stack = create(cloud, node_stack(count=2, servers=2))
    assert status(cloud, stack, 1.1)[0] == 'CREATE_COMPLETE'


def test_nodes_that_never_signal_time_out(cloud):
    cloud.knobs['nodes_signal'] = 0
    stack = create(cloud, node_stack(timeout=10))
    assert status(cloud, stack, 5)[0] == 'CREATE_IN_PROGRESS'
    state, reason = status(cloud, stack, 11)
    assert state == 'CREATE_FAILED'
    assert 'WaitConditionTimeout: resources.wait: 0 of 1 received' in reason


def test_failure_signal_fails_the_condition_with_its_reason(cloud):
    cloud.knobs['nodes_signal'] = 0
    stack = create(cloud, node_stack())
    with cloud.lock:
        signals.signal(stack['resources']['handle'],
                       {'status': 'FAILURE', 'reason': 'kubelet not up'})
    state, reason = status(cloud, stack, 1)
    assert state == 'CREATE_FAILED'
    assert 'WaitConditionFailure: resources.wait: kubelet not up' in reason


def test_a_signal_repeated_with_its_id_counts_once(cloud):
    """As Heat keeps signals by id: a node that retries a signal whose
    answer it lost (its id given) does not complete a count of two."""
    cloud.knobs['nodes_signal'] = 0
    stack = create(cloud, node_stack(count=2))
    handle = stack['resources']['handle']
    with cloud.lock:
        for _ in range(2):
            signals.signal(handle, {'id': 'master-0', 'status': 'SUCCESS',
                                    'data': 'tokens'})
    # (The server is ACTIVE after 1 s.)
    assert status(cloud, stack, 5)[0] == 'CREATE_IN_PROGRESS'
    with cloud.lock:
        signals.signal(handle, {'id': 'master-1', 'status': 'SUCCESS'})
    assert status(cloud, stack, 6)[0] == 'CREATE_COMPLETE'


def test_a_server_in_error_never_signals(cloud):
    cloud.knobs['server_failure_rate'] = 1.0
    stack = create(cloud, node_stack(timeout=10))
    with st.clock_at(stack['started_at'] + 11), cloud.lock:
        rows = stacks.resource_rows(cloud, stack)
    states = {res['name']: state for _s, res, state, _r in rows}
    assert states['wait'] == 'CREATE_FAILED'


@pytest.mark.parametrize('wrap', ['ignition', 'mime', 'cloud-config-b64'])
def test_servers_find_the_endpoint_in_wrapped_user_data(cloud, wrap):
    """Wrapped outside the template (the wrappers encode the URL)."""
    stack = create(cloud, node_stack(servers=0))
    curl = stacks.resource_attr(cloud, stack, 'handle', 'curl_cli', [])
    script = "#!/bin/sh\n%s --data-binary '{\"status\": \"SUCCESS\"}'\n" \
        % curl
    if wrap == 'ignition':
        user_data = json.dumps({'ignition': {'version': '3.4.0'},
                                'storage': {'files': [{
                                    'path': '/usr/local/bin/boot',
                                    'contents': {'source': 'data:,' +
                                                 urllib.parse.quote(
                                                     script, safe='')}}]}})
        assert '/resources/handle/signal' not in user_data
    elif wrap == 'mime':
        user_data = ('Content-Type: multipart/mixed; boundary="B"\n'
                     'MIME-Version: 1.0\n\n--B\nContent-Type: text/x-'
                     'shellscript\nContent-Transfer-Encoding: base64\n\n%s\n'
                     '--B--\n' % base64.b64encode(script.encode()).decode())
    else:
        user_data = '#cloud-config\nwrite_files:\n- path: /b\n  encoding: ' \
                    'b64\n  content: %s\n' % base64.b64encode(
                        script.encode()).decode()
    with cloud.lock:
        srv = cloud.create_server(PROJECT_ID, None, 'n', cloud.find(
            'flavors', 'm1.small'), None, user_data=user_data)
        signals.register_server(cloud, srv)
    assert srv['signals'] == [[stack['id'], 'handle']]
    assert status(cloud, stack, 1.1)[0] == 'CREATE_COMPLETE'


def test_signal_over_http_with_the_handle_token():
    srv = sim_server.SimServer(port=0, server_boot_delay=1.0,
                               resource_delay=0.0, nodes_signal=0)
    srv.start()
    try:
        cloud = srv.cloud
        stack = create(cloud, node_stack(servers=0))
        endpoint = stacks.resource_attr(cloud, stack, 'handle', 'endpoint',
                                        [])
        token = stack['resources']['handle']['data']['token']
        assert endpoint.startswith(srv.url + '/heat/v1/')
        bad = requests.post(endpoint, json={'status': 'SUCCESS'},
                            headers={'X-Auth-Token': 'not-the-token'})
        assert bad.status_code == 401
        assert status(cloud, stack, 0.1)[0] == 'CREATE_IN_PROGRESS'
        wrong = requests.post(endpoint, json={'status': 'MAYBE'},
                              headers={'X-Auth-Token': token})
        assert wrong.status_code == 400
        ok = requests.post(endpoint, json={'status': 'SUCCESS', 'id': 'n1',
                                           'data': 'joined'},
                           headers={'X-Auth-Token': token})
        assert ok.status_code == 200
        with cloud.lock:
            assert stacks.stack_status(cloud, stack)[0] == 'CREATE_COMPLETE'
            data = stacks.resource_attr(cloud, stack, 'wait', 'data', [])
        assert json.loads(data) == {'n1': 'joined'}
    finally:
        srv.stop()


def test_deployment_waits_for_its_server_unless_no_signal(cloud):
    def stack_with(transport):
        props = {'config': {'get_resource': 'config'},
                 'server': {'get_resource': 'server'}}
        if transport:
            props['signal_transport'] = transport
        return tpl({
            'config': {'type': 'OS::Heat::SoftwareConfig', 'properties': {
                'group': 'script', 'config': '#!/bin/sh\ntrue\n'}},
            'server': {'type': 'OS::Nova::Server', 'properties': {
                'flavor': 'm1.small', 'image': 'ubuntu-jammy'}},
            'deploy': {'type': 'OS::Heat::SoftwareDeployment',
                       'properties': props}})
    waiting = create(cloud, stack_with(None))
    quick = create(cloud, stack_with('NO_SIGNAL'))

    def deploy_state(stack, later):
        with st.clock_at(stack['started_at'] + later), cloud.lock:
            return stacks.resource_state(
                cloud, stack, stack['resources']['deploy'])[0]
    assert deploy_state(quick, 0.5) == 'COMPLETE'
    assert deploy_state(waiting, 0.5) == 'IN_PROGRESS'
    assert deploy_state(waiting, 1.1) == 'COMPLETE'
    cloud.knobs['nodes_signal'] = 0
    assert deploy_state(waiting, 1.1) == 'IN_PROGRESS'


def test_deployment_of_a_missing_config_fails(cloud):
    stack = create(cloud, tpl({
        'server': {'type': 'OS::Nova::Server', 'properties': {
            'flavor': 'm1.small', 'image': 'ubuntu-jammy'}},
        'deploy': {'type': 'OS::Heat::SoftwareDeployment', 'properties': {
            'config': 'no-such-config',
            'server': {'get_resource': 'server'}}}}))
    state, reason = status(cloud, stack, 2)
    assert state == 'CREATE_FAILED'
    assert 'The config (no-such-config) could not be found' in reason


def test_complete_stays_complete_when_a_node_goes(cloud):
    stack = create(cloud, node_stack(count=1, servers=1, timeout=10))
    assert status(cloud, stack, 1.1)[0] == 'CREATE_COMPLETE'
    with cloud.lock:
        for srv in cloud.visible_servers():
            cloud.delete_server(srv, delay=0)
    assert status(cloud, stack, 20)[0] == 'CREATE_COMPLETE'
