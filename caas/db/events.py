"""Progress events: written fenced by the conductors, read by the API.

An event is one row. It is written only while its writer still holds the
operation's claim (owner, epoch): the insert selects from the operation
row ``FOR UPDATE`` (PostgreSQL waits for a concurrent claim and then sees
the new epoch; SQLite runs the one statement under its write lock), so a
conductor that lost its claim records nothing. While the operation is the
cluster's current one, the same transaction puts the progress line into the
cluster's ``status_reason``, which is what Magnum's clients already show.
"""

import functools

import sqlalchemy as sa

from caas.common import exceptions
from caas.db import api as db_api
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import get_engine
from caas.db.sqlalchemy.engine import session_scope

Event = models.Event
Op = models.Operation
Cluster = models.Cluster

# Columns the API and the watchers show, in the order of the event views.
FIELDS = ('id', 'operation_id', 'cluster_id', 'kind', 'step', 'step_index',
          'step_count', 'state', 'message', 'data', 'conductor', 'epoch',
          'created_at')


# What an event row holds besides the claim's columns, with the types its
# bind parameters need (PostgreSQL sees them in a SELECT list).
_EVENT_VALUES = (('step', sa.String), ('step_index', sa.Integer),
                 ('step_count', sa.Integer), ('state', sa.String),
                 ('message', sa.String),
                 ('data', sa.JSON(none_as_null=True)),
                 ('created_at', sa.DateTime))
_CLAIM_VALUES = (('operation_id', sa.String), ('cluster_id', sa.String),
                 ('project_id', sa.String), ('kind', sa.String),
                 ('conductor', sa.String), ('epoch', sa.Integer))


def _owned_insert():
    """INSERT INTO events SELECT <bind parameters> FROM the operation row
    FOR UPDATE while the claim holds: built once, run with each event's
    values (building it per event was a tenth of a conductor's CPU per
    create)."""
    columns = _CLAIM_VALUES + _EVENT_VALUES
    owned = sa.select(*[sa.bindparam('v_' + name, type_=type_)
                        for name, type_ in columns]).select_from(Op).where(
        Op.id == sa.bindparam('v_operation_id'),
        Op.owner == sa.bindparam('v_conductor'),
        Op.epoch == sa.bindparam('v_epoch')).with_for_update()
    return sa.insert(Event).from_select(
        [name for name, _type in columns], owned).returning(Event.id)


_OWNED_INSERT = _owned_insert()


@functools.lru_cache(maxsize=16)
def _owned_insert_many(count, cast):
    """:func:`_owned_insert` for ``count`` events in one statement: the
    events' values (``v<i>_<name>``) are a UNION ALL of one-row SELECTs,
    joined to the operation row locked ``FOR UPDATE OF`` it while the
    claim holds, so the events are all written or none. Their ids follow
    their order (``ORDER BY`` the event's index). ``cast``: the values are
    CAST to their column's type (PostgreSQL types a UNION's untyped
    parameters as text)."""
    def value(i, name, type_):
        param = sa.bindparam('v%d_%s' % (i, name), type_=type_)
        return (sa.cast(param, type_) if cast else
                sa.type_coerce(param, type_)).label(name)
    rows = sa.union_all(*[
        sa.select(sa.literal(i, sa.Integer).label('event_index'),
                  *[value(i, name, type_) for name, type_ in _EVENT_VALUES])
        for i in range(count)]).subquery('new_events')
    owned = sa.select(
        *[sa.bindparam('v_' + name, type_=type_)
          for name, type_ in _CLAIM_VALUES],
        *[rows.c[name] for name, _type in _EVENT_VALUES]).select_from(
        Op).join(rows, sa.true()).where(
        Op.id == sa.bindparam('v_operation_id'),
        Op.owner == sa.bindparam('v_conductor'),
        Op.epoch == sa.bindparam('v_epoch')).order_by(
        rows.c.event_index).with_for_update(of=Op)
    return sa.insert(Event).from_select(
        [name for name, _type in _CLAIM_VALUES + _EVENT_VALUES],
        owned).returning(Event.id)
_SET_REASON = sa.update(Cluster).where(
    Cluster.uuid == sa.bindparam('v_cluster_id'),
    Cluster.operation_id == sa.bindparam('v_operation_id')).values(
        status_reason=sa.bindparam('v_reason'))


def event(state, step=None, step_index=0, step_count=0, message=None,
          data=None, created_at=None):
    """One event for :func:`record_all` (``created_at``: when it happened,
    if before it is written)."""
    return {'v_state': state, 'v_step': step, 'v_step_index': step_index,
            'v_step_count': step_count,
            'v_message': message[:255] if message is not None else None,
            'v_data': data, 'v_created_at': created_at or models.utcnow()}


def record(fence, project_id, kind, state, step=None, step_index=0,
           step_count=0, message=None, data=None, status_reason=None):
    """Insert one event if ``fence`` still holds; returns its id.

    :param status_reason: written to the cluster in the same transaction,
        only while this operation is the cluster's current one.
    :raises: FencedOut when the claim was lost (nothing is written).
    """
    return record_all(fence, project_id, kind, [event(
        state, step, step_index, step_count, message, data)],
        status_reason)[-1]


def record_all(fence, project_id, kind, events, status_reason=None):
    """Insert ``events`` (from :func:`event`), in their order, in one
    transaction if ``fence`` still holds; returns their ids.

    :param status_reason: as for :func:`record`.
    :raises: FencedOut when the claim was lost (nothing is written).
    """
    # A Core connection: an ORM session around two statements cost more
    # than the statements.
    with get_engine().begin() as conn:
        return insert_all(conn, fence, project_id, kind, events,
                          status_reason)


def insert_all(conn, fence, project_id, kind, events, status_reason=None):
    """:func:`record_all` in the transaction of ``conn`` (a Core
    connection), which the caller commits. The first event's insert locks
    the operation row until then (``FOR UPDATE``), so writes after it in
    the same transaction are fenced as it is.

    :raises: FencedOut when the claim was lost (roll the transaction
        back).
    """
    claim = {'v_operation_id': fence.operation_id,
             'v_cluster_id': fence.cluster_uuid, 'v_project_id': project_id,
             'v_kind': kind, 'v_conductor': fence.owner,
             'v_epoch': fence.epoch}
    if len(events) == 1:
        rows = conn.execute(_OWNED_INSERT, dict(claim, **events[0])).all()
    elif events:
        # Several events (a step's success and the next step's start):
        # one statement.
        params = dict(claim)
        for i, values in enumerate(events):
            params.update(('v%d_%s' % (i, key[2:]), value)
                          for key, value in values.items())
        rows = conn.execute(_owned_insert_many(
            len(events), conn.dialect.name == 'postgresql'), params).all()
    else:
        rows = None
    if events and len(rows) != len(events):
        raise exceptions.FencedOut(operation=fence.operation_id,
                                   owner=fence.owner, epoch=fence.epoch)
    # In the order of the events (a serial id follows the insert's
    # ORDER BY; RETURNING's own order is not promised).
    ids = sorted(row[0] for row in rows or ())
    if status_reason is not None:
        conn.execute(_SET_REASON, dict(claim,
                                       v_reason=status_reason[:1000]))
    return ids


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
