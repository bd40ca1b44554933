"""SQL statements per request do not grow with the number of clusters."""

import contextlib

from sqlalchemy import event

from caas.db.sqlalchemy import engine
from tests.unit.api.conftest import PROJECT_A


@contextlib.contextmanager
def count_statements():
    statements = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith(('PRAGMA', 'BEGIN')):
            statements.append(statement)
    # Reads and writes use separate engines on SQLite.
    engines = {engine.get_engine(), engine.get_engine(readonly=True)}
    for eng in engines:
        event.listen(eng, 'before_cursor_execute', before)
    try:
        yield statements
    finally:
        for eng in engines:
            event.remove(eng, 'before_cursor_execute', before)


def test_show_cluster_is_a_constant_few_statements(api, make_cluster):
    uuid = make_cluster()
    with count_statements() as stmts:
        assert api.get('/v1/clusters/%s' % uuid,
                       headers=PROJECT_A).status_code == 200
    assert 1 <= len(stmts) <= 2, stmts


def test_list_does_not_grow_with_clusters(api, make_cluster):
    make_cluster('c0')
    with count_statements() as one:
        api.get('/v1/clusters/detail', headers=PROJECT_A)
    for i in range(1, 8):
        make_cluster('c%d' % i)
    with count_statements() as many:
        body = api.get('/v1/clusters/detail', headers=PROJECT_A).json_body
    assert len(body['clusters']) == 8
    assert len(many) == len(one) == 1
