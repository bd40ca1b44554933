"""A cluster create's rows in one statement (PostgreSQL).

``caas.db.api.create_cluster`` writes a new cluster, its nodegroups, its
CAs and its create operation in one transaction; on PostgreSQL that
transaction is one statement of data-modifying ``WITH`` clauses (plus the
quota's count and the commit): one round trip where there were six.
"""

import sqlalchemy as sa
from sqlalchemy import orm

from caas.db.sqlalchemy import models


def _with_defaults(table, row):
    """A new row's values with the columns' Python-side defaults filled
    in (SQLAlchemy fills in none in a WITH clause's INSERT)."""
    out = {}
    for column in table.c:
        if column.key in row:
            out[column.key] = row[column.key]
        elif column.default is not None and column.default.is_scalar:
            out[column.key] = column.default.arg
        elif column.default is not None and column.default.is_callable:
            out[column.key] = column.default.arg(None)
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


# (columns of each row, quota lock or not) -> the create's statement.
_CREATE_STATEMENTS = {}


def _create_statement(shape, lock_statement):
    statement = _CREATE_STATEMENTS.get(shape)
    if statement is not None:
        return statement
    cluster_columns, group_columns, ca_columns, op_columns, _lock = shape
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
    if lock_statement is not None:
        lock = lock_statement.returning(sa.literal(1)).cte('quota_lock')
        columns.append(sa.select(sa.func.count()).select_from(lock)
                       .scalar_subquery().label('quota_locked'))
    statement = sa.select(*columns).add_cte(last)
    # Shapes are few (the CA types of a COE, the default nodegroups).
    _CREATE_STATEMENTS[shape] = statement
    return statement


def insert(session, values, nodegroups, cas, operation, quota_check):
    """A create's rows in one statement (PostgreSQL): data-modifying WITH
    clauses insert the cluster, its nodegroups, its CAs and its operation,
    and, when the quota check can say how, take the project's quota lock
    row. Each INSERT selects its row from the previous one's, so they run
    in the order of the lists; the foreign keys are checked at the
    statement's end, when every row is in. One round trip where there
    were six; the quota check then
    counts in a statement of its own, whose snapshot is taken after the
    lock was granted (one taken within the locking statement could miss a
    create that committed while this one waited for the lock). The
    statement is built once per shape of its rows: building it cost more
    than running it.

    :param values: the cluster's column values.
    :param nodegroups: the nodegroups' column values, in order.
    :param cas: the CAs' column values, in order.
    :param operation: the create operation's column values.
    :param quota_check: as ``caas.db.api.create_cluster`` takes it; its
        lock goes into the statement if it has ``lock_statement``.
    :returns: the cluster, detached, as written.
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
    lock_statement = getattr(quota_check, 'lock_statement', None)
    if lock_statement is not None:
        params.update(quota_check.lock_params(values['project_id']))
    shape = (tuple(rows[0][1]),
             tuple(tuple(row) for prefix, row in rows if prefix[:2] == 'ng'),
             tuple(tuple(row) for prefix, row in rows if prefix[:2] == 'ca'),
             tuple(rows[-1][1]), lock_statement is not None)
    row = session.execute(_create_statement(shape, lock_statement),
                          params).one()
    table = models.Cluster.__table__
    cluster = models.Cluster(**{c.key: row._mapping[c.key]
                                for c in table.c})
    orm.make_transient_to_detached(cluster)
    if lock_statement is not None:
        quota_check.after_lock(session, values['project_id'],
                               locked=bool(row.quota_locked))
    elif quota_check is not None:
        quota_check(session, values['project_id'])
    return cluster
