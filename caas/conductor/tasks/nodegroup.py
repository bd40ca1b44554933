"""Tasks on a nodegroup's own Heat stack (the nodegroups users add).

The operation's ``params['nodegroup']`` names the nodegroup. Its stack name
is derived from the cluster and nodegroup UUIDs by the driver, so a task
that runs again after a crash finds the stack its predecessor created; the
stack waits reuse :mod:`caas.conductor.tasks.stack`'s.

While a nodegroup operation runs the cluster is UPDATE_IN_PROGRESS and the
nodegroup has its own status (states.NODEGROUP_TRANSITIONS); the first task
of every flow marks both failed if the flow fails.
"""

from heatclient import exc as heat_exc
from oslo_log import log as logging

from caas.clients import environment
from caas.common import exceptions
from caas.common import states
from caas.conductor.tasks import common
from caas.conductor.tasks import credential
from caas.conductor.tasks import credential_params as cred_params
from caas.conductor.tasks import stack as stack_tasks
from caas.conductor.tasks import status

LOG = logging.getLogger(__name__)


def _nodegroup(data, fence):
    """(nodegroup dict, operation params) of a nodegroup operation."""
    params = fence.operation().params or {}
    for ng in data.nodegroups:
        if ng['uuid'] == params.get('nodegroup'):
            return ng, params
    raise stack_tasks.StackFailed(
        reason='Nodegroup %s of this operation no longer exists.' %
               params.get('nodegroup'))


class BeginNodeGroupOperation(status.BeginOperation):
    """Opens every nodegroup flow; its revert marks the cluster
    UPDATE_FAILED and the nodegroup *_FAILED, and releases the cluster."""

    def revert(self, fence, *args, flow_failures=None, **kwargs):
        reason = common.failure_reason(flow_failures)
        try:
            params = fence.operation().params or {}
        except Exception:
            params = {}
        ng_failed = states.NODEGROUP_TRANSITIONS[self.kind][2]
        try:
            fence.finish(False, {'status': states.TRANSITIONS[self.kind][2],
                                 'status_reason': reason}, error=reason,
                         nodegroup=(params.get('nodegroup'),
                                    {'status': ng_failed,
                                     'status_reason': reason}))
        except exceptions.FencedOut:
            LOG.warning('Cluster %s: not marking nodegroup %s %s, the claim '
                        'on operation %s was lost', fence.cluster_uuid,
                        params.get('nodegroup'), ng_failed,
                        fence.operation_id)
            return
        LOG.error('Cluster %s: nodegroup %s %s (%s)', fence.cluster_uuid,
                  params.get('nodegroup'), ng_failed, reason)


class CreateNodeGroupStack(common.Task):
    default_provides = 'stack_id'
    step, label = 'create-nodegroup-stack', "creating the nodegroup's stack"

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        ng, _params = _nodegroup(data, fence)
        name = data.driver.nodegroup_stack_name(data.cluster, ng)
        found = common.find_stack(clients, name)
        if found is not None:
            LOG.info('Cluster %s: stack %s of nodegroup %s already exists '
                     '(%s), reusing it', fence.cluster_uuid, name, ng['uuid'],
                     found.id)
            stack_id = found.id
        else:
            stack_id = self._create(fence, clients, data, ng, name)
        fence.update(nodegroup_uuid_values={ng['uuid']: {'stack_id':
                                                          stack_id}})
        # The requester's token was needed for the create only (Heat makes
        # no stack with a trust-scoped token): every later call of the
        # flow goes through the trust.
        credential.wipe_token(fence, operation_id)
        return stack_id

    @staticmethod
    def _create(fence, clients, data, ng, name):
        cluster_stack = common.find_stack(clients, data.cluster['stack_id'] or
                                          data.driver.stack_name(data.cluster))
        if cluster_stack is None:
            raise stack_tasks.StackFailed(
                reason="The cluster's Heat stack %s does not exist; a "
                       'nodegroup cannot join it.' % data.cluster['stack_id'])
        try:
            definition = data.driver.nodegroup_stack_definition(
                data.cluster, data.template, ng,
                common.stack_outputs(cluster_stack))
        except exceptions.InvalidParameterValue as exc:
            raise stack_tasks.StackFailed(reason=str(exc))
        # The nodegroup's nodes trust the cluster's CAs and hold its cloud
        # credential from their first boot, as the cluster's own nodes do.
        stack_tasks.add_ca_parameters(data, definition)
        secret = cred_params.stack_parameters(
            data.driver, fence.cluster_uuid, fence.operation_id,
            definition['template'].get('parameters') or {})
        definition['parameters'].update(secret)
        heat = clients.stack_creator(quiet=bool(secret))
        fence.check()
        try:
            created = common.cloud_call(
                heat.stacks.create, stack_name=name,
                template=definition['template'],
                parameters=definition['parameters'],
                timeout_mins=data.cluster.get('create_timeout') or 60,
                disable_rollback=True,
                **environment.create_kwargs(definition))
        except heat_exc.HTTPConflict:
            # A create whose answer was lost already made it.
            found = common.find_stack(clients, name)
            if found is None:
                raise
            return found.id
        except heat_exc.HTTPException as exc:
            raise stack_tasks.StackFailed(
                reason='Heat refused to create stack %s: %s' % (
                    name, common.cloud_answer(exc)))
        LOG.info('Cluster %s: created stack %s of nodegroup %s (%s)',
                 fence.cluster_uuid, name, ng['uuid'],
                 created['stack']['id'])
        return created['stack']['id']

    def revert(self, fence, operation_id, *args, **kwargs):
        # A failed stack is kept for inspection; deleting the nodegroup or
        # the cluster deletes it. The requester's token is not kept.
        try:
            credential.wipe_token(fence, operation_id)
        except Exception as exc:
            LOG.warning('Cluster %s: could not wipe the token of operation '
                        '%s: %s', fence.cluster_uuid, operation_id, exc)


