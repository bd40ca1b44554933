"""A cluster create's rows in one statement (PostgreSQL).

``caas.db.api.create_cluster`` writes a new cluster, its nodegroups, its
CAs if given (the API gives none: the create's conductor makes them) and
its create operation in one transaction; on PostgreSQL that
transaction is one autocommitted statement of data-modifying ``WITH``
clauses, whose commit runs the quota check (a deferred trigger, migration
0004c): one round trip where there were four (``BEGIN``, the statement,
the quota's count, ``COMMIT``). The statement is prepared on each
connection at its first use there.
"""

import collections
import datetime
import functools
import itertools
import json
import re
import weakref

import sqlalchemy as sa

from caas.common import lru
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models


#: A cluster row and an operation row as a create wrote them: every column,
#: as the ORM's row has them (read-only).
ClusterRow = collections.namedtuple(
    'ClusterRow', [c.key for c in models.Cluster.__table__.c])
OperationRow = collections.namedtuple(
    'OperationRow', [c.key for c in models.Operation.__table__.c])


@functools.cache
def _defaults(table):
    """[(column key, scalar default or None, callable default or None)] of
    ``table``, in its order: read once, not per column per create."""
    found = []
    for column in table.c:
        default = column.default
        found.append((
            column.key,
            default.arg if default is not None and default.is_scalar
            else None,
            default.arg if default is not None and default.is_callable
            else None))
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


@functools.cache
def _kinds(table):
    """(names of the DateTime columns, names of the JSON columns) of
    ``table``."""
    return (frozenset(c.key for c in table.c
                      if isinstance(c.type, sa.DateTime)),
            frozenset(c.key for c in table.c if isinstance(c.type, sa.JSON)))


def _as_utc(value):
    # What PostgreSQL would store of an aware time sent to a column
    # without a time zone by a session in UTC.
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value.isoformat()


def encode(table, row):
    """A new row of ``table`` as the one JSON text its INSERT reads
    (:func:`_create_sql`): times in ISO 8601, the rest as
    ``json.dumps`` writes it, which is also how SQLAlchemy's ``JSON``
    type writes a JSON column's value (the statement keeps that value's
    text as it is here, key order and spacing included)."""
    times, _json = _kinds(table)
    if not times.isdisjoint(row):
        row = dict(row)
        for key in times.intersection(row):
            if row[key] is not None:
                row[key] = _as_utc(row[key])
    return json.dumps(row)


def _insert_clause(preparer, table, prefix, columns, after):
    """``INSERT INTO table`` of one row whose values are the JSON object of
    the parameter ``prefix`` (:func:`encode`), as a WITH clause named
    ``prefix`` that runs after the WITH clause ``after`` (or first, for
    None): it selects its row from the row that one returned. PostgreSQL
    runs unrelated WITH clauses in no set order, and the rows' ids must
    follow the order of the lists (a cluster's nodegroups and CAs are
    listed by id). ``json_populate_record`` converts each value with its
    column type's input function; a JSON column takes the value's text as
    it is (``->``), so a JSON null stays a JSON null, as SQLAlchemy
    writes None there."""
    # ``columns`` are the table's own (``_with_defaults`` keeps no other
    # key): no text of a request reaches the statement's SQL.
    _times, json_columns = _kinds(table)
    name = preparer.format_table(table)
    values = ', '.join(
        "p.j -> '%s'" % key if key in json_columns
        else 'r.%s' % preparer.quote(key) for key in columns)
    source = '' if after is None else after + ', '
    return (
        '%s AS (INSERT INTO %s (%s) SELECT %s FROM %s(SELECT %%(%s)s::json '
        'AS j) AS p, json_populate_record(NULL::%s, p.j) AS r RETURNING '
        '%s.id)' % (prefix, name, ', '.join(preparer.quote(key)
                                              for key in columns),
                    values, source, prefix, name, name))


def _create_sql(shape, dialect):
    """The create's statement for ``shape`` (columns of each row, quota
    setting or not), as the driver's SQL: one parameter per row (its JSON
    text, named as its WITH clause: ``c``, ``ng<i>``, ``ca<i>``, ``op``),
    and the quota trigger's setting."""
    cluster_columns, group_columns, ca_columns, op_columns, quota = shape
    preparer = dialect.identifier_preparer
    clauses = [_insert_clause(preparer, models.Cluster.__table__, 'c',
                              cluster_columns, None)]
    last = 'c'
    for kind, table, shapes in (
            ('ng', models.NodeGroup.__table__, group_columns),
            ('ca', models.ClusterCA.__table__, ca_columns)):
        for i, columns in enumerate(shapes):
            prefix = '%s%d' % (kind, i)
            clauses.append(_insert_clause(preparer, table, prefix, columns,
                                          last))
            last = prefix
    clauses.append(_insert_clause(preparer, models.Operation.__table__, 'op',
                                  op_columns, last))
    # Transaction-local: read by the quota trigger at COMMIT.
    quota_set = (', set_config(%(quota_setting)s::text, '
                 '%(quota_value)s::text, true) AS quota_set' if quota else '')
    return 'WITH %s SELECT c.id%s FROM c' % (', '.join(clauses), quota_set)


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
    """A shape's statement, as the driver's SQL (``sql``), and as a
    prepared statement: ``prepare`` (``PREPARE name AS <sql with $n>; ``)
    and ``execute`` (``EXECUTE name(...)``). PostgreSQL plans the create's
    seven-part statement for about as long as it runs it (measured: 0.78
    ms of its CPU per create sent as text, 0.47 ms prepared)."""

    def __init__(self, sql):
        self.sql = sql
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
    """The create's statement for ``dialect``, built once per shape (a
    :class:`_Compiled`). Its parameters are a JSON text per row
    (:func:`encode`), not a parameter per column: the driver quotes eight
    strings instead of ~80 values, and no bind processor runs per value."""
    key = (shape, dialect.name)
    found = _COMPILED.get(key)
    if found is None:
        found = _Compiled(_create_sql(shape, dialect))
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
    :returns: (cluster, operation) as written: :data:`ClusterRow`,
        :data:`OperationRow` (the values given, the tables' defaults and
        the cluster's id; no ORM object is made to be returned).
    :raises: what ``quota_check.refusal`` makes of the trigger's error
        (QuotaExceeded, 403).
    """
    tables = [('c', models.Cluster.__table__, values)]
    tables += [('ng%d' % i, models.NodeGroup.__table__, ng)
               for i, ng in enumerate(nodegroups)]
    tables += [('ca%d' % i, models.ClusterCA.__table__, ca)
               for i, ca in enumerate(cas)]
    tables.append(('op', models.Operation.__table__, operation))
    rows = [(prefix, table, _with_defaults(table, row))
            for prefix, table, row in tables]
    params = {prefix: encode(table, row) for prefix, table, row in rows}
    if quota_check is not None:
        params['quota_setting'], params['quota_value'] = \
            quota_check.trigger_setting()
    shape = (tuple(rows[0][2]),
             tuple(tuple(row) for prefix, _t, row in rows
                   if prefix[:2] == 'ng'),
             tuple(tuple(row) for prefix, _t, row in rows
                   if prefix[:2] == 'ca'),
             tuple(rows[-1][2]), quota_check is not None)
    bind = engine.get_autocommit_engine()
    statement = _compiled(shape, bind.dialect)
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
    cluster = rows[0][2]
    cluster['id'] = row[0]
    operation = rows[-1][2]
    return (ClusterRow._make([cluster.get(key) for key in ClusterRow._fields]),
            OperationRow._make([operation.get(key)
                                for key in OperationRow._fields]))
