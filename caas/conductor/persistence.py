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
the atom's next real change. What a resume needs - each atom's state,
intention, result and failure - is written at once, every time.

Reads, the logbook's first save and its removal stay TaskFlow's own.
"""

import sqlalchemy as sa
from taskflow import exceptions as tf_exc
from taskflow.persistence import base as tf_base
from taskflow.persistence import models as tf_models

from caas.common import exceptions
from caas.db import operations as db_ops
from caas.db import outage
from caas.db.sqlalchemy import models

# Atom metadata that only reports how far a task got.
_PROGRESS_KEYS = frozenset(('progress', 'progress_details'))


def _claim_holds(fence):
    """The WHERE term: the operation still belongs to this claim (also
    once the flow itself has finished the operation)."""
    op = models.Operation
    return sa.exists().where(op.id == fence.operation_id,
                             op.owner == fence.owner,
                             op.epoch == fence.epoch)


def _without_progress(meta):
    return {k: v for k, v in (meta or {}).items() if k not in _PROGRESS_KEYS}


def _only_progress_differs(before, after):
    if before is None or before.keys() != after.keys():
        return False
    for key, value in after.items():
        if key != 'meta' and before[key] != value:
            return False
    return _without_progress(before['meta']) == \
        _without_progress(after['meta'])


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
        self.statements = 0    # saves sent (for the tests' counts)

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def close(self):
        """The connection is the flow's; nothing to release per save."""

    def save_logbook(self, book):
        # Once per operation (its first claim): TaskFlow's own insert.
        def save():
            self._fence.check()
            return self._conn.save_logbook(book)
        return outage.call(save)

    def _refused(self, kind, uuid):
        if not outage.call(db_ops.still_owner, self._fence):
            raise exceptions.FencedOut(operation=self._fence.operation_id,
                                       owner=self._fence.owner,
                                       epoch=self._fence.epoch)
        raise tf_exc.NotFound('No %s details found with uuid %s' % (kind,
                                                                    uuid))

    def update_atom_details(self, atom_detail):
        values = atom_detail.to_dict()
        if _only_progress_differs(self._saved.get(atom_detail.uuid), values):
            return atom_detail
        table = self._tables.atomdetails
        stmt = sa.update(table).where(
            table.c.uuid == atom_detail.uuid,
            _claim_holds(self._fence)).values(values)

        def write():
            with self._engine.begin() as conn:
                return conn.execute(stmt).rowcount
        self.statements += 1
        if outage.call(write) != 1:
            self._refused('atom', atom_detail.uuid)
        self._remember(values)
        return atom_detail

    def _remember(self, values):
        # The meta dict is shared with TaskFlow's in-memory detail, which
        # later copies update in place: keep a copy of our own.
        self._saved[values['uuid']] = dict(values,
                                           meta=dict(values['meta'] or {}))

    def update_flow_details(self, flow_detail):
        flows = self._tables.flowdetails
        atoms = self._tables.atomdetails
        update = sa.update(flows).where(
            flows.c.uuid == flow_detail.uuid,
            _claim_holds(self._fence)).values(flow_detail.to_dict())

        def write():
            with self._engine.begin() as conn:
                if conn.execute(update).rowcount != 1:
                    return None
                if self._stored is None:
                    stored = set(conn.execute(
                        sa.select(atoms.c.uuid).where(
                            atoms.c.parent_uuid == flow_detail.uuid))
                        .scalars())
                else:
                    stored = set(self._stored)
                new = []
                for ad in flow_detail:
                    if ad.uuid not in stored:
                        value = ad.to_dict()
                        new.append(value)
                        conn.execute(sa.insert(atoms).values(
                            parent_uuid=flow_detail.uuid,
                            atom_type=tf_models.atom_detail_type(ad),
                            **value))
                        stored.add(ad.uuid)
                return stored, new
        self.statements += 1
        written = outage.call(write)
        if written is None:
            self._refused('flow', flow_detail.uuid)
        self._stored, new = written
        for value in new:
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
