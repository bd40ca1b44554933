"""The template change counter (migration 0004b): every committed write of
``cluster_templates`` moves it, a rolled-back one does not, and the
migration goes down and up again (SQLite and PostgreSQL)."""

from alembic import command
import pytest
import sqlalchemy as sa

from caas.db import api as db_api
from caas.db import migration
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models


@pytest.fixture(params=['sqlite', 'postgresql'])
def database(request):
    name = 'db' if request.param == 'sqlite' else 'pg_db'
    return request.getfixturevalue(name)


def _counter():
    with engine.session_scope(readonly=True) as session:
        return session.scalar(sa.select(models.ClusterTemplateChange.counter))


def _template(name='t'):
    return db_api.create_cluster_template({
        'name': name, 'coe': 'kubernetes', 'image_id': 'img',
        'project_id': 'p'})


def test_every_committed_write_moves_the_counter(database):
    seen = [_counter()]
    row = _template()
    seen.append(_counter())
    db_api.update_cluster_template(row.uuid, {'name': 'u'})
    seen.append(_counter())
    db_api.destroy_cluster_template(row.uuid)
    seen.append(_counter())
    assert all(a < b for a, b in zip(seen, seen[1:])), seen


def test_a_rolled_back_write_leaves_it(database):
    _template()
    before = _counter()
    with pytest.raises(RuntimeError):
        with engine.session_scope() as session:
            session.execute(sa.update(models.ClusterTemplate).values(
                name='x'))
            raise RuntimeError('abandoned')
    assert _counter() == before


def test_the_migration_goes_down_and_up(database):
    def run(step, revision):
        with engine.get_engine().begin() as connection:
            step(migration._config(connection), revision)
    _template('kept')
    run(command.downgrade, '0004a')
    assert 'cluster_template_changes' not in sa.inspect(
        engine.get_engine()).get_table_names()
    # Writes work without the triggers' table.
    with engine.session_scope() as session:
        session.execute(sa.update(models.ClusterTemplate).values(name='d'))
    run(command.upgrade, '0004b')
    before = _counter()
    _template('again')
    assert _counter() == before + 1
