"""A cluster create writes the same rows whether the database returns
inserted rows (PostgreSQL, SQLite, MariaDB) or not (MySQL)."""

import pytest

from caas.common import states
from caas.db import api as db_api
from caas.db import certificates


def _create():
    tmpl = db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': 'ubuntu'})
    return db_api.create_cluster(
        {'name': 'c', 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': 2, 'master_count': 1, 'labels': {'a': 'b'}},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1},
         {'name': 'default-worker', 'role': 'worker', 'node_count': 2}],
        timeout_minutes=60, request_id='req-1',
        cas=[{'ca_type': 'kubernetes', 'cert_pem': 'c', 'encrypted_key': 'k'}])


@pytest.mark.parametrize('returning', [True, False])
def test_create_writes_cluster_groups_cas_and_operation(db, monkeypatch,
                                                        returning):
    monkeypatch.setattr(db.dialect, 'insert_returning', returning)
    cluster, op = _create()
    # What the caller gets is the row as written.
    assert cluster.id and cluster.created_at and cluster.labels == {'a': 'b'}
    assert cluster.status == states.CREATE_IN_PROGRESS
    assert cluster.operation_id == op.id and op.request_id == 'req-1'
    row = db_api.get_cluster(cluster.uuid, scope='p1')
    assert (row.id, row.node_count, row.operation_id) == (
        cluster.id, 2, op.id)
    groups = db_api.list_nodegroups(cluster.uuid)
    assert [(g.role, g.node_count, g.project_id, g.labels, g.status)
            for g in groups] == [
        ('master', 1, 'p1', {}, states.CREATE_IN_PROGRESS),
        ('worker', 2, 'p1', {}, states.CREATE_IN_PROGRESS)]
    stored = db_api.get_operation(op.id)
    assert (stored.kind, stored.state, stored.epoch, stored.claims,
            stored.params, stored.cluster_id) == (
        states.OP_CLUSTER_CREATE, states.OP_PENDING, 0, 0, {}, cluster.uuid)
    assert certificates.list_ca_types(cluster.uuid) == ['kubernetes']


def _written(cluster_uuid):
    """Every column of the rows a create wrote, minus the generated ones
    (ids, UUIDs, times)."""
    import sqlalchemy as sa
    from caas.db.sqlalchemy import models
    from caas.db.sqlalchemy.engine import session_scope
    # (each _create makes a template of its own)
    generated = {'id', 'uuid', 'cluster_uuid', 'cluster_id', 'created_at',
                 'updated_at', 'deadline', 'operation_id', 'cert_pem',
                 'encrypted_key', 'cluster_template_id'}

    def rows(model, column):
        table = model.__table__
        with session_scope() as session:
            return [{k: v for k, v in row._mapping.items()
                     if k not in generated}
                    for row in session.execute(sa.select(table).where(
                        table.c[column] == cluster_uuid).order_by(table.c[
                            'id']))]
    return (rows(models.Cluster, 'uuid'), rows(models.NodeGroup, 'cluster_id'),
            rows(models.ClusterCA, 'cluster_uuid'),
            rows(models.Operation, 'cluster_id'))


def test_one_statement_create_writes_the_rows_the_orm_writes(
        pg_db, monkeypatch):
    """PostgreSQL's one-statement create (data-modifying WITH clauses)
    against the ORM's bulk inserts, on the same database: the same values
    and the rows in the same order (nodegroups and CAs are listed by id;
    PostgreSQL ran unchained WITH clauses last to first)."""
    from caas.db.sqlalchemy import engine
    assert engine.get_engine().dialect.name in db_api.ONE_STATEMENT_CREATE
    one, one_op = _create()
    monkeypatch.setattr(db_api, 'ONE_STATEMENT_CREATE', ())
    orm, orm_op = _create()
    assert _written(one.uuid) == _written(orm.uuid)
    cluster, groups, cas, ops = _written(one.uuid)
    assert len(groups) == 2 and len(cas) == 1 and len(ops) == 1
    # The cluster returned is the row written, detached, as the ORM's is.
    for returned in (one, orm):
        row = db_api.get_cluster(returned.uuid, scope='p1')
        assert {c: getattr(returned, c) for c in ('id', 'created_at',
                                                   'labels', 'status')} == {
            c: getattr(row, c) for c in ('id', 'created_at', 'labels',
                                         'status')}
    assert one_op.id == db_api.get_cluster(one.uuid,
                                           scope='p1').operation_id


