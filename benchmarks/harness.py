"""Shared set-up of the benchmarks: an embedded caas on 127.0.0.1, the real
python-magnumclient, SQL statement counting, and summaries of timings.

The benchmarks print figures and assert nothing about time.
"""

import contextlib
import logging
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import warnings

warnings.filterwarnings('ignore', message='(?s).*eventlet')

LOOPBACK = '127.0.0.1'


def quiet_logs():
    """Errors only: the clients log every expected 404 while polling."""
    logging.basicConfig(level=logging.ERROR,
                        format='%(asctime)s %(levelname)s %(name)s %(message)s')
    for name in ('magnumclient', 'keystoneauth'):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def init_config():
    """Configuration as the tests set it up: defaults, no files."""
    quiet_logs()
    from caas import conf
    from caas.conf import CONF
    conf.register_log_opts()
    CONF([], project='caas', default_config_files=[])
    # Benchmarks make more clusters in one project than the default quota.
    CONF.set_override('max_clusters_per_project', 1000000, group='quotas')
    return CONF



@contextlib.contextmanager
def all_in_one(**sim_knobs):
    """A started caas-all (API, conductor, simulated cloud) in a temp dir."""
    init_config()
    from caas.cmd.all import AllInOne
    data_dir = tempfile.mkdtemp(prefix='caas-bench-')
    aio = AllInOne(LOOPBACK, 0, data_dir, sim_port=0, sim_knobs=sim_knobs)
    try:
        aio.start()
        yield aio
    finally:
        aio.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def magnum(api_url):
    from magnumclient import client
    return client.Client('1', endpoint_override=api_url + '/v1',
                         auth_token='x', api_version='latest')


def make_template(mc, name='bench-k8s'):
    return mc.cluster_templates.create(
        name=name, coe='kubernetes', image_id='ubuntu-jammy',
        flavor_id='m1.small', master_flavor_id='m1.small',
        keypair_id='default', external_network_id='public')


class StatementCounter:
    """Counts SQL statements run by the API's worker threads (waitress-N),
    so that the conductor's heartbeats and sweeps are not counted."""

    def __init__(self, engines, thread_prefix='waitress'):
        from sqlalchemy import event
        self._event = event
        self._engines = set(engines)
        self._prefix = thread_prefix
        self._lock = threading.Lock()
        self.count = 0
        self.statements = []
        for engine in self._engines:
            event.listen(engine, 'before_cursor_execute', self._on_execute)

    def _on_execute(self, _conn, _cursor, statement, *_args):
        if threading.current_thread().name.startswith(self._prefix):
            with self._lock:
                self.count += 1
                self.statements.append(' '.join(statement.split())[:100])

    def reset(self):
        with self._lock:
            self.count = 0
            self.statements = []

    def close(self):
        for engine in self._engines:
            self._event.remove(engine, 'before_cursor_execute',
                               self._on_execute)


def percentile(values, pct):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(round(pct / 100.0 * len(ordered) + 0.5 - 1e-9)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values, unit='s', scale=1.0):
    if not values:
        return 'no samples'
    v = [x * scale for x in values]
    return ('n=%d min %.3f  median %.3f  p95 %.3f  max %.3f %s' % (
        len(v), min(v), statistics.median(v), percentile(v, 95), max(v),
        unit))


def peak_rss_mib():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Deadline:
    """A time bound for every loop of a benchmark."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def passed(self):
        return self.left() <= 0


def free_port():
    import socket
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_http(url, timeout=30):
    """Wait until ``url`` answers anything over HTTP."""
    import requests
    deadline = Deadline(timeout)
    while not deadline.passed():
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError('%s did not answer within %ss' % (url, timeout))


def pct_ms(values, pct):
    """A percentile in milliseconds, None without samples."""
    if not values:
        return None
    return round(percentile(values, pct) * 1000.0, 2)


def stop(proc, sig, timeout):
    """Send ``sig`` to the subprocess, wait ``timeout`` seconds for it to
    end, then kill it."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def per_create_main(run, doc, argv=None, creates=30):
    """The command line of an in-process CPU-per-create benchmark
    (``conductor_cpu.py``, ``cloudsim_cpu.py``): ``--creates N``,
    ``--calls``, ``--profile FILE`` and ``--json`` (one JSON line, for
    ``make bench``), passed to ``run(creates, calls, profile, out=...)``."""
    import argparse
    import json
    parser = argparse.ArgumentParser(description=doc.split('\n')[0])
    parser.add_argument('--creates', type=int, default=creates)
    parser.add_argument('--calls', action='store_true',
                        help='count Python calls (slower: CPU then '
                             'includes the profiler)')
    parser.add_argument('--profile', metavar='FILE',
                        help='write cProfile statistics of the measured '
                             'creates')
    parser.add_argument('--json', action='store_true',
                        help='print the figures as one JSON line '
                             '(make bench)')
    args = parser.parse_args(argv)
    quiet_logs()
    result = run(args.creates, args.calls, args.profile,
                 out=(lambda _line: None) if args.json else print)
    if args.json:
        print(json.dumps(result))
    return 0
