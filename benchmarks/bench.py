"""`make bench`: every figure of the benchmarks in one table.

Runs bounded workloads (each section is one of the benchmarks/*.py
scripts), prints one table and writes benchmarks/results/latest.json with
the machine, its load average before and after, and the versions.
PostgreSQL and RabbitMQ come from ``tools/services.sh start`` (the Makefile
starts them on private ports); the caas processes are started here.

    BENCH_SCALE=small|full .venv/bin/python benchmarks/bench.py [--only list,steady]

``small`` (the smoke test) uses tens of clusters and short windows;
``full`` the sizes of issue 11 (1,000 and 10,000 clusters, 1,000 creates,
20 kills) and takes about an hour. Figures are printed, never asserted.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

SCALES = {
    # The list bar is about a 1,000-row page, so the smoke test lists that.
    # A p99 needs samples: 2,000 timed lists (16 clients x 125; the
    # detail 4 times as many), each client's 5 warm-up GETs apart.
    # 'creates' after 'create_warmup' (their CPU printed apart: a
    # process's first creates import and compile what the next ones reuse,
    # which a run of 20 spread over its clusters: ~0.2 CPU-s each).
    'small': {'list_sizes': [1000], 'list_requests': 2000,
              'list_warmup': 5,
              'creates': 60, 'create_warmup': 2, 'post_creates': 400,
              'cpu_creates': 30,
              'steady_sizes': [100, 300],
              'steady_interval': 5.0, 'steady_windows': 2,
              'fill': 120, 'fill_timeout': 240, 'casts': 300,
              'cast_processes': [1, 4],
              'taskflow_tasks': 10, 'takeover_rounds': 2,
              'realnode_rounds': 1},
    'full': {'list_sizes': [1000, 10000], 'list_requests': 2000,
             'list_warmup': 5,
             'creates': 1000, 'create_warmup': 2, 'post_creates': 2000,
             'cpu_creates': 60,
             'steady_sizes': [1000, 10000],
             'steady_interval': 30.0, 'steady_windows': 2,
             'fill': 1000, 'fill_timeout': 1800, 'casts': 2000,
             'cast_processes': [1, 2, 4],
             'taskflow_tasks': 10, 'takeover_rounds': 20,
             'realnode_rounds': 3},
}
SECTIONS = ('list', 'post', 'create', 'cpu', 'steady', 'fill', 'rpc', 'micro',
            'takeover', 'realnodes')


def _fmt(value):
    if value is None:
        return '-'
    if isinstance(value, float):
        return ('%.3f' % value).rstrip('0').rstrip('.') if value < 10 \
            else '%.1f' % value
    return str(value)


def table(rows):
    """Lines of a two-column table from [(figure, value, unit)]."""
    width = max([len(r[0]) for r in rows] + [6])
    lines = ['%-*s  %12s  %s' % (width, 'figure', 'value', 'unit'),
             '%s  %s  %s' % ('-' * width, '-' * 12, '-' * 8)]
    for name, value, unit in rows:
        lines.append('%-*s  %12s  %s' % (width, name, _fmt(value), unit))
    return lines


def flatten(results):
    """The table's rows from the sections' results."""
    rows = []
    add = rows.append
    for key, r in sorted(results.get('list', {}).items()):
        kind, n, clients = key.split('_')[:3]
        label = 'GET /v1/clusters%s (%s clusters, %s clients%s)' % (
            '' if kind == 'list' else '/<id>', n, clients[1:],
            ' as threads of one process' if '_threads' in key else '')
        if key.endswith('_warmup'):
            # Apart from the figures: each client's first GETs.
            label = 'warm-up (%d GETs per client) of %s' % (
                r['per_client'], label)
            add((label + ' max', r['max_ms'], 'ms'))
            add((label + ' API CPU', r['api_cpu_ms'], 'ms/req'))
            continue
        add((label + ' p50', r['p50_ms'], 'ms'))
        add((label + ' p99', r['p99_ms'], 'ms'))
        add((label + ' rate', r['req_s'], 'req/s'))
        if r.get('api_cpu_ms') is not None:
            add((label + ' API CPU', r['api_cpu_ms'], 'ms/req'))
    for key, r in sorted(results.get('post', {}).items()):
        # Since the tenth round each client is a process of its own with
        # one keep-alive connection; '_threads': 16 threads of the
        # bench's process with requests, the figure before it.
        label = 'POST -> 202, 16 clients%s, %s (%d creates)' % (
            ' as threads of one process' if key.endswith('_threads')
            else '',
            'API alone' if not r['conductors'] else
            '%d conductor%s working%s' % (
                r['conductors'], 's' if r['conductors'] > 1 else '',
                ' at nice +%d' % r['conductor_nice']
                if r.get('conductor_nice') else ''),
            r['n'])
        add((label + ' p50', r['p50_ms'], 'ms'))
        add((label + ' p99', r['p99_ms'], 'ms'))
        add((label + ' rate', r['req_s'], 'creates/s'))
        add((label + ' API CPU', r['api_cpu_ms'], 'ms/create'))
        if r.get('client_cpu_ms') is not None:
            add((label + " clients' CPU", r['client_cpu_ms'], 'ms/create'))
        add((label + ' warm-up max (%d untimed)' % r['warmup_n'],
             r['warmup_max_ms'], 'ms'))
    for key, r in sorted(results.get('create', {}).items()):
        c = r['conductors']
        if c == 1 and not r.get('conductor_cpu_cap'):
            add(('POST /v1/clusters -> 202 p50 (16 clients)',
                 r['post_p50_ms'], 'ms'))
            add(('POST /v1/clusters -> 202 p99 (16 clients)',
                 r['post_p99_ms'], 'ms'))
            add(('creates accepted (16 clients)', r['creates_s'], '/s'))
        label = '%d creates, %d conductor%s%s' % (
            r['clusters'], c, 's' if c > 1 else '',
            ' held to %.2f core%s' % (r['conductor_cpu_cap'],
                                      ' each' if c > 1 else '')
            if r.get('conductor_cpu_cap') else '')
        add((label + ': clusters/min', r['clusters_min'], '/min'))
        add((label + ': POST -> complete p50', r['complete_p50_s'], 's'))
        add((label + ': POST -> complete p99', r['complete_p99_s'], 's'))
        add((label + ': conductor CPU per cluster',
             r['cpu_s_per_cluster'], 'CPU-s'))
        add((label + ': conductor idle CPU before', r.get('idle_cpu_pct'),
             '% core'))
        if r.get('warmup_creates'):
            add((label + ': CPU of %d warm-up creates before' %
                 r['warmup_creates'], r.get('warmup_cpu_s'), 'CPU-s'))
        add((label + ': machine CPU busy during the run',
             r.get('machine_busy_pct'), '% all cores'))
        add((label + ': cloud requests per cluster', sum(
            (r.get('cloud_requests_per_cluster') or {}).values()) or None,
            'requests'))
        add((label + ': failed', r['failed'], 'clusters'))
        add((label + ': "pool is full" warnings',
             r.get('pool_full_warnings'), 'lines'))
        for proc, ms in sorted((r.get('machine_ms_per_cluster') or {})
                               .items()):
            add((label + ': CPU per cluster, ' + proc, ms, 'ms'))
        if r.get('conductor_cpu_cap'):
            add((label + ': conductors held back by their cap',
                 r.get('conductor_throttled_s'), 's'))
    for capped in (False, True):
        creates = {r['conductors']: r
                   for r in results.get('create', {}).values()
                   if bool(r.get('conductor_cpu_cap')) == capped}
        if creates.get(1, {}).get('clusters_min') and \
                creates.get(2, {}).get('clusters_min'):
            add(('creates: 2 conductors / 1 conductor (clusters/min)%s' % (
                ', each held to %.2f core' %
                creates[1]['conductor_cpu_cap'] if capped else ''),
                round(creates[2]['clusters_min'] /
                      creates[1]['clusters_min'], 2), 'x'))
    cpu = results.get('cpu', {})
    if cpu.get('time'):
        add(('conductor CPU per create, in process (%d creates, %s)' % (
            cpu['time']['creates'], cpu['time']['database']),
            cpu['time']['cpu_ms_per_create'], 'ms'))
    if cpu.get('calls'):
        add(('Python calls per create, in process',
             cpu['calls']['python_calls_per_create'], 'calls'))
    for key, r in sorted(results.get('steady', {}).items(),
                         key=lambda kv: kv[1]['clusters']):
        label = 'steady, %d settled clusters' % r['clusters']
        add((label + ': cloud requests', r['cloud_req_s'], 'req/s'))
        add((label + ': DB writes (all)', r['db_writes_s'], 'rows/s'))
        add((label + ': DB writes (clusters)', r['cluster_writes_s'],
             'rows/s'))
        add((label + ': conductor CPU', r['conductor_cpu_pct'], '% core'))
        add((label + ': conductor RSS', r['conductor_rss_mib'], 'MiB'))
    fill = results.get('fill')
    if fill:
        add(('caas-all fill: accept rate at 100th', fill['accept_rate_100'],
             'clusters/s'))
        add(('caas-all fill: accept rate at %dth' % fill['accepted'],
             fill['accept_rate_last'], 'clusters/s'))
        if fill.get('accept_rate_trend_pct_per_1000') is not None:
            add(('caas-all fill: accept rate drift per 1,000 clusters '
                 '(line through 100-POST windows)',
                 fill['accept_rate_trend_pct_per_1000'], '%'))
        add(('caas-all fill: POST /v1/clusters p99', fill['post_p99_ms'],
             'ms'))
        add(('caas-all fill: GET /v1/clustertemplates p50',
             fill['templates_p50_ms'], 'ms'))
        add(('caas-all fill: GET /v1/clustertemplates p99',
             fill['templates_p99_ms'], 'ms'))
        if 'templates_over_50ms' in fill:
            # A fill to 120 makes ~40 lists: its p99 is the slowest one.
            add(('caas-all fill: GET /v1/clustertemplates over 50 ms',
                 fill['templates_over_50ms'],
                 'of %d lists' % fill['templates_samples']))
    for name, r in sorted(results.get('rpc', {}).items()):
        if r.get('processes'):
            label = 'casts/s, %d sending process%s x %d threads (%s)' % (
                r['processes'], 'es' if r['processes'] > 1 else '',
                r['threads'], name.split(',')[0])
            add((label + ': sent', r['sent_casts_s'], '/s'))
            add((label + ': received', r['received_casts_s'], '/s'))
            add((label + ': sender CPU', r['sender_cpu_ms_per_cast'],
                 'ms/cast'))
            continue
        add(('casts/s, burst (%s)' % name, r['burst_casts_s'], '/s'))
        if r.get('burst_threads'):
            add(('casts/s, burst from %d threads (%s)' % (
                r['burst_threads'], name), r['burst_threads_casts_s'], '/s'))
    micro = results.get('micro', {})
    for key in sorted(k for k in micro if k.startswith('taskflow_')):
        r = micro[key]
        add(('TaskFlow per task, %s persistence (%d-task flow)' % (
            key.split('_', 1)[1], r['tasks']), r['persisted_ms_per_task'],
            'ms'))
        add(('TaskFlow per task, in memory (%s run)' % key.split('_', 1)[1],
             r['memory_ms_per_task'], 'ms'))
    for key, n in sorted(micro.get('sql_statements', {}).items()):
        backend, kind = key.split('_', 1)
        add(('SQL statements per %s (%s, on the wire)' % (kind, backend), n,
             'statements'))
    takeover = results.get('takeover')
    if takeover and takeover.get('times'):
        times = takeover['times']
        add(('takeover after kill -9 p50 (%d kills)' % len(times),
             round(statistics.median(times), 1), 's'))
        add(('takeover after kill -9 p99',
             round(harness.percentile(times, 99), 1), 's'))
        add(('takeover: false takeovers (claims taken from live owners)',
             takeover['false_takeovers'], 'claims'))
    real = results.get('realnodes')
    if real and not real.get('skipped'):
        add(('real 3-node Swarm: POST -> CREATE_COMPLETE p50 (%d rounds)' %
             len(real['rounds']), real['complete_p50_s'], 's'))
        add(('real node: largest RSS', real['rss_mib_max'], 'MiB'))
        add(('real node: largest PSS', real['pss_mib_max'], 'MiB'))
        add(('real 3-node Swarm: PSS of all nodes', real['pss_mib_total'],
             'MiB'))
        add(('real 3-node Swarm: DELETE -> nodes gone p50',
             real['delete_p50_s'], 's'))
    return rows


def _version(module):
    try:
        from importlib import metadata
        return metadata.version(module)
    except Exception:
        return None


def machine():
    with open('/proc/meminfo') as f:
        mem = f.readline().split()[1]
    cpu = None
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    rev = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=HERE,
                         capture_output=True, text=True).stdout.strip()
    return {'host': platform.node(), 'kernel': platform.release(),
            'cpus': os.cpu_count(), 'cpu_model': cpu,
            'mem_gib': round(int(mem) / 1024 / 1024, 1),
            'python': platform.python_version(), 'git': rev,
            'versions': {m: _version(m) for m in (
                'SQLAlchemy', 'psycopg2-binary', 'oslo.messaging',
                'taskflow', 'waitress', 'orjson', 'python-heatclient')}}


def run(scale, only=None, out=print):
    cfg = SCALES[scale]
    pg = os.environ.get('CAAS_TEST_DB_URL')
    rabbit = os.environ.get('CAAS_TEST_TRANSPORT_URL')
    wanted = [s for s in SECTIONS if not only or s in only]
    results, errors = {}, {}
    load_before = os.getloadavg()
    started = time.time()
    for section in wanted:
        needs_services = section in ('list', 'post', 'create', 'steady',
                                     'takeover')
        if needs_services and not (pg and rabbit):
            errors[section] = 'PostgreSQL/RabbitMQ not set up'
            continue
        out('== %s (%s)' % (section, scale))
        try:
            results[section] = SECTION_RUNNERS[section](cfg, pg, rabbit, out)
        except Exception as exc:   # one broken section must not hide others
            traceback.print_exc()
            errors[section] = '%s: %s' % (type(exc).__name__, exc)
    report = {'scale': scale, 'started': started,
              'seconds': round(time.time() - started),
              'load_average_before': load_before,
              'load_average_after': os.getloadavg(),
              'machine': machine(), 'results': results, 'errors': errors}
    report['table'] = flatten(results)
    return report


def _list(cfg, pg, rabbit, out):
    import list_latency
    rows = {}
    for n in cfg['list_sizes']:
        rows.update(list_latency.run(n, cfg['list_requests'], out=out,
                                     warmup=cfg['list_warmup']))
    return rows


def _post(cfg, pg, rabbit, out):
    # Enough creates for a p99, the API alone and then with a conductor
    # provisioning them on the same cores at equal priority: the
    # conductor's effect printed, not hidden (the create section's POST
    # row is its 60-1,000 creates); and once more with the conductor
    # reniced by 10, what giving the API priority does to that effect.
    # The API alone is also timed from threads of one process as before
    # the tenth round (its own row), after the client processes' figure.
    import list_latency
    rows = {}
    for conductors, nice in ((0, 0), (1, 0), (1, 10)):
        rows.update(list_latency.run(0, post_count=cfg['post_creates'],
                                     gets=False, conductors=conductors,
                                     conductor_nice=nice, out=out,
                                     threaded_posts=not conductors))
    return rows


# Each conductor's CPU in the capped create rows (cores): low enough that
# two capped conductors and everything they drive leave the 2-core
# machine room (~40 ms of a conductor and ~85 ms of the machine per
# cluster: two conductors at 0.25 core make ~12.5 clusters/s, ~1.1 cores).
CONDUCTOR_CPU_CAP = 0.25


def _create(cfg, pg, rabbit, out):
    import create_throughput
    rows = {'c%d' % c: create_throughput.run(
        cfg['creates'], c, out=out, warmup=cfg['create_warmup'])
        for c in (1, 2)}
    # The same with each conductor held to CONDUCTOR_CPU_CAP, as on a host
    # of its own: whether conductors scale out, where the rows above
    # measure the machine (one conductor and what it drives keep both
    # cores ~90 % busy).
    try:
        for c in (1, 2):
            rows['c%d_capped' % c] = create_throughput.run(
                cfg['creates'], c, out=out, warmup=cfg['create_warmup'],
                cpu_cap=CONDUCTOR_CPU_CAP)
    except (SystemExit, OSError) as exc:
        out('capped create rows skipped: %s' % exc)
    return rows


def _cpu(cfg, pg, rabbit, out):
    # A process of its own: it configures caas for itself.
    rows = {}
    for name, extra in (('time', []), ('calls', ['--calls'])):
        proc = subprocess.run(
            [sys.executable, os.path.join(HERE, 'conductor_cpu.py'),
             '--creates', str(cfg['cpu_creates']), '--json'] + extra,
            capture_output=True, text=True, timeout=1800)
        if proc.returncode:
            raise RuntimeError('conductor_cpu.py failed: %s' %
                               proc.stderr[-2000:])
        rows[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        out('conductor CPU per create (%s): %s' % (name, rows[name]))
    return rows


def _steady(cfg, pg, rabbit, out):
    import steady_state
    return {'n%d' % n: steady_state.run(n, cfg['steady_interval'],
                                        cfg['steady_windows'], out=out)
            for n in cfg['steady_sizes']}


def _fill(cfg, pg, rabbit, out):
    import fill
    return fill.run(cfg['fill'], cfg['fill_timeout'], out=out)


def _rpc(cfg, pg, rabbit, out):
    import rpc_cast
    harness.init_config()
    from caas.common import rpc
    rows = {'in-process': rpc_cast.run_transport(
        'memory (caas-all)', rpc.IN_PROCESS_TRANSPORT_URL, cfg['casts'], 60)}
    if rabbit:
        rows['RabbitMQ'] = rpc_cast.run_transport('rabbit', rabbit,
                                                  cfg['casts'], 120)
        # As caas-api with [api] workers: each process casts on its own
        # connections, to the conductor's endpoint in another process.
        for n in cfg['cast_processes']:
            rows['RabbitMQ, %d processes' % n] = rpc_cast.run_processes(
                rabbit, n, cfg['casts'], threads=2, timeout=180, out=out)
    return rows


def _micro(cfg, pg, rabbit, out):
    import micro
    return micro.run(cfg['taskflow_tasks'], pg, out=out,
                     transport_url=rabbit)


def _takeover(cfg, pg, rabbit, out):
    import takeover
    return takeover.run(cfg['takeover_rounds'], out=out)


def _realnodes(cfg, pg, rabbit, out):
    import real_nodes
    # Skipped (reason printed) where real nodes cannot run.
    return real_nodes.run(cfg['realnode_rounds'], out=out)


SECTION_RUNNERS = {'list': _list, 'post': _post, 'create': _create,
                   'cpu': _cpu,
                   'steady': _steady,
                   'fill': _fill, 'rpc': _rpc, 'micro': _micro,
                   'takeover': _takeover, 'realnodes': _realnodes}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--scale', default=os.environ.get('BENCH_SCALE',
                                                          'small'),
                        choices=sorted(SCALES))
    parser.add_argument('--only', default=os.environ.get('BENCH_ONLY', ''),
                        help='Comma-separated sections of %s.' %
                        ', '.join(SECTIONS))
    parser.add_argument('--output', default=os.path.join(
        HERE, 'results', 'latest.json'))
    args = parser.parse_args(argv)
    harness.quiet_logs()
    only = [s for s in args.only.split(',') if s]
    report = run(args.scale, only)
    print()
    print('caas bench (%s) on %s, %d CPUs, load average %.1f before / %.1f '
          'after, git %s' % (
              args.scale, report['machine']['host'],
              report['machine']['cpus'], report['load_average_before'][0],
              report['load_average_after'][0], report['machine']['git']))
    for line in table(report['table']):
        print(line)
    for section, why in report['errors'].items():
        print('section %s not measured: %s' % (section, why))
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, 'w') as f:
        json.dump(report, f, indent=2, sort_keys=True, default=str)
    print('written to %s' % args.output)
    return 1 if report['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
