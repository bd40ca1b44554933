"""Creates on PostgreSQL + RabbitMQ with 1 or more conductors.

caas-cloudsim (server boot 0.2 s), caas-api and C caas-conductor processes
with the default conductor timings. 16 client threads POST K clusters;
a poller lists the clusters every 0.5 s. Prints POST -> 202 p50/p99,
creates accepted per second, clusters completed per minute, POST ->
CREATE_COMPLETE p50/p99 (0.5 s resolution) and conductor CPU seconds per
cluster created (the conductors' whole processes, from the first POST to the
last cluster's end; their start-up is not counted). Printed apart, never
folded in: the conductors' idle CPU (% of a core over a few seconds
before the first POST), the CPU of ``--warmup`` creates made and finished
before the measured ones (a process's first creates import, compile and
fetch its token), the cloud requests per cluster created (the simulated
cloud's log, by method and service) and the machine's CPU busy % over the
measured run (``/proc/stat``, all cores: whether the cores were free).

    eval "$(tools/services.sh start)"
    .venv/bin/python benchmarks/create_throughput.py [--clusters 1000] [--conductors 1]
        [--warmup 0] [--profile DIR [--gil]] [--cpu-cap CORES]

``--profile DIR`` samples each conductor process with py-spy (every
thread, 100 Hz, idle samples left out) from the first POST to the last
cluster's end, writes its collapsed stacks to DIR/conductor-N.txt and
prints each thread kind's share of the samples. With ``--gil`` py-spy
samples only the thread that holds the GIL: a thread waiting for
PostgreSQL or the cloud with the GIL released is not counted, so the
stacks show where the process's Python work goes (without it, a wait in
psycopg2 or a socket reads as busy).

``--cpu-cap CORES`` holds each conductor to CORES of CPU (a cgroup each,
as on a host of its own; root only): the rest of the deployment keeps the
machine's cores, so the ratio of two conductors to one measures the
conductors, not the machine (``CpuCap``). Every run prints each process's
CPU per cluster created (``machine_ms_per_cluster``).

Prints figures; asserts nothing about time.
"""

import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deploy  # noqa: E402
import harness  # noqa: E402
import steady_state  # noqa: E402

CLIENTS = 16


def _completed(api_url, session):
    """{uuid: status} of every cluster, following the pages."""
    out, url = {}, api_url + '/v1/clusters?limit=1000'
    while url:
        body = session.get(url, headers=deploy.HEADERS).json()
        for c in body['clusters']:
            out[c['uuid']] = c['status']
        url = body.get('next')
    return out


def _py_spy():
    here = os.path.join(os.path.dirname(sys.executable), 'py-spy')
    return here if os.path.exists(here) else shutil.which('py-spy')


def start_profile(pid, path, gil=False):
    """py-spy sampling every thread of ``pid`` into ``path`` (``gil``:
    only the thread holding the GIL)."""
    exe = _py_spy()
    if not exe:
        raise SystemExit('--profile needs py-spy (pip install py-spy)')
    return subprocess.Popen(
        [exe, 'record', '--pid', str(pid), '--threads', '--rate', '100',
         '--format', 'raw', '--output', path, '--nonblocking'] +
        (['--gil'] if gil else []),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(proc):
    harness.stop(proc, signal.SIGINT, 60)


def thread_cpu(pid):
    """{native thread id: CPU seconds} of a process's threads now.

    From each thread's ``schedstat`` (its time on a CPU, in nanoseconds).
    The clock ticks of ``task/*/stat`` are no use here: each thread's are
    rounded down to a tick on their own, and over the ~45 threads of a
    conductor (32 flow workers, the RPC executor's) the sum fell 13-18 %
    short of the process's CPU, a share earlier rounds printed as "threads
    ended during the run" and took for the RPC executor's retired workers
    (none ended: a 20 ms sampler of ``/proc/PID/task`` saw no thread go).
    """
    out = {}
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as f:
                out[int(tid)] = int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            pass
    return out


def machine_ticks():
    """(busy, total) clock ticks of every core so far (``/proc/stat``)."""
    with open('/proc/stat') as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is in user).
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def busy_pct(before, after):
    """The machine's CPU busy % between two ``machine_ticks`` reads (100 %:
    every core busy)."""
    total = after[1] - before[1]
    return round(100.0 * (after[0] - before[0]) / total, 1) if total else None


