"""The conductor's success and failure notifications: once per outcome,
sent by whoever committed it."""

import datetime

import sqlalchemy as sa

from caas.common import states
from caas.conductor import service
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation
from tests.unit.notify_fixture import notified  # noqa: F401 (fixture)


def _outcomes(sent, event_type=None):
    return [(t, prio, p['outcome']) for t, prio, p, _pub in sent(event_type)]


def test_create_update_delete_each_succeed_once(make_runner, sim, notified):
    runner = make_runner()
    cluster, op = make_cluster(driver=None)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    wait_for(lambda: not runner.running())
    _, op = db_api.start_operation(cluster.uuid, 'cluster_update',
                                   {'node_count': 3})
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    wait_for(lambda: not runner.running())
    _, op, _ = db_api.start_delete(cluster.uuid)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    wait_for(lambda: not runner.running())
    assert _outcomes(notified) == [
        ('magnum.cluster.create', 'INFO', 'success'),
        ('magnum.cluster.update', 'INFO', 'success'),
        ('magnum.cluster.delete', 'INFO', 'success')]
    create = notified('magnum.cluster.create')[0][2]
    assert create['target']['id'] == cluster.uuid
    content = create['target']['attachments'][0]['content']
    assert content['status'] == states.CREATE_COMPLETE
    assert len(content['node_addresses']) == 2
    assert create['initiator']['project_id'] == 'p1'
    deleted = notified('magnum.cluster.delete')[0][2]
    assert deleted['target']['attachments'][0]['content']['status'] == \
        states.DELETE_COMPLETE


def test_a_failed_create_sends_one_error(make_runner, sim, notified):
    sim.cloud.knobs['server_failure_rate'] = 1.0
    runner = make_runner()
    cluster, op = make_cluster(driver=None)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_FAILED
    # Sent after the commit, by the flow's thread: wait for it to end.
    wait_for(lambda: not runner.running())
    assert _outcomes(notified) == [
        ('magnum.cluster.create', 'ERROR', 'failure')]
    payload = notified()[0][2]
    assert payload['target']['attachments'][0]['content']['status'] == \
        states.CREATE_FAILED


def test_a_resumed_create_succeeds_once(make_runner, sim, notified):
    sim.cloud.knobs['server_boot_delay'] = 1.5
    first, second = make_runner('first'), make_runner('second')
    cluster, op = make_cluster(driver=None)
    first.claim_and_run(op.id)
    wait_for(lambda: db_api.get_cluster(
        cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id)
    # The first conductor is declared dead; the second one resumes the flow
    # while the first one is still polling the stack.
    assert second.claim_and_run(op.id, expect_owner='first', expect_epoch=1)
    assert wait_operation(op.id).owner == 'second'
    wait_for(lambda: not first.running() and not second.running())
    assert _outcomes(notified) == [
        ('magnum.cluster.create', 'INFO', 'success')]


def test_an_expired_operation_fails_once(db, sim, conf, notified):
    conf('heartbeat_timeout', 0.5, group='conductor')
    cluster, op = make_cluster(driver=None)
    db_ops.claim(op.id, 'ghost')
    svc = service.ConductorService(host='sweeper')
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Operation).values(
            deadline=models.utcnow() - datetime.timedelta(seconds=5)))
    # Two sweeps: only one of them may expire it (and notify).
    svc.sweep()
    svc.sweep()
    svc.runner.shutdown(wait=True, timeout=10)
    assert db_api.get_operation(op.id).state == states.OP_FAILED
    assert _outcomes(notified) == [
        ('magnum.cluster.create', 'ERROR', 'failure')]
