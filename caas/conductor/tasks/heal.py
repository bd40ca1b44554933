"""Tasks of cluster_heal: replace the nodes the watcher found unhealthy.

The operation's ``params['servers']`` names the Nova servers to replace
(``params['reasons']``: why, per server). Heat replaces a resource that is
marked unhealthy on the next update of its stack (or of a stack above it:
an update is handed down to nested stacks), so the flow marks each server's
``OS::Nova::Server`` resource, updates the stacks that hold them with
nothing changed, and waits.

Both steps look before they act, so a flow resumed after a takeover never
replaces a node twice: a server that is no longer in the stack was already
replaced, a resource already CHECK_FAILED is not marked again, and a stack
is updated only while it still holds a marked or listed server (one already
being updated is only waited for).
"""

from heatclient import exc as heat_exc
from oslo_log import log as logging

from caas.conductor.tasks import common
from caas.conductor.tasks import stack as stack_tasks

LOG = logging.getLogger(__name__)

# Root stack -> ResourceGroup's stack -> member's stack -> its server; one
# level more where the operator's Heat environment ([heat]
# environment_file) maps OS::Nova::Server to a provider template: the
# resource in the member's stack is then that template's stack, and the
# real server (the physical id the watcher names) one of its resources.
NESTED_DEPTH = 4
MARKED = 'CHECK_FAILED'


def _stacks(data):
    """Stacks holding the cluster's nodes: its own, then one per nodegroup
    users added. [(nodegroup uuid or None, stack id)]"""
    found = [(None, data.cluster.get('stack_id'))]
    found += [(ng['uuid'], ng.get('stack_id')) for ng in data.nodegroups
              if not ng.get('is_default') and ng.get('stack_id')]
    return [(ng, sid) for ng, sid in found if sid]


def _owning_stack(resource):
    """'name/id' of the stack a listed resource lives in (Heat's ``stack``
    link; the ``self`` link without its resource part otherwise)."""
    links = {link.get('rel'): link.get('href')
             for link in getattr(resource, 'links', None) or []}
    href = links.get('stack') or links.get('self', '').rsplit(
        '/resources/', 1)[0]
    return href.split('/stacks/', 1)[1]


def server_resources(clients, stack_id, servers):
    """{server id: (owning stack 'name/id', resource name, status)} of the
    listed servers' OS::Nova::Server resources in ``stack_id`` and its
    nested stacks, plus every resource still marked unhealthy there (keyed
    by its physical id)."""
    rows = common.cloud_call(clients.heat.resources.list, stack_id,
                             nested_depth=NESTED_DEPTH)
    wanted = set(servers)
    found = {}
    for row in rows:
        physical = getattr(row, 'physical_resource_id', None)
        if (row.resource_type == 'OS::Nova::Server' and physical in wanted) \
                or row.resource_status == MARKED:
            found[physical or row.resource_name] = (
                _owning_stack(row), row.resource_name, row.resource_status)
    return found


class MarkUnhealthy(common.Task):
    """Mark each listed server's resource unhealthy in its own stack."""

    step, label = 'mark-unhealthy', 'marking the unhealthy nodes in Heat'

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        params = fence.operation().params or {}
        servers = params.get('servers') or []
        reasons = params.get('reasons') or {}
        marked = []
        for _ng, stack_id in _stacks(data):
            found = server_resources(clients, stack_id, servers)
            # The old nodes leave the COE first: a Swarm would otherwise
            # list a replaced node twice under its name, once Down.
            stack_tasks.release_nodes(
                fence, clients, data.driver,
                [s for s in servers if s in found and
                 found[s][2] != MARKED])
            for server_id in servers:
                if server_id not in found:
                    continue
                owner, name, status = found[server_id]
                marked.append(server_id)
                if status == MARKED:
                    continue
                fence.check()
                common.cloud_call(
                    clients.heat.resources.mark_unhealthy, owner, name, True,
                    'caas auto-healing: %s' % reasons.get(server_id,
                                                         'unhealthy'))
                LOG.info('Cluster %s: marked server %s (%s of %s) unhealthy',
                         fence.cluster_uuid, server_id, name, owner)
        for server_id in sorted(set(servers) - set(marked)):
            LOG.info('Cluster %s: server %s is no longer in the stacks '
                     '(already replaced)', fence.cluster_uuid, server_id)
        return sorted(marked)


class ReplaceMarked(common.Task):
    """Update (PATCH, nothing changed) every stack that still holds a marked
    or listed server, so Heat replaces them; wait for every such stack.
    Provides the cluster's stack id (its outputs are copied next)."""

    default_provides = 'stack_id'
    step, label = 'replace-nodes', 'replacing the unhealthy nodes'

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        op = fence.operation()
        servers = (op.params or {}).get('servers') or []
        waiting = []
        for ng_uuid, stack_id in _stacks(data):
            stack = common.find_stack(clients, stack_id)
            if stack is None:
                if ng_uuid is None:
                    raise stack_tasks.StackFailed(
                        reason='The cluster has no Heat stack %s; its nodes '
                               'cannot be replaced.' % stack_id)
                continue
            if stack.stack_status == 'UPDATE_IN_PROGRESS':
                waiting.append((ng_uuid, stack.id))
                continue
            if not server_resources(clients, stack.id, servers):
                continue
            fence.check()
            try:
                common.cloud_call(clients.heat.stacks.update, stack.id,
                                  existing=True, parameters={})
            except heat_exc.HTTPException as exc:
                raise stack_tasks.StackFailed(
                    reason='Heat refused to update stack %s: %s' % (
                        stack.stack_name, common.cloud_answer(exc)))
            LOG.info('Cluster %s: updating stack %s to replace the nodes '
                     'marked unhealthy', fence.cluster_uuid, stack.id)
            waiting.append((ng_uuid, stack.id))
        for ng_uuid, stack_id in waiting:
            done = stack_tasks.wait_for_stack(fence, clients, stack_id,
                                              'UPDATE', op.deadline)
            if ng_uuid is not None:
                addresses = data.driver.nodegroup_addresses(
                    common.stack_outputs(done))['worker']
                fence.update(nodegroup_uuid_values={
                    ng_uuid: {'node_addresses': addresses}})
        return data.cluster['stack_id']
