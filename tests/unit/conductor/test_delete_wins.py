"""A DELETE always wins, tried at each step of a create and during a resize.

Real TaskFlow engines with SQL persistence and the simulated cloud; the old
flow is held at the worst moments with gates (it has passed its claim check
and its request is on the way to Heat; it is copying outputs). Afterwards
the simulated cloud must hold no stack and no server of the cluster, and
the fenced-out flow must never have written a status.
"""

import functools
import threading

import pytest

from caas.common import exceptions
from caas.common import states
from caas.conductor.tasks import common
from caas.conductor.tasks import status
from caas.db import api as db_api
from caas.db import events as db_events
from caas.db import operations as db_ops
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


class Gate:
    """Holds a thread at one point until the test lets it go."""

    def __init__(self):
        self.reached = threading.Event()
        self.go = threading.Event()

    def hold(self):
        self.reached.set()
        assert self.go.wait(60), 'the test never opened the gate'


@pytest.fixture(autouse=True)
def live_conductors(conf):
    # The runners here heartbeat nowhere; a long timeout keeps the old
    # owner "alive", so the delete has to wait for it to let go.
    conf('heartbeat_timeout', 60, group='conductor')


def _cloud_is_empty(sim):
    counts = sim.cloud.summary()['counts']
    return counts['stacks'] == 0 and counts['servers'] == 0


def _steps_started(op_id):
    return [e.step for e in db_events.list_events(
        scope=db_api.ALL_PROJECTS, operation_id=op_id, limit=1000)
        if e.state == states.EV_STARTED]


def _gone(cluster_uuid):
    with pytest.raises(exceptions.ClusterNotFound):
        db_api.get_cluster(cluster_uuid, scope=db_api.ALL_PROJECTS)
    return True


def _delete(cluster_uuid, runner):
    _, delete, superseded = db_api.start_delete(cluster_uuid)
    assert delete is not None
    assert runner.claim_and_run(delete.id)
    return delete, superseded


def test_delete_while_the_stack_create_is_on_its_way(make_runner, sim,
                                                     monkeypatch):
    gate = Gate()
    created = []
    real_call = common.cloud_call

    def cloud_call(fn, *args, **kwargs):
        if getattr(fn, '__name__', '') == 'create' and 'stack_name' in kwargs:
            # Past its claim check, before Heat has the request.
            gate.hold()
            result = real_call(fn, *args, **kwargs)
            created.append(result)
            return result
        return real_call(fn, *args, **kwargs)
    monkeypatch.setattr(common, 'cloud_call', cloud_call)

    old, new = make_runner('old'), make_runner('new')
    cluster, create = make_cluster(driver=None)
    assert old.claim_and_run(create.id)
    assert gate.reached.wait(30)
    delete, superseded = _delete(cluster.uuid, new)
    assert superseded[0] == create.id
    # The delete waits for the old owner to let go before it looks.
    wait_for(lambda: 'fence-out' in _steps_started(delete.id))
    assert db_api.get_operation(delete.id).state == states.OP_RUNNING
    gate.go.set()
    assert wait_operation(delete.id).state == states.OP_SUCCEEDED
    # The old flow did create its stack, after the delete was recorded...
    assert len(created) == 1
    # ... and the delete found and removed it.
    wait_for(lambda: _cloud_is_empty(sim), timeout=10)
    assert _gone(cluster.uuid)
    fenced = db_api.get_operation(create.id)
    assert fenced.state == states.OP_SUPERSEDED
    assert fenced.owner is None        # the old conductor let go
    wait_for(lambda: not old.running())


def test_delete_before_the_create_was_claimed(make_runner, sim):
    runner = make_runner()
    cluster, create = make_cluster(driver=None)
    delete, _ = _delete(cluster.uuid, runner)
    # The create's cast arrives late: nothing to claim.
    assert not make_runner('late').claim_and_run(create.id)
    assert db_api.get_operation(create.id).state == states.OP_SUPERSEDED
    assert wait_operation(delete.id).state == states.OP_SUCCEEDED
    assert _cloud_is_empty(sim)
    assert _gone(cluster.uuid)


