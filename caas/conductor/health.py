"""Steady-state health checks, each cluster watched by one live conductor.

Clusters are divided among the live conductors by rendezvous hashing on
(conductor host, cluster UUID): every conductor computes the same owner for
a cluster from the same set of live conductors, so exactly one checks it, and
when a conductor joins or dies only its share moves. (For the seconds in
which two conductors disagree about who is alive, a cluster may be checked
twice or skipped once; checks are read-only apart from the health fields.)
"""

import hashlib

from heatclient import exc as heat_exc
from oslo_log import log as logging

from caas.common import states
from caas.conductor.tasks import common
from caas.db import operations as db_ops
from caas.db.sqlalchemy import models

LOG = logging.getLogger(__name__)


def watcher_of(cluster_uuid, live_hosts):
    """The live conductor that watches this cluster."""
    def score(host):
        digest = hashlib.sha256(('%s/%s' % (host, cluster_uuid)).encode())
        return digest.digest()
    return max(live_hosts, key=score) if live_hosts else None


def my_clusters(host, live_hosts):
    live = sorted(set(live_hosts) | {host})
    return [row for row in db_ops.settled_clusters()
            if watcher_of(row.uuid, live) == host]


def check_cluster(clients, cluster_uuid, stack_id):
    """Look at the cluster's stack once; write HEALTHY or UNHEALTHY."""
    try:
        stack = common.find_stack(clients, stack_id) if stack_id else None
    except heat_exc.HTTPException as exc:
        LOG.warning('Cluster %s: health check could not reach Heat: %s',
                    cluster_uuid, exc)
        return None
    if stack is None:
        status = states.UNHEALTHY
        reason = {'stack': 'Heat stack %s does not exist' % stack_id}
    elif stack.stack_status.endswith('_FAILED'):
        status = states.UNHEALTHY
        reason = {'stack': '%s: %s' % (stack.stack_status,
                                       stack.stack_status_reason)}
    else:
        status = states.HEALTHY
        reason = {}
    db_ops.record_health(cluster_uuid, status, reason)
    return status


def run_once(host, clients, interval, live_hosts):
    """Check this conductor's share of clusters that are due; count them.

    :param live_hosts: the conductors this one sees alive.
    """
    now = models.utcnow()
    checked = 0
    for row in my_clusters(host, live_hosts):
        due = row.health_checked_at is None or \
            (now - row.health_checked_at).total_seconds() >= interval
        if due:
            check_cluster(clients, row.uuid, row.stack_id)
            checked += 1
    return checked
