"""The RPC contract: client, server and schemas stay in sync; N-1 works."""

import inspect
import json
import re
import threading

import oslo_messaging as messaging
import pytest

import rpc_schemas
from caas.common import context
from caas.common import exceptions
from caas.common import rpc
from caas.conductor import manager
from caas.conductor import rpcapi

CLUSTER = '5b0d3c9e-52a8-4a3c-9d1c-7b1f0f2e6d11'
OP = '0e3c2b6f-9c1d-4a44-8d1e-6b3f4c2a1e55'


def _public_methods(cls):
    return {name for name, fn in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith('_')}


def test_every_client_method_has_a_server_method_and_a_schema():
    client = _public_methods(rpcapi.ConductorAPI) - {'cast_operation'}
    server = _public_methods(manager.ConductorManager)
    assert client == server
    assert client == set(rpc_schemas.methods())


def test_client_and_server_take_the_same_arguments():
    for name in rpc_schemas.methods():
        c = inspect.signature(getattr(rpcapi.ConductorAPI, name))
        s = inspect.signature(getattr(manager.ConductorManager, name))
        assert list(c.parameters) == list(s.parameters)
        schema_args = set(rpc_schemas.load(name)['properties'])
        assert schema_args == set(c.parameters) - {'self', 'context'}


def test_server_version_is_the_client_version_and_documented():
    assert manager.ConductorManager.target.version == rpcapi.RPC_API_VERSION
    assert '* %s -' % rpcapi.RPC_API_VERSION in rpcapi.__doc__


def test_no_schema_names_a_version_newer_than_the_api():
    newest = tuple(int(x) for x in rpcapi.RPC_API_VERSION.split('.'))
    text = ''.join(json.dumps(rpc_schemas.load(m))
                   for m in rpc_schemas.methods())
    for version in re.findall(r'"x-rpc-version-added": "([0-9.]+)"', text):
        assert tuple(int(x) for x in version.split('.')) <= newest


def test_schemas_ship_inside_the_package():
    import importlib.resources
    files = importlib.resources.files('rpc_schemas')
    assert files.joinpath('cluster_create.json').is_file()


class _Runner:
    def __init__(self, claims=True):
        self.claimed = []
        self.requests = []
        self.claims = claims
        self.event = threading.Event()

    def claim_and_run(self, operation_id, request_id=None):
        self.claimed.append(operation_id)
        self.requests.append(request_id)
        self.event.set()
        return self.claims


@pytest.fixture
def memory_rpc(conf):
    conf('transport_url', rpc.IN_PROCESS_TRANSPORT_URL)
    rpc.cleanup()
    runner = _Runner()
    server = rpc.get_server(
        messaging.Target(topic='caas-test', server='s1'),
        [manager.ConductorManager(runner)])
    server.start()
    yield runner
    server.stop()
    server.wait()
    rpc.cleanup()


@pytest.mark.parametrize('cap', [None, '1.0'])
def test_a_cast_reaches_the_conductor_from_current_and_n_minus_1_clients(
        memory_rpc, cap):
    client = rpcapi.ConductorAPI(topic='caas-test', version_cap=cap)
    client.cluster_create(context.get_admin_context(), cluster_uuid=CLUSTER,
                          operation_id=OP,
                          request_id='req-' + OP)
    assert memory_rpc.event.wait(10)
    assert memory_rpc.claimed == [OP]


def test_the_client_refuses_to_send_what_the_schema_rejects(memory_rpc):
    client = rpcapi.ConductorAPI(topic='caas-test')
    with pytest.raises(exceptions.RPCSchemaError):
        client.cluster_delete(context.get_admin_context(),
                              cluster_uuid='not-a-uuid', operation_id=OP)


def test_the_server_drops_a_message_that_breaks_the_schema():
    runner = _Runner()
    manager.ConductorManager(runner).cluster_update(
        {}, cluster_uuid=CLUSTER, operation_id='nope')
    assert runner.claimed == []


@pytest.mark.parametrize('method', ['cluster_upgrade', 'cluster_ca_rotate'])
def test_the_1_2_methods_reach_the_conductor(memory_rpc, method):
    client = rpcapi.ConductorAPI(topic='caas-test')
    getattr(client, method)(context.get_admin_context(),
                            cluster_uuid=CLUSTER, operation_id=OP,
                            request_id='req-' + OP)
    assert memory_rpc.event.wait(10)
    assert memory_rpc.claimed == [OP]


@pytest.mark.parametrize('method', ['cluster_upgrade', 'cluster_ca_rotate'])
def test_a_client_capped_below_1_2_does_not_send_the_1_2_methods(
        memory_rpc, method):
    client = rpcapi.ConductorAPI(topic='caas-test', version_cap='1.1')
    with pytest.raises(rpcapi.ConductorTooOld, match='1.2'):
        getattr(client, method)(context.get_admin_context(),
                                cluster_uuid=CLUSTER, operation_id=OP)
    assert not memory_rpc.event.wait(0.5)
    assert memory_rpc.claimed == []


@pytest.mark.parametrize('claims', [True, False])
def test_a_cast_is_logged_once_with_its_request(claims, caplog):
    """The claim's line names the request (the runner logs it); a cast not
    claimed here gets a line of its own that says so."""
    import logging
    caplog.set_level(logging.INFO, logger='caas.conductor.manager')
    runner = _Runner(claims=claims)
    manager.ConductorManager(runner).cluster_create(
        {}, cluster_uuid=CLUSTER, operation_id=OP, request_id='req-' + OP)
    assert runner.requests == ['req-' + OP]
    lines = [r.getMessage() for r in caplog.records
             if r.name == 'caas.conductor.manager']
    if claims:
        assert lines == []
    else:
        assert len(lines) == 1 and 'req-' + OP in lines[0] and \
            'not claimed here' in lines[0]
