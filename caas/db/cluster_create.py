"""A cluster create's rows in one statement (PostgreSQL).

``caas.db.api.create_cluster`` writes a new cluster, its nodegroups, its
CAs and its create operation in one transaction; on PostgreSQL that
transaction is one autocommitted statement of data-modifying ``WITH``
clauses, whose commit runs the quota check (a deferred trigger, migration
0004c): one round trip where there were four (``BEGIN``, the statement,
the quota's count, ``COMMIT``). The statement is prepared on each
connection at its first use there.
"""

import itertools
import re
import weakref

import sqlalchemy as sa
from sqlalchemy import orm

from caas.common import lru
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models


# table -> [(column key, scalar default or None, callable default or
# None)], in the table's order: read once, not per column per create.
_DEFAULTS = {}


def _defaults(table):
    found = _DEFAULTS.get(table)
    if found is None:
        found = []
        for column in table.c:
            default = column.default
            found.append((
                column.key,
                default.arg if default is not None and default.is_scalar
                else None,
                default.arg if default is not None and default.is_callable
                else None))
        _DEFAULTS[table] = found
    return found


def _with_defaults(table, row):
    """A new row's values with the columns' Python-side defaults filled
    in (SQLAlchemy fills in none in a WITH clause's INSERT)."""
    out = {}
    for key, scalar, make in _defaults(table):
        if key in row:
            out[key] = row[key]
        elif scalar is not None:
            out[key] = scalar
        elif make is not None:
            out[key] = make(None)
    return out


def _insert_clause(table, prefix, columns, after):
    """``INSERT INTO table`` of one row whose values are the parameters
    ``<prefix>_<column>``, as a WITH clause named ``prefix`` that runs
    after the WITH clause ``after``: it selects its row from the row that
    one returned. PostgreSQL runs unrelated WITH clauses in no set order,
    and the rows' ids must follow the order of the lists (a cluster's
    nodegroups and CAs are listed by id)."""
    return (sa.insert(table)
            .from_select(list(columns), sa.select(*[
                sa.cast(sa.bindparam('%s_%s' % (prefix, key),
                                     type_=table.c[key].type),
                        table.c[key].type)
                for key in columns]).select_from(after),
                include_defaults=False)
            .returning(table.c.id).cte(prefix))


def _create_statement(shape):
    """The create's statement for ``shape``: (columns of each row, quota
    setting or not)."""
    cluster_columns, group_columns, ca_columns, op_columns, quota = shape
    table = models.Cluster.__table__
    new = sa.insert(table).values({
        key: sa.bindparam('c_' + key, type_=table.c[key].type)
        for key in cluster_columns}).returning(*table.c).cte('c')
    last = new
    for i, columns in enumerate(group_columns):
        last = _insert_clause(models.NodeGroup.__table__, 'ng%d' % i,
                              columns, last)
    for i, columns in enumerate(ca_columns):
        last = _insert_clause(models.ClusterCA.__table__, 'ca%d' % i,
                              columns, last)
    last = _insert_clause(models.Operation.__table__, 'op', op_columns,
                          last)
    columns = [new]
    if quota:
        # Transaction-local: read by the quota trigger at COMMIT.
        columns.append(sa.func.set_config(
            sa.bindparam('quota_setting', type_=sa.Text),
            sa.bindparam('quota_value', type_=sa.Text),
            sa.true()).label('quota_set'))
    return sa.select(*columns).add_cte(last)


# engine -> whether its database has the quota trigger (looked up once).
_QUOTA_TRIGGER = weakref.WeakKeyDictionary()
_HAS_QUOTA_TRIGGER = sa.text(
    "SELECT count(*) FROM pg_trigger WHERE tgname = "
    "'clusters_capped_by_quota' AND tgrelid = 'clusters'::regclass")


# (shape, dialect name) -> _Compiled. Shapes are few in use (the CA
# types of a COE, the default nodegroups, the optional fields clients
# send), but which optional fields a request carries is the client's
# choice: the statements kept are bounded.
MAX_SHAPES = 64
_COMPILED = lru.LRU(MAX_SHAPES)
# Statements prepared per connection at most (each holds memory in its
# PostgreSQL backend); beyond, a shape's statement is sent as it is.
MAX_PREPARED = 16
_PREPARED_KEY = 'caas.cluster_create.prepared'
_PARAMETER = re.compile(r'%\((\w+)\)s')
_names = itertools.count(1)


class _Compiled:
    """A shape's statement, as the driver's SQL (``sql``, with the
    parameters whose type converts them: JSON), and as a prepared
    statement: ``prepare`` (``PREPARE name AS <sql with $n>; ``) and
    ``execute`` (``EXECUTE name(...)``). PostgreSQL plans the create's
    seven-part statement for about as long as it runs it (measured: 0.78
    ms of its CPU per create sent as text, 0.47 ms prepared)."""

    def __init__(self, sql, processors):
        self.sql = sql
        self.processors = processors
        self.name = 'caas_cluster_create_%d' % next(_names)
        order = []
        for name in _PARAMETER.findall(sql):
            if name not in order:
                order.append(name)
        self.prepare = 'PREPARE %s AS %s; ' % (self.name, _PARAMETER.sub(
            lambda m: '$%d' % (order.index(m.group(1)) + 1), sql))
        self.execute = 'EXECUTE %s(%s)' % (self.name, ', '.join(
            '%%(%s)s' % name for name in order))


