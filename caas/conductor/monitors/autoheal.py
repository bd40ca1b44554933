"""Auto-healing decisions of the conductor that watches a cluster.

For each cluster of its share whose merged labels (the template's, then
the cluster's) say ``auto_healing_enabled=true``, once per interval:

- its worker servers come from its stacks' outputs (the driver's
  ``worker_members``), fetched again only when a stack changed (Heat's
  stack listing gives its update time), so a calm cluster costs nothing;
- their Nova status comes from one server listing per interval for all of
  them (per project with ``[trust] act_as_trustee``, see below); a server
  in ERROR or SHUTOFF, missing from Nova, or whose COE node the probe
  found not Ready, is unhealthy;
- a server unhealthy for [health] auto_heal_after seconds (by this
  conductor's clock; a new watcher starts counting again) is replaced by a
  ``cluster_heal`` operation, started with the compare-and-set every
  operation starts with, so never while another operation runs on the
  cluster;
- nothing is healed while more than [health] max_unhealthy_percent of the
  workers are unhealthy: health_status_reason says why (``auto_heal``).

Whose eyes the listings use: Nova lists a token's own project's servers
only. With ``[trust] act_as_trustee`` the stacks and servers live in the
clusters' owners' projects, where caas's service user (role ``service``)
sees nothing - every worker would look "missing" - so the stacks and the
servers of a project are read through the trust of one of its clusters,
the same clients that listed the project's stacks
(``caas.conductor.health``): one Nova listing per project, not per
cluster. Not an ``all_tenants`` listing as caas's service user: Nova's
default policy gives that to admins only, and an operator should not
have to make caas an admin of the whole cloud to heal clusters.
"""

import time

from oslo_log import log as logging

from caas.common import coercion
from caas.common import exceptions
from caas.common import states
from caas.conductor.tasks import common
from caas.conf import CONF
from caas.db import api as db_api

LOG = logging.getLogger(__name__)

LABEL = 'auto_healing_enabled'
BAD_STATUSES = ('ERROR', 'SHUTOFF')


def enabled(row):
    labels = dict(getattr(row, 'template_labels', None) or {})
    labels.update(getattr(row, 'labels', None) or {})
    value = coercion.from_string(labels.get(LABEL, False),
                                 {'type': 'boolean'})
    return value is True


def _stamp(stack):
    return (stack.stack_status, getattr(stack, 'updated_time', None) or
            getattr(stack, 'creation_time', None))


