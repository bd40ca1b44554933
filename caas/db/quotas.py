"""Project quotas: Magnum's ``quotas`` rows and the race-safe check that a
cluster create stays within them.

A quota row is written by an administrator (``/v1/quotas``); a project
without one gets ``[quotas] max_clusters_per_project``. The check runs in
the transaction that inserts the cluster, after an UPDATE of the
project's ``quota_locks`` row: on PostgreSQL and MySQL that row lock makes
a second create of the same project wait until the first committed, and
its count then sees the first cluster (READ COMMITTED takes a new snapshot
per statement); on SQLite every writer holds the database lock
(``BEGIN IMMEDIATE``). So two creates at the limit cannot both pass.

On PostgreSQL a create's rows are one autocommitted statement and the same
lock and count are a deferred trigger's (migration 0004c), run as that
statement commits: the lock is then held inside the server only, never
across a round trip to the API. There the count is not counted: the lock
row keeps it (``quota_locks.in_use``, migration 0004d), added to by
triggers on every insert, delete and move of a cluster, as the writing
transaction commits, under that same lock; so the check reads one row
whatever the project's number of clusters. The lock rows are the counts
there: delete one only with its project's clusters gone. SQLite and MySQL
count the project's clusters (:func:`check_cluster_quota`), as before.
"""

import json

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from caas.common import exceptions
from caas.db import api as db_api
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import session_scope

#: The resources a quota may name (Magnum's QuotaResourceName.ALL).
RESOURCES = ('Cluster',)
CLUSTER = 'Cluster'

SORT_KEYS = ('id', 'project_id', 'resource', 'hard_limit', 'created_at',
             'updated_at')

Quota = models.Quota


def _checked_project(project_id):
    if not (isinstance(project_id, str) and project_id):
        # A quota for "no project" would be a quota for every caller
        # without one: a programming error, not a request to serve.
        raise TypeError('A quota needs its project_id, got %r.' %
                        (project_id,))
    return project_id


def create_quota(project_id, resource, hard_limit):
    """Insert a quota; 409 when the project already has one for resource."""
    _checked_project(project_id)
    try:
        with session_scope() as session:
            row = Quota(project_id=project_id, resource=resource,
                        hard_limit=hard_limit)
            session.add(row)
    except IntegrityError:
        raise exceptions.QuotaAlreadyExists(project_id=project_id,
                                            resource=resource)
    return row


def get_quota(project_id, resource):
    """The stored quota, or QuotaNotFound (404)."""
    with session_scope(readonly=True) as session:
        row = session.scalars(sa.select(Quota).where(
            Quota.project_id == _checked_project(project_id),
            Quota.resource == resource)).first()
    if row is None:
        raise exceptions.QuotaNotFound(project_id=project_id,
                                       resource=resource)
    return row


def update_quota(project_id, resource, hard_limit):
    with session_scope() as session:
        row = session.scalars(sa.select(Quota).where(
            Quota.project_id == _checked_project(project_id),
            Quota.resource == resource).with_for_update()).first()
        if row is None:
            raise exceptions.QuotaNotFound(project_id=project_id,
                                           resource=resource)
        row.hard_limit = hard_limit
        row.updated_at = models.utcnow()
    return row


def delete_quota(project_id, resource):
    with session_scope() as session:
        deleted = session.execute(sa.delete(Quota).where(
            Quota.project_id == _checked_project(project_id),
            Quota.resource == resource)).rowcount
    if not deleted:
        raise exceptions.QuotaNotFound(project_id=project_id,
                                       resource=resource)


def list_quotas(*, scope, limit=None, marker=None, sort_key='id',
                sort_dir='asc'):
    """Quotas of ``scope``: a project id, or ``ALL_PROJECTS`` (the
    administrators' ``all_tenants``, decided by the API).

    :param marker: the ``id`` of the last quota of the previous page.
    """
    if sort_key not in SORT_KEYS:
        raise exceptions.InvalidParameterValue(
            err='Invalid value for sort_key: %s. Valid keys are: %s.' % (
                sort_key, ', '.join(SORT_KEYS)))
    column = getattr(Quota, sort_key)
    order = sa.asc if sort_dir == 'asc' else sa.desc
    with session_scope(readonly=True) as session:
        visible = db_api.project_filter(Quota, scope)
        query = sa.select(Quota).where(visible)
        if marker is not None:
            mrow = session.scalars(sa.select(Quota).where(
                Quota.id == marker, visible)).first()
            if mrow is None:
                raise exceptions.InvalidParameterValue(
                    err='Invalid value for marker: %s was not found.' %
                        marker)
            value = getattr(mrow, sort_key)
            after = (lambda a, b: a > b) if sort_dir == 'asc' else \
                (lambda a, b: a < b)
            if value is None:
                query = query.where(column.is_(None),
                                    after(Quota.id, mrow.id))
            else:
                query = query.where(sa.or_(
                    after(column, value),
                    sa.and_(column == value, after(Quota.id, mrow.id))))
        query = query.order_by(order(column), order(Quota.id))
        if limit is not None:
            query = query.limit(limit)
        return list(session.scalars(query))