def _compiled(shape, dialect):
    """The create's statement compiled for ``dialect`` once (a
    :class:`_Compiled`): run as the driver's SQL, a create skips
    SQLAlchemy's cache key and its parameter processing, which cost more
    than the driver's own work."""
    key = (shape, dialect.name)
    found = _COMPILED.get(key)
    if found is None:
        compiled = _create_statement(shape).compile(dialect=dialect)
        processors = []
        for name, param in compiled.binds.items():
            process = param.type.dialect_impl(dialect).bind_processor(
                dialect)
            if process is not None:
                processors.append((name, process))
        found = _Compiled(compiled.string, processors)
        _COMPILED.put(key, found)
    return found


def _run(conn, statement, params):
    """The statement's row, in one round trip: ``EXECUTE`` where the
    connection prepared it, else ``PREPARE`` and ``EXECUTE`` in one
    message (or the SQL itself beyond :data:`MAX_PREPARED`). A connection
    replaced after a failure starts with nothing prepared (SQLAlchemy
    empties its ``info``)."""
    prepared = conn.connection.info.setdefault(_PREPARED_KEY, set())
    if statement.name in prepared:
        return conn.exec_driver_sql(statement.execute, params).one()
    if len(prepared) >= MAX_PREPARED:
        return conn.exec_driver_sql(statement.sql, params).one()
    try:
        row = conn.exec_driver_sql(statement.prepare + statement.execute,
                                   params).one()
    except sa.exc.DBAPIError as exc:
        # Prepared by a message whose EXECUTE failed (a create refused at
        # its quota): the connection has it.
        if getattr(exc.orig, 'pgcode', None) != '42P05':
            raise
        prepared.add(statement.name)
        return conn.exec_driver_sql(statement.execute, params).one()
    prepared.add(statement.name)
    return row


def checks_at_commit(bind, quota_check):
    """Whether ``quota_check`` (as ``caas.db.api.create_cluster`` takes it)
    can be left to the quota trigger of ``bind``'s database: :func:`insert`
    takes the create then. A database not migrated to 0004c yet has no
    trigger: its creates keep the check in their transaction rather than
    go unchecked."""
    if quota_check is None:
        return True
    if not hasattr(quota_check, 'trigger_setting'):
        return False
    found = _QUOTA_TRIGGER.get(bind)
    if found is None:
        with bind.connect() as conn:
            found = bool(conn.execute(_HAS_QUOTA_TRIGGER).scalar())
        _QUOTA_TRIGGER[bind] = found
    return found


def insert(values, nodegroups, cas, operation, quota_check):
    """A create's rows in one autocommitted statement (PostgreSQL):
    data-modifying WITH clauses insert the cluster, its nodegroups, its
    CAs and its operation. Each INSERT selects its row from the previous
    one's, so they run in the order of the lists; the foreign keys are
    checked at the statement's end, when every row is in. The statement
    also hands the quota trigger (migration 0004c) its default limit; the
    trigger takes the project's quota lock and counts when the statement's
    implicit transaction commits, inside the server: the lock is held for
    no round trip, and the create is one round trip (no BEGIN, no COMMIT)
    where there were four. The statement is built and compiled once per
    shape of its rows (building it cost more than running it), and
    prepared once per connection (:func:`_run`).

    :param values: the cluster's column values.
    :param nodegroups: the nodegroups' column values, in order.
    :param cas: the CAs' column values, in order.
    :param operation: the create operation's column values.
    :param quota_check: None, or one that :func:`checks_at_commit` leaves
        to the trigger (``caas.db.quotas.ClusterQuotaCheck``).
    :returns: the cluster, detached, as written.
    :raises: what ``quota_check.refusal`` makes of the trigger's error
        (QuotaExceeded, 403).
    """
    rows = [('c', _with_defaults(models.Cluster.__table__, values))]
    rows += [('ng%d' % i, _with_defaults(models.NodeGroup.__table__, ng))
             for i, ng in enumerate(nodegroups)]
    rows += [('ca%d' % i, _with_defaults(models.ClusterCA.__table__, ca))
             for i, ca in enumerate(cas)]
    rows.append(('op', _with_defaults(models.Operation.__table__,
                                      operation)))
    params = {'%s_%s' % (prefix, key): value
              for prefix, row in rows for key, value in row.items()}
    if quota_check is not None:
        params['quota_setting'], params['quota_value'] = \
            quota_check.trigger_setting()
    shape = (tuple(rows[0][1]),
             tuple(tuple(row) for prefix, row in rows if prefix[:2] == 'ng'),
             tuple(tuple(row) for prefix, row in rows if prefix[:2] == 'ca'),
             tuple(rows[-1][1]), quota_check is not None)
    bind = engine.get_autocommit_engine()
    statement = _compiled(shape, bind.dialect)
    for key, process in statement.processors:
        if key in params:
            params[key] = process(params[key])
    try:
        # Its own transaction: the trigger runs as it commits.
        with bind.connect() as conn:
            row = _run(conn, statement, params)
    except sa.exc.DBAPIError as exc:
        refused = (quota_check.refusal(exc.orig)
                   if quota_check is not None else None)
        if refused is not None:
            raise refused from None
        raise
    table = models.Cluster.__table__
    cluster = models.Cluster(**{c.key: row._mapping[c.key]
                                for c in table.c})
    orm.make_transient_to_detached(cluster)
    return cluster
