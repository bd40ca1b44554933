"""GET /v1/clusters and GET /v1/clusters/<id> with many settled clusters,
and POST /v1/clusters -> 202 of the API alone.

caas-api on PostgreSQL (``tools/services.sh start``), one worker process
per CPU (``[api] workers = 0``);
N settled clusters inserted straight into the database. From 1 and from
16 clients, each a process of its own with one keep-alive connection that
reads (and counts) every byte of every answer: p50/p99 latency, requests
per second and the API processes' CPU per request over a bounded number
of requests, with p90, p99.9 and max, and (``split``) how many of the
timed clients' connections each API process holds. The list is also timed as before the sixth round, from 1
and 16 threads of this one process with ``requests`` (rows ``*_threads``:
there the clients' own parsing and interpreter lock weigh on the
latency). Before each figure every client connects and makes
``--warmup`` GETs (5): their latency and the API's CPU for them are the
row ``*_warmup``, printed apart and kept out of the figure (a client's
connection and a worker's first answers are not the list's steady
cost, and with few timed requests they made it). A list returns one
page of at most ``[api] max_limit`` (1,000) clusters. With ``--posts N``,
16 client processes then POST N clusters, each over one keep-alive
connection with pre-encoded bytes (a counter spliced into the name),
every answer checked to be a 202 with a UUID (after a warm-up of one
create each, printed apart) with no conductor running (the casts wait in the
queue): POST -> 202 p50/p99 and the API's CPU per create, without the
conductors' CPU in the way; ``--conductors N`` runs N conductors that
provision the clusters meanwhile (row ``post_c16_cond<N>``: what the
conductors' CPU on the same cores does to the POSTs). ``--posts-only``
skips the GETs. ``--threaded-posts`` also times the creates as before
the tenth round, from 16 threads of this process with ``requests`` (row
``post_c16_threads``). ``--profile DIR`` samples the API
worker processes with py-spy (100 Hz, the thread holding the interpreter
lock only: where the API's CPU goes) during those
POSTs into DIR/api-<pid>.txt (collapsed stacks).

    eval "$(tools/services.sh start)"
    .venv/bin/python benchmarks/list_latency.py [--clusters 1000] [--requests 400] [--posts 160]
        [--profile DIR] [--posts-only] [--conductors N] [--threaded-posts]

Prints figures; asserts nothing about time.
"""

import argparse
import concurrent.futures
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import orjson
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deploy  # noqa: E402
import harness  # noqa: E402


