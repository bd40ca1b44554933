"""Tasks on the cluster's Heat stack: create, update, delete, wait.

The stack name is derived from the cluster UUID by the driver, so a task
that runs again after a crash finds the stack its predecessor created
instead of making a second one.
"""

import datetime

import tenacity
from heatclient import exc as heat_exc
from novaclient import exceptions as nova_exc
from oslo_log import log as logging
from taskflow.types import failure

from caas import pki
from caas.clients import environment
from caas.common import exceptions
from caas.conductor import drain
from caas.conductor import progress
from caas.conductor.tasks import common
from caas.conductor.tasks import credential_params
from caas.conf import CONF
from caas.db import certificates as ca_db
from caas.db import outage
from caas.db.sqlalchemy import models
from caas.pki import keystore

LOG = logging.getLogger(__name__)


class StackFailed(exceptions.CaasException):
    message = '%(reason)s'


class OperationTimedOut(exceptions.CaasException):
    message = '%(reason)s'


class CreateStack(common.Task):
    default_provides = 'stack_id'
    step, label = 'create-stack', 'creating the Heat stack'

    def execute(self, fence, clients):
        data = common.load_for(fence)
        name = data.driver.stack_name(data.cluster)
        # No look before the create: Heat refuses a second stack of the
        # same name (409), and that answer is where a re-run of this step
        # finds the stack its predecessor made (one request fewer a create).
        definition = data.driver.stack_definition(
            data.cluster, data.template, data.nodegroups)
        # The cluster's CAs, made here (once, fenced; a re-run gets the
        # first run's), certificates and keys in the same statement.
        cas = outage.call(ca_db.make_for_create, fence, data.template['coe'])
        add_ca_parameters(data, definition, cas)
        # The cloud credential made by this flow's make-credential step
        # (a password: the create is sent through the quiet client).
        secret = credential_params.stack_parameters(
            data.driver, fence.cluster_uuid, fence.operation_id,
            definition['template'].get('parameters') or {},
            known=fence.memo.get('trustee'))
        definition['parameters'].update(secret)
        # The CAs the control plane signs with: given at create only, so
        # later updates (existing=True) keep them and never replace a
        # master for them.
        keys = ca_key_parameters(data, definition, cas)
        definition['parameters'].update(keys)
        heat = clients.stack_creator(quiet=bool(secret or keys))
        fence.check()
        timeout = data.cluster.get('create_timeout') or \
            CONF.conductor.default_create_timeout
        try:
            created = common.cloud_call(
                heat.stacks.create, stack_name=name,
                template=definition['template'],
                parameters=definition['parameters'],
                timeout_mins=timeout, disable_rollback=True,
                **environment.create_kwargs(definition))
        except heat_exc.HTTPConflict:
            # Made by an earlier run of this step (or a create whose
            # answer was lost): use that one.
            stack = common.find_stack(clients, name)
            if stack is None:
                raise
            stack_id = stack.id
            LOG.info('Cluster %s: stack %s already exists (%s), reusing it',
                     fence.cluster_uuid, name, stack_id)
        except heat_exc.HTTPException as exc:
            raise StackFailed(reason='Heat refused to create stack %s: %s'
                                     % (name, common.cloud_answer(exc)))
        else:
            stack_id = created['stack']['id']
            LOG.info('Cluster %s: created stack %s (%s)', fence.cluster_uuid,
                     name, stack_id)
        fence.update(cluster_values={'stack_id': stack_id},
                     nodegroup_values={'master': {'stack_id': stack_id},
                                       'worker': {'stack_id': stack_id}})
        common.remember_stack_path(fence, stack_id, name)
        return stack_id

    def revert(self, *args, **kwargs):
        # A failed stack is kept so the user can inspect it; deleting the
        # cluster deletes it (no orphans).
        return None


def ca_pems(cluster_uuid):
    """The cluster's CA certificates (PEM; never a key)."""
    return [pem for _type, pem in outage.call(ca_db.list_ca_certs,
                                              cluster_uuid)]


