"""Cluster trustee rows: the Keystone user and trust each cluster's nodes use.

Writes are fenced like every conductor write: each one first re-asserts the
operation's (owner, epoch) in the same transaction
(``caas.db.operations``), so a conductor that lost its claim changes
nothing. The password is stored only as a Fernet token.
"""

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from caas.db import operations as db_ops
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import reencrypt_column
from caas.db.sqlalchemy.engine import session_scope

Trustee = models.ClusterTrustee

PENDING = 'pending'
CURRENT = 'current'


def list_trustees(cluster_uuid):
    with session_scope(readonly=True) as session:
        return list(session.scalars(sa.select(Trustee).where(
            Trustee.cluster_uuid == cluster_uuid).order_by(Trustee.id)))


def of_operation(cluster_uuid, operation_id):
    with session_scope(readonly=True) as session:
        return session.scalars(sa.select(Trustee).where(
            Trustee.cluster_uuid == cluster_uuid,
            Trustee.operation_id == operation_id)).first()


def current(cluster_uuid):
    with session_scope(readonly=True) as session:
        return session.scalars(sa.select(Trustee).where(
            Trustee.cluster_uuid == cluster_uuid,
            Trustee.state == CURRENT).order_by(Trustee.id.desc())).first()


_TRUSTEE = Trustee.__table__
# Rows of the fenced UPDATEs (see caas.db.operations.fenced_set).
_ROW = ('trustee', _TRUSTEE, lambda: _TRUSTEE.c.id == sa.bindparam('w_id'))
# The promotion of one row, in one statement: it becomes current and every
# other current row of the cluster pending again (two UPDATEs were a round
# trip each).
_PROMOTE = sa.update(_TRUSTEE).where(
    _TRUSTEE.c.cluster_uuid == sa.bindparam('w_cluster'),
    sa.or_(_TRUSTEE.c.id == sa.bindparam('w_id'),
           _TRUSTEE.c.state == CURRENT)).values(
    state=sa.case((_TRUSTEE.c.id == sa.bindparam('w_id'), CURRENT),
                  else_=PENDING),
    updated_at=sa.bindparam('v_updated_at',
                            type_=_TRUSTEE.c.updated_at.type))


def add_pending(fence, values):
    """The operation's pending row, inserted once (a re-run gets the row
    its predecessor wrote, password included)."""
    now = models.utcnow()
    row = dict(values, cluster_uuid=fence.cluster_uuid,
               operation_id=fence.operation_id, state=PENDING,
               created_at=now)
    try:
        with db_ops.fenced(fence, now) as conn:
            if conn.dialect.insert_returning:
                # The row as written: no read after the insert.
                return conn.execute(sa.insert(_TRUSTEE).values(row)
                                    .returning(*_TRUSTEE.c)).first()
            conn.execute(sa.insert(_TRUSTEE).values(row))
    except IntegrityError:
        pass
    return of_operation(fence.cluster_uuid, fence.operation_id)


def update(fence, row_id, **values):
    now = models.utcnow()
    with db_ops.fenced(fence, now) as conn:
        db_ops.run_set(conn, _ROW, dict(values, updated_at=now), id=row_id)


def promote_own(fence):
    """The operation's own trustee becomes the cluster's current one, and
    the cluster's trustees are read, in one fenced transaction (three were
    one each).

    :returns: (the operation's row or None, [the cluster's other rows]).
    """
    now = models.utcnow()
    with db_ops.fenced(fence, now) as conn:
        rows = conn.execute(sa.select(_TRUSTEE).where(
            _TRUSTEE.c.cluster_uuid == fence.cluster_uuid).order_by(
                _TRUSTEE.c.id)).all()
        own = next((r for r in rows
                    if r.operation_id == fence.operation_id), None)
        if own is None:
            return None, []
        if own.state != CURRENT:
            conn.execute(_PROMOTE, {'w_cluster': fence.cluster_uuid,
                                    'w_id': own.id, 'v_updated_at': now})
        return own, [r for r in rows if r.id != own.id]


def remove(fence, row_id):
    with db_ops.fenced(fence) as conn:
        conn.execute(sa.delete(_TRUSTEE).where(_TRUSTEE.c.id == row_id))


def rekey(reencrypt, batch=100):
    """Re-encrypt every trustee password with ``reencrypt(token,
    cluster_uuid)`` (:func:`reencrypt_column`); the rows re-encrypted."""
    return reencrypt_column(Trustee, 'encrypted_password', reencrypt, batch)