def thread_names(path):
    """{native thread id: name} from py-spy's raw output."""
    names = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'thread \((\d+)\)(?:: ([^;]*))?;', line)
            if m and m.group(2):
                names[int(m.group(1))] = m.group(2)
    return names


# A thread's kind from its name: TaskFlow's flow workers (FlowRunner's
# pool), oslo.messaging's listener and its executor's workers (unnamed
# Thread-N), the conductor's periodic threads.
THREAD_KINDS = [
    ('flow workers', re.compile(r'^flow_')),
    ('RPC listener', re.compile(r'\(_runner\)$')),
    ('RPC executor', re.compile(r'^Thread-\d+$')),
    ('heartbeat', re.compile(r'^heartbeat$')),
    ('sweeper', re.compile(r'^sweeper$')),
    ('health', re.compile(r'^health')),
    ('main', re.compile(r'^MainThread$')),
]


def thread_shares(before, after, names):
    """{thread kind: CPU seconds between the two ``thread_cpu`` reads}."""
    shares = collections.Counter()
    for tid, cpu in after.items():
        name = names.get(tid, '')
        for kind, pattern in THREAD_KINDS:
            if pattern.search(name):
                break
        else:
            kind = 'other (%s)' % (name or 'unnamed')
        shares[kind] += cpu - before.get(tid, 0.0)
    return shares


CLK_TCK = os.sysconf('SC_CLK_TCK')


def per_cluster_ms(before, after, machine_busy_s, clusters):
    """{process: ms of CPU per cluster} between two ``process_cpu`` reads,
    with "other" (the machine's busy time no listed process used) and
    "machine" (all of it)."""
    if not clusters:
        return {}
    spent = {k: after[k] - before.get(k, 0.0) for k in after}
    out = {k: round(1000.0 * v / clusters, 1) for k, v in spent.items()}
    # "postgresql for X" rows are parts of "postgresql".
    whole = sum(v for k, v in spent.items() if ' for ' not in k)
    out['other'] = round(1000.0 * (machine_busy_s - whole) / clusters, 1)
    out['machine'] = round(1000.0 * machine_busy_s / clusters, 1)
    return out


def _self_cpu():
    t = os.times()
    return t.user + t.system


def process_cpu(dep, conductors):
    """{process: CPU seconds so far} of every process a create runs
    through: the conductors, caas-api, caas-cloudsim, PostgreSQL and
    RabbitMQ (with their helper and ended child processes) and this
    benchmark's own clients and poller."""
    out = {'conductor %d' % i: deploy.family_cpu_seconds(
        dep.pid(dep.conductor_name(i))) for i in range(conductors)}
    out['api'] = deploy.family_cpu_seconds(dep.pid('api'))
    out['cloudsim'] = deploy.family_cpu_seconds(dep.pid('cloudsim'))
    for name, pid in deploy.service_pids().items():
        out[name] = deploy.family_cpu_seconds(pid)
    # PostgreSQL's share by the service its backends serve (their
    # application_name); backends that ended stay in "postgresql".
    for app, cpu in deploy.pg_backend_cpu(dep.db_url).items():
        out['postgresql for ' + app] = cpu
    out['bench clients'] = _self_cpu()
    return out


