"""One change counter for cluster templates, bumped by every committed
write of ``cluster_templates`` (SQLite and PostgreSQL), so a remembered
template list or show can tell it is current.

The counter is one row (templates are few and rarely written; public
templates are in every project's list, so one counter for all is exact
and costs nothing). Triggers bump it in the writing transaction, whoever
writes (API, ``caas-manage``, another process, a script with the
``sqlite3`` shell): the counter and the rows become visible together.

- SQLite: a row trigger per kind of write (SQLite has no statement
  triggers; a ``DELETE`` without ``WHERE`` fires them too: SQLite does not
  truncate a table that has triggers).
- PostgreSQL: one statement trigger for INSERT, UPDATE, DELETE and
  TRUNCATE; the counter row stays locked until the writer commits, so two
  template writers bump it one after the other.

Other databases get the table only: nothing reads it there (their lists
are not remembered).

Revision ID: 0004b
Revises: 0004a
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0004b'
down_revision = '0004a'
branch_labels = None
depends_on = None

_BUMP = 'UPDATE cluster_template_changes SET counter = counter + 1'
_SQLITE_KINDS = ('insert', 'update', 'delete')

_PG = """
CREATE FUNCTION caas_cluster_template_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    %s;
    RETURN NULL;
END $$;

CREATE TRIGGER cluster_templates_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cluster_templates
    FOR EACH STATEMENT EXECUTE FUNCTION caas_cluster_template_changed();
""" % _BUMP


def upgrade():
    op.create_table(
        'cluster_template_changes',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=False),
        sa.Column('counter', sa.BigInteger, nullable=False),
    )
    op.execute('INSERT INTO cluster_template_changes (id, counter) '
               'VALUES (1, 1)')
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for kind in _SQLITE_KINDS:
            op.execute('CREATE TRIGGER cluster_templates_%s AFTER %s ON '
                       'cluster_templates BEGIN %s; END' % (
                           kind, kind.upper(), _BUMP))
    elif dialect == 'postgresql':
        op.execute(_PG)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for kind in _SQLITE_KINDS:
            op.execute('DROP TRIGGER cluster_templates_%s' % kind)
    elif dialect == 'postgresql':
        op.execute('DROP TRIGGER cluster_templates_changed ON '
                   'cluster_templates')
        op.execute('DROP FUNCTION caas_cluster_template_changed()')
    op.drop_table('cluster_template_changes')
