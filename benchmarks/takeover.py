"""Takeover time after kill -9 with the default conductor timings.

Starts caas-cloudsim, caas-api and two caas-conductor processes over the
RabbitMQ and PostgreSQL of ``tools/services.sh start`` (CAAS_TEST_DB_URL and
CAAS_TEST_TRANSPORT_URL), every ``[conductor]`` timing at its default
(heartbeat, sweep, stack polls, health checks). For each round it creates a
cluster with a long boot delay, kills its owner with SIGKILL and measures
the time until the other conductor's claim (epoch + 1), then restarts the
killed one.

Meanwhile a watcher reads every operation's (owner, epoch) four times a
second: a claim taken from an owner that was not killed while it held the
operation is a false takeover (a live conductor declared dead, e.g. because
its heartbeats waited for a core). Before the next round the restarted
conductor is given two heartbeats, so that the takeover is timed, not its
start-up (``--no-wait``: without). Prints the figures; asserts nothing
about time.

    .venv/bin/python benchmarks/takeover.py [--rounds 20] [--no-wait]
"""

import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from benchmarks import harness  # noqa: E402
from tests.integration import helpers  # noqa: E402

TIMINGS = ('heartbeat_interval', 'heartbeat_timeout', 'sweep_interval',
           'unclaimed_timeout', 'stack_poll_initial', 'stack_poll_max',
           'health_check_interval')


def default_timings():
    """The [conductor] timings at their defaults (the integration
    deployment's own are shorter, for the tests)."""
    from caas.conf import conductor
    return {o.dest: o.default for o in conductor.opts if o.dest in TIMINGS}


