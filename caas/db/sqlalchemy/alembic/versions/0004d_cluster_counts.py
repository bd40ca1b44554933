"""A project's cluster count kept on its ``quota_locks`` row
(``in_use``), so the quota trigger of 0004c reads one row at COMMIT
instead of counting the project's clusters: O(1) per create where it was
O(clusters of the project).

On PostgreSQL, whoever writes ``clusters`` (API, conductors, caas-manage,
a script):

1. two statement triggers (``clusters_counted_in``, ``_out``) note each
   statement's inserted and deleted clusters per project, from its
   transition tables, in a transaction-local setting
   (``caas.cluster_count_deltas``, a JSON object project -> delta): no
   lock, no write, once per statement whatever its number of rows;
   a row trigger does the same for an UPDATE that moves a cluster to
   another project (nothing in caas does: ``project_id`` is not
   updatable through the API and no conductor writes it; a script may);
2. at COMMIT, the first of the deferred triggers on ``clusters`` to fire
   (the quota check of 0004c for a create, the change counter of 0004a
   for any write) adds the noted deltas to the projects' ``quota_locks``
   rows in one ``INSERT ... ON CONFLICT DO UPDATE``, in project order,
   and only then bumps ``cluster_changes``: every transaction takes the
   ``quota_locks`` rows it needs before the ``cluster_changes`` rows, each
   set in project order, so a delete and a create of one project (or two
   writers of several projects) queue, never deadlock; the upsert adds to
   the newest committed count under the row's lock, so none is lost;
3. the quota check of a create reads its project's ``in_use`` (which now
   counts the new cluster) under that lock, in place of ``count(*)``.

A TRUNCATE of ``clusters`` sets every count to 0. Clusters without a
project are counted nowhere (no quota applies to them). The upgrade
first locks ``clusters`` against writes until it commits (writes under
way finish first, with the old triggers), creates the triggers, then
counts the clusters already there: no write falls between the count and
its triggers. The lock rows are the counts from then on: deleting one
while its project has clusters loses them (nothing in caas does).

SQLite and MySQL get the column only, always 0 (nothing reads it there):
their check stays a count in the create's transaction
(``caas.db.quotas.check_cluster_quota``), serialised by the same lock row.

Revision ID: 0004d
Revises: 0004c
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = '0004d'
down_revision = '0004c'
branch_labels = None
depends_on = None

_PG = r"""
CREATE FUNCTION caas_cluster_count_note(changed jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    noted jsonb := nullif(
        current_setting('caas.cluster_count_deltas', true), '')::jsonb;
BEGIN
    IF changed IS NULL THEN
        RETURN;
    END IF;
    IF noted IS NOT NULL THEN
        SELECT jsonb_object_agg(key, total) INTO changed FROM (
            SELECT key, sum(value::bigint) AS total FROM (
                SELECT * FROM jsonb_each_text(noted)
                UNION ALL SELECT * FROM jsonb_each_text(changed)) AS e
            GROUP BY key) AS s;
    END IF;
    PERFORM set_config('caas.cluster_count_deltas', changed::text, true);
END $$;

CREATE FUNCTION caas_clusters_counted_in() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM caas_cluster_count_note((
        SELECT jsonb_object_agg(project_id, n) FROM (
            SELECT project_id, count(*) AS n FROM inserted
            WHERE project_id IS NOT NULL GROUP BY project_id) AS s));
    RETURN NULL;
END $$;

CREATE FUNCTION caas_clusters_counted_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM caas_cluster_count_note((
        SELECT jsonb_object_agg(project_id, -n) FROM (
            SELECT project_id, count(*) AS n FROM deleted
            WHERE project_id IS NOT NULL GROUP BY project_id) AS s));
    RETURN NULL;
END $$;

CREATE FUNCTION caas_clusters_counted_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb := '{}';
BEGIN
    IF OLD.project_id IS NOT NULL THEN
        changed := changed || jsonb_build_object(OLD.project_id, -1);
    END IF;
    IF NEW.project_id IS NOT NULL THEN
        changed := changed || jsonb_build_object(NEW.project_id, 1);
    END IF;
    PERFORM caas_cluster_count_note(changed);
    RETURN NULL;
END $$;

CREATE FUNCTION caas_clusters_counted_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- What the transaction noted before is gone with the rows.
    PERFORM set_config('caas.cluster_count_deltas', '', true);
    UPDATE quota_locks SET in_use = 0
        WHERE resource = 'Cluster' AND in_use <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION caas_cluster_counts_apply() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    noted jsonb := nullif(
        current_setting('caas.cluster_count_deltas', true), '')::jsonb;
BEGIN
    IF noted IS NULL THEN
        RETURN;
    END IF;
    PERFORM set_config('caas.cluster_count_deltas', '', true);
    INSERT INTO quota_locks AS l (project_id, resource, locked_at, in_use)
        SELECT key, 'Cluster', now() AT TIME ZONE 'UTC', value::bigint
        FROM jsonb_each_text(noted) ORDER BY key
    ON CONFLICT (project_id, resource) DO UPDATE
        SET locked_at = excluded.locked_at,
            in_use = l.in_use + excluded.in_use;
END $$;

CREATE OR REPLACE FUNCTION caas_cluster_quota_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    default_limit text := nullif(
        current_setting('caas.cluster_quota_default', true), '');
    quota_limit integer;
    existing bigint;
    source text := 'project';
BEGIN
    -- Takes (and updates) the quota_locks rows of every project the
    -- transaction wrote clusters of, this create's among them.
    PERFORM caas_cluster_counts_apply();
    IF default_limit IS NULL OR NEW.project_id IS NULL THEN
        RETURN NULL;
    END IF;
    -- A new statement, a new snapshot: taken after the lock was granted.
    SELECT (SELECT q.hard_limit FROM quotas AS q
            WHERE q.project_id = NEW.project_id AND q.resource = 'Cluster'),
           (SELECT l.in_use FROM quota_locks AS l
            WHERE l.project_id = NEW.project_id
              AND l.resource = 'Cluster') - 1
        INTO quota_limit, existing;
    IF quota_limit IS NULL THEN
        quota_limit := default_limit::integer;
        source := 'default';
    END IF;
    IF existing >= quota_limit THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CQ001',
            MESSAGE = 'Cluster quota of project ' || NEW.project_id
                      || ' exceeded',
            DETAIL = json_build_object(
                'project_id', NEW.project_id, 'limit', quota_limit,
                'count', existing, 'source', source)::text;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION caas_cluster_changes_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    noted text[];
BEGIN
    -- The counts' quota_locks rows first, as the quota check takes them
    -- (a look at the setting here: no call for every row a health pass
    -- updates).
    IF current_setting('caas.cluster_count_deltas', true) <> '' THEN
        PERFORM caas_cluster_counts_apply();
    END IF;
    noted := nullif(current_setting('caas.changed_projects', true),
                    '')::text[];
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

CREATE TRIGGER clusters_counted_in AFTER INSERT ON clusters
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION caas_clusters_counted_in();

CREATE TRIGGER clusters_counted_out AFTER DELETE ON clusters
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION caas_clusters_counted_out();

CREATE TRIGGER clusters_counted_moved AFTER UPDATE OF project_id ON clusters
    FOR EACH ROW WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id)
    EXECUTE FUNCTION caas_clusters_counted_moved();

