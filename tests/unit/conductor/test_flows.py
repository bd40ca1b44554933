"""Flows on a real TaskFlow engine, SQL persistence and the simulated cloud."""

import datetime

import pytest
import sqlalchemy as sa

from caas.common import exceptions
from caas.common import states
from caas.conductor import flows
from caas.db import api as db_api
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import taken_over
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


def _task_names(flow):
    return [atom.name for atom in flow]


def test_create_flow_opens_with_the_task_that_marks_failure():
    names = _task_names(flows.FACTORIES['cluster_create']())
    assert names[0] == 'begin-cluster_create'
    assert names[-1] == 'complete-cluster_create'
    assert 'caas.conductor.tasks.stack.CreateStack' in names


def test_delete_flow_drops_records_only_after_the_stack_is_gone():
    names = _task_names(flows.FACTORIES['cluster_delete']())
    assert names.index('caas.conductor.tasks.stack.WaitForStackGone') < \
        names.index('caas.conductor.tasks.status.DeleteClusterRecords')


@pytest.mark.parametrize('driver,image,distro', [
    ('fake', 'ubuntu-jammy', 'ubuntu'),
    (None, 'ubuntu-jammy', 'ubuntu'),
    (None, 'fedora-coreos', 'fedora-coreos'),
])
def test_create_update_delete_round_trip(make_runner, sim, driver, image,
                                         distro):
    runner = make_runner()
    cluster, op = make_cluster(driver=driver, image=image, distro=distro)
    assert runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.CREATE_COMPLETE, row.status_reason
    assert row.operation_id is None
    assert len(row.master_addresses) == 1
    assert len(row.node_addresses) == 2
    assert row.api_address
    assert sim.cloud.summary()['counts']['stacks'] == 1

    _, op = db_api.start_operation(cluster.uuid, 'cluster_update',
                                   {'node_count': 3})
    assert runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.UPDATE_COMPLETE, row.status_reason
    assert row.node_count == 3
    assert len(row.node_addresses) == 3
    workers = [ng for ng in db_api.list_nodegroups(cluster.uuid)
               if ng.role == 'worker']
    assert workers[0].node_count == 3

    _, op = db_api.start_operation(cluster.uuid, 'cluster_delete')
    assert runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    with pytest.raises(exceptions.ClusterNotFound):
        db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert sim.cloud.summary()['counts']['stacks'] == 0
    assert db_api.list_nodegroups(cluster.uuid) == []


def test_a_failed_server_ends_in_create_failed_with_a_reason(make_runner,
                                                            sim):
    sim.cloud.knobs['server_failure_rate'] = 1.0
    runner = make_runner()
    cluster, op = make_cluster(driver=None)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_FAILED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.CREATE_FAILED
    assert 'CREATE_FAILED' in row.status_reason
    assert row.operation_id is None
    # No state without a way out: the failed cluster can be deleted.
    sim.cloud.knobs['server_failure_rate'] = 0.0
    _, op = db_api.start_operation(cluster.uuid, 'cluster_delete')
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    assert sim.cloud.summary()['counts']['stacks'] == 0


def test_takeover_resumes_without_repeating_finished_tasks(make_runner, sim):
    sim.cloud.knobs['server_boot_delay'] = 1.5
    first = make_runner('first')
    second = make_runner('second')
    cluster, op = make_cluster(driver=None)
    first.claim_and_run(op.id)
    # Let the first conductor create the stack, then declare it dead and let
    # the second one take the operation over (epoch 1 -> 2).
    wait_for(lambda: db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id)
    stack_id = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id
    done = taken_over(second, op.id)
    assert done.owner == 'second' and done.epoch == 2
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.CREATE_COMPLETE
    # The stack the first conductor created was reused, not made again.
    assert row.stack_id == stack_id
    assert sim.cloud.summary()['counts']['stacks'] == 1
    # The first conductor, still running, found itself fenced out and did
    # not write: the status is the second one's.
    wait_for(lambda: not first.running())


def test_a_duplicate_cast_does_nothing(make_runner, sim):
    runner = make_runner()
    _, op = make_cluster()
    assert runner.claim_and_run(op.id)
    assert not make_runner('other').claim_and_run(op.id)
    assert wait_operation(op.id).epoch == 1