def add_ca_parameters(data, definition, cas=None):
    """The driver's parameters handing the CAs to the nodes (the nodes
    trust the cluster's CAs from their first boot).

    :param cas: the cluster's CA rows if already read
        (``caas.db.certificates.make_for_create``).
    """
    pems = [ca.cert_pem for ca in cas] if cas is not None else \
        ca_pems(data.cluster['uuid'])
    declared = definition['template'].get('parameters') or {}
    definition['parameters'].update(
        {k: v for k, v in data.driver.ca_parameters(pems).items()
         if k in declared})


def rotation_parameters(data, declared):
    """What the driver sends with a rotation so that no server is
    replaced, as far as the stack declares it."""
    return {k: v for k, v in data.driver.rotation_parameters().items()
            if k in (declared or {})}


def ca_key_parameters(data, definition, rows=None):
    """The driver's parameters with the cluster's CA certificates and
    private keys (decrypted here, sent only through the quiet client).

    :param rows: as for :func:`add_ca_parameters`.
    """
    declared = definition['template'].get('parameters') or {}
    if rows is None:
        rows = [outage.call(ca_db.get_ca, data.cluster['uuid'], ca_type)
                for ca_type in outage.call(ca_db.list_ca_types,
                                           data.cluster['uuid'])]
    cas = {}
    for row in rows:
        cas[row.ca_type] = (row.cert_pem, keystore.decrypt(
            row.encrypted_key, data.cluster['uuid']).decode('ascii'))
    return {k: v for k, v in data.driver.ca_key_parameters(cas).items()
            if k in declared}


class UpdateStack(common.Task):
    default_provides = 'stack_id'
    step, label = 'update-stack', 'updating the Heat stack'

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        params = fence.operation().params or {}
        stack_id = data.cluster['stack_id']
        stack = common.find_stack(clients, stack_id)
        if stack is None:
            raise StackFailed(reason='The cluster has no Heat stack %s any '
                                     'more; it cannot be updated.' % stack_id)
        if stack.stack_status == 'UPDATE_IN_PROGRESS':
            LOG.info('Cluster %s: stack update already running',
                     fence.cluster_uuid)
            return stack_id
        nodegroups = [dict(ng) for ng in data.nodegroups]
        for ng in nodegroups:
            # The resized nodegroup: the one named, else the default worker.
            named = ng['uuid'] == params.get('nodegroup') or (
                not params.get('nodegroup') and ng.get('is_default') and
                ng['role'] == 'worker')
            if named and 'node_count' in params:
                ng['node_count'] = params['node_count']
        remove = members_to_remove(fence, clients, data.driver, stack,
                                    params.get('nodes_to_remove') or [])
        new = data.driver.update_parameters(data.cluster, data.template,
                                            nodegroups, remove=remove)
        current = stack.to_dict().get('parameters') or {}
        if (stack.stack_status == 'UPDATE_COMPLETE' and
                all(str(current.get(k)) == str(v) for k, v in new.items())):
            LOG.info('Cluster %s: stack already has %s', fence.cluster_uuid,
                     new)
            return stack_id
        fence.check()
        try:
            common.cloud_call(clients.heat.stacks.update, stack_id,
                              existing=True, parameters=new)
        except heat_exc.HTTPException as exc:
            raise StackFailed(reason='Heat refused to update stack %s: %s' % (
                stack.stack_name, common.cloud_answer(exc)))
        LOG.info('Cluster %s: updating stack %s with %s', fence.cluster_uuid,
                 stack_id, new)
        return stack_id

    def revert(self, fence, clients, operation_id, result, *args, **kwargs):
        """With ``rollback`` asked for (microversion 1.3), put the stack
        back to the node counts still recorded for the cluster."""
        params = fence.operation().params or {}
        if not params.get('rollback') or \
                isinstance(result, failure.Failure):
            return
        try:
            data = common.load_for(fence)
            old = data.driver.update_parameters(data.cluster, data.template,
                                                data.nodegroups)
            fence.check()
            LOG.warning('Cluster %s: rolling stack %s back to %s',
                        fence.cluster_uuid, result, old)
            common.cloud_call(clients.heat.stacks.update, result,
                              existing=True, parameters=old)
            deadline = models.utcnow() + datetime.timedelta(
                minutes=CONF.conductor.update_timeout)
            wait_for_stack(fence, clients, result, 'UPDATE', deadline)
            outcome = {'rolled_back': True}
        except exceptions.FencedOut:
            return
        except Exception as exc:
            LOG.error('Cluster %s: rollback of stack %s failed: %s',
                      fence.cluster_uuid, result, exc)
            outcome = {'rolled_back': False, 'rollback_error': str(exc)}
        try:
            fence.update(operation_values={'params': dict(params, **outcome)})
        except exceptions.FencedOut:
            LOG.warning('Cluster %s: claim lost after the rollback',
                        fence.cluster_uuid)


