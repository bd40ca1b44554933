"""Cluster CA rows: make a new cluster's, read one, rotate a cluster's CAs,
re-encrypt all keys.

A new cluster's CAs are made by its create operation's conductor
(:func:`make_for_create`, from the stack's step, which hands them to the
nodes) and removed with the cluster by the foreign key's cascade. Until
then the cluster has none: the certificates API answers 409
(:class:`CAsNotMade`).
"""

import json

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from caas import pki
from caas.common import exceptions
from caas.common import states
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import get_autocommit_engine
from caas.db.sqlalchemy.engine import reencrypt_column
from caas.db.sqlalchemy.engine import session_scope
from caas.pki import authority

ClusterCA = models.ClusterCA
_CA = ClusterCA.__table__
_RETURNED = (_CA.c.id, _CA.c.ca_type, _CA.c.cert_pem, _CA.c.encrypted_key)


class CANotFound(exceptions.NotFound):
    message = 'Cluster %(cluster)s has no %(ca_type)s CA.'


class CAsNotMade(exceptions.Conflict):
    message = ('The CAs of cluster %(cluster)s are not made yet (status '
               '%(status)s): its create makes them before its Heat stack.')


# The CA rows of a create, in one autocommitted statement (PostgreSQL):
# the claim's assertion (as ``caas.db.operations.assert_owner``: the
# operation row stays locked until the statement commits, so no claim
# slips in between) and the INSERT, which writes nothing where the
# cluster has a CA of that type already. What it wrote comes back; a
# type it did not write is read after it (a re-run's, or fenced out).
# The driver's SQL as it is (``exec_driver_sql``): no bind processing per
# value, as ``caas.db.cluster_create`` sends the create.
_PG_MAKE = (
    'WITH owned AS (UPDATE operations SET updated_at = %(now)s '
    'WHERE id = %(op)s AND owner = %(owner)s AND epoch = %(epoch)s '
    'AND state = %(running)s RETURNING id) '
    'INSERT INTO cluster_cas (cluster_uuid, ca_type, cert_pem, '
    'encrypted_key, created_at, rotated_at) '
    'SELECT %(cluster)s, r.ca_type, r.cert_pem, r.encrypted_key, %(now)s, '
    '%(now)s FROM owned, ROWS FROM (json_to_recordset(%(rows)s::json) '
    'AS (ca_type text, cert_pem text, encrypted_key text)) '
    'WITH ORDINALITY AS r(ca_type, cert_pem, encrypted_key, n) '
    'ORDER BY r.n '
    'ON CONFLICT (cluster_uuid, ca_type) DO NOTHING '
    'RETURNING id, ca_type, cert_pem, encrypted_key')

_READ = sa.select(*_RETURNED).where(
    _CA.c.cluster_uuid == sa.bindparam('cluster')).order_by(_CA.c.id)


def _insert_missing(conn, rows):
    """The rows an INSERT of ``rows`` wrote, where the dialect says
    (else None): it writes nothing where the cluster has a CA of that type
    (the table's unique constraint), never a replacement."""
    name = conn.dialect.name
    if name == 'mysql':
        # ``id = id``: a row already there stays as it is (the inserted
        # row's ``id``, an AUTO_INCREMENT not given, is not its own).
        stmt = mysql.insert(_CA).values(rows)
        conn.execute(stmt.on_duplicate_key_update(id=_CA.c.id))
        return None
    dialect = sqlite if name == 'sqlite' else postgresql
    stmt = dialect.insert(_CA).values(rows).on_conflict_do_nothing(
        index_elements=['cluster_uuid', 'ca_type'])
    return conn.execute(stmt.returning(*_RETURNED)).all()


