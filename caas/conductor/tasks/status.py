"""Tasks that open and close an operation on the cluster's record."""

from oslo_log import log as logging

from caas.common import exceptions
from caas.common import notifications
from caas.common import states
from caas.conductor import notify
from caas.conductor.tasks import common
from caas.conductor.tasks import credential

LOG = logging.getLogger(__name__)


def own_nodegroup(fence):
    """The nodegroup (UUID) an operation is about when its outcome is that
    nodegroup's alone (``params['nodegroup']``), else None."""
    return (fence.operation().params or {}).get(
        'nodegroup')


class BeginOperation(common.Task):
    """Opens every flow; its revert marks the cluster failed and releases it.

    :param nodegroup_scoped: the failure is the nodegroup's named by
        ``params['nodegroup']`` (if any) rather than every nodegroup's.
    """

    step, label = 'begin', 'starting'

    def __init__(self, kind, nodegroup_scoped=False, **kwargs):
        super().__init__(name='begin-%s' % kind, **kwargs)
        self.kind = kind
        self.nodegroup_scoped = nodegroup_scoped

    def execute(self, fence):
        # No claim check: this step acts on nothing, and every write after
        # it (its own state's first) is fenced.
        LOG.info('Cluster %s: %s started (operation %s, epoch %d)',
                 fence.cluster_uuid, self.kind, fence.operation_id,
                 fence.epoch)

    def revert(self, fence, *args, flow_failures=None, **kwargs):
        failed = states.TRANSITIONS[self.kind][2]
        reason = common.failure_reason(flow_failures)
        try:
            params = fence.operation().params or {}
        except Exception:
            params = {}
        if params.get('rolled_back') is True:
            failed = states.ROLLBACK_COMPLETE
            reason += '; rolled back to the previous node count'
        elif params.get('rolled_back') is False:
            failed = states.ROLLBACK_FAILED
            reason += '; the rollback failed too: %s' % params.get(
                'rollback_error')
        values = {'status': failed, 'status_reason': reason}
        ng_uuid = params.get('nodegroup') if self.nodegroup_scoped else None
        try:
            fence.finish(False, values, error=reason,
                         nodegroup=(ng_uuid, values) if ng_uuid else None)
        except exceptions.FencedOut:
            LOG.warning('Cluster %s: not marking %s, the claim on operation '
                        '%s was lost', fence.cluster_uuid, failed,
                        fence.operation_id)
            return
        LOG.error('Cluster %s: %s (%s)', fence.cluster_uuid, failed, reason)
        notify.operation_ended(fence.cluster_uuid, fence.operation_id,
                               self.kind, notifications.FAILURE)


class CompleteOperation(common.Task):
    """Ends a create or update: *_COMPLETE, the cluster is free again.

    :param nodegroup_scoped: as for :class:`BeginOperation`.
    """

    step, label = 'complete', 'completing'

    def __init__(self, kind, nodegroup_scoped=False, **kwargs):
        super().__init__(name='complete-%s' % kind, **kwargs)
        self.kind = kind
        self.nodegroup_scoped = nodegroup_scoped

    def execute(self, fence):
        done = states.TRANSITIONS[self.kind][1]
        values = {'status': done, 'status_reason': None}
        ng_uuid = own_nodegroup(fence) if self.nodegroup_scoped else None
        fence.finish(True, values,
                     nodegroup=(ng_uuid, values) if ng_uuid else None)
        LOG.info('Cluster %s: %s', fence.cluster_uuid, done)
        notify.operation_ended(fence.cluster_uuid, fence.operation_id,
                               self.kind, notifications.SUCCESS)


class DeleteClusterRecords(common.Task):
    """Ends a delete: the cluster and its nodegroups disappear."""
    step, label = 'delete-records', 'removing the cluster records'

    def execute(self, fence):
        # Described before its rows go, for the notification.
        cluster = notify.cluster_row(fence.cluster_uuid)
        fence.delete_cluster()
        LOG.info('Cluster %s: deleted', fence.cluster_uuid)
        if cluster is not None:
            cluster.update(status=states.DELETE_COMPLETE, status_reason=None)
        notify.operation_ended(fence.cluster_uuid, fence.operation_id,
                               states.OP_CLUSTER_DELETE,
                               notifications.SUCCESS, cluster=cluster)


class CopyOutputs(common.Task):
    """Stack outputs (addresses) into the cluster and its nodegroups."""
    step, label = 'copy-outputs', 'recording the addresses'

    def execute(self, fence, clients, stack_id, operation_id,
                stack_outputs=None):
        """:param stack_outputs: as the wait for the stack saw them last
            (absent from the flows that do not wait: Heat is asked)."""
        copy_outputs(fence, clients, stack_id, stack_outputs)


def copy_outputs(fence, clients, stack_id, stack_outputs=None):
    """The stack's outputs into the cluster and its nodegroups, in one
    fenced transaction (the same values every time: a re-run writes them
    again)."""
    driver = common.driver_for(fence)
    outputs = stack_outputs
    if outputs is None:
        stack = common.find_stack(clients, stack_id)
        if stack is None:
            raise exceptions.CaasException(
                message='Heat stack %s disappeared.' % stack_id)
        outputs = common.stack_outputs(stack)
    cluster_values = driver.cluster_values_from_outputs(outputs)
    by_role = driver.nodegroup_addresses(outputs)
    ng_values = {role: {'node_addresses': addrs}
                 for role, addrs in by_role.items()}
    params = fence.operation().params or {}
    if 'node_count' in params:
        cluster_values['node_count'] = params['node_count']
        ng_values.setdefault('worker', {})['node_count'] = \
            params['node_count']
    # Bounds changed with a nodegroup PATCH of a default nodegroup.
    bounds = {k: params[k] for k in ('min_node_count', 'max_node_count')
              if k in params}
    by_uuid = {params['nodegroup']: bounds} \
        if bounds and params.get('nodegroup') else None
    fence.update(cluster_values=cluster_values, nodegroup_values=ng_values,
                 nodegroup_uuid_values=by_uuid)


class CompleteCreate(CompleteOperation):
    """Ends a create, one step for what were three: the stack's outputs
    into the cluster (:func:`copy_outputs`), the operation's trustee made
    current and any other deleted (``credential.retire_trustees``), then
    CREATE_COMPLETE (:class:`CompleteOperation`).

    Each of the three was a TaskFlow task of its own, with a save of its
    state and two progress events (a start and a success) in transactions
    of their own: two tasks fewer are 8 statements and 2 transactions fewer
    a create, and TaskFlow's scheduling of two atoms. A re-run (its
    conductor killed anywhere inside it) does all three again, and each is
    idempotent: the outputs are the same values, a trustee already current
    is not written again, the others are looked up before they are
    deleted; the operation's end is the last write, and a finished
    operation is never claimed again. The atom keeps the name of the
    create's last task (``complete-cluster_create``), so a flow saved by
    an earlier conductor with the three tasks runs this one in place of
    its last, after whichever of the other two it finished (both are run
    again here).
    """

    def execute(self, fence, clients, stack_id, operation_id,
                stack_outputs=None):
        copy_outputs(fence, clients, stack_id, stack_outputs)
        credential.retire_trustees(fence, clients, operation_id)
        super().execute(fence)
