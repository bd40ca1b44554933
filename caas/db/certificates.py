"""Cluster CA rows: read one, rotate a cluster's CAs, re-encrypt all keys.

The rows are written with their cluster by ``caas.db.api.create_cluster``
(same transaction) and removed with it by the foreign key's cascade.
"""

import sqlalchemy as sa

from caas.common import exceptions
from caas.common import states
from caas.db import api as db_api
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import session_scope

ClusterCA = models.ClusterCA


class CANotFound(exceptions.NotFound):
    message = 'Cluster %(cluster)s has no %(ca_type)s CA.'


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
    """Re-encrypt every CA key with ``reencrypt(token, cluster_uuid)``.

    Keyset-paged by id so that a large table is never held in memory or in
    one transaction. :returns: the number of rows re-encrypted.
    """
    done, last_id = 0, 0
    while True:
        with session_scope() as session:
            rows = list(session.scalars(sa.select(ClusterCA).where(
                ClusterCA.id > last_id).order_by(ClusterCA.id).limit(batch)))
            if not rows:
                return done
            for row in rows:
                row.encrypted_key = reencrypt(row.encrypted_key,
                                              row.cluster_uuid)
                last_id = row.id
            done += len(rows)