def members_to_remove(fence, clients, driver, stack, nodes):
    """Worker group members of the servers named in ``nodes_to_remove``.

    A node that no longer exists was removed by an earlier run of this
    task; a server that exists but is not one of this cluster's workers
    fails the update.
    """
    if not nodes:
        return []
    outputs = common.stack_outputs(stack)
    members = driver.worker_members(outputs)
    remove = []
    for node in nodes:
        server_id = node if node in members else _find_server(clients, node)
        if server_id is None:
            LOG.info('Cluster %s: node %s is already gone',
                     fence.cluster_uuid, node)
        elif server_id in members:
            remove.append(members[server_id])
        else:
            raise StackFailed(reason='Node %s is not a worker of this '
                                     'cluster; nodes_to_remove takes the '
                                     "IDs or names of the cluster's worker "
                                     'servers.' % node)
    release_nodes(fence, clients, driver,
                  [m for m in members if members[m] in remove])
    return remove


def release_nodes(fence, clients, driver, server_ids):
    """Before Heat deletes them, the nodes leave their COE (a Swarm node
    drains and is removed from the swarm: caas.conductor.drain)."""
    coe = {p.get('coe') for p in getattr(driver, 'provides', ())}
    if not server_ids or not coe & set(drain.SWARM_COES):
        return
    names = []
    for server_id in server_ids:
        try:
            names.append(common.cloud_call(clients.nova.servers.get,
                                           server_id).name)
        except nova_exc.NotFound:
            continue
    data = common.load_for(fence)
    fence.check()
    drain.release(fence.cluster_uuid, data.template.get('coe'),
                  data.cluster.get('api_address'), names)


def _find_server(clients, name_or_id):
    try:
        return common.cloud_call(clients.nova.servers.get, name_or_id).id
    except nova_exc.NotFound:
        pass
    try:
        return common.cloud_call(clients.nova.servers.find,
                                 name=name_or_id).id
    except (nova_exc.NotFound, nova_exc.NoUniqueMatch):
        return None


class WaitForStack(common.Task):
    """Waits with backoff until the stack settles, or the deadline passes.

    Provides the settled stack's outputs (``stack_outputs``), which the
    step that copies them then need not ask Heat for again.
    """

    default_provides = 'stack_outputs'
    label = 'waiting for the stack'

    def __init__(self, action, **kwargs):
        super().__init__(name='wait-stack-%s' % action.lower(), **kwargs)
        self.action = action
        self.step = self.name

    def execute(self, fence, clients, stack_id, operation_id):
        deadline = fence.operation().deadline
        driver = common.driver_for(fence)
        stack = wait_for_stack(
            fence, clients, stack_id, self.action, deadline,
            news=lambda s: progress.stack_news(fence, driver, s))
        return common.stack_outputs(stack)


def _poll_while(fence, clients, stack_id, in_progress, deadline, news=None):
    """Poll with exponential backoff while the stack is ``in_progress``;
    the last stack seen (None once it is gone).

    :param news: called with every stack polled (progress events).
    """
    path = [common.stack_path(fence, stack_id)]

    def poll():
        stack = common.poll_stack(fence, clients, path[0])
        if stack is not None:
            # Heat answers a lookup by id with a redirect to name/id: ask
            # there directly from the second poll on (one request a poll).
            path[0] = '%s/%s' % (stack.stack_name, stack.id)
        if news is not None:
            news(stack)
        return stack

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_result(
            lambda s: s is not None and s.stack_status == in_progress),
        wait=tenacity.wait_exponential(
            multiplier=CONF.conductor.stack_poll_initial,
            max=CONF.conductor.stack_poll_max),
        stop=lambda _rs: deadline is not None and
        models.utcnow() >= deadline,
        retry_error_callback=lambda rs: rs.outcome.result())
    return retrying(poll)


