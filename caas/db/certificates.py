"""Cluster CA rows: read one, rotate a cluster's CAs, re-encrypt all keys.

The rows are written with their cluster by ``caas.db.api.create_cluster``
(same transaction) and removed with it by the foreign key's cascade.
"""

import sqlalchemy as sa

from caas.common import exceptions
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import session_scope

ClusterCA = models.ClusterCA
Cluster = models.Cluster


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


def replace_cas(cluster_uuid, rows):
    """Swap in new CAs while no operation runs on the cluster.

    The conditional UPDATE of the cluster row is the lock: it fails while
    an operation holds the cluster, and it holds the row until commit so
    that no operation can start half-way through the swap.

    :param rows: [{'ca_type', 'cert_pem', 'encrypted_key'}]
    :raises: ClusterNotFound, OperationInProgress (409)
    """
    now = models.utcnow()
    with session_scope() as session:
        updated = session.execute(sa.update(Cluster).where(
            Cluster.uuid == cluster_uuid,
            Cluster.operation_id.is_(None)).values(updated_at=now)).rowcount
        if updated != 1:
            row = session.scalars(sa.select(Cluster).where(
                Cluster.uuid == cluster_uuid)).first()
            if row is None:
                raise exceptions.ClusterNotFound(cluster=cluster_uuid)
            raise exceptions.OperationInProgress(cluster=cluster_uuid,
                                                 status=row.status)
        for values in rows:
            changed = session.execute(sa.update(ClusterCA).where(
                ClusterCA.cluster_uuid == cluster_uuid,
                ClusterCA.ca_type == values['ca_type']).values(
                    cert_pem=values['cert_pem'],
                    encrypted_key=values['encrypted_key'],
                    rotated_at=now, updated_at=now)).rowcount
            if not changed:
                session.add(ClusterCA(cluster_uuid=cluster_uuid,
                                      created_at=now, rotated_at=now,
                                      **values))


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
