"""Running operations as TaskFlow flows persisted in the caas database.

The first claim of an operation builds its flow from the module-level
factory of its kind and saves the flow detail (one logbook per operation,
named by the operation id). A later claim - after a takeover, or after this
conductor restarted - rebuilds the same flow from that detail: tasks that
finished are not run again; the one that was running runs again.

TaskFlow's own state writes go through ``persistence.FencedBackend``: each
is one statement conditional on the claim, so a paused conductor that wakes
up cannot overwrite the new owner's progress.

The runner knows which operations it is running. One this host owns but no
local flow runs (the flow stopped on an error, its thread died, or it could
not be released because the database was gone) is an orphan of a live
conductor: its release is retried in the background, and the sweeper claims
it again (``ConductorService.sweep``), so it never waits for this process
to die.
"""

import concurrent.futures
import threading

from oslo_log import log as logging
import tenacity
import taskflow.engines
from taskflow import exceptions as tf_exc
from taskflow.persistence import models as tf_models
from taskflow.persistence.backends import impl_sqlalchemy

from caas.clients import trusted
from caas.common import exceptions
from caas.common import notifications
from caas.common import states
from caas.conductor import notify
from caas.conductor import ownership
from caas.conductor import persistence
from caas.conductor import progress
from caas.conductor.flows import FACTORIES
from caas.conf import CONF
from caas.db import api as db_api
from caas.db import events as db_events
from caas.db import operations as db_ops
from caas.db import outage
from caas.db.sqlalchemy import engine as db_engine

LOG = logging.getLogger(__name__)

# After this many claims an operation is failed instead of tried again: a
# flow that keeps crashing its conductor must not circulate for ever.
MAX_CLAIMS = 25


class StorageLock:
    """The lock of one flow's TaskFlow storage: a re-entrant lock.

    TaskFlow guards its storage with a reader/writer lock written in
    Python (fasteners), taken and released around every read and write of
    the storage: about 300 times a create, some 13 % of a conductor's
    Python calls per create. A caas flow's storage is used by the one
    thread that runs the flow (its tasks, its listeners), so readers never
    share it with other readers; one re-entrant lock excludes every other
    thread as the writer's lock did, and lets the running thread nest its
    reads and writes as TaskFlow does.
    """

    def __init__(self):
        self._lock = threading.RLock()

    def read_lock(self):
        return self._lock

    def write_lock(self):
        return self._lock


def retry_saves_on_failure_only(storage):
    """TaskFlow's storage saves an atom or a flow through a tenacity retry
    (on StorageFailure), which copies its retry object and runs its state
    machine on every save, 33 times a create (some 8 % of a conductor's
    Python calls per create). A save is tried here once, plainly; only one
    that fails with StorageFailure goes on into TaskFlow's retry as
    before (caas's fenced saves never raise it: they raise FencedOut, or
    retry a database outage themselves, see ``caas.db.outage``)."""
    for name in ('_save_atom_detail', '_save_flow_detail'):
        retried = getattr(storage, name)
        plain = getattr(retried, '__wrapped__', None)
        if plain is None:
            continue

        def save(*args, _plain=plain.__get__(storage), _retried=retried):
            try:
                return _plain(*args)
            except tf_exc.StorageFailure:
                return _retried(*args)
        setattr(storage, name, save)


def _lighten(storage):
    """A flow's storage as TaskFlow's load left it, without the fixed
    costs above."""
    storage._lock = StorageLock()
    retry_saves_on_failure_only(storage)


# Per flow thread: {factory: (flow, its compiler)} of the first new flow
# this thread ran from each factory.
_compiled = threading.local()


