"""TaskFlow's persistence for one claimed flow: fenced, one statement a save.

TaskFlow's SQLAlchemy backend saves an atom detail as a transaction of
SELECT, merge and UPDATE, and a flow detail by reading the flow and all its
atoms back and writing every one of them again; caas checked its claim
with a statement of its own before each save. A create saved about 40
times, and those saves were the largest part of a conductor's database
work per cluster.

Here a save of an atom or a flow is one UPDATE whose WHERE clause also
asserts the claim (the operation's owner and epoch), so the claim check and
the write are one statement: a conductor that lost its claim writes
nothing, and there is no window between a check and the write. A flow save
writes the flow's row and inserts only the atoms the database does not have
yet (the atoms' own changes are saved through their own saves).

TaskFlow saves a task's progress (0.0 when it starts, 1.0 when it ends)
next to each state change; nothing in caas reads it, so a save that would
change nothing but the progress is not sent: the progress goes out with
the atom's next real change. Nor is the start of an atom's execution
(PENDING to RUNNING, nothing else changed): a resume runs again an atom
left RUNNING and runs a PENDING one whose predecessors succeeded, so both
states lead to the same run, and the stored PENDING says the same as
RUNNING would. A flow save that changes nothing and adds no atom is not
sent either. What a resume needs - each atom's result or failure, a
revert, the flow's state - is written at once, every time.

The statements are built once per table and set of columns and run with
each save's values (building them per save was a tenth of a conductor's
CPU per create); a flow's new atoms go out in one INSERT.

A step's success is not a transaction of its own either: with the flow's
progress listener attached (``FencedConnection.progress``), it goes out in
the transaction of the next step's start, whose events (that success and
the start) are inserted first, locking the operation row while the claim
holds; or, after the last step, in the transaction of the flow's own save.
So do a new flow's setup and its start, in the transaction of its first
step's start.
Both come before anything else happens in the flow, and a lost claim fails
that transaction from inside the storage, so the flow stops there as at
any other refused save (TaskFlow's notifications, where the events were
written before, swallow every error). A conductor that dies in between has
not recorded the success, and a resume runs that step again, as it would
after a death inside the step.

Reads, the logbook's first save and its removal stay TaskFlow's own.
"""

import functools

from oslo_log import log as logging
import sqlalchemy as sa
from taskflow import states as tf_states
from taskflow import exceptions as tf_exc
from taskflow.persistence import base as tf_base
from taskflow.persistence import models as tf_models

from caas.common import exceptions
from caas.db import events as db_events
from caas.db import operations as db_ops
from caas.db import outage
from caas.db.sqlalchemy import models

LOG = logging.getLogger(__name__)

# Atom metadata that only reports how far a task got.
_PROGRESS_KEYS = frozenset(('progress', 'progress_details'))


def _claim_holds():
    """The WHERE term: the operation still belongs to this claim (also
    once the flow itself has finished the operation)."""
    op = models.Operation
    return sa.exists().where(op.id == sa.bindparam('f_operation'),
                             op.owner == sa.bindparam('f_owner'),
                             op.epoch == sa.bindparam('f_epoch'))


@functools.lru_cache(maxsize=64)
def _fenced_update(table, columns):
    """UPDATE ``table`` SET ``columns`` WHERE uuid = :f_uuid and the claim
    holds; run with ``_params``."""
    return sa.update(table).where(
        table.c.uuid == sa.bindparam('f_uuid'), _claim_holds()).values(
        {name: sa.bindparam('v_' + name, type_=table.c[name].type)
         for name in columns})


def _params(fence, values):
    params = {'v_' + k: v for k, v in values.items()}
    params.update(f_uuid=values['uuid'], f_operation=fence.operation_id,
                  f_owner=fence.owner, f_epoch=fence.epoch)
    return params


def _without_progress(meta):
    return {k: v for k, v in (meta or {}).items() if k not in _PROGRESS_KEYS}


def _differs_only_in(before, after, keys):
    """True when ``after`` and ``before`` (an atom's values) are the same
    but for ``keys`` and the progress in the metadata."""
    if before is None or before.keys() != after.keys():
        return False
    for key, value in after.items():
        if key != 'meta' and key not in keys and before[key] != value:
            return False
    return _without_progress(before['meta']) == \
        _without_progress(after['meta'])


