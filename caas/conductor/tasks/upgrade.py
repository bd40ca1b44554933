"""Tasks of a cluster upgrade and of a CA rotation: a new definition of the
cluster's stack (or of the stack of the one nodegroup users added that an
upgrade names), sent once, then waited for like any update.

An upgrade is of the cluster's default nodegroups (``params['nodegroups']``,
built by the cluster's stack) or, when ``params['nodegroup']`` names one, of
a nodegroup users added: its own stack ``caas-<cluster>-ng-<nodegroup>``
gets the new image and version with the same rolling policy, and only that
nodegroup's row and status change.

Both are idempotent the way ``stack.UpdateStack`` is: a task that runs again
after its conductor died finds the stack already updating, or already
holding the parameters it would send, and sends nothing. Heat's rolling
update (the template's ``update_policy``) replaces the nodes in batches, so
a conductor that dies half-way neither replaces a node twice nor skips a
batch: the batches are Heat's, not ours.
"""

import json

from heatclient import exc as heat_exc
from oslo_log import log as logging

from caas.common import states
from caas.conductor.tasks import common
from caas.conductor.tasks import credential_params as cred_params
from caas.conductor.tasks import stack as stack_tasks
from caas.conductor.tasks import status
from caas.db import api as db_api
from caas.db import outage

LOG = logging.getLogger(__name__)

# How Heat shows a parameter declared hidden.
MASKED = '******'


def _new_template(params):
    # The API checked that the caller may use it; the conductor reads it by
    # UUID for whichever project.
    return outage.call(db_api.get_cluster_template,
                       params['cluster_template'],
                       scope=db_api.ALL_PROJECTS).as_dict()


def added_target(data, params):
    """The nodegroup users added that the upgrade is about, or None (an
    upgrade of the default nodegroups)."""
    uuid = params.get('nodegroup')
    if not uuid:
        return None
    for ng in data.nodegroups:
        if ng['uuid'] == uuid:
            return ng
    raise stack_tasks.StackFailed(
        reason='Nodegroup %s of this upgrade no longer exists.' % uuid)


def upgraded_groups(data, params, new_template):
    """The cluster's nodegroups as the upgrade leaves them: the targeted
    ones upgraded, the others pinned to what they run."""
    targets = set(params['nodegroups'])
    return [data.driver.upgraded_nodegroup(new_template, ng)
            if ng['uuid'] in targets else
            data.driver.pinned_nodegroup(data.cluster, data.template, ng)
            for ng in data.nodegroups]


def _normal(value):
    """A parameter as text, lists comma-joined: Heat shows a
    comma_delimited_list parameter as a JSON list of what was sent as
    'a,b'."""
    if isinstance(value, str) and value.startswith('['):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, (list, tuple)):
        return ','.join(str(v) for v in value)
    return str(value)


def carries(current, wanted):
    """True when a stack whose parameters Heat shows as ``current`` holds
    every value of ``wanted`` (hidden ones, shown masked, are not
    compared)."""
    return all(_normal(current.get(k)) == _normal(v)
               for k, v in wanted.items() if current.get(k) != MASKED)


def send_definition(fence, clients, stack_id, definition, what,
                    quiet=False):
    """PATCH the stack with ``definition`` unless it is already being or
    has been applied (hidden parameters, which Heat shows masked, are not
    compared). :returns: the stack id.

    :param quiet: the parameters hold a secret: send them through the
        client that logs nothing.
    """
    stack = common.find_stack(clients, stack_id)
    if stack is None:
        raise stack_tasks.StackFailed(
            reason='Heat stack %s does not exist any more; it cannot be '
                   '%s.' % (stack_id, what))
    if stack.stack_status == 'UPDATE_IN_PROGRESS':
        # Only one operation runs on a cluster: this is ours, sent before
        # our conductor died.
        LOG.info('Cluster %s: stack update already running',
                 fence.cluster_uuid)
        return stack.id
    new = definition['parameters']
    current = stack.to_dict().get('parameters') or {}
    if stack.stack_status == 'UPDATE_COMPLETE' and carries(current, new):
        LOG.info('Cluster %s: stack %s is already %s', fence.cluster_uuid,
                 stack.id, what)
        return stack.id
    fence.check()
    heat = clients.quiet_heat if quiet else clients.heat
    try:
        common.cloud_call(heat.stacks.update, stack.id,
                          existing=True, template=definition['template'],
                          files=definition.get('files') or {},
                          parameters=new)
    except heat_exc.HTTPException as exc:
        raise stack_tasks.StackFailed(
            reason='Heat refused to update stack %s: %s' % (
                stack.stack_name, common.cloud_answer(exc)))
    LOG.info('Cluster %s: stack %s is being %s', fence.cluster_uuid,
             stack.id, what)
    return stack.id


class BeginUpgrade(status.BeginOperation):
    """Opens the upgrade; a failed upgrade of a nodegroup users added marks
    that nodegroup UPDATE_FAILED (and the cluster), not the others."""

    def __init__(self, **kwargs):
        super().__init__(states.OP_CLUSTER_UPGRADE, nodegroup_scoped=True,
                         **kwargs)


class CompleteUpgrade(status.CompleteOperation):
    def __init__(self, **kwargs):
        super().__init__(states.OP_CLUSTER_UPGRADE, nodegroup_scoped=True,
                         **kwargs)


