"""Queries the API needs: templates, clusters, nodegroups, starting operations.

Functions return detached ORM objects. Every function that starts work on a
cluster writes the row change and the ``operations`` row in one transaction
and returns only after it committed; the caller casts afterwards.

Every read of a project's resources names its scope with the keyword-only
``scope``: a project id, or :data:`ALL_PROJECTS`, which only the
administrator paths of the API and the conductor (acting on UUIDs from its
own rows) pass. A missing scope is a TypeError and None or an empty string
a :class:`ScopeError`: forgetting the scope fails loudly instead of reading
every project. A new row must name its project. Nodegroups are read through
their cluster, and writes take the UUID of a row that a scoped read returned.
"""

import collections
import datetime
import operator
import uuid as uuidlib

import sqlalchemy as sa

from caas.common import exceptions
from caas.common import states
from caas.db import cluster_create
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import session_scope

SORT_KEYS = {
    models.ClusterTemplate: ('id', 'uuid', 'name', 'coe', 'created_at',
                             'updated_at', 'image_id', 'server_type'),
    models.Cluster: ('id', 'uuid', 'name', 'status', 'node_count',
                     'master_count', 'created_at', 'updated_at',
                     'cluster_template_id', 'stack_id', 'create_timeout',
                     'health_status', 'keypair'),
    models.NodeGroup: ('id', 'uuid', 'name', 'role', 'node_count',
                       'created_at', 'updated_at'),
}


class ScopeError(TypeError):
    """A query was given no valid scope: a programming error, not a 4xx."""


class _AllProjects:
    def __repr__(self):
        return 'ALL_PROJECTS'


#: The scope of administrator paths and the conductor: every project.
ALL_PROJECTS = _AllProjects()


def _checked(scope):
    if scope is ALL_PROJECTS or (isinstance(scope, str) and scope):
        return scope
    raise ScopeError('A project scope is required (a project id or '
                     'ALL_PROJECTS), got %r.' % (scope,))


def _owner(values):
    # A row without a project would be owned by no one and, to a check
    # that compares None with None, by every caller without a project.
    project = values.get('project_id')
    if not (isinstance(project, str) and project):
        raise ScopeError('A new row needs its project_id, got %r.' % (
            project,))


def new_uuid():
    return str(uuidlib.uuid4())


def page_query(session, query, model, limit, marker, sort_key, sort_dir,
               visible=None):
    """Keyset pagination: order by the sort key then id; a marker continues
    after its row (which must itself be visible)."""
    if sort_key not in SORT_KEYS[model]:
        raise exceptions.InvalidParameterValue(
            err='Invalid sort_key %s; valid keys are %s.' % (
                sort_key, ', '.join(SORT_KEYS[model])))
    if sort_dir not in ('asc', 'desc'):
        raise exceptions.InvalidParameterValue(
            err="Invalid sort_dir %s; use 'asc' or 'desc'." % sort_dir)
    column = getattr(model, sort_key)
    after = operator.gt if sort_dir == 'asc' else operator.lt
    if visible is None:
        visible = sa.true()
    if marker is not None:
        mrow = session.scalars(
            sa.select(model).where(model.uuid == marker, visible)).first()
        if mrow is None:
            raise exceptions.InvalidParameterValue(
                err='Invalid value for marker: %s was not found.' % marker)
        mval = getattr(mrow, sort_key)
        if mval is None:
            # Rows whose sort value is NULL are ordered among themselves by id.
            cond = sa.and_(column.is_(None), after(model.id, mrow.id))
            if sort_dir == 'desc':
                cond = sa.or_(cond, column.isnot(None))
        else:
            cond = sa.or_(after(column, mval),
                          sa.and_(column == mval, after(model.id, mrow.id)))
            if sort_dir == 'asc':
                cond = sa.or_(cond, column.is_(None))
        query = query.where(cond)
    query = query.order_by(*sort_order(column, model.id, sort_dir))
    if limit is not None:
        query = query.limit(limit)
    return query