def test_a_none_json_value_is_written_as_the_orm_writes_it(pg_db,
                                                           monkeypatch):
    """The one-statement create converts its JSON parameters itself (it
    runs as the driver's SQL): None included, as SQLAlchemy would."""
    def create():
        tmpl = db_api.create_cluster_template({
            'name': 't', 'coe': 'kubernetes', 'image_id': 'i',
            'project_id': 'p1', 'server_type': 'vm'})
        return db_api.create_cluster(
            {'name': 'c', 'project_id': 'p1',
             'cluster_template_id': tmpl.uuid, 'node_count': 1,
             'master_count': 1, 'labels': {'k': ['v', 1, None]},
             'health_status_reason': None},
            [{'name': 'default-worker', 'role': 'worker', 'node_count': 1,
              'node_labels': None, 'node_taints': [{'key': 'k'}]}],
            timeout_minutes=5)[0]
    one = create()
    monkeypatch.setattr(db_api, 'ONE_STATEMENT_CREATE', ())
    orm = create()
    assert _written(one.uuid) == _written(orm.uuid)
    # JSON null or SQL NULL: the same on both paths.
    import sqlalchemy as sa
    from caas.db.sqlalchemy import engine
    with engine.get_engine().connect() as conn:
        nulls = conn.execute(sa.text(
            "SELECT c.health_status_reason IS NULL, n.node_labels IS NULL "
            "FROM clusters c JOIN nodegroups n ON n.cluster_id = c.uuid "
            "WHERE c.uuid IN (:one, :orm) ORDER BY c.id"),
            {'one': one.uuid, 'orm': orm.uuid}).all()
    assert nulls[0] == nulls[1], nulls
    cluster, groups, _cas, _ops = _written(one.uuid)
    assert cluster[0]['labels'] == {'k': ['v', 1, None]}
    assert groups[0]['node_taints'] == [{'key': 'k'}]


def test_the_create_statements_kept_are_bounded():
    """Which optional fields a create carries is the client's choice, and
    each set of them is a statement of its own: no more than
    ``MAX_SHAPES`` are kept, the most recently used."""
    import itertools

    from sqlalchemy.dialects.postgresql import psycopg2

    from caas.db import cluster_create
    from caas.db.sqlalchemy import models
    cluster_create._COMPILED.clear()
    dialect = psycopg2.dialect()
    optional = ['name', 'keypair', 'discovery_url', 'docker_volume_size',
                'fixed_network', 'fixed_subnet', 'floating_ip_enabled',
                'master_lb_enabled']
    op = ('id', 'cluster_id', 'kind')
    shapes = [(('uuid', 'project_id') + subset, (), (), op, True)
              for n in range(len(optional) + 1)
              for subset in itertools.combinations(optional, n)]
    assert len(shapes) > 2 * cluster_create.MAX_SHAPES
    table = models.Cluster.__table__
    for shape in shapes:
        sql = cluster_create._compiled(shape, dialect).sql
        assert all('r.%s' % c in sql for c in shape[0])
        assert all(c in table.c for c in shape[0])
    assert len(cluster_create._COMPILED) == cluster_create.MAX_SHAPES
    # The latest are the ones kept.
    assert cluster_create._COMPILED.get((shapes[-1], 'postgresql'))
    assert cluster_create._COMPILED.get((shapes[0], 'postgresql')) is None


# What a driver or a statement could mistake for syntax.
QUOTED = 'it\'s 100% "x" \\ %(c)s %s $1 \n é'