class UpgradeStack(common.Task):
    default_provides = 'stack_id'
    step, label = 'upgrade-stack', 'replacing the nodes in batches'

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        params = fence.operation().params
        new_template = _new_template(params)
        ng = added_target(data, params)
        if ng is not None:
            return _upgrade_nodegroup(fence, clients, data, params,
                                      new_template, ng)
        groups = upgraded_groups(data, params, new_template)
        definition = data.driver.upgrade_definition(
            data.cluster, data.template, groups, params['max_batch_size'],
            stack_tasks.ca_pems(fence.cluster_uuid))
        return send_definition(fence, clients, data.cluster['stack_id'],
                               definition, 'upgraded')


def _upgrade_nodegroup(fence, clients, data, params, new_template, ng):
    """The nodegroup's own stack, redefined with its upgraded image and
    version: Heat replaces its workers ``max_batch_size`` at a time."""
    cluster_stack = common.find_stack(
        clients, data.cluster['stack_id'] or
        data.driver.stack_name(data.cluster))
    if cluster_stack is None:
        raise stack_tasks.StackFailed(
            reason="The cluster's Heat stack %s does not exist; nodegroup "
                   '%s cannot be upgraded.' % (data.cluster['stack_id'],
                                               ng['name']))
    definition = data.driver.nodegroup_upgrade_definition(
        data.cluster, data.template,
        data.driver.upgraded_nodegroup(new_template, ng),
        common.stack_outputs(cluster_stack), params['max_batch_size'],
        stack_tasks.ca_pems(fence.cluster_uuid))
    # A stack made before nodegroups got the cloud credential gains it
    # with the new template (a later stack keeps its values anyway).
    secret = cred_params.stack_parameters(
        data.driver, fence.cluster_uuid, fence.operation_id,
        definition['template'].get('parameters') or {})
    definition['parameters'].update(secret)
    ident = ng.get('stack_id') or data.driver.nodegroup_stack_name(
        data.cluster, ng)
    return send_definition(fence, clients, ident, definition,
                           'upgraded (nodegroup %s)' % ng['name'],
                           quiet=bool(secret))


class CopyUpgradeOutputs(status.CopyOutputs):
    """The upgraded stack's addresses: the cluster's and its default
    nodegroups', or those of the one nodegroup upgraded."""

    def execute(self, fence, clients, stack_id, operation_id):
        data = common.load_for(fence)
        ng = added_target(data, fence.operation().params)
        if ng is None:
            return super().execute(fence, clients, stack_id, operation_id)
        found = common.find_stack(clients, stack_id)
        if found is None:
            raise stack_tasks.StackFailed(
                reason='Heat stack %s disappeared.' % stack_id)
        addresses = data.driver.nodegroup_addresses(
            common.stack_outputs(found))['worker']
        fence.update(nodegroup_uuid_values={
            ng['uuid']: {'node_addresses': addresses}})


class RecordUpgrade(common.Task):
    """The new template, images and versions into the records (after the
    stack completed, so a failed upgrade keeps the old ones)."""

    step, label = 'record-upgrade', 'recording the new versions'

    def execute(self, fence, operation_id):
        data = common.load_for(fence)
        params = fence.operation().params
        new_template = _new_template(params)
        ng = added_target(data, params)
        if ng is not None:
            # As in Magnum, only the nodegroup changes: the cluster is on
            # this template already (the API's rule).
            group = data.driver.upgraded_nodegroup(new_template, ng)
            fence.update(nodegroup_uuid_values={ng['uuid']: {
                'image_id': group['image_id'], 'labels': group['labels'],
                'version': group.get('version')}})
            LOG.info('Cluster %s: nodegroup %s upgraded to template %s',
                     fence.cluster_uuid, ng['uuid'], new_template['uuid'])
            return
        groups = upgraded_groups(data, params, new_template)
        cluster_values = {'cluster_template_id': new_template['uuid']}
        for group in groups:
            if group['role'] == 'master' and \
                    group['uuid'] in params['nodegroups']:
                # The control plane's version is the cluster's.
                labels = dict(data.cluster.get('labels') or {})
                labels.update({k: group['labels'][k]
                               for k in data.driver.version_labels
                               if k in group['labels']})
                cluster_values['labels'] = labels
        fence.update(cluster_values=cluster_values, nodegroup_uuid_values={
            g['uuid']: {'image_id': g['image_id'], 'labels': g['labels'],
                        'version': g.get('version')} for g in groups})
        LOG.info('Cluster %s: upgraded to template %s (nodegroups %s)',
                 fence.cluster_uuid, new_template['uuid'],
                 ', '.join(params['nodegroups']))


class HandOverCAs(common.Task):
    default_provides = 'stack_id'
    step, label = 'hand-over-cas', 'handing the new CAs to the nodes'

    def execute(self, fence, clients):
        data = common.load_for(fence)
        definition = data.driver.stack_definition(
            data.cluster, data.template, data.nodegroups)
        stack_tasks.add_ca_parameters(data, definition)
        definition['parameters'].update(stack_tasks.rotation_parameters(
            data, definition['template'].get('parameters')))
        return send_definition(fence, clients, data.cluster['stack_id'],
                               definition, 'given the new CAs')
