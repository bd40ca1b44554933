"""Deadlines, enforced by the sweeper for every unfinished operation.

Each operation carries a deadline (the cluster's create_timeout, or
[conductor] update_timeout for an update or delete). A running flow checks
it while it waits for Heat, but a flow that is not running - its conductor
cannot reach the database, its thread died, nobody claimed it - checks
nothing. So every sweeper also looks: an operation still unfinished
``grace`` seconds after its deadline is failed by compare-and-set on its
epoch (which fences out any flow still running under the old claim), and
its cluster goes to *_FAILED with a reason naming the step it was at. The
grace lets a running flow report its own, more specific, timeout first.
"""

import datetime

from oslo_log import log as logging
from taskflow import states as tf_states

from caas.common import notifications
from caas.common import states
from caas.conductor import notify
from caas.conductor import steps
from caas.db import operations as db_ops
from caas.db.sqlalchemy import models

LOG = logging.getLogger(__name__)

_AT_WORK = (tf_states.RUNNING, tf_states.REVERTING, tf_states.RETRYING)


def overdue(operations, grace, now=None):
    """The operations whose deadline passed more than ``grace`` s ago."""
    now = now or models.utcnow()
    limit = now - datetime.timedelta(seconds=grace)
    return [op for op in operations
            if op.deadline is not None and op.deadline <= limit]


def current_step(persistence, op):
    """The step the operation was at, from its persisted flow (a name)."""
    if not op.flow_id:
        return 'none (it never started)'
    try:
        detail = persistence.get_flow_details(op.flow_id)
    except Exception:
        LOG.warning('Cluster %s: cannot read the flow of operation %s',
                    op.cluster_id, op.id)
        return 'unknown'
    by_name = {ad.name: ad.state for ad in detail}
    order = [name for name, _step, _label in steps.steps_of(op.kind)
             if name in by_name]
    at_work = [n for n in order if by_name[n] in _AT_WORK]
    if at_work:
        return steps.step_name(at_work[0])
    pending = [n for n in order if by_name[n] != tf_states.SUCCESS]
    return steps.step_name(pending[0]) if pending else 'its last step'


def expire(persistence, op, host):
    """Fail ``op`` for its deadline; True if this conductor did it."""
    failed = states.TRANSITIONS[op.kind][2]
    what = op.kind.replace('cluster_', '')
    reason = ('Timed out: the deadline of this %s (%s UTC) passed at step '
              '%s; caas stopped it.%s' % (
                  what, op.deadline.isoformat(timespec='seconds'),
                  current_step(persistence, op),
                  '' if op.kind == states.OP_CLUSTER_DELETE else
                  ' Delete the cluster, or retry with a longer timeout.'))
    if op.kind == states.OP_CLUSTER_DELETE:
        reason += ' Delete the cluster again to retry.'
    if not db_ops.expire(op.id, op.epoch, failed, reason):
        return False
    LOG.error('Cluster %s: %s (operation %s, owner %s, fenced at epoch %d, '
              'expired by %s)', op.cluster_id, reason, op.id,
              op.owner or '-', op.epoch + 1, host)
    notify.operation_ended(op.cluster_id, op.id, op.kind,
                           notifications.FAILURE)
    return True