def _reuse_compilation(engine, factory):
    """Give a new flow's engine the flow and the compiled graph this thread
    built for the first flow from the same factory.

    TaskFlow compiles every engine's flow into a graph (networkx graphs
    merged task by task, ~0.4 ms a create); a factory builds the same flow
    every time (no branch on anything, see ``caas.conductor.flows``), so
    its graph is the same too, and TaskFlow's compiler keeps its
    compilation, frozen. Each flow thread keeps its own flow and compiler
    per factory: a flow's tasks hold no state of a run (what a run has is
    in its storage and its claim), and a thread runs one flow at a time,
    so no two engines ever use the same task objects at once. The flow
    built for this engine was the same (the factory's), so its flow
    detail (name, factory) is unchanged. A resumed flow is loaded as
    TaskFlow loads it.
    """
    by_factory = getattr(_compiled, 'by_factory', None)
    if by_factory is None:
        by_factory = _compiled.by_factory = {}
    found = by_factory.get(factory)
    if found is None:
        by_factory[factory] = (engine._flow, engine._compiler)
    else:
        engine._flow, engine._compiler = found


# A claim in progress: the operation counts as running here before its
# flow is submitted, so the sweeper does not take it for an orphan.
_CLAIMING = object()

# How long a failed release keeps being retried in the background. The
# sweeper claims the operation again long before; this only bounds the
# thread.
RELEASE_RETRY_SECONDS = 3600


def make_backend():
    engine = db_engine.get_engine()
    return impl_sqlalchemy.SQLAlchemyBackend(
        {'connection': engine.url.render_as_string(hide_password=False)},
        engine=engine)


