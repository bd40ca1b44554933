"""The stacks of the nodegroups users added, kept in step with the
cluster's own stack when a rotation changes what nodes hold: the
cluster's CA certificates (the Kubernetes driver's ``ca_bundle_b64``) and
its cloud credential (the trustee's parameters, when a driver's workers
take them; the Kubernetes workers do not).

A rotation's flow updates the cluster's stack first, then runs
:class:`HandToNodeGroups`: every added nodegroup's stack gets a PATCH
update of those parameters only, with the driver's rotation parameters
(Kubernetes: ``user_data_update_policy`` IGNORE, so Heat keeps the new
user data for the servers it creates later and replaces none), then the
task waits for all of them. A stack made before its template
declared those parameters gets the current template with them instead.

Idempotent and resumable: a stack that already carries the values is not
sent them again, and one that is updating is waited for, not sent an
update (one operation runs on a cluster at a time: that update is this
operation's, sent before its conductor died).
"""

from heatclient import exc as heat_exc
from oslo_log import log as logging

from caas.conductor.tasks import common
from caas.conductor.tasks import credential_params as cred_params
from caas.conductor.tasks import stack as stack_tasks
from caas.conductor.tasks import upgrade

LOG = logging.getLogger(__name__)


def added_stacks(clients, data):
    """[(nodegroup, stack)] of every nodegroup users added whose stack
    exists and is not being (or failed to be) deleted."""
    found = []
    for ng in data.nodegroups:
        if ng.get('is_default'):
            continue
        stack = None
        name = data.driver.nodegroup_stack_name(data.cluster, ng)
        for ident in filter(None, (ng.get('stack_id'), name)):
            stack = common.find_stack(clients, ident)
            if stack is not None:
                break
        if stack is None or stack.stack_status.startswith('DELETE'):
            LOG.info('Cluster %s: nodegroup %s has no stack to update',
                     data.cluster['uuid'], ng['uuid'])
            continue
        found.append((ng, stack))
    return found


class HandToNodeGroups(common.Task):
    """Hand what a rotation changed to every added nodegroup's stack.

    :param what: ``'credential'`` (the operation's new trustee, else the
        cluster's current one) or ``'cas'`` (the cluster's CA
        certificates).
    """

    LABELS = {'credential': 'handing the credential to the nodegroups',
              'cas': 'handing the new CAs to the nodegroups'}

    def __init__(self, what, **kwargs):
        super().__init__(name='nodegroup-stacks-%s' % what, **kwargs)
        self.what = what
        self.step, self.label = self.name, self.LABELS[what]

    def _wanted(self, data, operation_id, declared):
        if self.what == 'credential':
            wanted = cred_params.stack_parameters(
                data.driver, data.cluster['uuid'], operation_id, declared)
        else:
            pems = stack_tasks.ca_pems(data.cluster['uuid'])
            wanted = {k: v for k, v in data.driver.ca_parameters(
                pems).items() if k in declared}
        if wanted:
            # The new values must replace no server.
            wanted.update(stack_tasks.rotation_parameters(data, declared))
        return wanted

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        pairs = added_stacks(clients, data)
        waiting = []
        for ng, stack in pairs:
            stack_id = self._hand_over(fence, clients, data, operation_id,
                                       ng, stack)
            if stack_id is not None:
                waiting.append(stack_id)
        deadline = fence.operation().deadline
        for stack_id in waiting:
            stack_tasks.wait_for_stack(fence, clients, stack_id, 'UPDATE',
                                       deadline)
        return len(pairs)

    def _hand_over(self, fence, clients, data, operation_id, ng, stack):
        """Send the stack what it lacks; the id of a stack to wait for, or
        None when it already carries everything."""
        if stack.stack_status == 'UPDATE_IN_PROGRESS':
            LOG.info('Cluster %s: stack %s of nodegroup %s is already '
                     'updating', fence.cluster_uuid, stack.id, ng['uuid'])
            return stack.id
        current = stack.to_dict().get('parameters') or {}
        wanted = self._wanted(data, operation_id, current)
        kwargs = {'existing': True, 'parameters': wanted}
        if wanted:
            if stack.stack_status in ('CREATE_COMPLETE', 'UPDATE_COMPLETE') \
                    and upgrade.carries(current, wanted):
                return None
        else:
            # A stack made before its template declared these parameters
            # gets the current template, with the values it runs.
            definition = self._definition(clients, data, ng, operation_id)
            wanted = self._wanted(
                data, operation_id,
                definition['template'].get('parameters') or {}) \
                if definition is not None else {}
            if not wanted:
                return None
            definition['parameters'].update(wanted)
            kwargs = {'existing': True, 'template': definition['template'],
                      'files': definition.get('files') or {},
                      'parameters': definition['parameters']}
        fence.check()
        # The credential's parameters hold a password.
        heat = clients.quiet_heat \
            if 'trustee_password' in kwargs['parameters'] else clients.heat
        try:
            common.cloud_call(heat.stacks.update, stack.id, **kwargs)
        except heat_exc.HTTPException as exc:
            raise stack_tasks.StackFailed(
                reason='Heat refused to update stack %s of nodegroup %s: %s'
                       % (stack.stack_name, ng['name'],
                          common.cloud_answer(exc)))
        LOG.info('Cluster %s: stack %s of nodegroup %s is being given the '
                 '%s (%s)', fence.cluster_uuid, stack.id, ng['uuid'],
                 self.what, ', '.join(sorted(wanted)))
        return stack.id

    @staticmethod
    def _definition(clients, data, ng, operation_id):
        """The nodegroup stack's current full definition, or None when the
        cluster's stack (whose outputs it needs) cannot be read."""
        cluster_stack = common.find_stack(
            clients, data.cluster.get('stack_id') or
            data.driver.stack_name(data.cluster))
        if cluster_stack is None:
            return None
        try:
            definition = data.driver.nodegroup_stack_definition(
                data.cluster, data.template, ng,
                common.stack_outputs(cluster_stack))
        except Exception as exc:
            LOG.warning('Cluster %s: no definition of nodegroup %s: %s',
                        data.cluster['uuid'], ng['uuid'], exc)
            return None
        stack_tasks.add_ca_parameters(data, definition)
        definition['parameters'].update(cred_params.stack_parameters(
            data.driver, data.cluster['uuid'], operation_id,
            definition['template'].get('parameters') or {}))
        return definition
