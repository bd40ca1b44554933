"""Nodes leave their COE before their servers are deleted.

On the data path: a resize (or nodegroup update) with ``nodes_to_remove``
names worker servers; before the stack update that deletes them
(:func:`caas.conductor.tasks.stack.members_to_remove`), the conductor asks
the cluster's own API to let them go. Docker Swarm mode, through a
manager's TLS Docker API at the cluster's ``api_address`` with the
conductor's client certificate from the cluster CA (as the health probes
connect, :mod:`caas.conductor.monitors.tls`): each node is set to
``drain`` (Swarm moves its tasks to the other nodes), the conductor waits
until none of its tasks runs any more, then removes the node from the
swarm, so ``docker node ls`` no longer lists it when its server goes.

A node the API no longer lists is done (a task run again after a crash
finds it so). An API that cannot be reached does not block the resize -
a dead node cannot drain, and that is often why it is being removed -
but the log says what was skipped. Other COEs are left as before (Heat
deletes the servers; Kubernetes nodes are removed by their cloud
provider).
"""

import json
import time
import urllib.parse

from oslo_log import log as logging

from caas.conductor import monitors
from caas.conductor.monitors import tls
from caas.conf import CONF

LOG = logging.getLogger(__name__)
SWARM_COES = ('swarm', 'swarm-mode')
# Task states in which a container may still run on the node.
RUNNING = ('new', 'pending', 'assigned', 'accepted', 'preparing', 'ready',
           'starting', 'running')


class DrainError(Exception):
    """The API answered something that is not a drained node."""


def release(cluster_uuid, coe, api_address, names, clock=time.monotonic,
            sleep=time.sleep):
    """Drain and remove the COE nodes ``names`` (server names, which are
    the nodes' host names); the names it removed."""
    if coe not in SWARM_COES or not names:
        return []
    if not api_address:
        LOG.warning('Cluster %s: no API address; nodes %s are not drained',
                    cluster_uuid, ', '.join(names))
        return []
    try:
        host, port = monitors.endpoint(api_address, 2376)
    except ValueError:
        LOG.warning('Cluster %s: cannot parse API address %s; nodes %s are '
                    'not drained', cluster_uuid, api_address,
                    ', '.join(names))
        return []
    if not monitors.allowed(host):
        LOG.warning('Cluster %s: %s is outside [health] probe_networks; '
                    'nodes %s are not drained', cluster_uuid, host,
                    ', '.join(names))
        return []
    try:
        client = tls.Client(host, port,
                            tls.client_context(cluster_uuid, coe),
                            CONF.health.probe_timeout)
        return SwarmDrain(client, clock, sleep).release(cluster_uuid, names)
    except (tls.ProbeError, DrainError) as exc:
        LOG.warning('Cluster %s: nodes %s were not drained before their '
                    'removal: %s', cluster_uuid, ', '.join(names), exc)
        return []


def _json(status, body, what):
    if status // 100 != 2:
        raise DrainError('%s: HTTP %d: %s' % (
            what, status, body.decode('utf-8', 'replace')[:200]))
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        raise DrainError('%s: the answer is not JSON' % what)


class SwarmDrain:
    """Drain-then-remove over the Docker Engine API of a manager."""

    def __init__(self, client, clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.clock = clock
        self.sleep = sleep

    def _nodes(self):
        items = _json(*self.client.get('/nodes'), what='GET /nodes')
        if not isinstance(items, list):
            raise DrainError('GET /nodes: not a list')
        return items

    def _find(self, name):
        """Every swarm node with host name ``name`` (a replaced server
        may have left an old one under the same name)."""
        return [n for n in self._nodes()
                if ((n.get('Description') or {}).get('Hostname') or
                    '').lower() == name.lower()]

    def _running(self, node_id):
        query = urllib.parse.urlencode(
            {'filters': json.dumps({'node': [node_id]})})
        tasks = _json(*self.client.get('/tasks?' + query),
                      what='GET /tasks') or []
        return [t['ID'] for t in tasks
                if (t.get('Status') or {}).get('State') in RUNNING]

    def _drain(self, node):
        spec = dict(node.get('Spec') or {})
        if spec.get('Availability') == 'drain':
            return
        spec['Availability'] = 'drain'
        path = '/nodes/%s/update?version=%d' % (
            node['ID'], int((node.get('Version') or {}).get('Index', 0)))
        _json(*self.client.request('POST', path, spec),
              what='POST /nodes/%s/update' % node['ID'])

    def release(self, cluster_uuid, names):
        removed = []
        deadline = self.clock() + CONF.conductor.drain_timeout
        for name in names:
            nodes = self._find(name)
            if not nodes:
                LOG.info('Cluster %s: node %s is not in the swarm',
                         cluster_uuid, name)
                continue
            for node in nodes:
                self._drain(node)
            LOG.info('Cluster %s: draining node %s', cluster_uuid, name)
            for node in nodes:
                # A node that is down cannot stop its tasks (the swarm has
                # already given them to others): nothing to wait for.
                up = (node.get('Status') or {}).get('State') == 'ready'
                while up:
                    left = self._running(node['ID'])
                    if not left:
                        break
                    if self.clock() >= deadline:
                        LOG.warning('Cluster %s: node %s still runs tasks '
                                    '%s after [conductor] drain_timeout; '
                                    'removing it anyway', cluster_uuid,
                                    name, ', '.join(left))
                        break
                    self.sleep(0.5)
                status, body = self.client.request(
                    'DELETE', '/nodes/%s?force=true' % node['ID'])
                if status != 404:
                    _json(status, body, 'DELETE /nodes/%s' % node['ID'])
            LOG.info('Cluster %s: node %s drained and removed from the '
                     'swarm', cluster_uuid, name)
            removed.append(name)
        return removed
