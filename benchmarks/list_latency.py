"""GET /v1/clusters and GET /v1/clusters/<id> with many settled clusters,
and POST /v1/clusters -> 202 of the API alone.

caas-api on PostgreSQL (``tools/services.sh start``), one worker process
per CPU (``[api] workers = 0``);
N settled clusters inserted straight into the database. From 1 and from
16 client threads (each its own keep-alive connection): p50/p99 latency,
requests per second and the API processes' CPU per request over a bounded
number of requests. A list returns one
page of at most ``[api] max_limit`` (1,000) clusters. With ``--posts N``,
16 client threads then POST N clusters with no conductor running (the
casts wait in the queue): POST -> 202 p50/p99 and the API's CPU per create,
without the conductors' CPU in the way.

    eval "$(tools/services.sh start)"
    .venv/bin/python benchmarks/list_latency.py [--clusters 1000] [--requests 400] [--posts 160]

Prints figures; asserts nothing about time.
"""

import argparse
import concurrent.futures
import os
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deploy  # noqa: E402
import harness  # noqa: E402


def load(url, total, threads, timeout):
    """(latencies, wall seconds) of ``total`` GETs spread over threads."""
    deadline = harness.Deadline(timeout)
    per = max(1, total // threads)

    def worker():
        s = requests.Session()
        s.get(url, headers=deploy.HEADERS).raise_for_status()   # connect
        out = []
        for _ in range(per):
            if deadline.passed():
                break
            start = time.perf_counter()
            r = s.get(url, headers=deploy.HEADERS)
            out.append(time.perf_counter() - start)
            r.raise_for_status()
        return out

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = [f.result() for f in
                   [pool.submit(worker) for _ in range(threads)]]
    wall = time.perf_counter() - start
    return [x for r in results for x in r], wall


def posts(dep, total, threads=16):
    """(latencies, wall seconds) of ``total`` cluster creates."""
    s = requests.Session()
    r = s.post(dep.api_url + '/v1/clustertemplates', headers=deploy.HEADERS,
               json={'name': 'bench-post', 'coe': 'kubernetes',
                     'image_id': 'ubuntu-jammy', 'flavor_id': 'm1.small',
                     'master_flavor_id': 'm1.small', 'keypair_id': 'default',
                     'external_network_id': 'public'})
    r.raise_for_status()
    body = {'cluster_template_id': r.json()['uuid'], 'master_count': 1,
            'node_count': 1}

    def worker(indexes):
        cs = requests.Session()
        out = []
        for i in indexes:
            start = time.perf_counter()
            r = cs.post(dep.api_url + '/v1/clusters', headers=deploy.HEADERS,
                        json=dict(body, name='post-%05d' % i))
            out.append(time.perf_counter() - start)
            r.raise_for_status()
        return out

    # One create per thread first: connections, caches, the template.
    worker(range(-threads, 0))
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, [range(k, total, threads)
                                         for k in range(threads)]))
    return [x for r in results for x in r], time.perf_counter() - start


def run(clusters, requests_per_figure=400, timeout=120, out=print,
        post_count=0, api_workers=0):
    dep = deploy.BenchDeployment(conductors=0, api_workers=api_workers)
    rows = {}
    try:
        dep.migrate_only()
        deploy.insert_settled(dep.db_url, clusters)
        dep.start()
        api_pid = dep.pid('api')
        one = requests.get(dep.api_url + '/v1/clusters?limit=1',
                           headers=deploy.HEADERS).json()['clusters'][0]
        targets = {'list': dep.api_url + '/v1/clusters',
                   'detail': dep.api_url + '/v1/clusters/%s' % one['uuid']}
        page = len(requests.get(targets['list'],
                                headers=deploy.HEADERS).json()['clusters'])
        for kind, url in targets.items():
            for threads in (1, 16):
                total = requests_per_figure if kind == 'list' or \
                    threads == 1 else requests_per_figure * 4
                cpu0 = deploy.tree_cpu_seconds(api_pid)
                samples, wall = load(url, total, threads, timeout)
                cpu = deploy.tree_cpu_seconds(api_pid) - cpu0
                key = '%s_%d_c%d' % (kind, clusters, threads)
                rows[key] = {
                    'p50_ms': harness.pct_ms(samples, 50),
                    'p99_ms': harness.pct_ms(samples, 99),
                    'req_s': round(len(samples) / wall, 1),
                    # CPU the API process spent per request: unlike the
                    # times, it hardly moves when other work shares the
                    # cores (the connect request of each thread included).
                    'api_cpu_ms': round(cpu * 1000 / max(1, len(samples)),
                                        1),
                    'n': len(samples), 'page': page if kind == 'list' else 1}
                out('%-22s %s' % (key, rows[key]))
        if post_count:
            cpu0 = deploy.tree_cpu_seconds(api_pid)
            samples, wall = posts(dep, post_count)
            cpu = deploy.tree_cpu_seconds(api_pid) - cpu0
            key = 'post_c16'
            rows[key] = {'p50_ms': harness.pct_ms(samples, 50),
                         'p99_ms': harness.pct_ms(samples, 99),
                         'req_s': round(len(samples) / wall, 1),
                         'api_cpu_ms': round(cpu * 1000 / len(samples), 1),
                         'n': len(samples)}
            out('%-22s %s' % (key, rows[key]))
    finally:
        dep.stop_all()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clusters', type=int, default=1000)
    parser.add_argument('--requests', type=int, default=400)
    parser.add_argument('--posts', type=int, default=0,
                        help='cluster creates from 16 threads, no conductor')
    parser.add_argument('--api-workers', type=int, default=0,
                        help='caas-api processes (0: one per CPU)')
    args = parser.parse_args(argv)
    harness.quiet_logs()
    run(args.clusters, args.requests, post_count=args.posts,
        api_workers=args.api_workers)
    return 0


if __name__ == '__main__':
    sys.exit(main())
