"""Who carries out an operation: heartbeats, claims and fencing.

A conductor proves it is alive by heartbeating into the ``conductors`` table.
It owns an operation after a successful compare-and-set claim, which also
increments the operation's epoch. The (owner, epoch) pair is the fencing
token: every side effect and every state write checks it first, so a
conductor that was paused past its heartbeat and lost its claim does nothing
even if it wakes up in the middle of a flow.
"""

import dataclasses
import threading

from oslo_log import log as logging

from caas.common import exceptions
from caas.db import operations as db_ops

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Fence:
    """The claim a flow runs under."""

    operation_id: str
    cluster_uuid: str
    owner: str
    epoch: int

    def check(self):
        """Raise FencedOut unless this claim still holds."""
        if not db_ops.still_owner(self):
            raise exceptions.FencedOut(operation=self.operation_id,
                                       owner=self.owner, epoch=self.epoch)

    def update(self, cluster_values=None, nodegroup_values=None,
               operation_values=None):
        db_ops.fenced_update(self, cluster_values, nodegroup_values,
                             operation_values)

    def finish(self, succeeded, cluster_values, error=None):
        db_ops.finish(self, succeeded, cluster_values, error)


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
