"""A live conductor never keeps an operation it no longer drives.

The database failures are faked at the boundary (the functions of
caas.db.operations raise what SQLAlchemy raises when the server is gone);
everything else is real: TaskFlow, SQL persistence, the simulated cloud.
"""

import pytest
import sqlalchemy.exc as sa_exc

from caas.clients import cloud
from caas.common import states
from caas.conductor import engine
from caas.conductor import service
from caas.db import api as db_api
from caas.db import operations as db_ops
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


def db_gone():
    return sa_exc.OperationalError(
        'UPDATE operations SET ...', {},
        Exception('server closed the connection unexpectedly'))


class ThreadDeath(BaseException):
    """What no ``except Exception`` catches: the flow's thread just ends."""


@pytest.fixture
def conductor(db, sim, conf):
    conf('unclaimed_timeout', 60, group='conductor')
    conf('db_retry_timeout', 0.5, group='conductor')
    made = []

    def _make(host='c1'):
        svc = service.ConductorService(host=host,
                                       clients=cloud.CloudClients())
        made.append(svc)
        return svc

    yield _make
    for svc in made:
        svc.runner.shutdown(wait=True, timeout=10)


def _fail_first_load(monkeypatch, exc):
    real = engine.FlowRunner._load
    calls = []

    def load(self, op, fence):
        calls.append(fence.epoch)
        if len(calls) == 1:
            raise exc
        return real(self, op, fence)
    monkeypatch.setattr(engine.FlowRunner, '_load', load)
    return calls


def _stopped_here(svc, op_id):
    wait_for(lambda: op_id not in svc.runner.running())
    return db_api.get_operation(op_id)


def test_an_operation_it_cannot_release_is_claimed_again_by_its_own_sweeper(
        conductor, monkeypatch):
    svc = conductor()
    cluster, op = make_cluster()
    _fail_first_load(monkeypatch, db_gone())
    releases = []

    def release(*args):
        releases.append(args)
        raise db_gone()
    monkeypatch.setattr(db_ops, 'release', release)
    assert svc.runner.claim_and_run(op.id)
    stuck = _stopped_here(svc, op.id)
    # The flow stopped and the release failed: still ours, nothing runs it.
    assert (stuck.state, stuck.owner, stuck.epoch) == (
        states.OP_RUNNING, 'c1', 1)
    assert releases
    # The process is alive and its heartbeat would never expire; its own
    # sweeper claims the operation again and finishes it.
    assert svc.sweep() == 1
    done = wait_operation(op.id)
    assert (done.state, done.owner, done.epoch) == (
        states.OP_SUCCEEDED, 'c1', 2)
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status == states.CREATE_COMPLETE


def test_a_failed_release_is_retried_in_the_background(conductor,
                                                        monkeypatch):
    svc = conductor()
    _, op = make_cluster()
    _fail_first_load(monkeypatch, RuntimeError('bug in the runner'))
    real = db_ops.release
    attempts = []

    def release(*args):
        attempts.append(args)
        if len(attempts) <= 2:
            raise db_gone()
        return real(*args)
    monkeypatch.setattr(db_ops, 'release', release)
    assert svc.runner.claim_and_run(op.id)
    released = wait_for(lambda: (lambda o: o if o.owner is None else None)(
        db_api.get_operation(op.id)))
    assert len(attempts) == 3
    # Given back, fenced (the next claim bumps the epoch), claimable by all.
    assert (released.state, released.epoch) == (states.OP_PENDING, 1)
    assert conductor('c2').runner.claim_and_run(op.id)
    assert wait_operation(op.id).epoch == 2


def test_a_dead_flow_thread_leaves_an_orphan_its_sweeper_resumes(
        conductor, monkeypatch):
    svc = conductor()
    cluster, op = make_cluster()
    _fail_first_load(monkeypatch, ThreadDeath())
    assert svc.runner.claim_and_run(op.id)
    orphan = _stopped_here(svc, op.id)
    assert (orphan.state, orphan.owner) == (states.OP_RUNNING, 'c1')
    assert svc.sweep() == 1
    done = wait_operation(op.id)
    assert (done.state, done.epoch) == (states.OP_SUCCEEDED, 2)
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status == states.CREATE_COMPLETE


def test_an_exception_in_the_runner_hands_the_operation_back(conductor,
                                                             monkeypatch):
    svc = conductor()
    _, op = make_cluster()
    _fail_first_load(monkeypatch, RuntimeError('bug in the runner'))
    assert svc.runner.claim_and_run(op.id)
    released = wait_for(lambda: (lambda o: o if o.owner is None else None)(
        db_api.get_operation(op.id)))
    assert released.state == states.OP_PENDING


def test_a_running_flow_is_not_taken_for_an_orphan(conductor, sim):
    sim.cloud.knobs['server_boot_delay'] = 3
    svc = conductor()
    _, op = make_cluster()
    assert svc.runner.claim_and_run(op.id)
    wait_for(lambda: db_api.get_operation(op.id).flow_id)
    for _ in range(5):
        assert svc.sweep() == 0
    done = wait_operation(op.id)
    assert (done.state, done.epoch) == (states.OP_SUCCEEDED, 1)


def test_a_flow_rides_out_a_short_database_outage(conductor, monkeypatch,
                                                  conf):
    conf('db_retry_timeout', 30, group='conductor')
    svc = conductor()
    cluster, op = make_cluster()
    real = db_ops.fenced_update
    failures = []

    def fenced_update(*args):
        if len(failures) < 3:
            failures.append(args)
            raise db_gone()
        return real(*args)
    monkeypatch.setattr(db_ops, 'fenced_update', fenced_update)
    assert svc.runner.claim_and_run(op.id)
    done = wait_operation(op.id)
    # Same claim, no revert: the writes were repeated until they went in.
    assert len(failures) == 3
    assert (done.state, done.epoch, done.claims) == (states.OP_SUCCEEDED, 1,
                                                      1)
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status == states.CREATE_COMPLETE