class CpuCap:
    """Each conductor process in a cgroup of its own, held to ``cores`` of
    CPU (the kernel's CFS quota): as if each ran on a host of its own with
    that much CPU, while the rest of the deployment (API, simulated cloud,
    PostgreSQL, RabbitMQ) shares the machine's cores as before.

    On a machine where one conductor already keeps every core busy with
    the processes it drives, a second one finds no CPU and the ratio of
    two conductors to one says nothing about caas; capped, it says whether
    conductors scale out (no shared lock, queue or duplicated work). Needs
    root and a cgroup v1 ``cpu`` hierarchy, or cgroup v2 with the ``cpu``
    controller enabled for the root's children (else an OSError:
    ``make bench`` then prints the capped rows as skipped).
    """

    V1 = '/sys/fs/cgroup/cpu'
    V2 = '/sys/fs/cgroup'
    PERIOD_US = 100000

    def __init__(self, cores):
        self.cores = cores
        self.groups = []
        if os.path.exists(os.path.join(self.V1, 'cpu.cfs_quota_us')):
            self.root, self.v2 = self.V1, False
        elif os.path.exists(os.path.join(self.V2, 'cgroup.controllers')):
            self.root, self.v2 = self.V2, True
        else:
            raise SystemExit('--cpu-cap needs a cgroup cpu controller')

    def add(self, pid):
        path = os.path.join(self.root, 'caas-bench-%d' % pid)
        os.mkdir(path)
        self.groups.append(path)
        quota = int(self.cores * self.PERIOD_US)
        if self.v2:
            with open(os.path.join(path, 'cpu.max'), 'w') as f:
                f.write('%d %d' % (quota, self.PERIOD_US))
        else:
            with open(os.path.join(path, 'cpu.cfs_period_us'), 'w') as f:
                f.write(str(self.PERIOD_US))
            with open(os.path.join(path, 'cpu.cfs_quota_us'), 'w') as f:
                f.write(str(quota))
        # The whole process (every thread) moves.
        with open(os.path.join(path, 'cgroup.procs'), 'w') as f:
            f.write(str(pid))

    def throttled_s(self):
        """Seconds the capped processes were held back by their quota."""
        total = 0
        for path in self.groups:
            with open(os.path.join(path, 'cpu.stat')) as f:
                for line in f:
                    key, value = line.split()
                    if key == 'throttled_time':  # v1, ns
                        total += int(value) / 1e9
                    elif key == 'throttled_usec':  # v2
                        total += int(value) / 1e6
        return round(total, 1)

    def remove(self):
        """Remove the groups (their processes stopped, or moved back)."""
        for path in self.groups:
            try:
                with open(os.path.join(path, 'cgroup.procs')) as f:
                    pids = f.read().split()
                for pid in pids:
                    with open(os.path.join(self.root, 'cgroup.procs'),
                              'w') as f:
                        f.write(pid)
                os.rmdir(path)
            except OSError:
                pass
        self.groups = []


def wait_started(dep, conductors, timeout=120):
    """Wait until every conductor logged that it started.

    The deployment waits for the API only; a conductor still importing its
    modules (1-2 CPU-s on a loaded machine) would count its start-up as CPU
    spent on the clusters.
    """
    deadline = time.monotonic() + timeout
    for i in range(conductors):
        while 'started on topic' not in dep.logs(dep.conductor_name(i)):
            if time.monotonic() > deadline:
                raise SystemExit('conductor %d did not start' % i)
            time.sleep(0.1)


IDLE_SECONDS = 3.0


def _post(api_url, session, template, name):
    return session.post(api_url + '/v1/clusters', headers=deploy.HEADERS,
                        json={'name': name, 'cluster_template_id': template,
                              'master_count': 1, 'node_count': 1})


def _warm_up(dep, template, count, timeout):
    """Create ``count`` clusters and wait until they end (not measured);
    their uuids."""
    s = requests.Session()
    uuids = set()
    for i in range(count):
        r = _post(dep.api_url, s, template, 'warm-%03d' % i)
        r.raise_for_status()
        uuids.add(r.json()['uuid'])
    deadline, waiting = harness.Deadline(timeout), set(uuids)
    while waiting and not deadline.passed():
        got = _completed(dep.api_url, s)
        waiting = {u for u in waiting if not (
            got.get(u) == 'CREATE_COMPLETE' or
            str(got.get(u)).endswith('FAILED'))}
        time.sleep(0.2)
    return uuids


