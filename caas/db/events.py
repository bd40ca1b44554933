"""Progress events: written fenced by the conductors, read by the API.

An event is one row. It is written only while its writer still holds the
operation's claim (owner, epoch): the insert selects from the operation
row ``FOR UPDATE`` (PostgreSQL waits for a concurrent claim and then sees
the new epoch; SQLite runs the one statement under its write lock), so a
conductor that lost its claim records nothing. While the operation is the
cluster's current one, the same transaction puts the progress line into the
cluster's ``status_reason``, which is what Magnum's clients already show.
"""

import sqlalchemy as sa

from caas.common import exceptions
from caas.db import api as db_api
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import session_scope

Event = models.Event
Op = models.Operation
Cluster = models.Cluster

# Columns the API and the watchers show, in the order of the event views.
FIELDS = ('id', 'operation_id', 'cluster_id', 'kind', 'step', 'step_index',
          'step_count', 'state', 'message', 'data', 'conductor', 'epoch',
          'created_at')


def record(fence, project_id, kind, state, step=None, step_index=0,
           step_count=0, message=None, data=None, status_reason=None):
    """Insert one event if ``fence`` still holds; returns its id.

    :param status_reason: written to the cluster in the same transaction,
        only while this operation is the cluster's current one.
    :raises: FencedOut when the claim was lost (nothing is written).
    """
    if message is not None:
        message = message[:255]
    now = models.utcnow()
    values = {
        'operation_id': sa.literal(fence.operation_id),
        'cluster_id': sa.literal(fence.cluster_uuid),
        'project_id': sa.literal(project_id, sa.String),
        'kind': sa.literal(kind),
        'step': sa.literal(step, sa.String),
        'step_index': sa.literal(step_index),
        'step_count': sa.literal(step_count),
        'state': sa.literal(state),
        'message': sa.literal(message, sa.String),
        'data': sa.null() if data is None else sa.literal(data, sa.JSON),
        'conductor': sa.literal(fence.owner),
        'epoch': sa.literal(fence.epoch),
        'created_at': sa.literal(now, sa.DateTime),
    }
    owned = sa.select(*values.values()).select_from(Op).where(
        Op.id == fence.operation_id, Op.owner == fence.owner,
        Op.epoch == fence.epoch).with_for_update()
    with session_scope() as session:
        result = session.execute(
            sa.insert(Event).from_select(list(values), owned)
            .returning(Event.id))
        row = result.first()
        if row is None:
            raise exceptions.FencedOut(operation=fence.operation_id,
                                       owner=fence.owner, epoch=fence.epoch)
        if status_reason is not None:
            session.execute(sa.update(Cluster).where(
                Cluster.uuid == fence.cluster_uuid,
                Cluster.operation_id == fence.operation_id).values(
                    status_reason=status_reason[:1000]))
    return row[0]


def list_events(*, scope, cluster_id=None, operation_id=None, limit=100,
                marker=None, descending=False):
    """A page of events, oldest first (``descending``: newest first).

    :param scope: a project id or ``caas.db.api.ALL_PROJECTS`` (explicit,
        as for every read of a project's rows; None is refused).
    :param marker: an event id; the page continues after it.
    """
    query = sa.select(Event).where(
        db_api.project_filter(Event, scope))
    if cluster_id is not None:
        query = query.where(Event.cluster_id == cluster_id)
    if operation_id is not None:
        query = query.where(Event.operation_id == operation_id)
    if marker is not None:
        query = query.where(Event.id < marker if descending
                            else Event.id > marker)
    query = query.order_by(Event.id.desc() if descending else Event.id)
    with session_scope(readonly=True) as session:
        return list(session.scalars(query.limit(limit)))


def last_event_id():
    with session_scope(readonly=True) as session:
        return session.scalar(sa.select(sa.func.max(Event.id))) or 0


def last_of_operation(operation_id):
    """The newest event of an operation, or None."""
    rows = list_events(scope=db_api.ALL_PROJECTS, operation_id=operation_id,
                       limit=1, descending=True)
    return rows[0] if rows else None


def as_dict(row):
    return {f: getattr(row, f) for f in FIELDS}