def sort_order(column, id_column, sort_dir):
    """ORDER BY terms of a page: NULL sorts as the largest value on every
    database (PostgreSQL's default; SQLite's and MariaDB's is the opposite),
    so a marker continues after a NULL or before one the same way
    everywhere. ``NULLS LAST`` is not MariaDB syntax: an explicit "is it
    NULL" term first says the same on all three."""
    is_null = sa.case((column.is_(None), 1), else_=0)
    if sort_dir == 'asc':
        return is_null.asc(), column.asc(), id_column.asc()
    return is_null.desc(), column.desc(), id_column.desc()


def _paginate(session, query, model, limit, marker, sort_key, sort_dir,
              visible=None):
    query = page_query(session, query, model, limit, marker, sort_key,
                       sort_dir, visible)
    if len(query.column_descriptions) > 1:   # columns, not an entity
        return session.execute(query).all()
    return list(session.scalars(query))


def project_filter(model, scope, include_public=False):
    """The WHERE clause of ``scope`` for a table with ``project_id`` (every
    project-scoped read uses it, so a missing scope fails the same way)."""
    if _checked(scope) is ALL_PROJECTS:
        return sa.true()
    cond = model.project_id == scope
    if include_public:
        cond = sa.or_(cond, model.public.is_(True))
    return cond


def _lookup(session, model, ident, scope, not_found, kind,
            include_public=False):
    where = project_filter(model, scope, include_public)
    row = session.scalars(
        sa.select(model).where(model.uuid == ident, where)).first()
    if row is not None:
        return row
    rows = list(session.scalars(
        sa.select(model).where(model.name == ident, where).limit(2)))
    if not rows:
        raise not_found
    if len(rows) > 1:
        raise exceptions.Ambiguous(kind=kind, name=ident)
    return rows[0]


# -- cluster templates ------------------------------------------------------

def create_cluster_template(values):
    """Insert a template; ``values['project_id']`` must name its project."""
    values = dict(values)
    _owner(values)
    values.setdefault('uuid', new_uuid())
    with session_scope() as session:
        row = models.ClusterTemplate(**values)
        session.add(row)
    return row


def get_cluster_template(ident, *, scope):
    """By UUID or name, within the project's own and public templates."""
    with session_scope(readonly=True) as session:
        return _lookup(session, models.ClusterTemplate, ident, scope,
                       exceptions.ClusterTemplateNotFound(clustertemplate=ident),
                       'cluster templates', include_public=True)


def _template_by_ident(all_projects):
    table = models.ClusterTemplate.__table__
    ident = sa.bindparam('ident')
    where = [sa.or_(table.c.uuid == ident, table.c.name == ident)]
    if not all_projects:
        where.append(sa.or_(table.c.project_id == sa.bindparam('project'),
                            table.c.public.is_(True)))
    # The row whose UUID matches first; without one, two rows of that
    # name are enough to tell the name is ambiguous.
    return (sa.select(table).where(*where)
            .order_by(sa.case((table.c.uuid == ident, 0), else_=1))
            .limit(2))


# Built once: building the statement cost more than running it.
_TEMPLATE_BY_IDENT = {False: _template_by_ident(False),
                      True: _template_by_ident(True)}


# (all projects?, dialect name) -> (SQL text, its constant parameters,
# [(column index, result processor)]).
_TEMPLATE_SQL = {}
_TemplateRow = collections.namedtuple(
    'TemplateRow', [c.key for c in models.ClusterTemplate.__table__.c])


