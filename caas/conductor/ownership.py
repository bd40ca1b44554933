"""Who carries out an operation: heartbeats, claims and fencing.

A conductor proves it is alive by heartbeating into the ``conductors`` table:
each heartbeat increments its ``report_count``. Another conductor declares it
dead when that count has not moved for ``heartbeat_timeout`` seconds of the
*observer's own* monotonic clock (``LivenessObserver``), so no two hosts'
clocks are ever compared and clock skew cannot make a live conductor look
dead.
It owns an operation after a successful compare-and-set claim, which also
increments the operation's epoch. The (owner, epoch) pair is the fencing
token: every side effect and every state write checks it first, so a
conductor that was paused past its heartbeat and lost its claim does nothing
even if it wakes up in the middle of a flow.
"""

import dataclasses
import threading
import time
import types

from oslo_log import log as logging

from caas.common import exceptions
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db import outage

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Fence:
    """The claim a flow runs under.

    ``memo`` keeps what the flow running under this claim read once (see
    :meth:`operation`, ``caas.conductor.tasks.common.load``): this claim's
    own, never shared with another claim or process.
    """

    operation_id: str
    cluster_uuid: str
    owner: str
    epoch: int
    memo: dict = dataclasses.field(default_factory=dict, compare=False,
                                   hash=False, repr=False)

    # Each of these is one conditional statement on (owner, epoch), so it
    # is safe to repeat through a short database outage.

    def check(self):
        """Raise FencedOut unless this claim still holds."""
        if not outage.call(db_ops.still_owner, self):
            raise exceptions.FencedOut(operation=self.operation_id,
                                       owner=self.owner, epoch=self.epoch)

    def operation(self):
        """The operation's row (attributes), read once per claim: its kind,
        deadline and request never change, and only the flow running under
        the claim writes its params, through :meth:`update`, which keeps
        this copy as written."""
        op = self.memo.get('operation')
        if op is None:
            op = self.remember_operation(outage.call(db_api.get_operation,
                                                     self.operation_id))
        return op

    def remember_operation(self, row):
        """Keep ``row`` (the operation read by this claim) as
        :meth:`operation`'s answer; returns the kept copy."""
        values = row.as_dict() if hasattr(row, 'as_dict') else \
            dict(row._mapping)
        op = self.memo['operation'] = types.SimpleNamespace(**values)
        return op

    def update(self, cluster_values=None, nodegroup_values=None,
               operation_values=None, nodegroup_uuid_values=None):
        extra = {'nodegroup_uuid_values': nodegroup_uuid_values} \
            if nodegroup_uuid_values else {}
        outage.call(db_ops.fenced_update, self, cluster_values,
                    nodegroup_values, operation_values, **extra)
        if 'cluster_template_id' in (cluster_values or {}):
            # An upgrade moved the cluster to another template.
            self.memo.pop('template', None)
        op = self.memo.get('operation')
        if op is not None and operation_values:
            self.memo['operation'] = types.SimpleNamespace(
                **dict(vars(op), **operation_values))

    def finish(self, succeeded, cluster_values, error=None, nodegroup=None):
        outage.call(db_ops.finish, self, succeeded, cluster_values, error,
                    nodegroup)

    def delete_nodegroup(self, nodegroup_uuid, cluster_values):
        outage.call(db_ops.delete_nodegroup, self, nodegroup_uuid,
                    cluster_values)

    def delete_cluster(self):
        outage.call(db_ops.delete_cluster, self)


class LivenessObserver:
    """Decides, from what this conductor has seen, who is dead and which
    unowned operations were left unclaimed too long.

    :param clock: a monotonic clock (injectable for tests).
    """

    def __init__(self, me, heartbeat_timeout, unclaimed_timeout,
                 clock=time.monotonic):
        self.me = me
        self.heartbeat_timeout = heartbeat_timeout
        self.unclaimed_timeout = unclaimed_timeout
        self.clock = clock
        self._hosts = {}      # host -> (report_count, when it last changed)
        self._unowned = {}    # operation id -> when first seen unowned
        # The sweeper and the health watcher observe from two threads.
        self._lock = threading.Lock()

    def observe_hosts(self, reports):
        """Record {host: report_count}; return the hosts that are dead.

        A host that owns work but has no row at all is observed with a
        count of None, so it too is dead after the timeout.
        """
        with self._lock:
            now = self.clock()
            for host, count in reports.items():
                seen = self._hosts.get(host)
                if seen is None or seen[0] != count:
                    self._hosts[host] = (count, now)
            return {host for host, (_, since) in self._hosts.items()
                    if host != self.me and
                    now - since >= self.heartbeat_timeout}

    def live(self):
        """Hosts whose heartbeats are still moving, this one included."""
        with self._lock:
            now = self.clock()
            hosts = {host for host, (_, since) in self._hosts.items()
                     if now - since < self.heartbeat_timeout}
        hosts.add(self.me)
        return sorted(hosts)

    def orphans(self, operations, reports):
        """The unfinished operations this conductor should claim now."""
        reports = dict(reports)
        for op in operations:
            if op.owner is not None and op.owner not in reports:
                reports[op.owner] = None
        dead = self.observe_hosts(reports)
        now = self.clock()
        unowned_now = set()
        result = []
        for op in operations:
            if op.owner is None:
                unowned_now.add(op.id)
                first = self._unowned.setdefault(op.id, now)
                if now - first >= self.unclaimed_timeout:
                    result.append(op)
            elif op.owner in dead:
                result.append(op)
        for op_id in set(self._unowned) - unowned_now:
            del self._unowned[op_id]
        return result


class Heartbeat:
    """Background thread writing this conductor's heartbeat."""

    def __init__(self, host, binary, interval):
        self.host = host
        self.binary = binary
        self.interval = interval
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        db_ops.register_conductor(self.host, self.binary)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='heartbeat')
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                if not db_ops.heartbeat(self.host):
                    db_ops.register_conductor(self.host, self.binary)
            except Exception:
                LOG.exception('Heartbeat of %s failed; retrying in %.1fs',
                              self.host, self.interval)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