def test_delete_while_the_stack_is_being_created(make_runner, sim):
    sim.cloud.knobs['server_boot_delay'] = 5
    old, new = make_runner('old'), make_runner('new')
    cluster, create = make_cluster(driver=None)
    assert old.claim_and_run(create.id)
    wait_for(lambda: db_api.get_cluster(
        cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id)
    assert sim.cloud.summary()['counts']['stacks'] == 1
    delete, _ = _delete(cluster.uuid, new)
    assert wait_operation(delete.id).state == states.OP_SUCCEEDED
    wait_for(lambda: _cloud_is_empty(sim), timeout=10)
    assert _gone(cluster.uuid)
    # The old flow's stack wait ended at its next poll, without writing.
    wait_for(lambda: not old.running())
    assert db_api.get_operation(create.id).state == states.OP_SUPERSEDED


def test_a_fenced_create_copying_outputs_never_completes(make_runner, sim,
                                                         monkeypatch):
    copying, removing = Gate(), Gate()
    # The create's last step copies the outputs first (CompleteCreate).
    real_copy = status.copy_outputs
    real_remove = status.DeleteClusterRecords.execute

    def copy(*args, **kwargs):
        copying.hold()
        return real_copy(*args, **kwargs)

    # TaskFlow reads what a task requires from its signature: keep it.

    @functools.wraps(real_remove)
    def remove(self, *args, **kwargs):
        removing.hold()
        return real_remove(self, *args, **kwargs)
    monkeypatch.setattr(status, 'copy_outputs', copy)
    monkeypatch.setattr(status.DeleteClusterRecords, 'execute', remove)
    finishes = []
    real_finish = db_ops.finish

    def finish(fence, succeeded, cluster_values, error=None,
               nodegroup=None):
        try:
            real_finish(fence, succeeded, cluster_values, error, nodegroup)
        except exceptions.FencedOut:
            finishes.append(('fenced', cluster_values.get('status')))
            raise
        finishes.append(('written', cluster_values.get('status')))
    monkeypatch.setattr(db_ops, 'finish', finish)

    old, new = make_runner('old'), make_runner('new')
    cluster, create = make_cluster(driver=None)
    assert old.claim_and_run(create.id)
    assert copying.reached.wait(30)
    delete, _ = _delete(cluster.uuid, new)
    copying.go.set()
    # The delete ran up to its last step; the old flow has ended.
    assert removing.reached.wait(30)
    wait_for(lambda: not old.running())
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.DELETE_IN_PROGRESS
    assert row.operation_id == delete.id
    assert ('written', states.CREATE_COMPLETE) not in finishes
    assert db_api.get_operation(create.id).state == states.OP_SUPERSEDED
    removing.go.set()
    assert wait_operation(delete.id).state == states.OP_SUCCEEDED
    wait_for(lambda: _cloud_is_empty(sim), timeout=10)
    assert ('written', states.CREATE_COMPLETE) not in finishes


def test_delete_during_a_resize(make_runner, sim):
    runner = make_runner('old')
    cluster, create = make_cluster(driver=None, node_count=1)
    assert runner.claim_and_run(create.id)
    assert wait_operation(create.id).state == states.OP_SUCCEEDED
    sim.cloud.knobs['server_boot_delay'] = 5
    _, update = db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE,
                                       {'node_count': 3})
    assert runner.claim_and_run(update.id)
    wait_for(lambda: [s for s in sim.cloud.summary()['stacks']
                      if s['status'] == 'UPDATE_IN_PROGRESS'])
    delete, superseded = _delete(cluster.uuid, make_runner('new'))
    assert superseded == (update.id, states.OP_CLUSTER_UPDATE)
    assert wait_operation(delete.id).state == states.OP_SUCCEEDED
    wait_for(lambda: _cloud_is_empty(sim), timeout=10)
    assert _gone(cluster.uuid)
    wait_for(lambda: not runner.running())
    assert db_api.get_operation(update.id).state == states.OP_SUPERSEDED


def test_delete_of_an_operation_stuck_with_a_dead_owner(make_runner, sim,
                                                        conf):
    conf('heartbeat_timeout', 0.5, group='conductor')
    cluster, create = make_cluster(driver=None)
    # Claimed by a conductor that never ran it and has no heartbeat.
    assert db_ops.claim(create.id, 'ghost') == 1
    delete, _ = _delete(cluster.uuid, make_runner('new'))
    assert wait_operation(delete.id).state == states.OP_SUCCEEDED
    assert _gone(cluster.uuid)
    assert db_api.get_operation(create.id).owner == 'ghost'


def test_the_sweeper_lets_go_of_a_superseded_operation_not_running_here(
        make_runner, db):
    runner = make_runner('c1')
    cluster, create = make_cluster()
    db_ops.claim(create.id, 'c1')
    db_api.start_delete(cluster.uuid)
    assert runner.let_go_superseded() == 1
    assert db_api.get_operation(create.id).owner is None
    assert runner.let_go_superseded() == 0