def _template_sql(all_projects, dialect):
    """:data:`_TEMPLATE_BY_IDENT` compiled once for ``dialect``, to run as
    the driver's SQL: SQLAlchemy's cache key, parameter processing and
    result set-up for a 35-column row cost a create more than the
    statement's own round trip."""
    key = (all_projects, dialect.name)
    found = _TEMPLATE_SQL.get(key)
    if found is None:
        compiled = _TEMPLATE_BY_IDENT[all_projects].compile(dialect=dialect)
        # The LIMIT and the CASE's values are parameters too.
        constants = {name: value for name, value in compiled.construct_params(
            {'ident': None, 'project': None}).items()
            if name not in ('ident', 'project')}
        processors = []
        for index, column in enumerate(models.ClusterTemplate.__table__.c):
            process = column.type.dialect_impl(dialect).result_processor(
                dialect, None)
            if process is not None:
                processors.append((index, process))
        found = _TEMPLATE_SQL[key] = (compiled.string, constants,
                                      processors)
    return found


def find_cluster_template(ident, *, scope):
    """What :func:`get_cluster_template` finds, as a plain row, in one
    statement on the autocommit engine: one round trip instead of a
    transaction's three (the template a cluster create reads); on
    PostgreSQL compiled once and run as the driver's SQL
    (:func:`_template_sql`). A UUID match wins over name matches, as
    there."""
    all_projects = _checked(scope) is ALL_PROJECTS
    params = {'ident': ident}
    if not all_projects:
        params['project'] = scope
    bind = engine.get_autocommit_engine()
    if bind.dialect.name not in ONE_STATEMENT_CREATE:
        with bind.connect() as conn:
            rows = conn.execute(_TEMPLATE_BY_IDENT[all_projects],
                                params).all()
        return pick_template(rows, ident)
    sql, constants, processors = _template_sql(all_projects, bind.dialect)
    params.update(constants)
    with bind.connect() as conn:
        rows = conn.exec_driver_sql(sql, params).all()
    if processors:
        rows = [list(row) for row in rows]
        for row in rows:
            for index, process in processors:
                row[index] = process(row[index])
    return pick_template([_TemplateRow(*row) for row in rows], ident)


def pick_template(rows, ident):
    """The template ``ident`` names among ``rows`` (the row whose UUID it
    is first, then up to two rows of that name): that row, or the only
    one of the name.

    :raises: ClusterTemplateNotFound, Ambiguous.
    """
    if rows and rows[0].uuid == ident:
        return rows[0]
    if not rows:
        raise exceptions.ClusterTemplateNotFound(clustertemplate=ident)
    if len(rows) > 1:
        raise exceptions.Ambiguous(kind='cluster templates', name=ident)
    return rows[0]


def list_cluster_templates(*, scope, limit=None, marker=None,
                           sort_key='id', sort_dir='asc', show_hidden=False):
    """Templates of the project and public ones (every one for ALL_PROJECTS).

    Hidden templates are left out unless ``show_hidden`` (the API sets it
    for administrators); they can still be shown by UUID or name.
    """
    with session_scope(readonly=True) as session:
        visible = project_filter(models.ClusterTemplate, scope,
                                  include_public=True)
        if not show_hidden:
            visible = sa.and_(visible,
                              models.ClusterTemplate.hidden.is_not(True))
        query = sa.select(models.ClusterTemplate).where(visible)
        return _paginate(session, query, models.ClusterTemplate, limit,
                         marker, sort_key, sort_dir, visible)


def cluster_template_in_use(template_uuid, session=None):
    def _count(s):
        return s.scalar(sa.select(sa.func.count()).select_from(
            models.Cluster).where(
                models.Cluster.cluster_template_id == template_uuid))
    if session is not None:
        return _count(session) > 0
    with session_scope(readonly=True) as s:
        return _count(s) > 0


def update_cluster_template(template_uuid, values, allowed_in_use=()):
    """Update; a template used by clusters may only change allowed_in_use."""
    with session_scope() as session:
        row = session.scalars(sa.select(models.ClusterTemplate).where(
            models.ClusterTemplate.uuid == template_uuid)).first()
        if row is None:
            raise exceptions.ClusterTemplateNotFound(
                clustertemplate=template_uuid)
        changed = [k for k, v in values.items() if getattr(row, k) != v]
        blocked = [k for k in changed if k not in allowed_in_use]
        if blocked and cluster_template_in_use(template_uuid, session):
            raise exceptions.ClusterTemplateReferenced(
                clustertemplate=template_uuid,
                message='ClusterTemplate %s is referenced by one or more '
                        'clusters; only %s can be changed while it is in '
                        'use (asked to change %s).' % (
                            template_uuid, ', '.join(sorted(allowed_in_use)),
                            ', '.join(sorted(blocked))))
        for key, value in values.items():
            setattr(row, key, value)
    return row


