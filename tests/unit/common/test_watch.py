"""``caas-manage watch``'s frames, built from the database."""

from caas.cmd import watch
from caas.common import states
from caas.conductor import ownership
from caas.db import events as db_events
from caas.db import operations as db_ops
from tests.unit.conductor.conftest import make_cluster


def _claimed():
    """A create claimed by conductor c1, its fence, and a watcher started
    before its first event."""
    cluster, op = make_cluster()
    epoch = db_ops.claim(op.id, 'c1')
    return op, ownership.Fence(op.id, cluster.uuid, 'c1', epoch), \
        watch.Watcher()


def _description(watcher, op_id):
    return watcher.progress.tasks[watcher._tasks[op_id]].description


def test_an_operation_seen_at_100_percent_still_shows_its_end(db):
    """A refresh between the last step's success and the operation's end
    fills the bar; the next one must still say how the operation ended."""
    op, fence, watcher = _claimed()
    db_events.record(fence, 'p1', states.OP_CLUSTER_CREATE,
                     states.EV_SUCCEEDED, step='finish', step_index=7,
                     step_count=7)
    assert watcher.refresh() == 1
    assert watcher.progress.tasks[watcher._tasks[op.id]].finished
    assert 'step 7/7 finish' in _description(watcher, op.id)
    db_ops.finish(fence, True, {'status': states.CREATE_COMPLETE})
    assert watcher.refresh() == 0
    assert _description(watcher, op.id) == 'operation SUCCEEDED'
    # Said once; later refreshes read the operation no more.
    assert watcher.refresh() == 0
    assert _description(watcher, op.id) == 'operation SUCCEEDED'


def test_a_failed_operation_shows_its_error(db):
    op, fence, watcher = _claimed()
    db_events.record(fence, 'p1', states.OP_CLUSTER_CREATE,
                     states.EV_FAILED, step='wait', step_index=4,
                     step_count=7, message='boom')
    assert watcher.refresh() == 1
    db_ops.finish(fence, False, {'status': states.CREATE_FAILED},
                  error='the stack failed')
    assert watcher.refresh() == 0
    assert _description(watcher, op.id) == \
        'operation FAILED: the stack failed'