def test_create_timeout_fails_the_cluster(make_runner, sim):
    sim.cloud.knobs['server_boot_delay'] = 30
    runner = make_runner()
    cluster, op = make_cluster(driver=None)
    # A deadline one second away, long before the servers boot.
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Operation).values(
            deadline=models.utcnow() + datetime.timedelta(seconds=1)))
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_FAILED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.CREATE_FAILED
    assert 'Timed out' in row.status_reason


def test_a_failed_update_can_be_retried(make_runner, sim):
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=1)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED

    sim.cloud.knobs['server_failure_rate'] = 1.0
    _, op = db_api.start_operation(cluster.uuid, 'cluster_update',
                                   {'node_count': 2})
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_FAILED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.UPDATE_FAILED
    assert row.status_reason and row.operation_id is None

    sim.cloud.knobs['server_failure_rate'] = 0.0
    _, op = db_api.start_operation(cluster.uuid, 'cluster_update',
                                   {'node_count': 2})
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.UPDATE_COMPLETE
    assert len(row.node_addresses) == 2


def test_a_failed_update_with_rollback_restores_the_node_count(make_runner,
                                                                sim):
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=1)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    before = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).node_addresses

    sim.cloud.knobs['server_failure_rate'] = 1.0
    _, op = db_api.start_operation(cluster.uuid, 'cluster_update',
                                   {'node_count': 2, 'rollback': True})
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_FAILED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.ROLLBACK_COMPLETE, row.status_reason
    assert 'rolled back' in row.status_reason
    assert row.node_count == 1 and row.node_addresses == before
    stack = sim.cloud.summary()['stacks'][0]
    assert stack['status'] == 'UPDATE_COMPLETE'
    servers = [s for s in sim.cloud.summary()['servers']
               if s['status'] != 'ERROR']
    assert len(servers) == 2      # one master, one worker: as before
    # The cluster can be updated again from ROLLBACK_COMPLETE.
    sim.cloud.knobs['server_failure_rate'] = 0.0
    _, op = db_api.start_operation(cluster.uuid, 'cluster_update',
                                   {'node_count': 2})
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED


def test_flows_ride_out_a_flaky_cloud(make_runner, sim):
    # Three in ten Heat calls answer 503: every call is retried with backoff.
    sim.cloud.knobs['api_error_rate'] = 0.3
    runner = make_runner()
    cluster, op = make_cluster(driver=None)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id, timeout=60).state == states.OP_SUCCEEDED
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status == states.CREATE_COMPLETE
    _, op = db_api.start_operation(cluster.uuid, 'cluster_delete')
    runner.claim_and_run(op.id)
    assert wait_operation(op.id, timeout=60).state == states.OP_SUCCEEDED
    sim.cloud.knobs['api_error_rate'] = 0.0
    assert sim.cloud.summary()['counts']['stacks'] == 0


def test_resize_removes_the_chosen_workers(make_runner, sim):
    from caas.clients import cloud
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=3)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    nova = cloud.CloudClients().nova
    workers = sorted((s for s in nova.servers.list() if '-minion-' in s.name),
                     key=lambda s: s.name)
    assert len(workers) == 3
    doomed = workers[1]

    _, op = db_api.start_operation(
        cluster.uuid, 'cluster_update',
        {'node_count': 2, 'nodes_to_remove': [doomed.id]})
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED, \
        db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status_reason
    left = {s.id for s in nova.servers.list() if '-minion-' in s.name and
            getattr(s, 'OS-EXT-STS:task_state', None) != 'deleting'}
    assert left == {workers[0].id, workers[2].id}
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.node_count == 2 and len(row.node_addresses) == 2

    # A server that is not one of the cluster's workers is refused.
    masters = [s for s in nova.servers.list() if '-master-' in s.name]
    _, op = db_api.start_operation(
        cluster.uuid, 'cluster_update',
        {'node_count': 1, 'nodes_to_remove': [masters[0].name]})
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_FAILED
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.UPDATE_FAILED
    assert 'not a worker' in row.status_reason
