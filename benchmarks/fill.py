"""Fill of the embedded all-in-one: does `caas-all` keep its pace?

Starts ``caas-all`` as its own process in a temporary data directory and
POSTs N clusters one after the other from one client; a second client
thread GETs /v1/clustertemplates every 0.2 s meanwhile. Prints the accept
rate (clusters per second over the 50 POSTs before it) at the 100th and the
N-th cluster, POST p50/p99, and the template list's p50/p99 during the fill
(a fill to 120 makes ~40 lists: its p99 is the slowest one; hence also
the max, the lists over 50 ms, and the slowest lists split into the app's
time and the wait outside it, by request id from caas-all's access log).

    .venv/bin/python benchmarks/fill.py [--clusters 1000] [--timeout 900]
        [--port P --sim-port Q] [--workers N] [--drain SECONDS]

``--workers`` sets ``[conductor] workers`` (caas-all's flow threads; its
default otherwise). The caas-all process id is printed at start (for
py-spy).

Everything listens on 127.0.0.1. Prints figures; asserts nothing about time.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

WINDOW = 50
HEADERS = {'X-Auth-Token': 'x', 'Content-Type': 'application/json',
           'OpenStack-API-Version': 'container-infra latest'}


def start_all(data_dir, boot_delay, port=None, sim_port=None, workers=None):
    port = port or harness.free_port()
    sim_port = sim_port or harness.free_port()
    conf = os.path.join(data_dir, 'bench.conf')
    with open(conf, 'w') as f:
        f.write('[sim]\nserver_boot_delay = %s\nresource_delay = 0.05\n'
                'delete_delay = 0.2\n' % boot_delay)
        # The fill makes more clusters in one project than the default
        # quota (Magnum's 20) allows.
        f.write('[quotas]\nmax_clusters_per_project = 1000000\n')
        if workers:
            f.write('[conductor]\nworkers = %d\n' % workers)
    log = open(os.path.join(data_dir, 'caas-all.log'), 'ab')
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), 'caas-all'),
         '--config-file', conf, '--data-dir', os.path.join(data_dir, 'd'),
         '--bind-port', str(port), '--sim-port', str(sim_port)],
        stdout=log, stderr=subprocess.STDOUT)
    url = 'http://127.0.0.1:%d' % port
    # Generous, as for the multi-process deployments: at a load average
    # of 20 caas-all took more than 60 s to import and migrate.
    try:
        harness.wait_http(url + '/', 180)
    except Exception:
        # Not left running behind a failed section (seen: one kept its
        # ports and a core after make bench ended).
        proc.kill()
        proc.wait(30)
        raise
    return proc, url


_ACCESS = re.compile(
    r'GET /v1/clustertemplates status=200 duration_ms=([0-9.]+)'
    r'(?: request_id=(\S+))?')


def server_times(log_path):
    """Seconds the app took per template list, by request id, from
    caas-all's access log (from the WSGI call to the body's end: what the
    client's figure adds to it is waitress, the sockets and the scheduling
    of both processes)."""
    with open(log_path, errors='replace') as f:
        return {m.group(2) or i: float(m.group(1)) / 1000
                for i, m in enumerate(_ACCESS.finditer(f.read()))}


def split_slowest(samples, app, share=0.02):
    """The slowest template lists (the client's p99 and above: at least
    one), each as #position:client ms/app ms: how much of the tail the app
    spent, and how much the request waited outside it (waitress's loop,
    the interpreter lock, both processes' turns on the cores)."""
    if not samples:
        return []
    ranked = sorted(enumerate(samples), key=lambda x: -x[1][0])
    slowest = ranked[:max(1, int(len(samples) * share))]
    return ['#%d:%.1f/%s' % (i, s * 1000, '%.1f' % (app[rid] * 1000)
                             if rid in app else '?')
            for i, (s, rid) in slowest]


def load():
    return ' '.join(open('/proc/loadavg').read().split()[:3])


def accept_rate(stamps, index):
    """Clusters per second over the WINDOW POSTs ending at ``index``."""
    if index < WINDOW or index > len(stamps):
        return None
    span = stamps[index - 1] - stamps[index - WINDOW]
    return (WINDOW - 1) / span if span > 0 else None


def window_rates(stamps, step=100):
    """[(index, clusters per second)] of consecutive windows of ``step``
    POSTs, each ending at ``index``, the first (the start's ramp: caas-all
    has no flow running yet) left out."""
    out = []
    for end in range(2 * step, len(stamps) + 1, step):
        span = stamps[end - 1] - stamps[end - step - 1]
        if span > 0:
            out.append((end, step / span))
    return out


def rate_trend(stamps, step=100):
    """The accept rate's drift over the fill: the least-squares line
    through :func:`window_rates`, its change over 1,000 clusters in per
    cent of the mean rate (0: a steady pace; -20: a fifth slower every
    1,000 clusters). None with fewer than 3 windows. A 50-POST window
    (the bar's figure, ~1.5 s) swings by +-20 % from one to the next on
    this machine; the line through all of them does not."""
    points = window_rates(stamps, step)
    if len(points) < 3:
        return None
    ends, rates = zip(*points)
    slope = statistics.linear_regression(ends, rates).slope
    return round(100.0 * slope * 1000 / statistics.fmean(rates), 1)


def completed(session, url):
    """Clusters in CREATE_COMPLETE (one summary list of up to 1,000)."""
    r = session.get(url + '/v1/clusters', headers=HEADERS)
    r.raise_for_status()
    return sum(c['status'] == 'CREATE_COMPLETE' for c in r.json()['clusters'])


def run(clusters, timeout, boot_delay=0.2, out=print, port=None,
        sim_port=None, workers=None, drain=0):
    data_dir = tempfile.mkdtemp(prefix='caas-bench-fill-')
    proc, url = start_all(data_dir, boot_delay, port, sim_port, workers)
    out('  caas-all pid %d, %s' % (proc.pid, url))
    s = requests.Session()
    result = {}
    load_start = load()
    try:
        r = s.post(url + '/v1/clustertemplates', headers=HEADERS, json={
            'name': 'fill-k8s', 'coe': 'kubernetes',
            'image_id': 'ubuntu-jammy', 'flavor_id': 'm1.small',
            'master_flavor_id': 'm1.small', 'keypair_id': 'default',
            'external_network_id': 'public'})
        r.raise_for_status()
        template = r.json()['uuid']
        stop = threading.Event()
        tmpl_samples, tmpl_ids = [], []

        def templates():
            t = requests.Session()
            while not stop.is_set():
                start = time.perf_counter()
                r = t.get(url + '/v1/clustertemplates', headers=HEADERS)
                tmpl_samples.append(time.perf_counter() - start)
                tmpl_ids.append(r.headers.get('x-openstack-request-id'))
                stop.wait(0.2)
        watcher = threading.Thread(target=templates, daemon=True)
        watcher.start()
        deadline = harness.Deadline(timeout)
        stamps, posts = [], []
        for i in range(clusters):
            if deadline.passed():
                break
            start = time.perf_counter()
            r = s.post(url + '/v1/clusters', headers=HEADERS, json={
                'name': 'fill-%05d' % i, 'cluster_template_id': template,
                'master_count': 1, 'node_count': 1})
            if r.status_code != 202:
                out('POST %d answered %s: %s' % (i, r.status_code,
                                                 r.text[:200]))
                break
            done = time.perf_counter()
            posts.append(done - start)
            stamps.append(done)
            if (i + 1) % 100 == 0:
                out('  %d accepted, %.2f/s over the last %d' % (
                    i + 1, accept_rate(stamps, i + 1) or 0, WINDOW))
        stop.set()
        watcher.join(5)
        done_at_end = completed(s, url)
        drained = None
        drain_deadline = harness.Deadline(drain)
        while drain and not drain_deadline.passed():
            if completed(s, url) == len(stamps):
                drained = time.perf_counter() - stamps[0]
                break
            time.sleep(2)
        result = {
            'accepted': len(stamps),
            'accept_rate_100': accept_rate(stamps, min(100, len(stamps))),
            'accept_rate_last': accept_rate(stamps, len(stamps)),
            'accept_rates_per_100': [round(r, 1) for _i, r in
                                     window_rates(stamps)],
            'accept_rate_trend_pct_per_1000': rate_trend(stamps),
            'post_p50_ms': harness.pct_ms(posts, 50),
            'post_p99_ms': harness.pct_ms(posts, 99),
            'templates_p50_ms': harness.pct_ms(tmpl_samples, 50),
            'templates_p99_ms': harness.pct_ms(tmpl_samples, 99),
            'templates_max_ms': harness.pct_ms(tmpl_samples, 100),
            'templates_over_50ms': sum(t > 0.05 for t in tmpl_samples),
            'templates_samples': len(tmpl_samples),
            'posting_s': round(stamps[-1] - stamps[0], 1) if stamps else None,
            'complete_when_posted': done_at_end,
            'all_complete_s': round(drained, 1) if drained else None,
            'load_average': '%s -> %s' % (load_start, load()),
        }
    finally:
        harness.stop(proc, signal.SIGTERM, 15)
        if result:
            app = server_times(os.path.join(data_dir, 'caas-all.log'))
            result['templates_app_p50_ms'] = harness.pct_ms(
                list(app.values()), 50)
            result['templates_app_p99_ms'] = harness.pct_ms(
                list(app.values()), 99)
            # client ms / app ms of the slowest 2 %
            result['templates_slowest'] = ' '.join(split_slowest(
                list(zip(tmpl_samples, tmpl_ids)), app))
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clusters', type=int, default=1000)
    parser.add_argument('--timeout', type=float, default=900.0)
    parser.add_argument('--boot-delay', type=float, default=0.2)
    parser.add_argument('--port', type=int, help='caas-all API port')
    parser.add_argument('--sim-port', type=int,
                        help="caas-all's simulated cloud port")
    parser.add_argument('--workers', type=int,
                        help='[conductor] workers of caas-all')
    parser.add_argument('--drain', type=float, default=0,
                        help='after the POSTs, wait up to this many seconds '
                             'for every cluster to complete (all_complete_s '
                             'is counted from the first POST)')
    args = parser.parse_args(argv)
    harness.quiet_logs()
    res = run(args.clusters, args.timeout, args.boot_delay,
              port=args.port, sim_port=args.sim_port, workers=args.workers,
              drain=args.drain)
    for key, value in res.items():
        print('%-20s %s' % (key, value))
    return 0


if __name__ == '__main__':
    sys.exit(main())
