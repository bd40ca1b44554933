"""Housekeeping: remove operations that finished long ago, with their flows.

Every request leaves an ``operations`` row, and a flow that did not end
cleanly can leave its TaskFlow logbook (``logbooks``, ``flowdetails``,
``atomdetails``) behind, so both tables grow for ever without this.
``caas-manage db purge`` removes, in batches of one transaction each:

- finished operations (SUCCEEDED or FAILED) older than the cut-off, that no
  cluster names as its current operation, with their logbooks;
- logbooks older than the cut-off whose operation no longer exists.

Safe while the service runs: an unfinished operation is never selected
(finished is a final state, so nothing selected can come back to life), and
neither is its logbook. caas has no soft-deleted rows (a deleted cluster's
rows are removed by its delete flow), so there are none to purge.
"""

import datetime

import sqlalchemy as sa
from taskflow.persistence.backends.sqlalchemy import tables as tf_tables

from caas.common import states
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import session_scope

Op = models.Operation
Cluster = models.Cluster
OP_FINISHED = states.OP_FINISHED


def _taskflow_tables():
    """TaskFlow's own table definitions (it created them in db upgrade)."""
    return tf_tables.fetch(sa.MetaData())


def _drop_books(session, tables, book_ids):
    """Delete logbooks and their flow and atom details; returns counts."""
    books, flows, atoms = tables
    flow_ids = sa.select(flows.c.uuid).where(flows.c.parent_uuid.in_(book_ids))
    n_atoms = session.execute(sa.delete(atoms).where(
        atoms.c.parent_uuid.in_(flow_ids))).rowcount
    n_flows = session.execute(sa.delete(flows).where(
        flows.c.parent_uuid.in_(book_ids))).rowcount
    n_books = session.execute(sa.delete(books).where(
        books.c.uuid.in_(book_ids))).rowcount
    return n_books, n_flows, n_atoms


def purge(older_than_days, batch_size=1000, now=None):
    """Purge; returns {table: rows removed}."""
    if older_than_days < 0 or batch_size < 1:
        raise ValueError('older_than_days must be >= 0 and batch_size >= 1')
    now = now or models.utcnow()
    cutoff = now - datetime.timedelta(days=older_than_days)
    tables = _taskflow_tables()
    counts = dict.fromkeys(('operations', 'logbooks', 'flowdetails',
                            'atomdetails'), 0)

    def add(n_books, n_flows, n_atoms):
        counts['logbooks'] += n_books
        counts['flowdetails'] += n_flows
        counts['atomdetails'] += n_atoms

    old_op = sa.and_(
        Op.state.in_(OP_FINISHED),
        sa.func.coalesce(Op.finished_at, Op.updated_at, Op.created_at)
        < cutoff,
        ~sa.exists().where(Cluster.operation_id == Op.id))
    while True:
        with session_scope() as session:
            ids = list(session.scalars(
                sa.select(Op.id).where(old_op).limit(batch_size)))
            if not ids:
                break
            add(*_drop_books(session, tables, ids))
            counts['operations'] += session.execute(sa.delete(Op).where(
                Op.id.in_(ids), old_op)).rowcount

    books = tables[0]
    stray = sa.and_(books.c.created_at < cutoff,
                    ~sa.exists().where(Op.id == books.c.uuid))
    while True:
        with session_scope() as session:
            ids = list(session.scalars(
                sa.select(books.c.uuid).where(stray).limit(batch_size)))
            if not ids:
                break
            add(*_drop_books(session, tables, ids))
    return counts