CREATE TRIGGER clusters_counted_truncated AFTER TRUNCATE ON clusters
    FOR EACH STATEMENT EXECUTE FUNCTION caas_clusters_counted_truncated();

INSERT INTO quota_locks AS l (project_id, resource, locked_at, in_use)
    SELECT project_id, 'Cluster', now() AT TIME ZONE 'UTC', count(*)
    FROM clusters WHERE project_id IS NOT NULL
    GROUP BY project_id ORDER BY project_id
ON CONFLICT (project_id, resource) DO UPDATE SET in_use = excluded.in_use;
"""

# 0004c's check and 0004a's bump, as they were.
_PG_DOWN = r"""
DROP TRIGGER clusters_counted_truncated ON clusters;
DROP TRIGGER clusters_counted_moved ON clusters;
DROP TRIGGER clusters_counted_out ON clusters;
DROP TRIGGER clusters_counted_in ON clusters;

CREATE OR REPLACE FUNCTION caas_cluster_quota_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    default_limit text := nullif(
        current_setting('caas.cluster_quota_default', true), '');
    quota_limit integer;
    existing bigint;
    source text := 'project';
BEGIN
    IF default_limit IS NULL OR NEW.project_id IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO quota_locks AS l (project_id, resource, locked_at)
        VALUES (NEW.project_id, 'Cluster', now() AT TIME ZONE 'UTC')
    ON CONFLICT (project_id, resource)
        DO UPDATE SET locked_at = excluded.locked_at;
    -- A new statement, a new snapshot: taken after the lock was granted.
    SELECT (SELECT q.hard_limit FROM quotas AS q
            WHERE q.project_id = NEW.project_id AND q.resource = 'Cluster'),
           (SELECT count(*) FROM clusters AS c
            WHERE c.project_id = NEW.project_id) - 1
        INTO quota_limit, existing;
    IF quota_limit IS NULL THEN
        quota_limit := default_limit::integer;
        source := 'default';
    END IF;
    IF existing >= quota_limit THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CQ001',
            MESSAGE = 'Cluster quota of project ' || NEW.project_id
                      || ' exceeded',
            DETAIL = json_build_object(
                'project_id', NEW.project_id, 'limit', quota_limit,
                'count', existing, 'source', source)::text;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION caas_cluster_changes_bump() RETURNS trigger
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

DROP FUNCTION caas_cluster_counts_apply();
DROP FUNCTION caas_clusters_counted_truncated();
DROP FUNCTION caas_clusters_counted_moved();
DROP FUNCTION caas_clusters_counted_out();
DROP FUNCTION caas_clusters_counted_in();
DROP FUNCTION caas_cluster_count_note(jsonb);
"""


def upgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    if postgresql:
        # Before quota_locks: a create committing meanwhile takes its
        # quota_locks row at COMMIT, after its clusters row.
        op.execute('LOCK TABLE clusters IN SHARE ROW EXCLUSIVE MODE')
    op.add_column('quota_locks', sa.Column(
        'in_use', sa.BigInteger, nullable=False, server_default='0'))
    if postgresql:
        op.execute(_PG)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PG_DOWN)
    with op.batch_alter_table('quota_locks') as batch:
        batch.drop_column('in_use')
