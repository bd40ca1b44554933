"""Steady state: what N settled clusters cost when nothing happens.

caas-cloudsim, caas-api and one or more caas-conductor processes on
PostgreSQL + RabbitMQ with the default conductor timings. N settled
clusters are inserted straight into the database and their stacks straight
into the simulated cloud's store. After the first health pass, over a
window of whole health intervals: cloud requests per second (the simulated
cloud's request log), database rows written per second (PostgreSQL's
statistics; clusters table apart from the conductors' heartbeats),
conductor CPU % of one core and RSS.

    eval "$(tools/services.sh start)"
    .venv/bin/python benchmarks/steady_state.py [--clusters 1000] [--interval 30]

Prints figures; asserts nothing about time.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deploy  # noqa: E402
import harness  # noqa: E402

DEFAULT_TIMINGS = {'heartbeat_interval': 2.0, 'heartbeat_timeout': 10.0,
                   'sweep_interval': 2.0, 'unclaimed_timeout': 10.0,
                   'stack_poll_initial': 0.2, 'stack_poll_max': 3.0}


def run(clusters, interval=30.0, windows=2, conductors=1, out=print):
    opts = dict(DEFAULT_TIMINGS, health_check_interval=interval)
    dep = deploy.BenchDeployment(conductors=conductors, conductor_opts=opts)
    try:
        dep.migrate_only()
        stacks = deploy.insert_settled(dep.db_url, clusters)
        deploy.seed_sim_stacks(os.path.join(dep.workdir, 'cloudsim'), stacks)
        dep.start()
        # The first pass records every cluster's health once; then calm.
        # (PostgreSQL publishes a backend's statistics when it idles 10 s.)
        time.sleep(interval * 1.5 + 12)
        names = [dep.conductor_name(i) for i in range(conductors)]
        pids = [dep.pid(n) for n in names]
        req0, w0 = dep.sim_requests(), deploy.pg_writes(dep.db_url)
        cpu0 = [deploy.cpu_seconds(p) for p in pids]
        start = time.monotonic()
        time.sleep(interval * windows)
        wall = time.monotonic() - start
        req1 = dep.sim_requests()
        cpu1 = [deploy.cpu_seconds(p) for p in pids]
        # Both snapshots of PostgreSQL's statistics lag by the same ~10 s.
        time.sleep(11)
        w1 = deploy.pg_writes(dep.db_url)
        cloud = sum(req1.values()) - sum(req0.values())
        writes = {t: w1.get(t, 0) - w0.get(t, 0) for t in w1}
        row = {
            'clusters': clusters, 'conductors': conductors,
            'interval_s': interval, 'window_s': round(wall, 1),
            'cloud_req_s': round(cloud / wall, 3),
            'cloud_requests': {k: req1.get(k, 0) - req0.get(k, 0)
                               for k in req1 if req1.get(k) != req0.get(k)},
            'db_writes_s': round(sum(writes.values()) / wall, 2),
            'cluster_writes_s': round(writes.get('clusters', 0) / wall, 2),
            'conductor_cpu_pct': round(100 * sum(
                b - a for a, b in zip(cpu0, cpu1)) / wall / conductors, 2),
            'conductor_rss_mib': round(max(
                deploy.rss_mib(p) for p in pids), 1),
        }
        out('steady %d clusters: %s' % (clusters, row))
        return row
    finally:
        dep.stop_all()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clusters', type=int, default=1000)
    parser.add_argument('--interval', type=float, default=30.0)
    parser.add_argument('--windows', type=int, default=2)
    parser.add_argument('--conductors', type=int, default=1)
    args = parser.parse_args(argv)
    harness.quiet_logs()
    run(args.clusters, args.interval, args.windows, args.conductors)
    return 0


if __name__ == '__main__':
    sys.exit(main())
