"""The cluster quota checked at COMMIT by PostgreSQL (a deferred constraint
trigger on ``clusters``), so a create holds its project's quota lock for
no round trip between the server and the API.

A create hands the trigger its default limit inside the statement that
writes its rows (``set_config('caas.cluster_quota_default', ..., true)``,
:mod:`caas.db.cluster_create`). At COMMIT the trigger, for a cluster
inserted with that setting:

1. takes the project's ``quota_locks`` row (``INSERT ... ON CONFLICT DO
   UPDATE``: the first create of a project makes it; a concurrent create
   of the project waits here until this one committed or rolled back);
2. in a statement of its own, reads the project's quota (the default
   when it has none) and counts its clusters: under READ COMMITTED that
   statement's snapshot is taken once the lock was granted, so it sees
   every create of the project committed before;
3. raises SQLSTATE ``CQ001`` when the project had its limit already, the
   figures in the error's DETAIL as JSON; the API answers 403
   (``caas.db.quotas.ClusterQuotaCheck.refusal``).

Rows inserted without the setting (a create without a quota check, the
conductors, scripts) are not checked, as before. One create per
transaction: the new cluster is the one the count takes off.

The trigger is named to fire before ``clusters_changes_bump`` (0004a;
PostgreSQL fires a row's triggers in the order of their names), so a
create waiting for the quota lock holds no lock on ``cluster_changes``
meanwhile.

SQLite and MySQL keep the check in the create's transaction
(``caas.db.quotas.check_cluster_quota``): nothing changes there.

Revision ID: 0004c
Revises: 0004b
Create Date: 2026-12-02
"""

from alembic import op

revision = '0004c'
down_revision = '0004b'
branch_labels = None
depends_on = None

_PG = r"""
CREATE FUNCTION caas_cluster_quota_check() RETURNS trigger
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

CREATE CONSTRAINT TRIGGER clusters_capped_by_quota
    AFTER INSERT ON clusters
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION caas_cluster_quota_check();
"""


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PG)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER clusters_capped_by_quota ON clusters')
        op.execute('DROP FUNCTION caas_cluster_quota_check()')
