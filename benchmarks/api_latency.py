"""Latency and request rate of the caas API (embedded all-in-one).

With 100 settled clusters (created through the API against a simulated cloud
whose servers boot at once), measures through python-magnumclient:

* GET /v1/clusters/<id>             p50 / p95
* GET /v1/clusters (100 clusters)   p50 / p95
* POST /v1/clustertemplates         p50 / p95
* requests per second of GET /v1/clusters/<id> over a bounded loop, from one
  client thread and from several.

    .venv/bin/python benchmarks/api_latency.py [--clusters 100 --requests 2000]

Everything listens on 127.0.0.1. Prints figures; asserts nothing about time.
"""

import argparse
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def timed(func, count, deadline):
    samples = []
    for _ in range(count):
        if deadline.passed():
            break
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return samples


def create_clusters(mc, template, count, deadline):
    uuids = [mc.clusters.create(name='lat-%03d' % i,
                                cluster_template_id=template,
                                node_count=1, master_count=1).uuid
             for i in range(count)]
    pending = set(uuids)
    while pending and not deadline.passed():
        for cluster in mc.clusters.list(limit=count + 1):
            if cluster.status in ('CREATE_COMPLETE', 'CREATE_FAILED'):
                pending.discard(cluster.uuid)
        time.sleep(0.5)
    return uuids, len(pending)


def rate(func, total, threads, deadline):
    """Requests per second of ``total`` calls spread over ``threads``."""
    per_thread = total // threads

    def worker():
        done = 0
        for _ in range(per_thread):
            if deadline.passed():
                break
            func()
            done += 1
        return done

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        done = sum(f.result() for f in [pool.submit(worker)
                                        for _ in range(threads)])
    wall = time.perf_counter() - start
    return done, wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clusters', type=int, default=100)
    parser.add_argument('--samples', type=int, default=200,
                        help='Timed requests per latency figure.')
    parser.add_argument('--requests', type=int, default=2000,
                        help='Requests in each request-rate loop.')
    parser.add_argument('--threads', type=int, default=4,
                        help='Client threads of the concurrent rate loop.')
    parser.add_argument('--timeout', type=float, default=300.0,
                        help='Bound on each phase, seconds.')
    args = parser.parse_args(argv)

    with harness.all_in_one(server_boot_delay=0.0, resource_delay=0.0,
                            delete_delay=0.0) as aio:
        mc = harness.magnum(aio.api_url)
        template = harness.make_template(mc).uuid
        start = time.monotonic()
        uuids, unsettled = create_clusters(
            mc, template, args.clusters, harness.Deadline(args.timeout))
        print('caas-all at %s; %d clusters created and settled in %.1f s '
              '(%d not settled)' % (aio.api_url, len(uuids),
                                    time.monotonic() - start, unsettled))
        one = uuids[len(uuids) // 2]
        mc.clusters.get(one)  # warm the connection

        deadline = harness.Deadline(args.timeout)
        print('GET /v1/clusters/<id>:      %s' % harness.summary(
            timed(lambda: mc.clusters.get(one), args.samples, deadline),
            'ms', 1000))
        print('GET /v1/clusters (%d):     %s' % (len(uuids), harness.summary(
            timed(lambda: mc.clusters.list(limit=len(uuids) + 1),
                  max(1, args.samples // 4), deadline), 'ms', 1000)))
        counter = iter(range(10 ** 6))
        print('POST /v1/clustertemplates:  %s' % harness.summary(
            timed(lambda: harness.make_template(
                mc, 'lat-t-%d' % next(counter)),
                max(1, args.samples // 2), deadline), 'ms', 1000))

        for threads in (1, args.threads):
            done, wall = rate(lambda: mc.clusters.get(one), args.requests,
                              threads, harness.Deadline(args.timeout))
            print('GET /v1/clusters/<id> rate, %d client thread(s): %d '
                  'requests in %.2f s = %.0f req/s' % (
                      threads, done, wall, done / wall))
    print('peak RSS of the process: %.0f MiB' % harness.peak_rss_mib())
    return 0


if __name__ == '__main__':
    sys.exit(main())
