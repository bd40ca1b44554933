"""PostgreSQL's CPU per cluster create as the project's clusters grow: the
cost of the quota check at COMMIT (migrations 0004c and 0004d).

Creates K clusters of one project with the API's create path
(``caas.db.api.create_cluster`` with the quota check the API hands it:
one statement, the quota trigger at its commit), then fills the project
with F settled clusters (one ``INSERT ... SELECT``, as a script would),
creates K more, runs ``VACUUM ANALYZE clusters`` and creates K more, then
rewrites every cluster's health twice (one transaction each, as a health
pass writes) and deletes K clusters one per transaction. For each batch
it prints the CPU (user + system, ``/proc/<pid>/stat``) of the
PostgreSQL backends connected to the bench's database, per create, and
the bench process's own. One client thread: the figure is the server's
work per create, not a rate under load.

    eval "$(tools/services.sh start)"
    nice -n 5 .venv/bin/python benchmarks/quota_count.py [--creates 1000]
        [--fill 6000]

The health and delete rows are per row written.

Runs against a fresh database on ``CAAS_TEST_DB_URL``'s server. Prints
figures; asserts nothing about time.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

PROJECT = 'bench-quota'
_TICK = os.sysconf('SC_CLK_TCK')


def _cpu(pid):
    """User + system CPU seconds of a process, or 0 once it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _backends(engine):
    import sqlalchemy as sa
    with engine.connect() as conn:
        return conn.execute(sa.text(
            'SELECT pid FROM pg_stat_activity '
            'WHERE datname = current_database()')).scalars().all()


def _batch(engine, create, n, label):
    pids = set(_backends(engine))
    before = {pid: _cpu(pid) for pid in pids}
    own = time.process_time()
    for i in range(n):
        create('%s-%d' % (label, i))
    own = time.process_time() - own
    pids |= set(_backends(engine))
    server = sum(_cpu(pid) - before.get(pid, 0.0) for pid in pids)
    return server / n * 1000, own / n * 1000


def _count(engine):
    import sqlalchemy as sa
    with engine.connect() as conn:
        return conn.execute(sa.text(
            'SELECT count(*) FROM clusters WHERE project_id = :p'),
            {'p': PROJECT}).scalar()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--creates', type=int, default=1000,
                        help='creates per measured batch')
    parser.add_argument('--fill', type=int, default=6000,
                        help='settled clusters put in the project')
    args = parser.parse_args()

    import sqlalchemy as sa
    from caas.conf import CONF
    from caas.db import api as db_api
    from caas.db import migration
    from caas.db import quotas
    from caas.db.sqlalchemy import engine as db_engine
    from tests.integration import deployment

    url = deployment.create_database(os.environ['CAAS_TEST_DB_URL'])
    CONF([], project='caas')
    CONF.set_override('connection', url, group='database')
    migration.upgrade()
    template = db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': 'img',
        'project_id': PROJECT, 'server_type': 'vm', 'driver': 'fake',
        'labels': {}})
    check = quotas.cluster_quota_check(10 ** 9)
    pem = 'x' * 1100

    def create(name):
        db_api.create_cluster(
            {'name': name, 'project_id': PROJECT,
             'cluster_template_id': template.uuid, 'node_count': 1,
             'master_count': 1, 'labels': {}},
            [{'name': 'default-master', 'role': 'master', 'node_count': 1,
              'is_default': True},
             {'name': 'default-worker', 'role': 'worker', 'node_count': 1,
              'is_default': True}],
            timeout_minutes=60,
            cas=[{'ca_type': kind, 'cert_pem': pem, 'encrypted_key': pem}
                 for kind in ('ca', 'etcd', 'front-proxy')],
            quota_check=check)

    engine = db_engine.get_engine()
    for i in range(20):
        create('warm-%d' % i)
    rows = []
    rows.append(('at %d' % _count(engine),)
                + _batch(engine, create, args.creates, 'a'))
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO clusters (uuid, name, project_id, "
            "cluster_template_id, node_count, master_count, status, labels, "
            "created_at) SELECT gen_random_uuid()::text, 'fill-' || i, :p, "
            ":t, 1, 1, 'CREATE_COMPLETE', '{}', now() "
            "FROM generate_series(1, :n) AS i"),
            {'p': PROJECT, 't': template.uuid, 'n': args.fill})
    rows.append(('at %d, right after the fill' % _count(engine),)
                + _batch(engine, create, args.creates, 'b'))
    with engine.connect() as conn:
        conn.execution_options(isolation_level='AUTOCOMMIT').execute(
            sa.text('VACUUM ANALYZE clusters'))
    rows.append(('at %d, after VACUUM ANALYZE' % _count(engine),)
                + _batch(engine, create, args.creates, 'c'))
    n = _count(engine)

    def health(status):
        # A health pass: every cluster's row rewritten in one transaction.
        with engine.begin() as conn:
            conn.execute(sa.text(
                'UPDATE clusters SET health_status = :s '
                'WHERE project_id = :p'), {'s': status, 'p': PROJECT})
    server, own = _batch(engine, health, 2, 'HEALTHY')
    rows.append(('health writes: %d rows updated per transaction' % n,
                 server / n * 2, own / n * 2))
    uuids = iter(engine.connect().execute(sa.text(
        'SELECT uuid FROM clusters WHERE project_id = :p ORDER BY id '
        'LIMIT :n'), {'p': PROJECT, 'n': args.creates}).scalars().all())

    def delete(_name):
        # A delete flow's last write: one cluster's rows, one transaction.
        with engine.begin() as conn:
            uuid = next(uuids)
            conn.execute(sa.text('DELETE FROM nodegroups '
                                 'WHERE cluster_id = :u'), {'u': uuid})
            conn.execute(sa.text('DELETE FROM clusters WHERE uuid = :u'),
                         {'u': uuid})
    rows.append(('deletes, from %d' % n,)
                + _batch(engine, delete, args.creates, 'd'))
    print('load average: %s' % open('/proc/loadavg').read().strip())
    print('| batch | PostgreSQL CPU per create (per row: health, deletes) | '
          'bench process CPU, same unit |')
    print('|---|---|---|')
    for label, server, own in rows:
        print('| %s | %.3f ms | %.3f ms |' % (label, server, own))
    db_engine.dispose()


if __name__ == '__main__':
    main()