def _not_worth_a_save(before, after):
    """Only the progress changed, or an execution started (see the module
    docstring): the values go out with the atom's next save."""
    if _differs_only_in(before, after, ()):
        return True
    return (before['state'] == tf_states.PENDING and
            after['state'] == tf_states.RUNNING and
            after['intention'] == tf_states.EXECUTE and
            _differs_only_in(before, after, ('state',)))


def _starts(before, after):
    """The values of an atom whose execution starts."""
    return (before['state'] == tf_states.PENDING and
            after['state'] == tf_states.RUNNING and
            after['intention'] == tf_states.EXECUTE)


class _Missing(Exception):
    """A save's row is not there (or the claim is lost): roll back."""

    def __init__(self, kind, uuid):
        super().__init__(kind, uuid)
        self.kind, self.uuid = kind, uuid


class FencedConnection:
    """What TaskFlow's storage calls for one flow; writes are fenced.

    :param conn: TaskFlow's SQLAlchemy connection (shared by every flow of
        the process; reads and the logbook go through it).
    :param fence: the claim the flow runs under.
    """

    def __init__(self, conn, fence):
        self._conn = conn
        self._fence = fence
        self._tables = conn._tables
        self._engine = conn._engine
        self._saved = {}       # atom uuid -> its values as last written
        self._stored = None    # atom uuids in the database (read once)
        self._flow_saved = None  # the flow's values as last written
        self._setup = None     # a new flow's saves, kept until flush_setup
        # Saves kept for the next transaction (an atom's success, the
        # flow's start): uuid -> (kind, uuid, UPDATE, its parameters).
        self._deferred = {}
        # The flow's ProgressListener: the successes wait for its next
        # events (see the module docstring); without it, none waits.
        self.progress = None
        # The logbook to remove with the flow's save of its success (the
        # runner removes a finished flow's book), and whether it was.
        self.forget_book = None
        self.forgotten = False
        self.statements = 0    # saves sent (for the tests' counts)

    # -- a new flow's setup: one transaction ---------------------------------

    def defer_setup(self):
        """Keep the saves of a new flow's setup (its book, the flow, its
        atoms and the values injected into it) in memory until
        :meth:`flush_setup` writes them at once. A conductor that dies
        before then has written nothing, which the next claim finds as a
        flow never started."""
        self._setup = {'book': None, 'flow': None, 'atoms': {}}

    def flush_setup(self, events=None):
        """Write the setup kept since :meth:`defer_setup` in one
        transaction that begins with the claim's assertion and records the
        flow's id in the operation (the id that a resume loads the flow
        by; it was a transaction of its own, and the setup five).

        With the progress listener attached, the setup waits for the
        flow's first step to start and goes out in the transaction of
        that start's ``events`` (events, status_reason), whose insert
        asserts the claim first.

        :returns: the flow's uuid.
        :raises: FencedOut when the claim was lost (nothing is written).
        """
        setup, self._setup = self._setup, None
        book, flow = setup['book'], setup['flow']
        flow_values = flow.to_dict()
        atoms = [dict(ad.to_dict(), parent_uuid=flow.uuid,
                      atom_type=tf_models.atom_detail_type(ad))
                 for ad in setup['atoms'].values()]
        tables = self._tables

        def setup_rows(conn):
            db_ops.run_set(conn, 'operation', {'flow_id': flow.uuid},
                           operation=self._fence.operation_id)
            conn.execute(sa.insert(tables.logbooks), book.to_dict())
            conn.execute(sa.insert(tables.flowdetails),
                         dict(flow_values, parent_uuid=book.uuid))
            if atoms:
                conn.execute(sa.insert(tables.atomdetails), atoms)

        def write(events):
            if events is None:
                with db_ops.fenced(self._fence) as conn:
                    setup_rows(conn)
                return
            with self._engine.begin() as conn:
                self._insert_events(conn, *events)
                setup_rows(conn)
        self.statements += 1
        self._sent(write, events)
        self._stored = {value['uuid'] for value in atoms}
        self._flow_saved = self._copy(flow_values)
        for value in atoms:
            value = dict(value)
            del value['parent_uuid'], value['atom_type']
            self._remember(value)
        return flow.uuid

    def _kept(self, flow=None, atom=None):
        """During the setup: keep the newest of each (TaskFlow hands every
        save the flow or atom as it is then)."""
        if flow is not None:
            self._setup['flow'] = flow
            for ad in flow:
                self._setup['atoms'][ad.uuid] = ad
        if atom is not None:
            self._setup['atoms'][atom.uuid] = atom

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def close(self):
        """The connection is the flow's; nothing to release per save."""

    def save_logbook(self, book):
        if self._setup is not None:
            self._setup['book'] = book
            for flow in book:
                self._kept(flow=flow)
            return book
        # Once per operation (its first claim): TaskFlow's own insert.
        def save():
            self._fence.check()
            return self._conn.save_logbook(book)
        saved = outage.call(save)
        flows = list(book)
        if len(flows) == 1:
            # The first claim's book holds this flow alone, now stored as
            # it is: its next save need not repeat it.
            self._stored = {ad.uuid for ad in flows[0]}
            self._flow_saved = self._copy(flows[0].to_dict())
        return saved

    def _refused(self, kind, uuid):
        if not outage.call(db_ops.still_owner, self._fence):
            raise exceptions.FencedOut(operation=self._fence.operation_id,
                                       owner=self._fence.owner,
                                       epoch=self._fence.epoch)
        raise tf_exc.NotFound('No %s details found with uuid %s' % (kind,
                                                                    uuid))

    def update_atom_details(self, atom_detail):
        if self._setup is not None:
            if self.progress is None or \
                    atom_detail.state != tf_states.RUNNING or \
                    atom_detail.intention != tf_states.EXECUTE:
                self._kept(atom=atom_detail)
                return atom_detail
            # The flow's first step starts: the setup goes out now, with
            # the step as it was before (a resume runs a PENDING step as
            # a start, and announces it; one stored RUNNING is run
            # without a word).
            self.flush_setup(self.progress.start_events(atom_detail.name))
        if self.forgotten:
            return atom_detail
        values = atom_detail.to_dict()
        uuid = atom_detail.uuid
        before = self._saved.get(uuid)
        if before is not None and _not_worth_a_save(before, values):
            if self._deferred and uuid not in self._deferred:
                # Another atom moves on: the success kept goes out first,
                # with the events of this atom's start if it starts.
                start = None
                if _starts(before, values):
                    start = self.progress.start_events(atom_detail.name)
                self._send(events=start)
            return atom_detail
        save = ('atom', uuid, _fenced_update(self._tables.atomdetails,
                                             tuple(values)),
                _params(self._fence, values))
        if self.progress is not None and \
                values['state'] == tf_states.SUCCESS and \
                values['intention'] == tf_states.EXECUTE:
            self._deferred[uuid] = save
        else:
            self._send(save)
        self._remember(values)
        return atom_detail

    def flush(self):
        """Send the saves kept for the next transaction (or the setup of
        a flow that started no step), if any."""
        if self._setup is not None:
            self.flush_setup()
        if self._deferred:
            self._send()

    def _atom_saves(self, save=None, replaced=None):
        """The kept saves and ``save``, now to be sent; a kept save of the
        row ``save`` or ``replaced`` (a uuid) writes is left out: the
        newer values are all written."""
        deferred, self._deferred = self._deferred, {}
        for uuid in (save[1] if save else None, replaced):
            deferred.pop(uuid, None)
        return list(deferred.values()) + ([save] if save else [])

    @staticmethod
    def _run_atom_saves(conn, saves):
        for kind, uuid, stmt, params in saves:
            if conn.execute(stmt, params).rowcount != 1:
                raise _Missing(kind, uuid)

    def _send(self, save=None, events=None):
        """One transaction: ``events`` (events, status_reason) of the
        progress listener first (they assert the claim and lock the
        operation row), then the kept success and ``save``.

        :raises: FencedOut when the claim was lost (nothing is written).
        """
        saves = self._atom_saves(save)

        def write(events):
            with self._engine.begin() as conn:
                if events is not None:
                    self._insert_events(conn, *events)
                self._run_atom_saves(conn, saves)
        self.statements += len(saves)
        self._sent(write, events)

    def _insert_events(self, conn, events, status_reason=None):
        if events:
            db_events.insert_all(conn, self._fence, self.progress.project_id,
                                 self.progress.kind, events, status_reason)

    def _sent(self, write, events):
        """Run ``write(events)`` through an outage. The events are best
        effort, as they were in a transaction of their own: if their
        writes fail for another reason than a lost claim, the saves go
        without them."""
        try:
            try:
                return outage.call(write, events)
            except (exceptions.FencedOut, _Missing):
                raise
            except Exception as exc:
                if not events or not events[0]:
                    raise
                LOG.warning('Cluster %s: could not record events of '
                            'operation %s: %s', self._fence.cluster_uuid,
                            self._fence.operation_id, exc)
                return outage.call(write, None)
        except _Missing as missing:
            self._refused(missing.kind, missing.uuid)

    @staticmethod
    def _copy(values):
        # The meta dict is shared with TaskFlow's in-memory detail, which
        # later copies update in place: keep a copy of our own.
        return dict(values, meta=dict(values['meta'] or {}))

    def _remember(self, values):
        self._saved[values['uuid']] = self._copy(values)

    def update_flow_details(self, flow_detail):
        if self._setup is not None:
            self._kept(flow=flow_detail)
            return flow_detail
        if self.forgotten:
            return flow_detail
        values = flow_detail.to_dict()
        known = self._stored if self._stored is not None else ()
        new_atoms = [ad for ad in flow_detail if ad.uuid not in known]
        if self._stored is not None and not new_atoms and \
                self._flow_saved == values:
            self.flush()
            return flow_detail
        flows = self._tables.flowdetails
        atoms = self._tables.atomdetails
        update = _fenced_update(flows, tuple(values))
        params = _params(self._fence, values)
        if self.progress is not None and not new_atoms and \
                self._stored is not None and \
                values['state'] == tf_states.RUNNING:
            # The flow starts (from SUSPENDED, where TaskFlow's load left
            # it): saved with its first step's start. A flow left
            # SUSPENDED resumes as one left RUNNING.
            self._deferred[flow_detail.uuid] = (
                'flow', flow_detail.uuid, update, params)
            self._flow_saved = self._copy(values)
            return flow_detail
        saves = self._atom_saves(replaced=flow_detail.uuid)
        # Once the flow succeeded, the runner removes its book: in the
        # transaction of its last save, after the claim was asserted.
        forget = self.forget_book \
            if values['state'] == tf_states.SUCCESS else None
        # The successes the listener holds (the last step's, at the end
        # of the flow) go out with the save of its state.
        events = (self.progress.held_events(), None) \
            if self.progress is not None else None

        def write(events):
            with self._engine.begin() as conn:
                if events is not None:
                    self._insert_events(conn, *events)
                self._run_atom_saves(conn, saves)
                if conn.execute(update, params).rowcount != 1:
                    raise _Missing('flow', flow_detail.uuid)
                if self._stored is None:
                    stored = set(conn.execute(
                        sa.select(atoms.c.uuid).where(
                            atoms.c.parent_uuid == flow_detail.uuid))
                        .scalars())
                else:
                    stored = set(self._stored)
                new = [dict(ad.to_dict(), parent_uuid=flow_detail.uuid,
                            atom_type=tf_models.atom_detail_type(ad))
                       for ad in flow_detail if ad.uuid not in stored]
                if new:
                    conn.execute(sa.insert(atoms), new)
                    stored.update(value['uuid'] for value in new)
                if forget is not None:
                    books = self._tables.logbooks
                    conn.execute(sa.delete(books).where(
                        books.c.uuid == forget))
                return stored, new
        self.statements += 1 + len(saves)
        self._stored, new = self._sent(write, events)
        self.forgotten = forget is not None
        self._flow_saved = self._copy(values)
        for value in new:
            value = dict(value)
            del value['parent_uuid'], value['atom_type']
            self._remember(value)
        return flow_detail


class FencedBackend(tf_base.Backend):
    """A TaskFlow backend for one flow, handing out its FencedConnection.

    :param connection: TaskFlow's connection shared by the process (its
        table metadata is costly to build on every call).
    """

    def __init__(self, connection, fence):
        super().__init__({})
        self.connection = FencedConnection(connection, fence)

    def get_connection(self):
        return self.connection

    def close(self):
        """The shared connection outlives each flow; nothing to release."""