# The UPDATE that takes a project's lock row of a resource, built once;
# it matches nothing before the project's first create made the row.
_LOCK_ROW = (
    sa.update(models.QuotaLock)
    .where(models.QuotaLock.project_id == sa.bindparam('quota_project'),
           models.QuotaLock.resource == sa.bindparam('quota_resource'))
    .values(locked_at=sa.bindparam('quota_locked_at', type_=sa.DateTime)))


def _lock_params(project_id, resource):
    return {'quota_project': project_id, 'quota_resource': resource,
            'quota_locked_at': models.utcnow()}


def _lock(session, project_id, resource):
    """Take the project's quota lock row for the rest of the transaction."""
    if session.execute(_LOCK_ROW, _lock_params(project_id, resource)).rowcount:
        return
    try:
        # The first create of a project makes the row; a concurrent first
        # create waits on the unique key, fails here and takes the lock
        # below once the winner committed.
        with session.begin_nested():
            session.execute(sa.insert(models.QuotaLock).values(
                project_id=project_id, resource=resource,
                locked_at=models.utcnow()))
    except IntegrityError:
        session.execute(_LOCK_ROW, _lock_params(project_id, resource))


#: What a create sets (``set_config(..., true)``, in its statement) to
#: hand the PostgreSQL quota trigger (migration 0004c) the default limit.
DEFAULT_LIMIT_SETTING = 'caas.cluster_quota_default'
#: The SQLSTATE the trigger raises when a create would pass the quota.
REFUSED_SQLSTATE = 'CQ001'

_SOURCES = {'project': 'set for the project',
            'default': 'the default, [quotas] max_clusters_per_project'}


class ClusterQuotaCheck:
    """The ``quota_check`` of ``caas.db.api.create_cluster``.

    Called (SQLite, MySQL), it takes the lock and counts in the create's
    transaction, after the rows were written. On PostgreSQL the create's
    one statement sets ``trigger_setting`` instead and the quota trigger
    locks and reads the project's kept count (0004d) as that statement
    commits; ``refusal`` turns the trigger's error into the 403.
    """

    def __init__(self, default_limit):
        self.default_limit = default_limit

    def __call__(self, session, project_id):
        check_cluster_quota(session, project_id, self.default_limit,
                            written=True)

    def trigger_setting(self):
        """(name, value) of the transaction-local setting the trigger
        reads: the limit of a project without a quota row."""
        return DEFAULT_LIMIT_SETTING, str(int(self.default_limit))

    @staticmethod
    def refusal(error):
        """QuotaExceeded for the trigger's error (a DB-API exception), as
        ``check_cluster_quota`` raises it; None for any other error."""
        if getattr(error, 'pgcode', None) != REFUSED_SQLSTATE:
            return None
        found = json.loads(error.diag.message_detail)
        return exceptions.QuotaExceeded(
            project_id=found['project_id'], resource=CLUSTER,
            source=_SOURCES[found['source']], limit=found['limit'],
            count=found['count'])


def cluster_quota_check(default_limit):
    """The ``quota_check`` of ``caas.db.api.create_cluster``."""
    return ClusterQuotaCheck(default_limit)


def _limit_and_count():
    # One statement for both reads: the quota row's limit (NULL without
    # one) and the project's clusters. Built once.
    project = sa.bindparam('project')
    return sa.select(
        sa.select(Quota.hard_limit).where(
            Quota.project_id == project,
            Quota.resource == CLUSTER).scalar_subquery(),
        sa.select(sa.func.count()).select_from(models.Cluster).where(
            models.Cluster.project_id == project).scalar_subquery())


_LIMIT_AND_COUNT = _limit_and_count()


def check_cluster_quota(session, project_id, default_limit, written=False):
    """Raise QuotaExceeded (403) unless ``project_id`` may have one more
    cluster; holds the project's lock until ``session`` commits.

    Call it inside the transaction that inserts the cluster: before the
    insert, or after it with ``written`` (the count then includes the new
    cluster). Last in the transaction, the lock is held for its commit
    only, not for every insert, so a burst of creates of one project
    queues less behind it.
    """
    _lock(session, project_id, CLUSTER)
    _check_count(session, project_id, default_limit, written)


def _check_count(session, project_id, default_limit, written):
    """The check proper; the caller holds the project's lock, taken by an
    earlier statement of the transaction: under READ COMMITTED this
    statement's snapshot then sees every create that committed before."""
    limit, count = session.execute(_LIMIT_AND_COUNT,
                                   {'project': project_id}).one()
    if written:
        count -= 1
    source = _SOURCES['project']
    if limit is None:
        limit = default_limit
        source = _SOURCES['default']
    if count >= limit:
        raise exceptions.QuotaExceeded(project_id=project_id,
                                       resource=CLUSTER, source=source,
                                       limit=limit, count=count)