def wait_for_stack(fence, clients, stack_id, action, deadline, news=None):
    """Poll with backoff until the stack leaves ACTION_IN_PROGRESS.

    :returns: the stack, ACTION_COMPLETE.
    :raises: StackFailed, OperationTimedOut, FencedOut
    """
    in_progress = '%s_IN_PROGRESS' % action
    stack = _poll_while(fence, clients, stack_id, in_progress, deadline,
                        news)
    if stack is None:
        raise StackFailed(reason='Heat stack %s disappeared while it was '
                                 'being %sd.' % (stack_id, action.lower()))
    if stack.stack_status == in_progress:
        raise OperationTimedOut(
            reason='Timed out: Heat stack %s (%s) was still %s when the '
                   'deadline (%s UTC) passed.' % (
                       stack.stack_name, stack_id, in_progress,
                       deadline.isoformat(timespec='seconds')))
    if stack.stack_status != '%s_COMPLETE' % action:
        raise StackFailed(reason='Heat stack %s (%s) is %s: %s' % (
            stack.stack_name, stack_id, stack.stack_status,
            stack.stack_status_reason))
    # The operation's end says it at INFO (one line per state change).
    LOG.debug('Cluster %s: stack %s is %s', fence.cluster_uuid, stack_id,
              stack.stack_status)
    return stack


def delete_stack(fence, clients, name_or_id):
    """Ask Heat to delete a stack (once: one already being deleted is left
    alone); its id, or None if there is none."""
    found = common.find_stack(clients, name_or_id)
    if found is None:
        return None
    if found.stack_status != 'DELETE_IN_PROGRESS':
        fence.check()
        try:
            common.cloud_call(clients.heat.stacks.delete, found.id)
        except heat_exc.HTTPNotFound:
            return None
        LOG.info('Cluster %s: deleting stack %s', fence.cluster_uuid,
                 found.id)
    return found.id


class DeleteStack(common.Task):
    default_provides = 'stack_id'
    step, label = 'delete-stack', 'deleting the Heat stack'

    def execute(self, fence, clients):
        data = common.load_for(fence)
        name = data.driver.stack_name(data.cluster)
        stack_id = delete_stack(fence, clients,
                                data.cluster.get('stack_id') or name)
        if stack_id is None:
            # A create that never got its stack id recorded may still have
            # made one under the derived name.
            stack_id = delete_stack(fence, clients, name)
        if stack_id is None:
            LOG.info('Cluster %s: no stack to delete', fence.cluster_uuid)
        return stack_id


class WaitForStackGone(common.Task):
    step, label = 'wait-stack-gone', 'waiting for the stack to be deleted'

    def execute(self, fence, clients, stack_id, operation_id):
        if stack_id is None:
            return
        deadline = fence.operation().deadline
        wait_for_stack_gone(fence, clients, stack_id, deadline)


def wait_for_stack_gone(fence, clients, stack_id, deadline):
    """Poll with backoff until the stack is gone.

    :raises: StackFailed, OperationTimedOut, FencedOut
    """
    stack = _poll_while(
        fence, clients, stack_id, 'DELETE_IN_PROGRESS', deadline,
        news=lambda s: progress.stack_news(fence, None, s))
    if stack is None:
        LOG.info('Cluster %s: stack %s is gone', fence.cluster_uuid,
                 stack_id)
        return
    if stack.stack_status == 'DELETE_IN_PROGRESS':
        raise OperationTimedOut(
            reason='Timed out waiting for Heat stack %s to be deleted; '
                   'delete again to retry.' % stack_id)
    raise StackFailed(reason='Heat could not delete stack %s (%s, %s): '
                             '%s; delete again to retry.' % (
                                 stack.stack_name, stack_id,
                                 stack.stack_status,
                                 stack.stack_status_reason))
