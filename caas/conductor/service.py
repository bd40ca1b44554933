"""One conductor process: RPC server, flow runner, heartbeat, sweeper, watcher.

The sweeper is what makes delivery at-least-once: every sweep_interval it
claims operations whose cast was lost (unclaimed for too long), those of
conductors whose heartbeat expired, and those this conductor owns but no
longer runs (a flow that stopped on an error it could not record, a dead
flow thread), and resumes their flows here. It also fails every operation
past its deadline, running or not (``caas.conductor.deadlines``).
"""

import threading

import oslo_messaging as messaging
from oslo_log import log as logging

from caas.clients import cloud
from caas.clients import environment
from caas.common import rpc
from caas.conductor import deadlines
from caas.conductor import engine
from caas.conductor import health
from caas.conductor import manager
from caas.conductor import ownership
from caas.conf import CONF
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine as db_engine

LOG = logging.getLogger(__name__)


class _Periodic(threading.Thread):

    def __init__(self, name, interval, fn):
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.fn = fn
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.interval):
            try:
                self.fn()
            except Exception:
                LOG.exception('Periodic task %s failed; it runs again in '
                              '%.1fs', self.name, self.interval)


class ConductorService:

    def __init__(self, host=None, clients=None, binary='caas-conductor'):
        self.host = host or CONF.host
        self.binary = binary
        # The operator's Heat environment, read now: a missing or invalid
        # file stops the start (EnvironmentFileError), not a create.
        environment.check()
        # Flow workers, and the RPC handlers, periodic tasks and heartbeat
        # beside them.
        db_engine.size_pool_for(CONF.conductor.workers + 8)
        self.clients = clients or cloud.CloudClients()
        self.runner = engine.FlowRunner(self.host, self.clients,
                                        CONF.conductor.workers)
        self.heartbeat = ownership.Heartbeat(
            self.host, binary, CONF.conductor.heartbeat_interval)
        self.liveness = ownership.LivenessObserver(
            self.host, CONF.conductor.heartbeat_timeout,
            CONF.conductor.unclaimed_timeout)
        self.rpc_server = None
        self._periodics = []
        self.watcher = health.Watcher.for_service(
            CONF.conductor.health_check_interval, self.runner)

    def start(self):
        self.heartbeat.start()
        self._resume_own()
        target = messaging.Target(topic=CONF.conductor.topic,
                                  server=self.host)
        self.rpc_server = rpc.get_server(
            target, [manager.ConductorManager(self.runner)])
        self.rpc_server.start()
        self._periodics = [
            _Periodic('sweeper', CONF.conductor.sweep_interval, self.sweep),
            # One pass over this conductor's share per interval: one stack
            # listing, writes only for clusters whose health changed.
            _Periodic('health', CONF.conductor.health_check_interval,
                      self.check_health),
        ]
        for p in self._periodics:
            p.start()
        self.watcher.start()
        LOG.info('Conductor %s started on topic %s', self.host,
                 CONF.conductor.topic)

    def _resume_own(self):
        """Operations this host owned before it restarted are resumed here."""
        for op in db_ops.operations_owned_by(self.host):
            self.runner.claim_and_run(op.id, expect_owner=self.host,
                                      expect_epoch=op.epoch)

    def sweep(self):
        """One sweep; returns how many operations it claimed."""
        unfinished = db_ops.unfinished_operations()
        expired = set()
        for op in deadlines.overdue(unfinished,
                                    CONF.conductor.heartbeat_timeout):
            if deadlines.expire(self.runner.persistence, op, self.host):
                expired.add(op.id)
        unfinished = [op for op in unfinished if op.id not in expired]
        # Superseded by a DELETE and no longer running here: say so, so
        # the delete goes on (normally the flow itself said it).
        self.runner.let_go_superseded()
        orphans = self.liveness.orphans(unfinished,
                                        db_ops.conductor_reports())
        # Our own operations that no local flow runs: the claim check in
        # claim_and_run skips those still running here.
        running = set(self.runner.running())
        orphans += [op for op in unfinished if op.owner == self.host and
                    op.id not in running]
        claimed = 0
        for op in orphans:
            if self.runner.claim_and_run(op.id, expect_owner=op.owner,
                                         expect_epoch=op.epoch):
                claimed += 1
                LOG.warning('Cluster %s: took over operation %s (%s) from %s',
                            op.cluster_id, op.id, op.kind,
                            'itself (no flow of it ran here)'
                            if op.owner == self.host else
                            op.owner or 'nobody (cast lost or released)')
        return claimed

    def check_health(self):
        self.liveness.observe_hosts(db_ops.conductor_reports())
        return health.run_once(self.host, self.clients,
                               CONF.conductor.health_check_interval,
                               self.liveness.live(), watcher=self.watcher)

    def stop(self, graceful_timeout=10):
        """Stop taking work and hand what is running to the other conductors.

        Flows can last as long as a Heat stack takes, so they are not waited
        for: releasing their operations fences this process's flows out (they
        stop at their next claim check) and lets the next sweep of any
        conductor resume them, without waiting for the heartbeat to expire.
        """
        for p in self._periodics:
            p.stopped.set()
        self.watcher.stop()
        if self.rpc_server is not None:
            try:
                self.rpc_server.stop()
                self.rpc_server.wait()
            except Exception:
                LOG.exception('Stopping the RPC server failed')
        try:
            released = self.runner.release_all()
        except Exception:
            LOG.exception('Could not release the operations of %s; they are '
                          'taken over when its heartbeat expires', self.host)
            released = 0
        if released:
            LOG.info('Conductor %s released %d unfinished operations',
                     self.host, released)
        self.runner.shutdown(wait=True, timeout=graceful_timeout)
        self.heartbeat.stop()
        LOG.info('Conductor %s stopped', self.host)
