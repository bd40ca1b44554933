"""Steady-state health checks, each cluster watched by one live conductor.

Clusters are divided among the live conductors by rendezvous hashing on
(conductor host, cluster UUID): every conductor computes the same owner for
a cluster from the same set of live conductors, so exactly one checks it, and
when a conductor joins or dies only its share moves. (For the seconds in
which two conductors disagree about who is alive, a cluster may be checked
twice or skipped once; checks are read-only apart from the health fields.)

A cluster is as healthy as its own stack and the stacks of the nodegroups
users added to it: one of those that is missing or *_FAILED makes the
cluster UNHEALTHY, with the nodegroup named in the reason (a nodegroup
whose create never made a stack has nothing to watch and is left out).

Each conductor lists the stacks once per interval (paged by Heat) instead
of fetching one stack per cluster, and writes a cluster's health only when
it changed, so N settled clusters cost O(1) cloud requests and no database
writes per interval while nothing happens.

With a ``Watcher`` (the conductor service has one), two more sources join
the stack's verdict: the latest COE probe of the cluster
(:mod:`caas.conductor.monitors`; the probes run spread over the interval,
not in this pass), and, for clusters with ``auto_healing_enabled``, the
Nova status of their workers (:mod:`caas.conductor.monitors.autoheal`: one
server listing per interval, per project with ``[trust] act_as_trustee``),
which may start a ``cluster_heal``. The worst
verdict wins (UNHEALTHY, then UNKNOWN, then HEALTHY) and the reasons are
merged into one dict.
"""

import hashlib
import time

from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as ks_exc
from oslo_log import log as logging

from caas.clients import trusted
from caas.common import exceptions
from caas.common import states
from caas.conductor import monitors
from caas.conductor.monitors import autoheal
from caas.conductor.monitors import schedule
from caas.conductor.monitors import tls
from caas.conductor.tasks import common
from caas.conf import CONF
from caas.db import operations as db_ops

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


def verdict(stack_id, stack):
    """(health status, reason) of a cluster whose stack is ``stack``."""
    if stack is None:
        return states.UNHEALTHY, {
            'stack': 'Heat stack %s does not exist' % stack_id}
    if stack.stack_status.endswith('_FAILED'):
        return states.UNHEALTHY, {'stack': '%s: %s' % (
            stack.stack_status, stack.stack_status_reason)}
    return states.HEALTHY, {}


def _changed(row, status, reason):
    """Only a change is written: a calm cloud costs the database nothing."""
    if (row.health_status, row.health_status_reason or {}) == \
            (status, reason):
        return False
    LOG.info('Cluster %s: health %s -> %s %s', row.uuid, row.health_status,
             status, reason)
    return True


def list_stacks(clients, wanted=()):
    """{stack id: stack} of the top-level stacks of caas's project.

    One listing instead of one GET per cluster. Heat answers a page of at
    most its ``max_stacks_per_page`` stacks; the listing goes on (with a
    marker) only while some ``wanted`` stack has not been seen yet and
    stops at an empty page. So a check costs one request per page of
    stacks, whatever the number of clusters. (No ``limit`` is sent:
    python-heatclient would then fetch pages until the limit is used up.)
    """
    found, marker, missing = {}, None, set(wanted)
    while True:
        kwargs = {'marker': marker} if marker else {}
        page = common.cloud_call(
            lambda: list(clients.heat.stacks.list(**kwargs)))
        for stack in page:
            if stack.stack_status != 'DELETE_COMPLETE':
                found[stack.id] = stack
            missing.discard(stack.id)
        if not page or not missing:
            return found
        marker = page[-1].id


# One lister per project, kept between passes so that its trust's token
# is reused: {project id: ClusterClients of one of its clusters}.
_LISTERS = {}

_LIST_ERRORS = (heat_exc.HTTPException, ks_exc.ClientException,
                exceptions.CaasException)


