"""``[heat] environment_file``: the operator's Heat environment goes with
every stack caas creates (cluster and nodegroup stacks), its relative
registry paths read as files next to it; stack updates keep it; a missing
or invalid file stops the conductor at its start."""

import os
import subprocess
import sys

import pytest
import yaml

from caas.clients import cloud
from caas.clients import environment
from caas.common import states
from caas.conductor import service
from caas.db import api as db_api
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_operation
from tests.unit.conductor.test_nodegroup_flows import _start_create

PROVIDER = {
    'heat_template_version': '2021-04-16',
    'parameters': {'size': {'type': 'number', 'default': 1}},
    'resources': {},
    'outputs': {'size': {'value': {'get_param': 'size'}}},
}


@pytest.fixture
def env_file(tmp_path, conf):
    """An environment next to its provider template, as an operator lays
    them out; configured, read afresh."""
    os.makedirs(tmp_path / 'providers')
    (tmp_path / 'providers' / 'volume.yaml').write_text(
        yaml.safe_dump(PROVIDER))
    path = tmp_path / 'env.yaml'
    path.write_text(yaml.safe_dump({
        'resource_registry': {
            'OS::Caas::TestVolume': 'providers/volume.yaml',
            # A type name is an alias, not a file.
            'OS::Caas::TestNothing': 'OS::Heat::None'},
        'parameter_defaults': {'operator_default': 'yes'}}))
    conf('environment_file', str(path), group='heat')
    environment.forget()
    yield path
    environment.forget()


def _run(runner, op):
    assert runner.claim_and_run(op.id)
    done = wait_operation(op.id, timeout=60)
    assert done.state == states.OP_SUCCEEDED, done.error
    return done


def _created(make_runner):
    """A one-node cluster created; its runner, row and stack id."""
    runner = make_runner()
    cluster, op = make_cluster(node_count=1)
    _run(runner, op)
    stack_id = db_api.get_cluster(cluster.uuid,
                                  scope=db_api.ALL_PROJECTS).stack_id
    return runner, cluster, stack_id


def _provider_url(env_file):
    return 'file://%s' % (env_file.parent / 'providers' / 'volume.yaml')


def _sent(heat, stack_id, env_file):
    """(environment, files) Heat holds for the stack."""
    return heat.stacks.environment(stack_id), heat.stacks.files(stack_id)


def test_the_environment_and_its_files_reach_the_cluster_stack(
        env_file, make_runner, sim):
    _, _, stack_id = _created(make_runner)
    env, files = _sent(cloud.CloudClients().heat, stack_id, env_file)
    url = _provider_url(env_file)
    # The relative path became the file's URL, and the file went along,
    # as ``openstack stack create -e`` sends them.
    assert env['resource_registry']['OS::Caas::TestVolume'] == url
    assert env['resource_registry']['OS::Caas::TestNothing'] == \
        'OS::Heat::None'
    assert env['parameter_defaults'] == {'operator_default': 'yes'}
    assert yaml.safe_load(files[url]) == PROVIDER


def test_without_the_option_no_environment_is_sent(conf, make_runner, sim):
    conf('environment_file', None, group='heat')
    environment.forget()
    _, _, stack_id = _created(make_runner)
    heat = cloud.CloudClients().heat
    assert not heat.stacks.environment(stack_id).get('resource_registry')


def test_the_environment_reaches_a_nodegroup_stack(env_file, make_runner,
                                                   sim):
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=1)
    _run(runner, op)
    ng_uuid, op = _start_create(cluster, node_count=1)
    _run(runner, op)
    [ng] = [g for g in db_api.list_nodegroups(cluster.uuid)
            if g.uuid == ng_uuid]
    env, files = _sent(cloud.CloudClients().heat, ng.stack_id, env_file)
    url = _provider_url(env_file)
    assert env['resource_registry']['OS::Caas::TestVolume'] == url
    assert yaml.safe_load(files[url]) == PROVIDER


def test_a_resize_keeps_the_environment_and_its_files(env_file,
                                                      make_runner, sim):
    runner, cluster, stack_id = _created(make_runner)
    heat = cloud.CloudClients().heat
    before = _sent(heat, stack_id, env_file)
    _, resize = db_api.start_operation(cluster.uuid,
                                       states.OP_CLUSTER_UPDATE,
                                       params={'node_count': 2})
    _run(runner, resize)
    stack = heat.stacks.get(stack_id)
    assert stack.stack_status == 'UPDATE_COMPLETE'
    # A PATCH update (existing=True): Heat keeps what the create sent; a
    # full update would have dropped the files.
    env, files = _sent(heat, stack_id, env_file)
    assert env == before[0]
    assert files[_provider_url(env_file)] == before[1][
        _provider_url(env_file)]


def test_the_file_is_read_once(env_file, make_runner, sim):
    first = environment.load()
    env_file.write_text('resource_registry: {}\n')
    assert environment.load() is first


@pytest.mark.parametrize('content,why', [
    (None, 'No such file'),
    ('resource_registry: [unclosed\n', 'env.yaml'),
    ('- a list\n- not a mapping\n', 'env.yaml'),
    ('resource_registry:\n  OS::Caas::X: missing/provider.yaml\n',
     'provider.yaml'),
])
def test_a_bad_file_stops_the_conductor_at_its_start(tmp_path, conf, db,
                                                     content, why):
    path = tmp_path / 'env.yaml'
    if content is not None:
        path.write_text(content)
    conf('environment_file', str(path), group='heat')
    environment.forget()
    with pytest.raises(environment.EnvironmentFileError) as caught:
        service.ConductorService(host='c1')
    message = str(caught.value)
    assert str(path) in message and why in message, message
    environment.forget()


def test_caas_conductor_exits_with_the_message_not_a_traceback(tmp_path):
    path = tmp_path / 'missing-env.yaml'
    conf_file = tmp_path / 'caas.conf'
    conf_file.write_text('[heat]\nenvironment_file = %s\n' % path)
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'caas-conductor'),
         '--config-file', str(conf_file)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'caas-conductor: [heat] environment_file %s cannot be used' % (
        path) in result.stderr, result.stderr[-2000:]
    assert 'Traceback' not in result.stderr