class ClaimWatcher:
    """Every change of an operation's claim, as seen from the database.

    ``doomed`` holds the (operation, epoch) pairs a killed conductor held at
    its death: a claim taken from one of them is the takeover being
    measured; any other claim taken from an owner is a false takeover.
    """

    def __init__(self, db_url, interval=0.25):
        import sqlalchemy as sa
        self._sa = sa
        self.engine = sa.create_engine(db_url, pool_size=1, max_overflow=0)
        self.interval = interval
        self.claims = {}          # operation id -> (owner, epoch)
        self.doomed = set()
        self.takeovers = []       # (operation, from, to, legitimate, when)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def report_count(self, host):
        with self.engine.connect() as conn:
            return conn.execute(self._sa.text(
                'SELECT report_count FROM conductors WHERE host = :h'),
                {'h': host}).scalar()

    def wait_watching(self, host, timeout=180):
        """Until ``host`` (just restarted) has heartbeated twice: it is up,
        and its sweeper has looked at the other conductor's heartbeats at
        least once. A conductor declares another dead only after watching
        its count stand still for heartbeat_timeout, counted from its own
        first look: killing its peer before that would time its start-up
        as well as the takeover."""
        deadline = harness.Deadline(timeout)
        seen, changes = self.report_count(host), 0
        while changes < 2 and not deadline.passed():
            time.sleep(0.2)
            count = self.report_count(host)
            if count != seen:
                seen, changes = count, changes + 1
        return changes >= 2

    def operations(self):
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(self._sa.text(
                'SELECT id, cluster_id, state, owner, epoch FROM operations'))]

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        self.poll()
        self.engine.dispose()

    def kill_noted(self, owner):
        """Before killing ``owner``: what it holds may be taken over."""
        with self._lock:
            for op in self.operations():
                if op['owner'] == owner:
                    self.doomed.add((op['id'], op['epoch']))

    def poll(self):
        now = time.monotonic()
        ops = self.operations()
        with self._lock:
            for op in ops:
                before = self.claims.get(op['id'])
                self.claims[op['id']] = (op['owner'], op['epoch'])
                if before is None or before[0] is None or \
                        op['epoch'] <= before[1]:
                    continue
                self.takeovers.append((
                    op['id'], before[0], op['owner'],
                    (op['id'], before[1]) in self.doomed, now))

    def false_takeovers(self):
        with self._lock:
            return [t for t in self.takeovers if not t[3]]

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:   # a busy database: next time
                print('claim watcher: %s' % exc, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--boot-delay', type=float, default=30.0)
    parser.add_argument('--no-wait', action='store_true',
                        help='Do not wait for the restarted conductor to '
                             'heartbeat before the next round.')
    args = parser.parse_args(argv)
    harness.quiet_logs()
    res = run(args.rounds, args.boot_delay,
              watch_restarts=not args.no_wait)
    if res is None:
        return 2
    times = res['times']
    print('takeover after kill -9, %s: n=%d min %.1f p50 %.1f p99 %.1f '
          'max %.1f s; false takeovers %d' % (
              ', '.join('%s %s' % kv for kv in sorted(res['timings'].items())),
              len(times), min(times), statistics.median(times),
              harness.percentile(times, 99), max(times),
              res['false_takeovers']))
    return 0


def _wait_owner(watcher, cluster_uuid, timeout=60):
    deadline = harness.Deadline(timeout)
    while not deadline.passed():
        for op in watcher.operations():
            if op['cluster_id'] == cluster_uuid and op['owner']:
                return op
        time.sleep(0.05)
    raise RuntimeError('nobody claimed the operation of %s' % cluster_uuid)


def run(rounds, boot_delay=30.0, out=print, watch_restarts=True):
    """{'times': seconds from kill -9 to the other conductor's claim per
    round, 'false_takeovers': claims taken from live owners, ...}.

    ``watch_restarts=False``: the next round starts 3 s after the killed
    conductor was restarted, so its peer is often killed while it still
    starts (the figure then includes the restart: --no-wait).
    """
    db_admin = os.environ.get('CAAS_TEST_DB_URL')
    transport = os.environ.get('CAAS_TEST_TRANSPORT_URL')
    if not (db_admin and transport):
        out('set CAAS_TEST_DB_URL and CAAS_TEST_TRANSPORT_URL: '
            'eval "$(tools/services.sh start)"')
        return None
    from benchmarks import deploy
    harness.init_config()
    timings = default_timings()
    dep = deploy.BenchDeployment(conductors=2, boot_delay=boot_delay,
                                 conductor_opts=timings)
    dep.start()
    times, load = [], []
    watcher = ClaimWatcher(dep.db_url).start()
    try:
        mc = helpers.magnum(dep.api_url)
        tmpl = helpers.make_template(mc)
        for i in range(rounds):
            cluster = mc.clusters.create(name='t%d' % i,
                                         cluster_template_id=tmpl.uuid,
                                         node_count=1)
            op = _wait_owner(watcher, cluster.uuid)
            owner = op['owner']
            index = int(owner.rsplit('-', 1)[1])
            time.sleep(2.5)    # let a heartbeat or two pass
            killed = time.monotonic()
            dep.kill(owner)
            # Dead, it holds nothing more than now.
            watcher.kill_noted(owner)
            now = op
            while time.monotonic() < killed + 120:
                now = [o for o in watcher.operations()
                       if o['id'] == op['id']][0]
                if now['epoch'] > op['epoch']:
                    break
                time.sleep(0.05)
            took = time.monotonic() - killed
            times.append(took)
            load.append(os.getloadavg()[0])
            out('round %d: %s killed, claimed by %s after %.1f s (load %.1f)'
                % (i + 1, owner, now['owner'], took, load[-1]))
            dep.start_conductor(index)
            if watch_restarts:
                watcher.wait_watching(owner)
            time.sleep(3)
    finally:
        try:
            watcher.stop()       # its last read fails without the database
        finally:
            # Never leave the processes behind (a database that went away
            # mid-run once left a whole deployment running).
            dep.stop_all()
    false = watcher.false_takeovers()
    for op_id, before, after, _legit, _when in false:
        out('false takeover: operation %s taken from %s by %s' % (
            op_id, before, after))
    return {'times': [round(t, 2) for t in times], 'timings': timings,
            'false_takeovers': len(false),
            'takeovers_seen': len(watcher.takeovers),
            'p50_s': round(statistics.median(times), 2) if times else None,
            'p99_s': round(harness.percentile(times, 99), 2)
            if times else None,
            'load_average': load}


if __name__ == '__main__':
    sys.exit(main())