def destroy_cluster_template(template_uuid):
    with session_scope() as session:
        if cluster_template_in_use(template_uuid, session):
            raise exceptions.ClusterTemplateReferenced(
                clustertemplate=template_uuid)
        deleted = session.execute(sa.delete(models.ClusterTemplate).where(
            models.ClusterTemplate.uuid == template_uuid)).rowcount
        if not deleted:
            raise exceptions.ClusterTemplateNotFound(
                clustertemplate=template_uuid)


# -- clusters ---------------------------------------------------------------

def _operation_values(cluster_uuid, kind, params, timeout_minutes,
                      request_id):
    now = models.utcnow()
    return dict(
        id=new_uuid(), cluster_id=cluster_uuid, kind=kind,
        state=states.OP_PENDING, params=params or {}, epoch=0, claims=0,
        created_at=now, request_id=request_id,
        deadline=now + datetime.timedelta(minutes=timeout_minutes))


def _new_operation(cluster_uuid, kind, params, timeout_minutes, request_id):
    return models.Operation(**_operation_values(
        cluster_uuid, kind, params, timeout_minutes, request_id))


#: Databases whose cluster create writes every row in one statement
#: (data-modifying WITH clauses: PostgreSQL).
ONE_STATEMENT_CREATE = ('postgresql',)


def create_cluster(values, nodegroups, timeout_minutes, request_id=None,
                   cas=(), quota_check=None, op_params=None):
    """Write cluster, nodegroups, CAs and the create operation in one
    transaction.

    ``values['project_id']`` must name the cluster's project.

    :param cas: [{'ca_type', 'cert_pem', 'encrypted_key'}] (caas.pki): a
        settled cluster's (tests, benchmarks); the API's create passes
        none, its conductor makes them
        (``caas.db.certificates.make_for_create``).
    :param quota_check: ``quota_check(session, project_id)``, called in the
        transaction after the cluster's rows are written, last before the
        commit (e.g. ``caas.db.quotas.cluster_quota_check``); it raises to
        refuse, which rolls them back. On PostgreSQL, one with a
        ``trigger_setting`` is left to the quota trigger, which checks as
        the one statement writing the rows commits
        (:mod:`caas.db.cluster_create`).
    :param op_params: the create operation's params.
    :returns: (cluster, operation): ORM objects, detached; on PostgreSQL
        read-only rows with the same attributes
        (``cluster_create.ClusterRow``, ``OperationRow``).
    """
    values = dict(values)
    _owner(values)
    values.setdefault('uuid', new_uuid())
    op_values = _operation_values(values['uuid'], states.OP_CLUSTER_CREATE,
                                  op_params or {}, timeout_minutes,
                                  request_id)
    values.update(status=states.CREATE_IN_PROGRESS,
                  operation_id=op_values['id'], status_reason=None)
    groups = []
    for ng in nodegroups:
        ng = dict(ng)
        ng.setdefault('uuid', new_uuid())
        ng.update(cluster_id=values['uuid'], project_id=values['project_id'],
                  status=states.CREATE_IN_PROGRESS)
        groups.append(ng)
    ca_rows = [dict(ca, cluster_uuid=values['uuid']) for ca in cas]
    bind = engine.get_engine()
    if bind.dialect.name in ONE_STATEMENT_CREATE and \
            cluster_create.checks_at_commit(bind, quota_check):
        # Plain rows: no ORM object is made only to be returned.
        return cluster_create.insert(values, groups, ca_rows, op_values,
                                     quota_check)
    op = models.Operation(**op_values)
    with session_scope() as session:
        if session.get_bind().dialect.insert_returning:
            # Bulk inserts in the tables' order, not the ORM's unit of
            # work: it cost half of a create's CPU for these few rows.
            cluster = session.scalars(
                sa.insert(models.Cluster).returning(models.Cluster),
                [values]).one()
        else:
            # MySQL has no INSERT ... RETURNING to read the row back from.
            cluster = models.Cluster(**values)
            session.add(cluster)
            session.flush()
        if groups:
            session.execute(sa.insert(models.NodeGroup), groups)
        if ca_rows:
            # One statement (executemany) for all of the cluster's CAs.
            session.execute(sa.insert(models.ClusterCA), ca_rows)
        session.execute(sa.insert(models.Operation), [op_values])
        if quota_check is not None:
            # Last: the project's quota lock is then held only until the
            # commit that follows.
            quota_check(session, values['project_id'])
    return cluster, op


