"""A change counter per project, bumped by every committed write of a
cluster (PostgreSQL), so a cached cluster list can tell it is current.

On PostgreSQL two triggers on ``clusters`` keep ``cluster_changes``: a row
trigger notes the project of each inserted, updated or deleted row in a
transaction-local setting (no lock, no write), and a deferred constraint
trigger, at COMMIT, adds one to the counter of each noted project in one
statement, in project order. So the counter and the rows become visible
together, whoever wrote them (API, conductors, ``caas-manage``, a script
inserting rows), at no extra statement on the wire; the counter rows are
locked only while the transaction commits, and always in the same order,
so two transactions writing clusters of several projects (the conductors'
health writes) cannot deadlock on them. A cluster without a project counts
under the empty string; a TRUNCATE of ``clusters`` bumps every project.

Other databases get the table only: nothing reads it there (the cached
list is PostgreSQL's, ``caas.db.cluster_pages``).

Revision ID: 0004a
Revises: 0003k
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0004a'
down_revision = '0003k'
branch_labels = None
depends_on = None

_NOTE = r"""
CREATE FUNCTION caas_cluster_noted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    noted text[] := coalesce(
        nullif(current_setting('caas.changed_projects', true), '')::text[],
        '{}');
    old_p text := CASE WHEN TG_OP <> 'INSERT'
                       THEN coalesce(OLD.project_id, '') END;
    new_p text := CASE WHEN TG_OP <> 'DELETE'
                       THEN coalesce(NEW.project_id, '') END;
BEGIN
    -- A project is noted once per transaction (a health pass writes
    -- hundreds of rows of a few projects).
    IF old_p IS NOT NULL AND NOT old_p = ANY(noted) THEN
        noted := noted || old_p;
    END IF;
    IF new_p IS NOT NULL AND NOT new_p = ANY(noted) THEN
        noted := noted || new_p;
    END IF;
    PERFORM set_config('caas.changed_projects', noted::text, true);
    RETURN NULL;
END $$;

CREATE FUNCTION caas_cluster_changes_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    noted text[] := nullif(
        current_setting('caas.changed_projects', true), '')::text[];
BEGIN
    -- Deferred: fires once per written row at COMMIT; the first firing
    -- bumps every noted project, the others find nothing left.
    IF noted IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('caas.changed_projects', '', true);
    INSERT INTO cluster_changes AS c (project_id, counter)
        SELECT p, 1 FROM (SELECT DISTINCT unnest(noted) AS p) AS d
        ORDER BY p
    ON CONFLICT (project_id) DO UPDATE SET counter = c.counter + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION caas_cluster_changes_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cluster_changes SET counter = counter + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER clusters_truncated AFTER TRUNCATE ON clusters
    FOR EACH STATEMENT EXECUTE FUNCTION caas_cluster_changes_truncated();

CREATE TRIGGER clusters_noted AFTER INSERT OR UPDATE OR DELETE ON clusters
    FOR EACH ROW EXECUTE FUNCTION caas_cluster_noted();

CREATE CONSTRAINT TRIGGER clusters_changes_bump
    AFTER INSERT OR UPDATE OR DELETE ON clusters
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION caas_cluster_changes_bump();
"""


def upgrade():
    op.create_table(
        'cluster_changes',
        sa.Column('project_id', sa.String(255), primary_key=True),
        sa.Column('counter', sa.BigInteger, nullable=False),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_NOTE)
        # Clusters already there count as one change of their project.
        op.execute("INSERT INTO cluster_changes (project_id, counter) "
                   "SELECT DISTINCT coalesce(project_id, ''), 1 "
                   "FROM clusters")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER clusters_truncated ON clusters')
        op.execute('DROP TRIGGER clusters_changes_bump ON clusters')
        op.execute('DROP TRIGGER clusters_noted ON clusters')
        op.execute('DROP FUNCTION caas_cluster_changes_truncated()')
        op.execute('DROP FUNCTION caas_cluster_changes_bump()')
        op.execute('DROP FUNCTION caas_cluster_noted()')
    op.drop_table('cluster_changes')