class Healer:
    """What this conductor remembers between passes (members of stacks,
    since when each server is unhealthy) and the operations it starts.

    :param runner: the FlowRunner a started heal is handed to (None: the
        sweeper claims it once it stayed unclaimed).
    """

    def __init__(self, runner=None, clock=time.monotonic):
        self.runner = runner
        self.clock = clock
        self._members = {}     # stack id -> (stamp, {server id: member})
        self._since = {}       # (cluster uuid, server id) -> clock time

    def _workers(self, row, clients, stack):
        cached = self._members.get(stack.id)
        if cached is not None and cached[0] == _stamp(stack):
            return cached[1]
        full = common.find_stack(clients, stack.id)
        outputs = common.stack_outputs(full) if full is not None else {}
        members = dict(common.load(row.uuid).driver.worker_members(outputs))
        self._members[stack.id] = (_stamp(stack), members)
        return members

    def assess(self, listers, rows, listed, groups, probes):
        """{cluster uuid: (status, reason, {server id: why} to heal now)}
        for the auto-healing clusters among ``rows``.

        :param listers: {project id: the CloudClients that see the
            project's stacks and servers}; a project without any is left
            alone this interval.
        :param listed: {stack id: stack} from this interval's listing.
        :param groups: {cluster uuid: [(nodegroup name, stack id)]}.
        :param probes: {cluster uuid: ProbeResult or None}.
        """
        rows = [r for r in rows if enabled(r)]
        self._forget_others({r.uuid for r in rows}, listed)
        # One listing per distinct clients (one for all the projects when
        # the service user sees them all).
        by_clients = {}
        for row in rows:
            clients = listers.get(row.project_id)
            if clients is not None:
                by_clients.setdefault(id(clients), (clients, []))[1].append(
                    row)
        verdicts = {}
        for clients, mine in by_clients.values():
            try:
                servers = {s.id: s for s in common.cloud_call(
                    lambda: list(clients.nova.servers.list(detailed=True,
                                                           limit=-1)))}
            except Exception as exc:
                LOG.warning('Auto-healing of %d clusters skipped this '
                            'interval: Nova servers could not be listed: %s',
                            len(mine), exc)
                continue
            for row in mine:
                try:
                    verdicts[row.uuid] = self._assess(
                        clients, row, listed, groups.get(row.uuid, ()),
                        servers, probes.get(row.uuid))
                except Exception as exc:
                    LOG.warning('Cluster %s: auto-healing check failed: %s',
                                row.uuid, exc)
        return verdicts

    def _forget_others(self, uuids, listed):
        """Clusters this conductor no longer heals, stacks that are gone:
        nothing is kept for them."""
        for key in [k for k in self._since if k[0] not in uuids]:
            del self._since[key]
        for stack_id in [s for s in self._members if s not in listed]:
            del self._members[stack_id]

    def _assess(self, clients, row, listed, groups, servers, probe):
        stacks = [listed.get(row.stack_id)] + [listed.get(sid)
                                               for _n, sid in groups]
        members = {}
        for stack in stacks:
            if stack is not None and not stack.stack_status.endswith(
                    'IN_PROGRESS'):
                members.update(self._workers(row, clients, stack))
        not_ready = {n.lower() for n in (probe.unhealthy if probe else ())}
        bad, reason = {}, {}
        for server_id in sorted(members):
            srv = servers.get(server_id)
            if srv is None:
                bad[server_id] = 'server %s is missing in Nova' % server_id
                reason['%s.server' % server_id] = 'missing'
            elif srv.status in BAD_STATUSES:
                bad[server_id] = 'Nova server %s is %s' % (srv.name,
                                                          srv.status)
                reason['%s.server' % srv.name] = srv.status
            elif srv.name.lower() in not_ready:
                bad[server_id] = 'node %s is not Ready' % srv.name
        now = self.clock()
        for key in [k for k in self._since if k[0] == row.uuid and
                    k[1] not in bad]:
            del self._since[key]
        for server_id in bad:
            self._since.setdefault((row.uuid, server_id), now)
        if not bad:
            return states.HEALTHY, reason, {}
        share = 100.0 * len(bad) / len(members)
        if share > CONF.health.max_unhealthy_percent:
            reason['auto_heal'] = (
                'stopped: %d of %d worker nodes are unhealthy (more than '
                '%d%%)' % (len(bad), len(members),
                           CONF.health.max_unhealthy_percent))
            return states.UNHEALTHY, reason, {}
        due = {sid: why for sid, why in bad.items()
               if now - self._since[(row.uuid, sid)] >=
               CONF.health.auto_heal_after}
        return states.UNHEALTHY, reason, due

    def heal(self, cluster_uuid, due):
        """Start a cluster_heal of the servers in ``due``; its operation
        id, or None when the cluster is busy or gone."""
        try:
            _, op = db_api.start_operation(
                cluster_uuid, states.OP_CLUSTER_HEAL,
                params={'servers': sorted(due), 'reasons': dict(due)},
                timeout_minutes=CONF.conductor.update_timeout)
        except (exceptions.OperationInProgress, exceptions.InvalidState,
                exceptions.ClusterNotFound) as exc:
            LOG.info('Cluster %s: not healing now: %s', cluster_uuid, exc)
            return None
        LOG.warning('Cluster %s: replacing %d unhealthy node(s) (operation '
                    '%s): %s', cluster_uuid, len(due), op.id,
                    '; '.join(due[s] for s in sorted(due)))
        for server_id in due:
            self._since.pop((cluster_uuid, server_id), None)
        if self.runner is not None:
            self.runner.claim_and_run(op.id)
        return op.id
