"""Tasks of a cluster upgrade and of a CA rotation: a new definition of the
cluster's stack, sent once, then waited for like any update.

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
from taskflow import task

from caas.conductor.tasks import common
from caas.conductor.tasks import stack as stack_tasks
from caas.db import api as db_api
from caas.db import outage

LOG = logging.getLogger(__name__)


def _new_template(params):
    # The API checked that the caller may use it; the conductor reads it by
    # UUID for whichever project.
    return outage.call(db_api.get_cluster_template,
                       params['cluster_template'],
                       scope=db_api.ALL_PROJECTS).as_dict()


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


def send_definition(fence, clients, stack_id, definition, what):
    """PATCH the stack with ``definition`` unless it is already being or
    has been applied. :returns: the stack id."""
    stack = common.find_stack(clients, stack_id)
    if stack is None:
        raise stack_tasks.StackFailed(
            reason='The cluster has no Heat stack %s any more; it cannot be '
                   '%s.' % (stack_id, what))
    if stack.stack_status == 'UPDATE_IN_PROGRESS':
        # Only one operation runs on a cluster: this is ours, sent before
        # our conductor died.
        LOG.info('Cluster %s: stack update already running',
                 fence.cluster_uuid)
        return stack.id
    new = definition['parameters']
    current = stack.to_dict().get('parameters') or {}
    if stack.stack_status == 'UPDATE_COMPLETE' and \
            all(_normal(current.get(k)) == _normal(v) for k, v in new.items()):
        LOG.info('Cluster %s: stack %s is already %s', fence.cluster_uuid,
                 stack.id, what)
        return stack.id
    fence.check()
    try:
        common.cloud_call(clients.heat.stacks.update, stack.id,
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


class UpgradeStack(task.Task):
    default_provides = 'stack_id'
    step, label = 'upgrade-stack', 'replacing the nodes in batches'

    def execute(self, fence, clients, operation_id):
        data = common.load(fence.cluster_uuid)
        params = common.operation(operation_id).params
        groups = upgraded_groups(data, params, _new_template(params))
        definition = data.driver.upgrade_definition(
            data.cluster, data.template, groups, params['max_batch_size'],
            stack_tasks.ca_pems(fence.cluster_uuid))
        return send_definition(fence, clients, data.cluster['stack_id'],
                               definition, 'upgraded')


class RecordUpgrade(task.Task):
    """The new template, images and versions into the records (after the
    stack completed, so a failed upgrade keeps the old ones)."""

    step, label = 'record-upgrade', 'recording the new versions'

    def execute(self, fence, operation_id):
        data = common.load(fence.cluster_uuid)
        params = common.operation(operation_id).params
        new_template = _new_template(params)
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


class HandOverCAs(task.Task):
    default_provides = 'stack_id'
    step, label = 'hand-over-cas', 'handing the new CAs to the nodes'

    def execute(self, fence, clients):
        data = common.load(fence.cluster_uuid)
        definition = data.driver.stack_definition(
            data.cluster, data.template, data.nodegroups)
        stack_tasks.add_ca_parameters(data, definition)
        return send_definition(fence, clients, data.cluster['stack_id'],
                               definition, 'given the new CAs')