def load(url, total, threads, timeout, warmup=1, on_ready=None):
    """(latencies, wall seconds, warm-up latencies) of ``total`` GETs
    spread over threads of this process, with requests (the figure before
    the sixth round: the clients share one interpreter lock, and a 680 kB
    body read and timed by 16 threads of one process on the machine's two
    cores is partly the client's own time). Each thread first connects
    and makes ``warmup`` GETs, timed apart; ``on_ready`` is called once
    every thread has, before any is timed."""
    deadline = harness.Deadline(timeout)
    per = max(1, total // threads)
    started = []

    def ready():
        if on_ready is not None:
            on_ready()
        started.append(time.perf_counter())

    barrier = threading.Barrier(threads, action=ready)

    def worker():
        s = requests.Session()
        warm = []
        for _ in range(max(1, warmup)):
            start = time.perf_counter()
            s.get(url, headers=deploy.HEADERS).raise_for_status()
            warm.append(time.perf_counter() - start)
        barrier.wait(timeout)
        out = []
        for _ in range(per):
            if deadline.passed():
                break
            start = time.perf_counter()
            r = s.get(url, headers=deploy.HEADERS)
            out.append(time.perf_counter() - start)
            r.raise_for_status()
        return out, warm

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = [f.result() for f in
                   [pool.submit(worker) for _ in range(threads)]]
    wall = time.perf_counter() - started[0]
    return ([x for r in results for x in r[0]], wall,
            [x for r in results for x in r[1]])


class RawClient:
    """One keep-alive HTTP/1.1 connection that sends a fixed request and
    reads every byte of each answer into one reused buffer: what it costs
    the client is a few system calls, not the response's parsing.

    ``body`` (bytes, for a POST) may hold ``SLOT`` once: each request
    sends it with the slot replaced by this client's request counter
    (``SLOT``'s width in digits), so every request names a new resource
    with the same pre-encoded bytes and the same ``Content-Length``.

    Each answer must be ``status`` with a ``Content-Length`` equal to
    ``expect_length`` (when given) and exactly that many bytes, and
    ``check`` (when given) must accept the body: a short, long, failed
    or wrong answer raises instead of being timed.
    """

    SLOT = b'########'

    def __init__(self, url, headers, expect_length=None, method='GET',
                 body=None, status=200, check=None):
        parts = urllib.parse.urlsplit(url)
        self.address = (parts.hostname, parts.port or 80)
        target = parts.path + ('?' + parts.query if parts.query else '')
        lines = ['%s %s HTTP/1.1' % (method, target),
                 'Host: %s' % parts.netloc]
        lines += ['%s: %s' % kv for kv in headers.items()
                  if body is not None or kv[0].lower() != 'content-type']
        if body is not None:
            lines.append('Content-Length: %d' % len(body))
        head = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
        if body is not None and self.SLOT in body:
            before, after = body.split(self.SLOT)
            self._parts = (head + before, after)
        else:
            self._parts = None
        self.request = head + (body or b'')
        self.sent = 0
        self.status = status
        self.check = check
        self.expect_length = expect_length
        self.buf = bytearray((expect_length or 0) + (1 << 16))
        self.sock = socket.create_connection(self.address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self):
        """Send the request and read its whole answer; its body length."""
        if self._parts is None:
            self.sock.sendall(self.request)
        else:
            counter = b'%0*d' % (len(self.SLOT), self.sent)
            if len(counter) != len(self.SLOT):
                raise RuntimeError('more requests than %s has digits'
                                   % self.SLOT)
            self.sock.sendall(self._parts[0] + counter + self._parts[1])
        self.sent += 1
        view = memoryview(self.buf)
        got, head = 0, -1
        while head < 0:
            if got == len(self.buf):
                raise RuntimeError('response head larger than %d bytes'
                                   % got)
            n = self.sock.recv_into(view[got:])
            if not n:
                raise RuntimeError('connection closed in the head')
            got += n
            head = self.buf.find(b'\r\n\r\n', 0, got)
        status, length = self._parse_head(bytes(self.buf[:head]))
        if status != self.status:
            raise RuntimeError('status %d: %r' % (
                status, bytes(self.buf[head + 4:got])[:300]))
        if self.expect_length is not None and length != self.expect_length:
            raise RuntimeError('body of %d bytes, expected %d' % (
                length, self.expect_length))
        end = head + 4 + length
        if end > len(self.buf):
            view.release()
            self.buf.extend(bytes(end - len(self.buf)))
            view = memoryview(self.buf)
        while got < end:
            n = self.sock.recv_into(view[got:end])
            if not n:
                raise RuntimeError('connection closed after %d of %d body '
                                   'bytes' % (got - head - 4, length))
            got += n
        view.release()
        if got != end:
            raise RuntimeError('%d bytes after the body' % (got - end))
        if self.check is not None:
            self.check(bytes(self.buf[head + 4:end]))
        return length

    @staticmethod
    def _parse_head(head):
        lines = head.split(b'\r\n')
        status = int(lines[0].split(b' ', 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b':')
            if name.strip().lower() == b'content-length':
                length = int(value)
        if length is None:
            raise RuntimeError('no Content-Length in %r' % head)
        return status, length

    def close(self):
        self.sock.close()


def accepted_uuid(body):
    """A create's 202 body: exactly ``{"uuid": "<a UUID>"}``."""
    value = orjson.loads(body)
    if not isinstance(value, dict) or list(value) != ['uuid'] or \
            str(uuid.UUID(value['uuid'])) != value['uuid']:
        raise RuntimeError('not a create\'s answer: %r' % body[:300])


def get_client(url, expect_length=None):
    """A client factory (``load_processes``) of fixed GETs of ``url``."""
    return lambda index: RawClient(url, deploy.HEADERS, expect_length)


def create_client(url, body):
    """A client factory of creates: ``body`` (a dict) POSTed to ``url``
    with ``name`` made unique per client and per request, each answer a
    202 with the new resource's UUID."""
    def make(index):
        named = dict(body, name='post-%02d-%s' % (
            index, RawClient.SLOT.decode()))
        return RawClient(url, deploy.HEADERS, method='POST',
                         body=orjson.dumps(named), status=202,
                         check=accepted_uuid)
    return make


def _client_process(make_client, index, count, timeout, go, results,
                    nice=0, warmup=1):
    """A client of its own process: connect and warm up (``warmup``
    requests, timed apart), wait for ``go``, then time ``count``
    requests; puts the warm-up's latencies, then (latencies, first start,
    last end)."""
    try:
        if nice:
            os.nice(nice)
        client = make_client(index)
        warm = []
        for _ in range(max(1, warmup)):
            start = time.perf_counter()
            client.send()
            warm.append(time.perf_counter() - start)
        results.put(('ready', warm))
        go.wait()
        deadline = harness.Deadline(timeout)
        out = []
        cpu = time.process_time()
        first = time.perf_counter()
        for _ in range(count):
            if deadline.passed():
                break
            start = time.perf_counter()
            client.send()
            out.append(time.perf_counter() - start)
        results.put(('done', (out, first, time.perf_counter(),
                              time.process_time() - cpu)))
        client.close()
    except Exception as exc:
        results.put(('error', '%s: %s' % (type(exc).__name__, exc)))


def load_processes(make_client, total, clients, timeout, on_ready=None,
                   nice=0, warmup=1):
    """(latencies, wall seconds, warm-up latencies, the clients' CPU
    seconds while timed) of ``total`` requests from ``clients`` client
    processes, each one keep-alive connection
    (``make_client(index)``, a ``RawClient``) reading and checking every
    byte of every answer: each client has its own interpreter, so a
    client's latency is not its neighbours' parsing.
    ``on_ready`` is called once every client is connected, before any is
    timed. ``nice``: added to the clients' niceness (the API keeps its
    own), to see how much the clients' CPU on the same cores weighs.
    ``warmup``: requests each client makes after connecting, before any
    is timed (the first answers of a process: its connections to the
    database, the list's body made once, a create's first template)."""
    ctx = multiprocessing.get_context('fork')
    go = ctx.Event()
    results = ctx.Queue()
    per = max(1, total // clients)
    procs = [ctx.Process(target=_client_process, daemon=True,
                         args=(make_client, k, per, timeout, go,
                               results, nice, warmup))
             for k in range(clients)]
    for proc in procs:
        proc.start()
    try:
        done = []
        warm = []
        for _ in range(clients):
            kind, value = results.get(timeout=timeout)
            if kind == 'error':
                raise RuntimeError('a client failed: %s' % value)
            warm.extend(value)
        if on_ready is not None:
            on_ready()
        go.set()
        for _ in range(clients):
            kind, value = results.get(timeout=timeout + 30)
            if kind == 'error':
                raise RuntimeError('a client failed: %s' % value)
            done.append(value)
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    wall = max(d[2] for d in done) - min(d[1] for d in done)
    return ([x for d in done for x in d[0]], wall, warm,
            sum(d[3] for d in done))


def connection_split(port):
    """How many established connections to ``port`` each process holds
    (``ss -tnp``), largest first: how the clients spread over the API's
    worker processes."""
    out = subprocess.run(
        ['ss', '-tnpH', 'state', 'established', '( sport = :%d )' % port],
        capture_output=True, text=True, check=True).stdout
    per_pid = {}
    for line in out.splitlines():
        for pid in set(re.findall(r'pid=(\d+)', line)):
            per_pid[pid] = per_pid.get(pid, 0) + 1
    return sorted(per_pid.values(), reverse=True)


def create_body(dep):
    """A template of its own for the creates, and the create's body
    (without a name)."""
    r = requests.post(
        dep.api_url + '/v1/clustertemplates', headers=deploy.HEADERS,
        json={'name': 'bench-post', 'coe': 'kubernetes',
              'image_id': 'ubuntu-jammy', 'flavor_id': 'm1.small',
              'master_flavor_id': 'm1.small', 'keypair_id': 'default',
              'external_network_id': 'public'})
    r.raise_for_status()
    return {'cluster_template_id': r.json()['uuid'], 'master_count': 1,
            'node_count': 1}


def posts(dep, total, body, threads=16, started=None, warmup=None):
    """(latencies, wall seconds, this process's CPU seconds meanwhile)
    of ``total`` cluster creates from
    threads of this process with requests (the figure before the tenth
    round: the clients' own CPU and interpreter lock in the latency);
    ``started`` is called once the warm-up creates are done, and
    ``warmup`` (a list) gets their latencies (the first create of each
    API process: cold start, so not in the figures, but printed apart)."""
    def worker(indexes):
        cs = requests.Session()
        out = []
        for i in indexes:
            start = time.perf_counter()
            r = cs.post(dep.api_url + '/v1/clusters', headers=deploy.HEADERS,
                        json=dict(body, name='post-t-%05d' % i))
            out.append(time.perf_counter() - start)
            r.raise_for_status()
        return out

    # One create per thread first, from threads of their own at once so
    # that each API worker process gets some: connections, caches, the
    # template, the service's token and clients (not counted).
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        cold = list(pool.map(worker, [range(-k - 1, -k)
                                      for k in range(threads)]))
    if warmup is not None:
        warmup.extend(x for r in cold for x in r)
    if started is not None:
        started()
    cpu = time.process_time()
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, [range(k, total, threads)
                                         for k in range(threads)]))
    return ([x for r in results for x in r], time.perf_counter() - start,
            time.process_time() - cpu)


def _children(pid):
    with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
        return [int(c) for c in f.read().split()] or [pid]


def start_profiles(pid, directory, rate=100):
    """py-spy sampling each API worker of ``pid`` into ``directory``."""
    here = os.path.join(os.path.dirname(sys.executable), 'py-spy')
    exe = here if os.path.exists(here) else shutil.which('py-spy')
    if not exe:
        raise SystemExit('--profile needs py-spy (pip install py-spy)')
    os.makedirs(directory, exist_ok=True)
    return [subprocess.Popen(
        [exe, 'record', '--pid', str(child), '--gil', '--rate', str(rate),
         '--format', 'raw', '--nonblocking',
         '--output', os.path.join(directory, 'api-%d.txt' % child)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for child in _children(pid)]


def stop_profiles(procs):
    for proc in procs:
        harness.stop(proc, signal.SIGINT, 60)


def run(clusters, requests_per_figure=400, timeout=120, out=print,
        post_count=0, api_workers=0, threaded_list=True, api_threads=None,
        client_nice=0, profile=None, profile_gets=None, gets=True,
        conductors=0, conductor_nice=0, warmup=5, threaded_posts=False):
    """The figures (``gets=False``: the POSTs only). With ``conductors``,
    that many conductors run beside the API and provision each cluster
    as it is accepted (their CPU on the same cores): the POST row's key
    then ends in ``_cond<N>`` (and ``_nice<M>`` when ``conductor_nice``
    lowers their priority by M: what an operator's niceness for the
    conductor would give the POSTs on a shared machine). With
    ``threaded_posts`` the creates are also timed from threads of this
    process with requests (row ``*_threads``)."""
    dep = deploy.BenchDeployment(conductors=conductors,
                                 api_workers=api_workers,
                                 api_threads=api_threads)
    rows = {}
    try:
        dep.migrate_only()
        if clusters:
            deploy.insert_settled(dep.db_url, clusters)
        dep.start()
        api_pid = dep.pid('api')
        if conductors and conductor_nice:
            for i in range(conductors):
                renice(dep.pid(dep.conductor_name(i)), conductor_nice)
        if gets:
            rows.update(_gets(dep, api_pid, clusters, requests_per_figure,
                              timeout, out, threaded_list, client_nice,
                              profile_gets, warmup))
        if post_count:
            rows.update(_posts(dep, api_pid, post_count, out, profile,
                               conductors, conductor_nice, threaded_posts))
    finally:
        dep.stop_all()
    return rows


def _gets(dep, api_pid, clusters, requests_per_figure, timeout, out,
          threaded_list, client_nice, profile_gets, warmup):
    rows = {}
    one = requests.get(dep.api_url + '/v1/clusters?limit=1',
                       headers=deploy.HEADERS).json()['clusters'][0]
    targets = {'list': dep.api_url + '/v1/clusters',
               'detail': dep.api_url + '/v1/clusters/%s' % one['uuid']}
    bodies = {kind: requests.get(url, headers=deploy.HEADERS).content
              for kind, url in targets.items()}
    page = len(orjson.loads(bodies['list'])['clusters'])
    # Each figure from client processes (the figures' names), and the
    # list's also from threads of this process as before the sixth
    # round ('_threads': the clients' own CPU and interpreter lock in
    # the latency).
    runs = [(kind, threads, '') for kind in targets for threads in (1, 16)]
    if threaded_list:
        runs += [('list', threads, '_threads') for threads in (1, 16)]
    for kind, threads, suffix in runs:
        url = targets[kind]
        total = requests_per_figure if kind == 'list' or \
            threads == 1 else requests_per_figure * 4
        split = []
        # The API's CPU from the warm-up's end (every client connected
        # and warm) to the last timed answer; the warm-up's apart.
        cpu_marks = [deploy.tree_cpu_seconds(api_pid)]

        def ready(split=split, cpu_marks=cpu_marks):
            cpu_marks.append(deploy.tree_cpu_seconds(api_pid))
            if not suffix:
                split.extend(connection_split(dep.api_port))

        spies = start_profiles(
            api_pid, os.path.join(profile_gets, kind), rate=250) \
            if profile_gets and threads == 16 and not suffix else []
        if suffix:
            samples, wall, warm = load(url, total, threads, timeout,
                                       warmup=warmup, on_ready=ready)
        else:
            samples, wall, warm, _ = load_processes(
                get_client(url, len(bodies[kind])), total, threads,
                timeout, on_ready=ready, nice=client_nice, warmup=warmup)
        cpu = deploy.tree_cpu_seconds(api_pid) - cpu_marks[1]
        warm_cpu = cpu_marks[1] - cpu_marks[0]
        stop_profiles(spies)
        key = '%s_%d_c%d%s' % (kind, clusters, threads, suffix)
        rows[key] = {
            'p50_ms': harness.pct_ms(samples, 50),
            'p99_ms': harness.pct_ms(samples, 99),
            # The tail's shape: one stall of a worker (a collection,
            # a descheduled process) shows in p99.9 and max first.
            'p90_ms': harness.pct_ms(samples, 90),
            'p999_ms': harness.pct_ms(samples, 99.9),
            'max_ms': harness.pct_ms(samples, 100),
            'req_s': round(len(samples) / wall, 1),
            # CPU the API process spent per timed request: unlike the
            # times, it hardly moves when other work shares the
            # cores. The warm-up's requests are not in it.
            'api_cpu_ms': round(cpu * 1000 / max(1, len(samples)), 1),
            'n': len(samples), 'page': page if kind == 'list' else 1,
            'bytes': len(bodies[kind])}
        if split:
            # The timed clients' connections per API process.
            rows[key]['split'] = '/'.join(map(str, split))
        out('%-22s %s' % (key, rows[key]))
        # The warm-up, printed apart: each client's connection and
        # first answers, and the API's CPU for them (connections
        # accepted, a worker's first look-ups), per warm-up request.
        rows[key + '_warmup'] = {
            'n': len(warm), 'per_client': max(1, warmup),
            'p50_ms': harness.pct_ms(warm, 50),
            'max_ms': harness.pct_ms(warm, 100),
            'api_cpu_ms': round(warm_cpu * 1000 / max(1, len(warm)),
                                1)}
        out('%-22s %s' % (key + '_warmup', rows[key + '_warmup']))
    return rows


def renice(pid, increment):
    """Lower the priority of every thread of ``pid`` by ``increment``
    (on Linux a niceness is per thread; the conductor's are running)."""
    for tid in os.listdir('/proc/%d/task' % pid):
        tid = int(tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(
            19, os.getpriority(os.PRIO_PROCESS, tid) + increment))


def _posts(dep, api_pid, post_count, out, profile, conductors,
           conductor_nice=0, threaded=False, timeout=600):
    """16 client processes, each one keep-alive connection, POSTing
    ``post_count`` creates after a warm-up of one create each (its
    latencies printed apart: ``warmup_*``); with ``threaded``, then as
    many from 16 threads of this process with requests (row
    ``*_threads``, the figure before the tenth round)."""
    body = create_body(dep)
    key = 'post_c16' + ('_cond%d' % conductors if conductors else '') + \
        ('_nice%d' % conductor_nice if conductors and conductor_nice else '')
    rows = {}
    for suffix in ('', '_threads') if threaded else ('',):
        spies, marks, split = [], {}, []

        def started(marks=marks, spies=spies, suffix=suffix, split=split):
            # The API's CPU from the end of the warm-up: the timed
            # creates'.
            marks['cpu0'] = deploy.tree_cpu_seconds(api_pid)
            # How the clients' connections fell on the API's workers (the
            # kernel spreads them; a worker with more than its [api]
            # threads queues requests).
            split.extend(connection_split(dep.api_port))
            if profile and not suffix:
                spies.extend(start_profiles(api_pid, profile))

        if suffix:
            warmup = []
            samples, wall, client_cpu = posts(
                dep, post_count, body, started=started, warmup=warmup)
        else:
            samples, wall, warmup, client_cpu = load_processes(
                create_client(dep.api_url + '/v1/clusters', body),
                post_count, 16, timeout, on_ready=started)
        cpu = deploy.tree_cpu_seconds(api_pid) - marks['cpu0']
        stop_profiles(spies)
        row = {'p50_ms': harness.pct_ms(samples, 50),
               'p90_ms': harness.pct_ms(samples, 90),
               'p99_ms': harness.pct_ms(samples, 99),
               'max_ms': harness.pct_ms(samples, 100),
               'req_s': round(len(samples) / wall, 1),
               # Two decimals: at ~3 ms a create, 0.1 ms is 3 %, more
               # than the cuts this figure is to weigh.
               'api_cpu_ms': round(cpu * 1000 / len(samples), 2),
               # The clients' own CPU per create, on the same cores: what
               # the client processes (not threads of one process with
               # requests) were to cut.
               'client_cpu_ms': round(client_cpu * 1000 / len(samples), 2),
               'n': len(samples), 'conductors': conductors,
               'conductor_nice': conductor_nice if conductors else 0,
               'warmup_n': len(warmup),
               'warmup_p50_ms': harness.pct_ms(warmup, 50),
               'warmup_max_ms': harness.pct_ms(warmup, 100)}
        if split:
            row['split'] = '/'.join(map(str, split))
        if conductors:
            # How far the conductors got while the creates were timed.
            row['conductor_cpu_s'] = round(sum(
                deploy.tree_cpu_seconds(dep.pid(dep.conductor_name(i)))
                for i in range(conductors)), 2)
        out('%-22s %s' % (key + suffix, row))
        rows[key + suffix] = row
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clusters', type=int, default=None,
                        help='settled clusters (default 1000; 0 with '
                             '--posts-only)')
    parser.add_argument('--requests', type=int, default=400)
    parser.add_argument('--posts', type=int, default=0,
                        help='cluster creates from 16 client processes, '
                             'no conductor unless --conductors')
    parser.add_argument('--posts-only', action='store_true',
                        help='no GET figures (and no settled clusters '
                             'unless --clusters is given)')
    parser.add_argument('--conductors', type=int, default=0,
                        help='conductors provisioning the POSTed clusters '
                             'meanwhile (default: none, the API alone)')
    parser.add_argument('--conductor-nice', type=int, default=0,
                        help="niceness added to the conductors' threads "
                             'once started (an operator giving the API '
                             'priority over background work)')
    parser.add_argument('--api-workers', type=int, default=0,
                        help='caas-api processes (0: one per CPU)')
    parser.add_argument('--api-threads', type=int, default=None,
                        help='[api] threads of each API process '
                             '(default: the option default)')
    parser.add_argument('--warmup', type=int, default=5,
                        help='untimed GETs of each client before a figure '
                             '(their latency and API CPU printed apart)')
    parser.add_argument('--client-nice', type=int, default=0,
                        help='niceness added to the client processes')
    parser.add_argument('--no-threaded-list', action='store_true',
                        help="skip the list rows from client threads of "
                             "one process (the '_threads' rows)")
    parser.add_argument('--threaded-posts', action='store_true',
                        help="the creates also from 16 threads of this "
                             "process with requests (the '_threads' row, "
                             "the figure before the tenth round)")
    parser.add_argument('--profile', metavar='DIR',
                        help='sample the API workers with py-spy during '
                             'the POSTs into DIR')
    parser.add_argument('--profile-gets', metavar='DIR',
                        help='sample the API workers with py-spy during '
                             'the 16-client list and detail GETs into '
                             'DIR/list and DIR/detail (the API CPU figure '
                             'then includes the sampling)')
    args = parser.parse_args(argv)
    harness.quiet_logs()
    if args.clusters is None:
        args.clusters = 0 if args.posts_only else 1000
    run(args.clusters, args.requests, post_count=args.posts,
        gets=not args.posts_only, conductors=args.conductors,
        conductor_nice=args.conductor_nice,
        api_workers=args.api_workers, profile=args.profile,
        threaded_list=not args.no_threaded_list,
        api_threads=args.api_threads, client_nice=args.client_nice,
        profile_gets=args.profile_gets, warmup=args.warmup,
        threaded_posts=args.threaded_posts)
    return 0


if __name__ == '__main__':
    sys.exit(main())
