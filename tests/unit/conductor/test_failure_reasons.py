"""A *_FAILED status_reason names the step, the resource and the cloud's
answer (the simulated cloud injects the faults)."""

import re

from heatclient import exc as heat_exc

from caas.common import states
from caas.conductor.tasks import common
from caas.db import api as db_api
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


def _failed_reason(runner, op, cluster):
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_FAILED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.CREATE_FAILED
    return row.status_reason


def test_an_unavailable_cloud_names_the_step_the_call_and_the_answer(
        make_runner, sim, conf):
    conf('cloud_retry_timeout', 1, group='conductor')
    sim.cloud.knobs['api_error_rate'] = 1.0
    cluster, op = make_cluster(driver=None)
    reason = _failed_reason(make_runner(), op, cluster)
    # The create is the step's first call (no look first since issue 11).
    assert reason.startswith('step create-stack: heat POST stack caas-%s '
                             'failed after ' % cluster.uuid), reason
    assert '503 Service Unavailable' in reason
    assert 'injected fault' in reason


def test_a_cloud_lost_while_waiting_names_the_wait_step(make_runner, sim,
                                                        conf):
    conf('cloud_retry_timeout', 1, group='conductor')
    sim.cloud.knobs['server_boot_delay'] = 30
    cluster, op = make_cluster(driver=None)
    runner = make_runner()
    runner.claim_and_run(op.id)
    stack_id = wait_for(lambda: db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id)
    sim.cloud.knobs['api_error_rate'] = 1.0
    assert wait_operation(op.id).state == states.OP_FAILED
    reason = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status_reason
    # By its id, or at name/id (where Heat's redirect for the id leads)
    # once a poll has answered.
    assert re.match(r'step wait-stack-create: heat GET stack (caas-%s/)?%s '
                    r'failed after ' % (cluster.uuid, stack_id), reason), \
        reason
    assert '503 Service Unavailable' in reason


def test_a_failed_resource_names_the_stack_and_heats_reason(make_runner,
                                                            sim):
    sim.cloud.knobs['server_failure_rate'] = 1.0
    cluster, op = make_cluster(driver=None)
    reason = _failed_reason(make_runner(), op, cluster)
    assert reason.startswith('step wait-stack-create: Heat stack caas-%s ('
                             % cluster.uuid), reason
    # Heat's own reason names the resource and Nova's answer.
    assert 'is CREATE_FAILED: Resource CREATE failed: resources.kube_masters' \
        in reason
    assert 'No valid host was found' in reason


def test_the_cloud_answer_carries_code_phrase_and_message():
    exc = heat_exc.HTTPServiceUnavailable(message='try later')
    assert common.cloud_answer(exc).startswith('503 Service Unavailable: ')
    assert 'try later' in common.cloud_answer(exc)
    assert common.cloud_answer(ValueError('boom')) == 'boom'
