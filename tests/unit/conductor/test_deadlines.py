"""The sweeper fails every operation past its deadline, running or not."""

import datetime

import pytest
import sqlalchemy as sa

from caas.clients import cloud
from caas.common import states
from caas.conductor import service
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


@pytest.fixture
def svc(db, sim, conf):
    conf('unclaimed_timeout', 600, group='conductor')
    conf('heartbeat_timeout', 1, group='conductor')
    s = service.ConductorService(host='c1', clients=cloud.CloudClients())
    yield s
    s.runner.shutdown(wait=True, timeout=10)


def _set_deadline(op_id, seconds_from_now):
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Operation).where(
            models.Operation.id == op_id).values(
                deadline=models.utcnow() +
                datetime.timedelta(seconds=seconds_from_now)))


def test_an_operation_nobody_runs_fails_at_its_deadline(svc):
    cluster, op = make_cluster()
    _set_deadline(op.id, -60)
    assert svc.sweep() == 0
    failed = db_api.get_operation(op.id)
    assert (failed.state, failed.epoch) == (states.OP_FAILED, 1)
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.CREATE_FAILED
    assert row.operation_id is None
    assert 'deadline' in row.status_reason
    assert 'step none (it never started)' in row.status_reason
    assert {ng.status for ng in db_api.list_nodegroups(cluster.uuid)} == {
        states.CREATE_FAILED}


def test_an_operation_before_its_deadline_is_left_alone(svc):
    cluster, op = make_cluster()
    _set_deadline(op.id, 600)
    svc.sweep()
    assert db_api.get_operation(op.id).state == states.OP_PENDING
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status == \
        states.CREATE_IN_PROGRESS


def test_a_running_flow_past_its_deadline_is_fenced_out_and_delete_wins(
        svc, sim):
    sim.cloud.knobs['server_boot_delay'] = 60
    cluster, op = make_cluster(driver=None)
    # Another, live conductor runs it: its flow waits for the stack.
    other = service.ConductorService(host='c2', clients=cloud.CloudClients())
    try:
        assert other.runner.claim_and_run(op.id)
        wait_for(lambda: db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id)
        wait_for(lambda: db_api.get_operation(op.id).flow_id)
        _set_deadline(op.id, -60)
        svc.sweep()
        failed = db_api.get_operation(op.id)
        assert (failed.state, failed.owner, failed.epoch) == (
            states.OP_FAILED, 'c2', 2)
        row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
        assert row.status == states.CREATE_FAILED
        assert 'passed at step wait-stack-create' in row.status_reason
        # The fenced flow stops without writing over the failure.
        wait_for(lambda: not other.runner.running())
        assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status_reason == \
            row.status_reason
    finally:
        other.runner.shutdown(wait=True, timeout=10)
    sim.cloud.knobs['server_boot_delay'] = 0.1
    _, delete = db_api.start_operation(cluster.uuid, 'cluster_delete')
    assert svc.runner.claim_and_run(delete.id)
    assert wait_operation(delete.id).state == states.OP_SUCCEEDED
    assert sim.cloud.summary()['counts']['stacks'] == 0


def test_only_one_sweeper_expires_an_operation(db):
    _, op = make_cluster()
    assert db_ops.expire(op.id, 0, states.CREATE_FAILED, 'late')
    assert not db_ops.expire(op.id, 0, states.CREATE_FAILED, 'late again')
    assert db_api.get_operation(op.id).error == 'late'


def test_an_expired_delete_can_be_deleted_again(svc, sim):
    cluster, op = make_cluster()
    assert svc.runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    _, delete = db_api.start_operation(cluster.uuid, 'cluster_delete')
    _set_deadline(delete.id, -60)
    svc.sweep()
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.DELETE_FAILED
    assert 'Delete the cluster again' in row.status_reason
    _, again = db_api.start_operation(cluster.uuid, 'cluster_delete')
    assert svc.runner.claim_and_run(again.id)
    assert wait_operation(again.id).state == states.OP_SUCCEEDED
