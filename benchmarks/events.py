"""What one progress event costs: rows, bytes, milliseconds, events per step.

On SQLite (a temporary file, as caas-all runs) and, when CAAS_TEST_DB_URL
is set (``eval "$(tools/services.sh start)"``), on a fresh PostgreSQL
database:

* rows: the statements one ``caas.db.events.record`` runs (counted);
* bytes: table + index size per event after N events (PostgreSQL:
  ``pg_total_relation_size``; SQLite: the page count the file grew by);
* ms: time of one ``record`` (fenced insert + status_reason update);
* events per operation: a real create flow (fake driver, simulated cloud
  in this process) and the events it wrote, per step.

    .venv/bin/python benchmarks/events.py [--events 2000]
    eval "$(tools/services.sh start)"; .venv/bin/python benchmarks/events.py

Prints figures; asserts nothing about time.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import harness  # noqa: E402


def _prepare(url):
    from caas.db import migration
    from caas.db.sqlalchemy import engine
    harness.init_config().set_override('connection', url, group='database')
    engine.dispose()
    migration.upgrade()
    return engine


def _claimed_cluster():
    from caas.db import api as db_api
    from caas.db import operations as db_ops
    from caas.conductor import ownership
    from tests.unit.conductor.conftest import make_cluster
    cluster, op = make_cluster()
    epoch = db_ops.claim(op.id, 'bench')
    return ownership.Fence(op.id, cluster.uuid, 'bench', epoch), db_api


def _size(engine):
    import sqlalchemy as sa
    eng = engine.get_engine()
    with eng.connect() as conn:
        if eng.dialect.name == 'postgresql':
            return conn.execute(sa.text(
                "SELECT pg_total_relation_size('events')")).scalar()
        pages = conn.execute(sa.text('PRAGMA page_count')).scalar()
        size = conn.execute(sa.text('PRAGMA page_size')).scalar()
        return pages * size


def measure_record(url, n):
    import sqlalchemy as sa
    from caas.common import states
    from caas.db import events as db_events
    engine = _prepare(url)
    fence, _ = _claimed_cluster()
    statements = []
    eng = engine.get_engine()

    def count(conn, cursor, statement, *args):
        statements.append(statement.split()[0])
    sa.event.listen(eng, 'before_cursor_execute', count)
    db_events.record(fence, 'p1', 'cluster_create', states.EV_STARTED,
                     step='begin', step_index=1, step_count=5,
                     status_reason='step 1/5 starting')
    sa.event.remove(eng, 'before_cursor_execute', count)
    per_event = [s for s in statements if s not in ('BEGIN', 'COMMIT')]
    before = _size(engine)
    timings = []
    for i in range(n):
        t0 = time.perf_counter()
        db_events.record(
            fence, 'p1', 'cluster_create', states.EV_PROGRESS,
            step='wait-stack-create', step_index=3, step_count=5,
            message='%d of 5 servers ACTIVE' % (i % 5),
            data={'done': i % 5, 'total': 5},
            status_reason='step 3/5 waiting for the stack: %d of 5 servers '
                          'ACTIVE' % (i % 5))
        timings.append((time.perf_counter() - t0) * 1000)
    grown = _size(engine) - before
    engine.dispose()
    return per_event, grown / n, timings


def measure_flow():
    """Events a real create writes, on SQLite, with the simulated cloud."""
    from caas.clients import cloud
    from caas.common import states
    from caas.conductor import engine as flow_engine
    from caas.conf import CONF
    from caas.db import api as db_api
    from caas.db import events as db_events
    from caas.sim.server import SimServer
    from tests.unit.conductor.conftest import make_cluster
    from tests.unit.conductor.conftest import wait_operation
    tmp = tempfile.mkdtemp(prefix='caas-bench-events-')
    _prepare('sqlite:///%s/caas.sqlite' % tmp)
    sim = SimServer(port=0, server_boot_delay=1.0, resource_delay=0.01,
                    delete_delay=0.05).start()
    for k, v in (('auth_url', sim.auth_url), ('username', 'caas'),
                 ('password', 'caas'), ('project_name', 'service')):
        CONF.set_override(k, v, group='cloud')
    runner = flow_engine.FlowRunner('bench', cloud.CloudClients(), workers=2)
    try:
        cluster, op = make_cluster(driver=None, node_count=3)
        t0 = time.perf_counter()
        runner.claim_and_run(op.id)
        assert wait_operation(op.id, timeout=120).state == states.OP_SUCCEEDED
        wall = time.perf_counter() - t0
        events = db_events.list_events(scope=db_api.ALL_PROJECTS,
                                       cluster_id=cluster.uuid,
                                       limit=1000)
    finally:
        runner.shutdown(wait=True, timeout=10)
        sim.stop()
    return events, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--events', type=int, default=2000)
    args = parser.parse_args()
    harness.init_config()
    targets = [('SQLite', 'sqlite:///%s/caas.sqlite' %
                tempfile.mkdtemp(prefix='caas-bench-events-'))]
    if os.environ.get('CAAS_TEST_DB_URL'):
        from tests.integration import deployment
        targets.append(('PostgreSQL', deployment.create_database(
            os.environ['CAAS_TEST_DB_URL'])))
    for name, url in targets:
        per_event, size, timings = measure_record(url, args.events)
        print('%s, %d events: statements per event %s; %.0f bytes per event '
              '(table + indexes); record() ms p50 %.2f p95 %.2f max %.2f' % (
                  name, args.events, per_event, size,
                  harness.percentile(timings, 50),
                  harness.percentile(timings, 95), max(timings)))
    events, wall = measure_flow()
    by_state = {}
    for e in events:
        by_state[e.state] = by_state.get(e.state, 0) + 1
    steps = max(e.step_count for e in events)
    for e in events:
        print('  %d/%d %-18s %-9s %s' % (e.step_index, e.step_count, e.step,
                                       e.state, e.message or ''))
    print('create flow (1 master + 3 workers, boot 1 s), %.1f s: %d events '
          'for %d steps (%.1f per step): %s' % (
              wall, len(events), steps, len(events) / steps,
              ', '.join('%s %d' % kv for kv in sorted(by_state.items()))))


if __name__ == '__main__':
    main()
