"""The create's last step, ``status.CompleteCreate``: the outputs, the
trustee made current and the operation's end in one step. A conductor that
stops inside it after any of its writes is taken over, and the step runs
again whole: the cluster ends complete with one stack and one current
trustee. A flow saved with the three tasks it replaces (an earlier
conductor's) resumes through it."""

import functools
import threading

import pytest

from caas.common import exceptions
from caas.common import states
from caas.conductor import flows
from caas.conductor import steps
from caas.conductor.flows import cluster_create
from caas.conductor.tasks import credential
from caas.conductor.tasks import stack
from caas.conductor.tasks import status
from caas.db import api as db_api
from caas.db import trustees
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import taken_over
from tests.unit.conductor.conftest import wait_for


def test_the_create_ends_with_one_step_that_completes():
    names = [atom.name for atom in cluster_create.get_flow()]
    assert names[-1] == 'complete-cluster_create'
    assert isinstance(list(cluster_create.get_flow())[-1],
                      status.CompleteCreate)
    # The three it replaces are not steps of the create any more.
    assert not any(isinstance(atom, (status.CopyOutputs,
                                     credential.RetireTrustees))
                   for atom in cluster_create.get_flow())


def _paused_after(monkeypatch, module, name, host):
    """Make ``module.name`` do its work, then, in ``host``'s flow, stop as
    a conductor paused past its claim (FencedOut once let go)."""
    reached, release = threading.Event(), threading.Event()
    real = getattr(module, name)

    def after(fence, *args, **kwargs):
        result = real(fence, *args, **kwargs)
        if fence.owner == host:
            reached.set()
            release.wait(30)
            raise exceptions.FencedOut(operation=fence.operation_id,
                                       owner=fence.owner, epoch=fence.epoch)
        return result
    monkeypatch.setattr(module, name, after)
    return reached, release


def _assert_complete(sim, cluster, op):
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.CREATE_COMPLETE, row.status_reason
    assert row.operation_id is None
    assert row.api_address and len(row.node_addresses) == 2
    assert sim.cloud.summary()['counts']['stacks'] == 1
    rows = trustees.list_trustees(cluster.uuid)
    assert [(r.operation_id, r.state) for r in rows] == [
        (op.id, trustees.CURRENT)]


@pytest.mark.parametrize('module,name', [
    (status, 'copy_outputs'),
    (credential, 'retire_trustees'),
], ids=['outputs-written', 'trustee-current'])
def test_a_conductor_stopped_inside_the_last_step_is_taken_over(
        make_runner, sim, monkeypatch, module, name):
    reached, release = _paused_after(monkeypatch, module, name, 'first')
    runs = []
    real = status.CompleteCreate.execute

    @functools.wraps(real)   # TaskFlow reads what it requires from this
    def counted(self, fence, *args, **kwargs):
        runs.append(fence.owner)
        return real(self, fence, *args, **kwargs)
    monkeypatch.setattr(status.CompleteCreate, 'execute', counted)
    first, second = make_runner('first'), make_runner('second')
    cluster, op = make_cluster(driver=None)
    try:
        first.claim_and_run(op.id)
        assert reached.wait(30)
        # Its writes so far are in: the step is half done.
        row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
        assert row.status == states.CREATE_IN_PROGRESS
        taken_over(second, op.id)
    finally:
        release.set()
    wait_for(lambda: not first.running() and not second.running())
    assert runs == ['first', 'second']
    _assert_complete(sim, cluster, op)


def _seven_step_flow():
    """The create as conductors before the tenth round built it."""
    from taskflow.patterns import linear_flow
    kind = states.OP_CLUSTER_CREATE
    return linear_flow.Flow(kind).add(
        status.BeginOperation(kind),
        credential.MakeTrustee(),
        stack.CreateStack(),
        stack.WaitForStack('CREATE'),
        status.CopyOutputs(),
        credential.RetireTrustees(),
        status.CompleteOperation(kind),
    )


# TaskFlow saves the factory's import path with the flow and loads it
# from there on resume: the old flow is saved under the factory's name.
_seven_step_flow.__module__ = cluster_create.get_flow.__module__
_seven_step_flow.__qualname__ = cluster_create.get_flow.__qualname__


def test_a_flow_saved_with_the_three_steps_resumes_through_the_one(
        make_runner, sim, monkeypatch):
    """An earlier conductor stopped in RetireTrustees (CopyOutputs done);
    this one loads its flow with the new factory and completes it."""
    # The steps are read once per process, from the factory as it is.
    steps.steps_of(states.OP_CLUSTER_CREATE)
    steps.step_name('begin-cluster_create')
    monkeypatch.setitem(flows.FACTORIES, states.OP_CLUSTER_CREATE,
                        _seven_step_flow)
    monkeypatch.setattr(cluster_create, 'get_flow', _seven_step_flow)
    reached, release = threading.Event(), threading.Event()
    real = credential.RetireTrustees.execute

    @functools.wraps(real)
    def stopped(self, fence, *args, **kwargs):
        reached.set()
        release.wait(30)
        raise exceptions.FencedOut(operation=fence.operation_id,
                                   owner=fence.owner, epoch=fence.epoch)
    monkeypatch.setattr(credential.RetireTrustees, 'execute', stopped)
    first = make_runner('first')
    cluster, op = make_cluster(driver=None)
    try:
        first.claim_and_run(op.id)
        assert reached.wait(30)
        assert db_api.get_operation(op.id).flow_id
        monkeypatch.undo()
        runs = []
        real_complete = status.CompleteCreate.execute

        @functools.wraps(real_complete)
        def counted(self, fence, *args, **kwargs):
            runs.append(fence.owner)
            return real_complete(self, fence, *args, **kwargs)
        monkeypatch.setattr(status.CompleteCreate, 'execute', counted)
        second = make_runner('second')
        taken_over(second, op.id)
    finally:
        release.set()
    wait_for(lambda: not first.running() and not second.running())
    assert runs == ['second']
    _assert_complete(sim, cluster, op)
