"""The simulated cloud's CPU per cluster created, in process and repeatable.

The flow runner of ``caas-conductor`` creates K Kubernetes clusters one
after the other (as ``conductor_cpu.py`` does) against an in-process
simulated cloud; only the simulated cloud is measured: the thread CPU of
its WSGI application's calls (``app``: routing, token checks, the
services' work, the store's writes) and of every thread of its HTTP
server (``server``: the application's calls plus reading requests and
writing answers). Cloud requests per create come from the cloud's own
request log. ``--calls`` also counts the Python calls of the
application's calls (cProfile; a figure that does not move with the
machine's load), ``--profile FILE`` writes their statistics (pstats).

    eval "$(tools/services.sh start)"
    .venv/bin/python benchmarks/cloudsim_cpu.py [--creates 60] [--calls]

Prints figures; asserts nothing about time.
"""

import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import conductor_cpu  # noqa: E402
import harness  # noqa: E402

WARMUP = 3


class _AppMeter:
    """Thread CPU (and optionally a profile) of the WSGI calls it wraps."""

    def __init__(self, app, profile):
        self.app = app
        self.cpu = 0.0
        self.profile = cProfile.Profile(time.thread_time) if profile \
            else None
        self._lock = threading.Lock()
        self.on = False

    def __call__(self, environ, start_response):
        if not self.on:
            return self.app(environ, start_response)
        if self.profile is not None:
            # One call at a time: the profile is not thread-safe.
            with self._lock:
                t0 = time.thread_time()
                self.profile.enable()
                try:
                    return self.app(environ, start_response)
                finally:
                    self.profile.disable()
                    self.cpu += time.thread_time() - t0
        t0 = time.thread_time()
        try:
            return self.app(environ, start_response)
        finally:
            with self._lock:
                self.cpu += time.thread_time() - t0


def _server_threads(earlier):
    return [t for t in threading.enumerate() if t not in earlier]


def _threads_cpu(threads):
    total = 0.0
    for t in threads:
        try:
            total += time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        except (OSError, TypeError):
            pass
    return total


def run(creates=60, calls=False, profile=None, out=print):
    from caas.clients import cloud
    from caas.common import states
    from caas.conductor import engine as flow_engine
    from caas.db import api as db_api
    from caas.sim.server import SimServer
    from tests.integration import deployment

    admin = os.environ.get('CAAS_TEST_DB_URL')
    tmp = tempfile.mkdtemp(prefix='caas-simcpu-')
    db_url = deployment.create_database(admin) if admin else \
        'sqlite:///%s' % os.path.join(tmp, 'caas.sqlite')
    # A state directory: the store's writes are part of the cost.
    sim = SimServer(port=0, state_dir=os.path.join(tmp, 'sim'),
                    server_boot_delay=0, resource_delay=0, delete_delay=0)
    meter = _AppMeter(sim.app, calls or profile)
    sim.app = meter
    earlier = set(threading.enumerate())
    sim.start()
    threads = _server_threads(earlier)
    runner = None
    try:
        conductor_cpu._configure(db_url, sim)
        template = conductor_cpu._template()
        runner = flow_engine.FlowRunner('simcpu-bench', cloud.CloudClients(),
                                        workers=1)
        per_create, counts0, server0 = [], None, None
        for i in range(WARMUP + creates):
            if i == WARMUP:
                meter.on = True
                counts0 = meter.app.request_counts()
                server0 = _threads_cpu(threads)
            _cluster, op = conductor_cpu._new_cluster(template)
            before = meter.cpu
            assert runner.claim_and_run(op.id)
            conductor_cpu._wait(runner, op.id)
            row = db_api.get_operation(op.id)
            if row.state != states.OP_SUCCEEDED:
                raise SystemExit('operation %s ended %s' % (op.id, row.state))
            if meter.on:
                per_create.append(meter.cpu - before)
        server_cpu = _threads_cpu(threads) - server0
        counts = meter.app.request_counts()
        result = {
            'creates': creates,
            'app_ms_per_create': round(1000 * meter.cpu / creates, 2),
            'app_ms_p50': round(1000 * statistics.median(per_create), 2),
            'server_ms_per_create': round(1000 * server_cpu / creates, 2),
            'requests_per_create': {
                k: round((v - counts0.get(k, 0)) / creates, 2)
                for k, v in sorted(counts.items())},
            'profiled': bool(calls or profile),
        }
        if meter.profile is not None:
            result['python_calls_per_create'] = round(
                pstats.Stats(meter.profile).total_calls / creates)
            if profile:
                meter.profile.dump_stats(profile)
        out('simulated cloud CPU per create (in process): %s' % result)
        return result
    finally:
        if runner is not None:
            runner.shutdown(wait=True, timeout=30)
        sim.stop()


def main(argv=None):
    return harness.per_create_main(run, __doc__, argv, creates=60)


if __name__ == '__main__':
    sys.exit(main())