def get_cluster(ident, *, scope):
    """By UUID or name, within ``scope``."""
    with session_scope(readonly=True) as session:
        return _lookup(session, models.Cluster, ident, scope,
                       exceptions.ClusterNotFound(cluster=ident), 'clusters')


def get_cluster_by_uuid(cluster_uuid, *, scope):
    """By UUID only (the conductor's look-up), within ``scope``."""
    with session_scope(readonly=True) as session:
        row = session.scalars(sa.select(models.Cluster).where(
            models.Cluster.uuid == cluster_uuid,
            project_filter(models.Cluster, scope))).first()
        if row is None:
            raise exceptions.ClusterNotFound(cluster=cluster_uuid)
        return row


# What GET /v1/clusters shows (caas.api.views.CLUSTER_SUMMARY), plus the
# sort keys: a summary list loads these columns only.
CLUSTER_SUMMARY_COLUMNS = (
    'id', 'uuid', 'name', 'cluster_template_id', 'keypair',
    'docker_volume_size', 'labels', 'master_flavor_id', 'flavor_id',
    'create_timeout', 'node_count', 'status', 'master_count', 'stack_id',
    'health_status', 'created_at', 'updated_at')


def list_clusters(*, scope, limit=None, marker=None, sort_key='id',
                  sort_dir='asc', summary=False):
    """:param summary: rows of CLUSTER_SUMMARY_COLUMNS only (named tuples,
        not ORM objects)."""
    with session_scope(readonly=True) as session:
        visible = project_filter(models.Cluster, scope)
        if summary:
            # Plain rows (named tuples), not ORM objects: building 1,000
            # instances cost more than the query.
            query = sa.select(*[getattr(models.Cluster, c)
                                for c in CLUSTER_SUMMARY_COLUMNS])
        else:
            query = sa.select(models.Cluster)
        query = query.where(visible)
        return _paginate(session, query, models.Cluster, limit, marker,
                         sort_key, sort_dir, visible)


def set_cluster_health(cluster_uuid, status, reason):
    """Write a cluster's health as a client reported it (no operation)."""
    with session_scope() as session:
        if not session.execute(sa.update(models.Cluster).where(
                models.Cluster.uuid == cluster_uuid).values(
                    health_status=status, health_status_reason=reason,
                    updated_at=models.utcnow())).rowcount:
            raise exceptions.ClusterNotFound(cluster=cluster_uuid)


def cluster_stats(*, scope):
    """(clusters, nodes) of ``scope``: a project id or ALL_PROJECTS.

    Nodes are the node counts of every nodegroup, masters included (what
    Magnum's ``/v1/stats`` counts).
    """
    with session_scope(readonly=True) as session:
        clusters = session.scalar(
            sa.select(sa.func.count()).select_from(models.Cluster).where(
                project_filter(models.Cluster, scope)))
        nodes = session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(
                models.NodeGroup.node_count), 0))
            .select_from(models.NodeGroup).where(
                project_filter(models.NodeGroup, scope)))
    return clusters, int(nodes or 0)