class UpdateNodeGroupStack(common.Task):
    default_provides = 'stack_id'
    step, label = 'update-nodegroup-stack', "updating the nodegroup's stack"

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        ng, params = _nodegroup(data, fence)
        ident = ng.get('stack_id') or data.driver.nodegroup_stack_name(
            data.cluster, ng)
        found = common.find_stack(clients, ident)
        if found is None:
            raise stack_tasks.StackFailed(
                reason='Nodegroup %s has no Heat stack %s; it cannot be '
                       'updated (delete it and create it again).' % (
                           ng['name'], ident))
        if found.stack_status == 'UPDATE_IN_PROGRESS':
            return found.id
        remove = stack_tasks.members_to_remove(
            fence, clients, data.driver, found,
            params.get('nodes_to_remove') or [])
        wanted = dict(ng)
        for key in ('node_count', 'node_labels', 'node_taints'):
            if key in params:
                wanted[key] = params[key]
        new = data.driver.nodegroup_update_parameters(
            data.cluster, data.template, wanted, remove=remove)
        current = found.to_dict().get('parameters') or {}
        if (found.stack_status == 'UPDATE_COMPLETE' and
                all(str(current.get(k)) == str(v) for k, v in new.items())):
            return found.id
        fence.check()
        try:
            common.cloud_call(clients.heat.stacks.update, found.id,
                              existing=True, parameters=new)
        except heat_exc.HTTPException as exc:
            raise stack_tasks.StackFailed(
                reason='Heat refused to update stack %s: %s' % (
                    found.stack_name, common.cloud_answer(exc)))
        LOG.info('Cluster %s: updating stack %s of nodegroup %s with %s',
                 fence.cluster_uuid, found.id, ng['uuid'], new)
        return found.id


class CopyNodeGroupOutputs(common.Task):
    """The nodegroup stack's addresses and the recorded counts into the
    nodegroup; the cluster's node_addresses are recomputed with them."""
    step, label = 'copy-nodegroup-outputs', 'recording the addresses'

    def execute(self, fence, clients, stack_id, operation_id):
        data = common.load_for(fence)
        ng, params = _nodegroup(data, fence)
        found = common.find_stack(clients, stack_id)
        if found is None:
            raise stack_tasks.StackFailed(
                reason='Heat stack %s disappeared.' % stack_id)
        outputs = common.stack_outputs(found)
        values = {'node_addresses':
                  data.driver.nodegroup_addresses(outputs)['worker']}
        for key in ('node_count', 'min_node_count', 'max_node_count',
                    'node_labels', 'node_taints'):
            if key in params:
                values[key] = params[key]
        fence.update(nodegroup_uuid_values={ng['uuid']: values})


class CompleteNodeGroupOperation(common.Task):
    step, label = 'complete', 'completing'

    def __init__(self, kind, **kwargs):
        super().__init__(name='complete-%s' % kind, **kwargs)
        self.kind = kind

    def execute(self, fence, operation_id):
        params = fence.operation().params or {}
        done = states.NODEGROUP_TRANSITIONS[self.kind][1]
        fence.finish(True, {'status': states.TRANSITIONS[self.kind][1],
                            'status_reason': None},
                     nodegroup=(params['nodegroup'],
                                {'status': done, 'status_reason': None}))
        LOG.info('Cluster %s: nodegroup %s %s', fence.cluster_uuid,
                 params['nodegroup'], done)


class DeleteNodeGroupStack(common.Task):
    default_provides = 'stack_id'
    step, label = 'delete-nodegroup-stack', "deleting the nodegroup's stack"

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        ng, _params = _nodegroup(data, fence)
        name = data.driver.nodegroup_stack_name(data.cluster, ng)
        stack_id = None
        if ng.get('stack_id'):
            stack_id = stack_tasks.delete_stack(fence, clients,
                                                ng['stack_id'])
        # A create that never recorded its stack id may still have made one.
        return stack_id or stack_tasks.delete_stack(fence, clients, name)


class DeleteNodeGroupRecord(common.Task):
    """Ends a nodegroup delete: the row goes, the cluster is free again."""
    step, label = 'delete-nodegroup-record', 'removing the nodegroup record'

    def execute(self, fence, operation_id):
        params = fence.operation().params or {}
        fence.delete_nodegroup(params['nodegroup'],
                               {'status': states.UPDATE_COMPLETE,
                                'status_reason': None})
        LOG.info('Cluster %s: nodegroup %s deleted', fence.cluster_uuid,
                 params['nodegroup'])


class DeleteNodeGroupStacks(common.Task):
    """First step of a cluster delete: the stacks of every nodegroup users
    added, deleted and waited for, so the cluster's own stack (its network)
    goes last and no nodegroup stack is orphaned."""
    step, label = 'delete-nodegroup-stacks', "deleting the nodegroups' stacks"

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        deleting = []
        for ng in data.nodegroups:
            if ng.get('is_default'):
                continue
            name = data.driver.nodegroup_stack_name(data.cluster, ng)
            for ident in filter(None, (ng.get('stack_id'), name)):
                stack_id = stack_tasks.delete_stack(fence, clients, ident)
                if stack_id is not None:
                    deleting.append(stack_id)
                    break
        deadline = fence.operation().deadline
        for stack_id in deleting:
            stack_tasks.wait_for_stack_gone(fence, clients, stack_id,
                                            deadline)
        return len(deleting)