def test_json_columns_keep_the_text_the_orm_writes(pg_db, monkeypatch):
    """A JSON column stores its text as it is (PostgreSQL's ``json``), and
    the list's body is built from that text by the database: the
    one-statement create writes the very text SQLAlchemy would (key order,
    spacing, non-ASCII escapes), not only an equal value."""
    import sqlalchemy as sa
    from caas.db.sqlalchemy import engine
    labels = {'z': 'é ☃', 'a': [1, 2.5, None, True], 'm': {'y': '', 'b': 1},
              'q': QUOTED}

    def create():
        tmpl = db_api.create_cluster_template({
            'name': 't', 'coe': 'kubernetes', 'image_id': 'i',
            'project_id': 'p1', 'server_type': 'vm'})
        return db_api.create_cluster(
            {'name': QUOTED, 'project_id': 'p1',
             'cluster_template_id': tmpl.uuid, 'node_count': 1,
             'master_count': 1, 'labels': labels},
            [{'name': 'default-worker', 'role': 'worker', 'node_count': 1,
              'labels': labels}],
            timeout_minutes=5, op_params={'trust': 'é', 'n': [1]})[0]
    one = create()
    monkeypatch.setattr(db_api, 'ONE_STATEMENT_CREATE', ())
    orm = create()
    texts = []
    with engine.get_engine().connect() as conn:
        for uuid in (one.uuid, orm.uuid):
            texts.append(conn.execute(sa.text(
                "SELECT c.labels::text, n.labels::text, o.params::text, "
                "c.health_status_reason::text, c.created_at, o.deadline "
                "- o.created_at FROM clusters c JOIN nodegroups n ON "
                "n.cluster_id = c.uuid JOIN operations o ON o.cluster_id = "
                "c.uuid WHERE c.uuid = :uuid"), {'uuid': uuid}).one())
    assert texts[0][:4] == texts[1][:4]
    assert texts[0][0].startswith(
        '{"z": "\\u00e9 \\u2603", "a": [1, 2.5, null, true], "m": {"y": "", '
        '"b": 1}, "q": ')
    # Quotes, backslashes, %, $n and newlines in a text column too.
    assert _written(one.uuid) == _written(orm.uuid)
    assert db_api.get_cluster(one.uuid, scope='p1').name == QUOTED
    # Times to the microsecond, as given.
    assert texts[0][4] == one.created_at and texts[0][5] == texts[1][5]


def test_the_create_returns_rows_not_orm_objects(pg_db):
    """On PostgreSQL the create's caller gets the values it wrote back as
    plain rows: no ORM object is built to be returned."""
    import sqlalchemy as sa
    from sqlalchemy import orm

    from caas.db import cluster_create
    from caas.db.sqlalchemy import models
    built = []

    def count(target, *args):
        built.append(type(target).__name__)
    orm_classes = (models.Cluster, models.Operation, models.NodeGroup,
                   models.ClusterCA)
    for cls in orm_classes:
        sa.event.listen(cls, 'init', count)
    try:
        tmpl = db_api.create_cluster_template({
            'name': 't', 'coe': 'kubernetes', 'image_id': 'i',
            'project_id': 'p1', 'server_type': 'vm'})
        built.clear()
        cluster, op = _create_with(tmpl)
    finally:
        for cls in orm_classes:
            sa.event.remove(cls, 'init', count)
    assert built == []
    assert isinstance(cluster, cluster_create.ClusterRow)
    assert isinstance(op, cluster_create.OperationRow)
    assert not isinstance(cluster, orm.DeclarativeBase)
    stored = db_api.get_cluster(cluster.uuid, scope='p1')
    for column in models.Cluster.__table__.c:
        assert getattr(cluster, column.key) == getattr(stored, column.key), \
            column.key
    stored_op = db_api.get_operation(op.id)
    for column in models.Operation.__table__.c:
        assert getattr(op, column.key) == getattr(stored_op, column.key), \
            column.key


def _create_with(tmpl):
    return db_api.create_cluster(
        {'name': 'c', 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': 2, 'master_count': 1, 'labels': {'a': 'b'}},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1}],
        timeout_minutes=60, request_id='req-1',
        cas=[{'ca_type': 'kubernetes', 'cert_pem': 'c', 'encrypted_key': 'k'}])


def test_only_the_tables_columns_reach_the_statement(pg_db):
    """A key that is not a column (a request's unknown field that slipped
    through) is not written and never becomes SQL text."""
    from caas.db import cluster_create
    tmpl = db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'i',
        'project_id': 'p1', 'server_type': 'vm'})
    cluster_create._COMPILED.clear()
    evil = "x') , (SELECT pg_sleep(0)) --"
    cluster, _op = db_api.create_cluster(
        {'name': 'c', 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': 1, 'master_count': 1, evil: 1},
        [{'name': 'w', 'role': 'worker', 'node_count': 1, evil: 2}],
        timeout_minutes=5)
    assert db_api.get_cluster(cluster.uuid, scope='p1').name == 'c'
    (statement,) = [value for _key, value in
                    cluster_create._COMPILED._entries.items()]
    assert 'pg_sleep' not in statement.sql