def run(clusters, conductors=1, timeout=900, out=print, profile=None,
        warmup=0, gil=False, cpu_cap=None):
    cap = CpuCap(cpu_cap) if cpu_cap else None
    dep = deploy.BenchDeployment(conductors=conductors, boot_delay=0.2,
                                 conductor_opts=steady_state.DEFAULT_TIMINGS)
    try:
        dep.start()
        s = requests.Session()
        r = s.post(dep.api_url + '/v1/clustertemplates', headers=deploy.HEADERS,
                   json={'name': 'bench', 'coe': 'kubernetes',
                         'image_id': 'ubuntu-jammy', 'flavor_id': 'm1.small',
                         'master_flavor_id': 'm1.small',
                         'keypair_id': 'default',
                         'external_network_id': 'public'})
        r.raise_for_status()
        template = r.json()['uuid']
        wait_started(dep, conductors)
        pids = [dep.pid(dep.conductor_name(i)) for i in range(conductors)]
        for pid in pids if cap else ():
            cap.add(pid)
        idle0 = sum(deploy.cpu_seconds(p) for p in pids)
        time.sleep(IDLE_SECONDS)
        idle_cpu = sum(deploy.cpu_seconds(p) for p in pids) - idle0
        warm0 = sum(deploy.cpu_seconds(p) for p in pids)
        warm = _warm_up(dep, template, warmup, timeout) if warmup else ()
        warm_cpu = sum(deploy.cpu_seconds(p) for p in pids) - warm0
        requests0 = dep.sim_requests()
        ticks0 = machine_ticks()
        procs0 = process_cpu(dep, conductors)
        threads0 = [thread_cpu(p) for p in pids]
        posted, post_lat, lock = {}, [], threading.Lock()
        deadline = harness.Deadline(timeout)
        done, stop = {}, threading.Event()

        def poll():
            ps = requests.Session()
            while not stop.is_set():
                now = time.monotonic()
                for uuid, status in _completed(dep.api_url, ps).items():
                    if uuid in done or uuid in warm:
                        continue
                    if status == 'CREATE_COMPLETE' or \
                            status.endswith('FAILED'):
                        done[uuid] = (now, status)
                stop.wait(0.5)
        poller = threading.Thread(target=poll, daemon=True)

        def client(indexes):
            cs = requests.Session()
            for i in indexes:
                if deadline.passed():
                    return
                t0 = time.monotonic()
                r = _post(dep.api_url, cs, template, 'tp-%05d' % i)
                t1 = time.monotonic()
                if r.status_code != 202:
                    out('POST answered %s: %s' % (r.status_code, r.text[:200]))
                    continue
                with lock:
                    post_lat.append(t1 - t0)
                    posted[r.json()['uuid']] = t0
        spies = []
        if profile:
            os.makedirs(profile, exist_ok=True)
            spies = [start_profile(pid, os.path.join(
                profile, 'conductor-%d.txt' % i), gil)
                for i, pid in enumerate(pids)]
        start = time.monotonic()
        poller.start()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(client, [range(k, clusters, CLIENTS)
                                   for k in range(CLIENTS)]))
        accept_wall = time.monotonic() - start
        while len(done) < len(posted) and not deadline.passed():
            time.sleep(0.5)
        stop.set()
        poller.join(10)
        ticks1 = machine_ticks()
        procs1 = process_cpu(dep, conductors)
        requests1 = dep.sim_requests()
        # Each conductor's whole process (it starts no child process).
        cpu_per_pid = [procs1['conductor %d' % i] - procs0['conductor %d' % i]
                       for i in range(conductors)]
        threads1 = [thread_cpu(p) for p in pids]
        for spy in spies:
            stop_profile(spy)
        ok = [u for u, (t, st) in done.items() if st == 'CREATE_COMPLETE']
        last = max((done[u][0] for u in ok), default=start)
        cpu = sum(cpu_per_pid)
        e2e = [done[u][0] - posted[u] for u in ok if u in posted]
        row = {
            'clusters': clusters, 'conductors': conductors,
            'posted': len(posted), 'completed': len(ok),
            'failed': len(done) - len(ok),
            'post_p50_ms': harness.pct_ms(post_lat, 50),
            'post_p99_ms': harness.pct_ms(post_lat, 99),
            'creates_s': round(len(posted) / accept_wall, 1),
            'clusters_min': round(len(ok) / (last - start) * 60, 1)
            if ok else None,
            'complete_p50_s': round(harness.percentile(e2e, 50), 1)
            if e2e else None,
            'complete_p99_s': round(harness.percentile(e2e, 99), 1)
            if e2e else None,
            'cpu_s_per_cluster': round(cpu / len(ok), 3) if ok else None,
            'idle_cpu_pct': round(100.0 * idle_cpu / IDLE_SECONDS, 2),
            'warmup_creates': warmup,
            'warmup_cpu_s': round(warm_cpu, 3),
            'machine_busy_pct': busy_pct(ticks0, ticks1),
            'cloud_requests_per_cluster': {
                k: round((v - requests0.get(k, 0)) / len(ok), 2)
                for k, v in sorted(requests1.items())
                if ok and v != requests0.get(k, 0)},
            # Every process's CPU per cluster created, in ms, and the rest
            # of the machine's busy time ("other": the kernel's softirqs,
            # processes outside the deployment).
            'machine_ms_per_cluster': per_cluster_ms(
                procs0, procs1, (ticks1[0] - ticks0[0]) / CLK_TCK,
                len(ok)),
            'conductor_cpu_cap': cpu_cap,
            'conductor_throttled_s': cap.throttled_s() if cap else None,
            'pool_full_warnings': sum(
                dep.logs(dep.conductor_name(i)).count('pool is full')
                for i in range(conductors)),
        }
        out('create %d with %d conductor(s): %s' % (clusters, conductors,
                                                     row))
        for i in range(len(spies)):
            shares = thread_shares(threads0[i], threads1[i], thread_names(
                os.path.join(profile, 'conductor-%d.txt' % i)))
            # Threads that ended during the run (their CPU stays in the
            # process's): what the process spent beyond its live threads.
            ended = cpu_per_pid[i] - sum(shares.values())
            if ended > 0.005:
                shares['threads ended during the run'] = ended
            total = sum(shares.values()) or 1
            out('conductor %d, %.2f CPU-s: %s' % (
                i, total, ', '.join('%s %.1f %%' % (k, 100.0 * v / total)
                                    for k, v in shares.most_common())))
        return row
    finally:
        dep.stop_all()
        if cap:
            cap.remove()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clusters', type=int, default=1000)
    parser.add_argument('--conductors', type=int, default=1)
    parser.add_argument('--timeout', type=float, default=900)
    parser.add_argument('--warmup', type=int, default=0,
                        help='clusters created (and their CPU printed) '
                             'before the measured ones')
    parser.add_argument('--profile', metavar='DIR',
                        help='sample the conductors with py-spy into DIR')
    parser.add_argument('--gil', action='store_true',
                        help='with --profile: sample only the thread '
                             'holding the GIL')
    parser.add_argument('--cpu-cap', type=float, metavar='CORES',
                        help='hold each conductor to this much CPU '
                             '(a cgroup each, as on a host of its own)')
    args = parser.parse_args(argv)
    harness.quiet_logs()
    run(args.clusters, args.conductors, args.timeout, profile=args.profile,
        warmup=args.warmup, gil=args.gil, cpu_cap=args.cpu_cap)
    return 0


if __name__ == '__main__':
    sys.exit(main())