def _listings(clients, mine, wanted):
    """({stack id: stack}, the rows whose stacks were listed, {project id:
    the clients that listed them}).

    With ``[trust] act_as_trustee`` the stacks live in their owners'
    projects: one listing per project (through the trust of one of its
    clusters), still not one request per cluster. A project whose listing
    fails leaves its clusters' health as it was this pass. The same
    clients read the project's servers for auto-healing
    (:mod:`caas.conductor.monitors.autoheal`).
    """
    if not CONF.trust.act_as_trustee:
        return list_stacks(clients, wanted), mine, {
            row.project_id: clients for row in mine}
    by_project = {}
    for row in mine:
        by_project.setdefault(row.project_id, []).append(row)
    found, seen, listers = {}, [], {}
    for project, rows in sorted(by_project.items(), key=lambda i: str(i[0])):
        uuids = {r.uuid for r in rows}
        lister = _LISTERS.get(project)
        if lister is None or lister.cluster_uuid not in uuids:
            lister = _LISTERS[project] = trusted.ClusterClients(
                clients, rows[0].uuid, project, dict)
        try:
            found.update(list_stacks(lister, wanted))
        except _LIST_ERRORS as exc:
            _LISTERS.pop(project, None)
            LOG.warning('Health check of the %d clusters of project %s '
                        'could not list Heat stacks: %s', len(rows), project,
                        exc)
            continue
        seen.extend(rows)
        listers[project] = lister
    return found, seen, listers


_RANK = {states.HEALTHY: 0, states.UNKNOWN: 1, states.UNHEALTHY: 2}


def worst(*statuses):
    return max(statuses, key=lambda s: _RANK.get(s, 1))


class Watcher:
    """What one conductor's health watching keeps between passes: the COE
    probe scheduler (None when [health] coe_probes is off) and the healer.
    """

    def __init__(self, interval, runner=None, probes=None,
                 clock=time.monotonic):
        self.interval = interval
        self.probes = probes
        self.healer = autoheal.Healer(runner, clock)

    @classmethod
    def for_service(cls, interval, runner):
        probes = None
        if CONF.health.coe_probes:
            probes = schedule.ProbeScheduler(
                interval, CONF.health.probe_workers,
                lambda t: monitors.probe(t.uuid, t.coe, t.api_address))
        return cls(interval, runner, probes)

    def start(self):
        if self.probes is not None:
            self.probes.start()
        return self

    def stop(self):
        if self.probes is not None:
            self.probes.stop()

    def probe_results(self, rows):
        """{uuid: the cluster's latest probe result (None if none within
        two intervals)}; the probe targets become ``rows``."""
        if self.probes is None:
            return {}
        targets = [r for r in rows
                   if getattr(r, 'coe', None) in monitors.MONITORS]
        self.probes.set_targets(targets)
        tls.keep_only(t.uuid for t in targets)
        return {r.uuid: self.probes.result(r.uuid, 2 * self.interval)
                for r in rows}


def run_once(host, clients, interval, live_hosts, watcher=None):
    """Check this conductor's share of the settled clusters; count them.

    One stack listing for all of them; the database is written only for
    clusters whose health changed.

    :param interval: unused; the caller runs this once per interval.
    :param live_hosts: the conductors this one sees alive.
    :param watcher: a Watcher, for COE probes and auto-healing.
    """
    mine = my_clusters(host, live_hosts)
    probes = watcher.probe_results(mine) if watcher is not None else {}
    if not mine:
        return 0
    groups = {}
    uuids = {r.uuid for r in mine}
    for cluster_uuid, name, stack_id in db_ops.nodegroup_stacks():
        if cluster_uuid in uuids:
            groups.setdefault(cluster_uuid, []).append((name, stack_id))
    wanted = [r.stack_id for r in mine if r.stack_id]
    wanted += [stack_id for pairs in groups.values() for _n, stack_id in pairs]
    try:
        listed, mine, listers = _listings(clients, mine, wanted)
    except _LIST_ERRORS as exc:
        LOG.warning('Health check of %d clusters could not list Heat '
                    'stacks: %s', len(mine), exc)
        return 0
    healing = watcher.healer.assess(listers, mine, listed, groups, probes) \
        if watcher is not None else {}
    changes, heals = [], []
    for row in mine:
        stack = listed.get(row.stack_id) if row.stack_id else None
        status, reason = verdict(row.stack_id, stack)
        for name, stack_id in groups.get(row.uuid, ()):
            ng_status, ng_reason = verdict(stack_id, listed.get(stack_id))
            if ng_status != states.HEALTHY:
                status = states.UNHEALTHY
                reason['nodegroup %s' % name] = ng_reason['stack']
        probe = probes.get(row.uuid)
        if probe is not None:
            status = worst(status, probe.status)
            reason.update(probe.reason)
        if row.uuid in healing:
            heal_status, heal_reason, due = healing[row.uuid]
            status = worst(status, heal_status)
            reason.update(heal_reason)
            if due:
                heals.append((row.uuid, due))
        if _changed(row, status, reason):
            changes.append((row.uuid, status, reason))
    db_ops.record_health_many(changes)
    for cluster_uuid, due in heals:
        watcher.healer.heal(cluster_uuid, due)
    return len(mine)