def make_for_create(fence, coe):
    """The cluster's CAs for its create (one per type of ``coe``), made
    once: a run again (the step's conductor killed after the rows were
    committed, a claim taken over) gets the rows the first run wrote, never
    another set. Written under the operation's claim only.

    :returns: the rows (id, ca_type, cert_pem, encrypted_key), oldest
        first.
    :raises: FencedOut when the claim no longer holds and the CAs are not
        all written; NoEncryptionKey without a configured key.
    """
    types = pki.ca_types(coe)
    made = authority.new_cas(fence.cluster_uuid, types)
    now = models.utcnow()
    bind = get_autocommit_engine()
    if bind.dialect.name == 'postgresql':
        with bind.connect() as conn:
            rows = conn.exec_driver_sql(_PG_MAKE, {
                'now': now, 'op': fence.operation_id, 'owner': fence.owner,
                'epoch': fence.epoch, 'running': states.OP_RUNNING,
                'cluster': fence.cluster_uuid,
                'rows': json.dumps(made)}).all()
            if len(rows) < len(types):
                rows = conn.execute(
                    _READ, {'cluster': fence.cluster_uuid}).all()
            conn.rollback()
    else:
        with db_ops.fenced(fence, now) as conn:
            rows = _insert_missing(conn, [
                dict(r, cluster_uuid=fence.cluster_uuid, created_at=now,
                     rotated_at=now) for r in made])
            if rows is None or len(rows) < len(types):
                rows = conn.execute(
                    _READ, {'cluster': fence.cluster_uuid}).all()
            rows.sort(key=lambda r: r.id)
    if not set(types).issubset(r.ca_type for r in rows):
        # Nothing written and nothing there: the claim is gone.
        raise exceptions.FencedOut(operation=fence.operation_id,
                                   owner=fence.owner, epoch=fence.epoch)
    return rows


def get_ca(cluster_uuid, ca_type):
    with session_scope(readonly=True) as session:
        row = session.scalars(sa.select(ClusterCA).where(
            ClusterCA.cluster_uuid == cluster_uuid,
            ClusterCA.ca_type == ca_type)).first()
        if row is None:
            raise CANotFound(cluster=cluster_uuid, ca_type=ca_type)
        return row


def list_ca_types(cluster_uuid):
    with session_scope(readonly=True) as session:
        return list(session.scalars(sa.select(ClusterCA.ca_type).where(
            ClusterCA.cluster_uuid == cluster_uuid).order_by(ClusterCA.id)))


def list_ca_certs(cluster_uuid):
    """[(ca_type, cert_pem)] of the cluster's CAs: certificates only."""
    with session_scope(readonly=True) as session:
        return [tuple(r) for r in session.execute(
            sa.select(ClusterCA.ca_type, ClusterCA.cert_pem).where(
                ClusterCA.cluster_uuid == cluster_uuid).order_by(
                    ClusterCA.id))]


def _write_cas(session, cluster_uuid, rows, now):
    for values in rows:
        changed = session.execute(sa.update(ClusterCA).where(
            ClusterCA.cluster_uuid == cluster_uuid,
            ClusterCA.ca_type == values['ca_type']).values(
                cert_pem=values['cert_pem'],
                encrypted_key=values['encrypted_key'],
                rotated_at=now, updated_at=now)).rowcount
        if not changed:
            session.add(ClusterCA(cluster_uuid=cluster_uuid,
                                  created_at=now, rotated_at=now, **values))


def rotate(cluster_uuid, rows, timeout_minutes, request_id=None):
    """Swap in new CAs and start the operation that hands them to the
    nodes, in one transaction: the operation's compare-and-set on the
    cluster is the lock, so a cluster with an operation in progress keeps
    its CAs (409).

    :param rows: [{'ca_type', 'cert_pem', 'encrypted_key'}]
    :returns: (cluster, operation)
    :raises: ClusterNotFound, OperationInProgress, InvalidState (409)
    """
    now = models.utcnow()
    return db_api.start_operation(
        cluster_uuid, states.OP_CLUSTER_CA_ROTATE,
        timeout_minutes=timeout_minutes, request_id=request_id,
        also=lambda session: _write_cas(session, cluster_uuid, rows, now))


def rekey(reencrypt, batch=100):
    """Re-encrypt every CA key with ``reencrypt(token, cluster_uuid)``
    (:func:`reencrypt_column`); the rows re-encrypted."""
    return reencrypt_column(ClusterCA, 'encrypted_key', reencrypt, batch)
