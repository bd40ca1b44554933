"""Cluster throughput of the embedded all-in-one (one conductor).

Creates N clusters at once through python-magnumclient against the
simulated cloud, times each from POST to CREATE_COMPLETE, then deletes them
all and times that. Also prints the peak RSS of the process (API, conductor,
simulated cloud and client all live in it) and the SQL statements the API
runs for one status GET and one list.

    .venv/bin/python benchmarks/cluster_throughput.py --clusters 20

Prints figures; asserts nothing about time.
"""

import argparse
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

POLL = 0.25


def wait_for(mc, uuid, wanted, deadline):
    """Poll until the cluster reaches ``wanted`` ('gone' = 404); the
    returned time is when the poll saw it (POLL seconds resolution)."""
    from magnumclient import exceptions as mc_exc
    status = None
    while not deadline.passed():
        try:
            status = mc.clusters.get(uuid).status
        except mc_exc.NotFound:
            if wanted == 'gone':
                return time.monotonic(), 'gone'
            raise
        if status == wanted or status.endswith('_FAILED'):
            return time.monotonic(), status
        time.sleep(POLL)
    return None, status


def create_one(mc, template, index, deadline):
    start = time.monotonic()
    cluster = mc.clusters.create(
        name='bench-%03d' % index, cluster_template_id=template,
        node_count=1, master_count=1)
    done, status = wait_for(mc, cluster.uuid, 'CREATE_COMPLETE', deadline)
    return cluster.uuid, status, None if done is None else done - start


def delete_one(mc, uuid, deadline):
    start = time.monotonic()
    mc.clusters.delete(uuid)
    done, status = wait_for(mc, uuid, 'gone', deadline)
    return uuid, status, None if done is None else done - start


def run_wave(func, items, workers):
    results = []
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in concurrent.futures.as_completed(
                [pool.submit(func, *item) for item in items]):
            results.append(fut.result())
    return results, time.monotonic() - start


def report(label, results, wall):
    times = [t for _, _, t in results if t is not None]
    statuses = {}
    for _, status, _t in results:
        statuses[status] = statuses.get(status, 0) + 1
    print('%s: %s' % (label, harness.summary(times)))
    print('  final states %s; wall %.2f s; %.1f clusters/min' % (
        statuses, wall, len(times) / wall * 60 if wall else 0))


def sql_per_request(counter, func, repeat=20):
    counter.reset()
    for _ in range(repeat):
        func()
    return counter.count / float(repeat)


def show_one_request(counter, func):
    counter.reset()
    func()
    for statement in counter.statements:
        print('    %s' % statement)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clusters', type=int, default=20)
    parser.add_argument('--boot-delay', type=float, default=1.0,
                        help='Seconds a simulated server takes to boot.')
    parser.add_argument('--timeout', type=float, default=300.0,
                        help='Bound on each wave (create, delete), seconds.')
    args = parser.parse_args(argv)

    with harness.all_in_one(server_boot_delay=args.boot_delay) as aio:
        from caas.db.sqlalchemy import engine
        counter = harness.StatementCounter(
            [engine.get_engine(), engine.get_engine(readonly=True)])
        mc = harness.magnum(aio.api_url)
        template = harness.make_template(mc).uuid
        print('caas-all at %s; %d clusters (1 master, 1 node), server boot '
              'delay %.1f s, poll every %.2f s' % (
                  aio.api_url, args.clusters, args.boot_delay, POLL))

        deadline = harness.Deadline(args.timeout)
        created, wall = run_wave(
            lambda i: create_one(mc, template, i, deadline),
            [(i,) for i in range(args.clusters)], args.clusters)
        report('create (POST -> CREATE_COMPLETE)', created, wall)

        uuid = created[0][0]
        print('SQL statements per GET /v1/clusters/<id>: %.1f' %
              sql_per_request(counter, lambda: mc.clusters.get(uuid)))
        show_one_request(counter, lambda: mc.clusters.get(uuid))
        print('SQL statements per GET /v1/clusters (%d clusters): %.1f' % (
            args.clusters, sql_per_request(counter, mc.clusters.list)))

        deadline = harness.Deadline(args.timeout)
        deleted, wall = run_wave(
            lambda u: delete_one(mc, u, deadline),
            [(u,) for u, _, _ in created], args.clusters)
        report('delete (DELETE -> 404)', deleted, wall)
        counter.close()
    print('peak RSS of the process: %.0f MiB' % harness.peak_rss_mib())
    return 0


if __name__ == '__main__':
    sys.exit(main())
