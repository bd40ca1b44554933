"""The first step of a delete that won over a running operation.

The API fenced the old operation out in the transaction that recorded the
delete, so its conductor can no longer write anything; but a request it had
already sent to the cloud (a stack create on its way to Heat) can still
land. So the delete does not look for the stack until the old owner has
let go of the operation (``stopped_acting``: its flow ended) or is dead
(its heartbeat stopped for ``[conductor] heartbeat_timeout`` by this
conductor's own clock). Then deleting the stack by its derived name finds
whatever the old flow made: no orphaned stack, no orphaned servers.
"""

import time

from oslo_log import log as logging

from caas.conductor import ownership
from caas.conductor.tasks import common
from caas.conductor.tasks import stack
from caas.conf import CONF
from caas.db import operations as db_ops
from caas.db import outage
from caas.db.sqlalchemy import models

LOG = logging.getLogger(__name__)


class WaitForSupersededToStop(common.Task):
    step, label = 'fence-out', 'waiting for the superseded operation to stop'

    def execute(self, fence, operation_id):
        waiting = outage.call(db_ops.superseded_owners, fence.cluster_uuid)
        if not waiting:
            return
        deadline = fence.operation().deadline
        observer = ownership.LivenessObserver(
            fence.owner, CONF.conductor.heartbeat_timeout,
            CONF.conductor.unclaimed_timeout)
        pause = CONF.conductor.stack_poll_initial
        LOG.info('Cluster %s: waiting for %s to stop acting on superseded '
                 'operations %s', fence.cluster_uuid,
                 ', '.join(sorted({owner for _, owner in waiting})),
                 ', '.join(op for op, _ in waiting))
        while True:
            fence.check()
            waiting = outage.call(db_ops.superseded_owners,
                                  fence.cluster_uuid)
            reports = outage.call(db_ops.conductor_reports)
            for _, owner in waiting:
                reports.setdefault(owner, None)
            dead = observer.observe_hosts(reports)
            alive = [(op, owner) for op, owner in waiting
                     if owner not in dead]
            if not alive:
                if waiting:
                    LOG.warning('Cluster %s: %s stopped heartbeating; not '
                                'waiting for it any longer',
                                fence.cluster_uuid,
                                ', '.join(sorted(dead)))
                return
            if deadline is not None and models.utcnow() >= deadline:
                raise stack.OperationTimedOut(
                    reason='Timed out waiting for %s to stop the superseded '
                           'operation %s; delete the cluster again to '
                           'retry.' % (alive[0][1], alive[0][0]))
            time.sleep(pause)
            pause = min(pause * 2, CONF.conductor.stack_poll_max)