def list_nodegroups(cluster_uuid, role=None):
    """A cluster's nodegroups (the cluster was read with its scope)."""
    with session_scope(readonly=True) as session:
        query = sa.select(models.NodeGroup).where(
            models.NodeGroup.cluster_id == cluster_uuid)
        if role is not None:
            query = query.where(models.NodeGroup.role == role)
        return list(session.scalars(query.order_by(models.NodeGroup.id)))


def start_operation(cluster_uuid, kind, params=None, timeout_minutes=60,
                    request_id=None, nodegroup=None, new_nodegroup=None,
                    also=None):
    """Compare-and-set the cluster into kind's in-progress status.

    Succeeds only if the cluster has no operation in progress and its status
    allows ``kind``; otherwise raises a 409 that says why.

    :param nodegroup: (uuid, values) written to that nodegroup in the same
        transaction (a nodegroup operation's own status).
    :param new_nodegroup: values of a nodegroup inserted in the same
        transaction; a name the cluster already has is a 409.
    :param also: ``also(session)`` writes more rows in the same transaction,
        after the compare-and-set succeeded (a CA rotation's new CAs).

    :returns: (cluster, operation)
    """
    try:
        return _start_operation(cluster_uuid, kind, params, timeout_minutes,
                                request_id, nodegroup, new_nodegroup, also)
    except sa.exc.IntegrityError:
        # Two creates of one name raced past the API's look-up.
        raise exceptions.NodeGroupAlreadyExists(
            name=(new_nodegroup or {}).get('name'), cluster=cluster_uuid)


def _start_operation(cluster_uuid, kind, params, timeout_minutes,
                     request_id, nodegroup, new_nodegroup, also):
    in_progress = states.TRANSITIONS[kind][0]
    op = _new_operation(cluster_uuid, kind, params, timeout_minutes,
                        request_id)
    with session_scope() as session:
        result = session.execute(
            sa.update(models.Cluster)
            .where(models.Cluster.uuid == cluster_uuid,
                   models.Cluster.operation_id.is_(None),
                   models.Cluster.status.in_(states.ALLOWED_FROM[kind]))
            .values(status=in_progress, operation_id=op.id,
                    status_reason=None, updated_at=models.utcnow()))
        if result.rowcount != 1:
            row = session.scalars(sa.select(models.Cluster).where(
                models.Cluster.uuid == cluster_uuid)).first()
            if row is None:
                raise exceptions.ClusterNotFound(cluster=cluster_uuid)
            if row.operation_id is not None:
                raise exceptions.OperationInProgress(
                    cluster=cluster_uuid, status=row.status)
            raise exceptions.InvalidState(
                err='Cluster %s is in status %s, from which %s is not '
                    'allowed.' % (cluster_uuid, row.status,
                                  kind.replace('cluster_', '')))
        if also is not None:
            also(session)
        session.add(op)
        if nodegroup is not None:
            ng_uuid, values = nodegroup
            session.execute(sa.update(models.NodeGroup).where(
                models.NodeGroup.cluster_id == cluster_uuid,
                models.NodeGroup.uuid == ng_uuid).values(
                    updated_at=models.utcnow(), **values))
        if new_nodegroup is not None:
            row = models.NodeGroup(**dict(new_nodegroup,
                                          cluster_id=cluster_uuid))
            _owner(new_nodegroup)
            session.add(row)
        session.flush()
        cluster = session.scalars(sa.select(models.Cluster).where(
            models.Cluster.uuid == cluster_uuid)).one()
    return cluster, op


class _LookAgain(Exception):
    """The cluster's operation changed under us: roll back and re-read."""