class FlowRunner:
    """Claims operations and runs their flows in a bounded thread pool."""

    def __init__(self, host, clients, workers):
        self.host = host
        self.clients = clients
        self.backend = make_backend()
        self.persistence = self.backend.get_connection()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix='flow')
        self._running = {}     # operation id -> Future (or _CLAIMING)
        self._lock = threading.Lock()
        self._closing = threading.Event()

    # -- claiming ----------------------------------------------------------

    def claim_and_run(self, operation_id, expect_owner=None,
                      expect_epoch=None, request_id=None):
        """Claim by compare-and-set; run the flow if the claim succeeded.

        :param request_id: the API request that cast the operation, for
            the claim's log line.
        """
        with self._lock:
            if self._busy(operation_id):
                # Already running here (a duplicate cast, or a sweep that
                # raced our own claim): one flow per operation per process.
                return False
            self._running[operation_id] = _CLAIMING
        submitted = False
        try:
            # The claim returns the row: the flow reads it no more.
            op = db_ops.claim_operation(operation_id, self.host,
                                        expect_owner, expect_epoch)
            if op is None:
                LOG.debug('Operation %s was claimed by someone else',
                          operation_id)
                return False
            fence = ownership.Fence(operation_id, op.cluster_id, self.host,
                                    op.epoch)
            fence.remember_operation(op)
            LOG.info('Cluster %s: claimed operation %s (%s) at epoch %d%s%s',
                     op.cluster_id, operation_id, op.kind, op.epoch,
                     ' from %s' % expect_owner if expect_owner else '',
                     ' (request %s)' % request_id if request_id else '')
            future = self._pool.submit(self._run, fence)
            submitted = True
        finally:
            with self._lock:
                if not submitted:
                    self._running.pop(operation_id, None)
                elif self._running.get(operation_id) is _CLAIMING:
                    self._running[operation_id] = future
        return True

    def _busy(self, operation_id):
        """Under self._lock: a claim or a live flow of this operation."""
        entry = self._running.get(operation_id)
        return entry is _CLAIMING or (entry is not None and not entry.done())

    def running(self):
        """Operations with a claim or a flow in progress in this process."""
        with self._lock:
            return [k for k in self._running if self._busy(k)]

    def release_all(self):
        """Hand back every unfinished operation this host owns."""
        released = 0
        for op in db_ops.operations_owned_by(self.host):
            if db_ops.release(op.id, self.host, op.epoch):
                released += 1
        return released

    def shutdown(self, wait=True, timeout=None):
        self._closing.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if wait:
            with self._lock:
                futures = [f for f in self._running.values()
                           if f is not _CLAIMING]
            concurrent.futures.wait(futures, timeout=timeout)

    # -- running -----------------------------------------------------------

    def _load(self, op, fence):
        backend = persistence.FencedBackend(self.persistence, fence)
        conn = self.persistence
        factory = FACTORIES[op.kind]
        if op.flow_id:
            detail = outage.call(conn.get_flow_details, op.flow_id)
            engine = taskflow.engines.load_from_detail(
                detail, backend=backend, engine='serial')
            _lighten(engine.storage)
        else:
            book = None
            if op.claims > 1:
                # A claim that died between saving the book and recording
                # the flow id left a book behind: reuse it. (The first
                # claim has no predecessor.)
                try:
                    book = outage.call(conn.get_logbook, op.id)
                except tf_exc.NotFound:
                    pass
            new = book is None
            if new:
                book = tf_models.LogBook('operation-%s' % op.id, uuid=op.id)
                # Book, flow, atoms and flow id in one transaction.
                backend.connection.defer_setup()
            engine = taskflow.engines.load_from_factory(
                factory, store={'cluster_uuid': op.cluster_id,
                                'operation_id': op.id},
                book=book, backend=backend, engine='serial')
            _lighten(engine.storage)
            _reuse_compilation(engine, factory)
            if new:
                # The flow's atoms are added to it here, not at its run;
                # the setup is written with its first step's start (see
                # FencedConnection.flush_setup).
                engine.compile()
                engine.prepare()
            else:
                fence.update(operation_values={
                    'flow_id': engine.storage.flow_uuid})
        engine.storage.inject({'fence': fence,
                               'clients': self._clients_of(op, fence)},
                              transient=True)
        return engine

    def _clients_of(self, op, fence):
        """The service clients, or with ``[trust] act_as_trustee`` clients
        acting through the cluster's trust (``caas.clients.trusted``)."""
        if not CONF.trust.act_as_trustee:
            return self.clients
        return trusted.clients_for(
            self.clients, op, self._project_of(op),
            lambda: fence.operation().params)

    def _run(self, fence):
        op_id = fence.operation_id
        try:
            # As the claim returned it (read here if it did not).
            op = fence.operation()
            if op.claims > MAX_CLAIMS:
                self._give_up(fence, op)
                return
            engine = self._load(op, fence)
            project_id = self._project_of(op)
            if op.claims > 1:
                progress.record_resume(fence, op.kind, project_id,
                                       db_events.last_of_operation(op_id))
            with progress.ProgressListener(engine, fence, op.kind,
                                           project_id) as listener:
                # The steps' successes go out with the listener's events,
                # the book's removal with the flow's last save.
                connection = engine.storage.backend.get_connection()
                connection.progress = listener
                connection.forget_book = op.id
                engine.run()
                connection.flush()
            if not connection.forgotten:
                self._forget_flow(op_id)
        except exceptions.FencedOut:
            LOG.warning('Cluster %s: lost the claim on operation %s (epoch '
                        '%d); stopping without acting', fence.cluster_uuid,
                        op_id, fence.epoch)
            self._let_go(fence)
        except Exception as exc:
            if not self._owned(fence):
                LOG.warning('Cluster %s: operation %s stopped here after its '
                            'claim (epoch %d) was lost: %s',
                            fence.cluster_uuid, op_id, fence.epoch, exc)
                self._let_go(fence)
            elif self._finished(op_id):
                # The flow failed and its first task's revert recorded it.
                LOG.info('Cluster %s: operation %s failed: %s',
                         fence.cluster_uuid, op_id, exc)
                self._forget_flow(op_id)
            else:
                LOG.exception('Cluster %s: operation %s stopped unexpectedly; '
                              'releasing it so it is resumed',
                              fence.cluster_uuid, op_id)
                self._release(fence)
        finally:
            with self._lock:
                self._running.pop(op_id, None)

    def _let_go(self, fence):
        """Tell a delete that superseded this operation that its flow here
        has ended (the sweeper says it too if this fails)."""
        try:
            if db_ops.stopped_acting(fence.operation_id, self.host):
                LOG.info('Cluster %s: superseded operation %s stopped here',
                         fence.cluster_uuid, fence.operation_id)
        except Exception:
            LOG.warning('Cluster %s: could not record that superseded '
                        'operation %s stopped; the sweeper will',
                        fence.cluster_uuid, fence.operation_id)

    def let_go_superseded(self):
        """Record for every superseded operation this host still owns but
        no longer runs that it stopped acting on it."""
        running = set(self.running())
        done = 0
        for op_id in db_ops.superseded_owned_by(self.host):
            if op_id not in running and \
                    db_ops.stopped_acting(op_id, self.host):
                done += 1
        return done

    @staticmethod
    def _project_of(op):
        if hasattr(op, 'cluster_project_id'):
            return op.cluster_project_id    # as the claim returned it
        try:
            return db_api.get_cluster_by_uuid(
                op.cluster_id, scope=db_api.ALL_PROJECTS).project_id
        except exceptions.ClusterNotFound:
            return None

    @staticmethod
    def _owned(fence):
        try:
            return db_ops.still_owner(fence)
        except Exception:
            LOG.exception('Cluster %s: cannot read operation %s',
                          fence.cluster_uuid, fence.operation_id)
            return True

    def _finished(self, op_id):
        try:
            return db_api.get_operation(op_id).state not in states.OP_UNFINISHED
        except Exception:
            return False

    def _release(self, fence):
        """Hand the operation back; if the database refuses, keep trying in
        the background (the sweeper may claim it again first, which makes
        the release a no-op)."""
        try:
            db_ops.release(fence.operation_id, fence.owner, fence.epoch)
            return
        except Exception as exc:
            LOG.warning('Cluster %s: could not release operation %s (%s); '
                        'retrying in the background, and the sweeper of '
                        '%s resumes it once the database answers',
                        fence.cluster_uuid, fence.operation_id, exc,
                        fence.owner)
        threading.Thread(target=self._release_later, args=(fence,),
                         name='release-%s' % fence.operation_id,
                         daemon=True).start()

    def _release_later(self, fence):
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Exception),
            wait=tenacity.wait_exponential(multiplier=0.2, max=5),
            stop=tenacity.stop_any(
                tenacity.stop_when_event_set(self._closing),
                tenacity.stop_after_delay(RELEASE_RETRY_SECONDS)),
            reraise=True)
        try:
            released = retrying(db_ops.release, fence.operation_id,
                                fence.owner, fence.epoch)
        except Exception:
            LOG.exception('Cluster %s: gave up releasing operation %s',
                          fence.cluster_uuid, fence.operation_id)
            return
        LOG.info('Cluster %s: operation %s %s', fence.cluster_uuid,
                 fence.operation_id,
                 'released' if released else
                 'was already claimed again or finished')

    def _give_up(self, fence, op):
        failed = states.TRANSITIONS[op.kind][2]
        reason = ('caas gave up on this %s after %d attempts; see the '
                  'conductor logs for operation %s' % (
                      op.kind.replace('cluster_', ''), op.claims, op.id))
        LOG.error('Cluster %s: %s', fence.cluster_uuid, reason)
        nodegroup = None
        if op.kind in states.NODEGROUP_TRANSITIONS:
            nodegroup = ((op.params or {}).get('nodegroup'), {
                'status': states.NODEGROUP_TRANSITIONS[op.kind][2],
                'status_reason': reason})
        fence.finish(False, {'status': failed, 'status_reason': reason},
                     error=reason, nodegroup=nodegroup)
        notify.operation_ended(fence.cluster_uuid, fence.operation_id,
                               op.kind, notifications.FAILURE)

    def _forget_flow(self, op_id):
        """Finished flows need no logbook; keep the database small."""
        try:
            self.persistence.destroy_logbook(op_id)
        except Exception:
            LOG.debug('No logbook to remove for operation %s', op_id)