def start_delete(cluster_uuid, timeout_minutes=60, request_id=None,
                 attempts=10, params=None):
    """Start deleting a cluster: a DELETE always wins.

    One transaction records the delete operation. If another operation
    (create, update, ...) is unfinished, running or stuck, the same
    transaction fences it out: its epoch is bumped and it is marked
    SUPERSEDED with a reason, so every later fenced write of its owner
    fails. The operations row is locked before the cluster row, the order
    ``finish`` and ``expire`` use, so a flow finishing at the same moment
    either commits first (and the delete starts from its settled status)
    or is fenced out.

    :returns: (cluster, operation, superseded): ``operation`` is None when
        a delete is already running (nothing new is recorded or cast);
        ``superseded`` is the (id, kind) of the operation fenced out, or
        None.
    """
    kind = states.OP_CLUSTER_DELETE
    for _attempt in range(attempts):
        try:
            return _start_delete_once(cluster_uuid, kind, timeout_minutes,
                                      request_id, params)
        except _LookAgain:
            continue
    row = get_cluster_by_uuid(cluster_uuid, scope=ALL_PROJECTS)
    raise exceptions.OperationInProgress(cluster=cluster_uuid,
                                         status=row.status)


def _start_delete_once(cluster_uuid, kind, timeout_minutes, request_id,
                       params=None):
    Cluster, Op = models.Cluster, models.Operation
    op = _new_operation(cluster_uuid, kind, params, timeout_minutes,
                        request_id)
    now = models.utcnow()
    with session_scope() as session:
        row = session.execute(sa.select(Cluster.operation_id, Cluster.status)
                              .where(Cluster.uuid == cluster_uuid)).first()
        if row is None:
            raise exceptions.ClusterNotFound(cluster=cluster_uuid)
        superseded = None
        if row.operation_id is None:
            cond = [Cluster.operation_id.is_(None),
                    Cluster.status.in_(states.ALLOWED_FROM[kind])]
        else:
            superseded = engine.update_returning(
                session, sa.update(Op).where(
                    Op.id == row.operation_id,
                    Op.state.in_(states.OP_UNFINISHED), Op.kind != kind)
                .values(epoch=Op.epoch + 1, state=states.OP_SUPERSEDED,
                        finished_at=now, updated_at=now,
                        error='Superseded by the delete operation %s: a '
                              'DELETE always wins.' % op.id),
                Op.id == row.operation_id, Op.id, Op.kind)
            if superseded is None:
                current = session.get(Op, row.operation_id)
                if current is not None and current.kind == kind and \
                        current.state in states.OP_UNFINISHED:
                    # Already being deleted: idempotent, nothing new.
                    return session.scalars(sa.select(Cluster).where(
                        Cluster.uuid == cluster_uuid)).one(), None, None
                raise _LookAgain()   # it finished meanwhile
            superseded = (superseded.id, superseded.kind)
            cond = [Cluster.operation_id == row.operation_id]
        updated = session.execute(
            sa.update(Cluster).where(Cluster.uuid == cluster_uuid, *cond)
            .values(status=states.TRANSITIONS[kind][0], operation_id=op.id,
                    status_reason=None, updated_at=now)).rowcount
        if updated != 1:
            if superseded is None and row.operation_id is None:
                fresh = session.execute(
                    sa.select(Cluster.operation_id, Cluster.status)
                    .where(Cluster.uuid == cluster_uuid)).first()
                if fresh is not None and fresh.operation_id is None:
                    raise exceptions.InvalidState(
                        err='Cluster %s is in status %s, from which delete '
                            'is not allowed.' % (cluster_uuid, fresh.status))
            raise _LookAgain()
        session.add(op)
        session.flush()
        cluster = session.scalars(sa.select(Cluster).where(
            Cluster.uuid == cluster_uuid)).one()
    return cluster, op, superseded


def get_operation(op_id):
    with session_scope(readonly=True) as session:
        row = session.get(models.Operation, op_id)
        if row is None:
            raise exceptions.OperationNotFound(operation=op_id)
        return row


def list_operations(cluster_uuid=None, states_in=None):
    with session_scope(readonly=True) as session:
        query = sa.select(models.Operation)
        if cluster_uuid:
            query = query.where(models.Operation.cluster_id == cluster_uuid)
        if states_in:
            query = query.where(models.Operation.state.in_(states_in))
        return list(session.scalars(query.order_by(
            models.Operation.created_at)))
