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

import os
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
    from caas.sim.server import SimServer

    tmp = tempfile.mkdtemp(prefix='caas-simcpu-')
    # A state directory: the store's writes are part of the cost.
    sim = SimServer(port=0, state_dir=os.path.join(tmp, 'sim'),
                    server_boot_delay=0, resource_delay=0, delete_delay=0)
    # The simulated cloud's WSGI calls, in the server's threads.
    meter = conductor_cpu.Meter(calls or profile)
    app = sim.app
    sim.app = meter.wrap(app)
    earlier = set(threading.enumerate())
    sim.start()
    threads = _server_threads(earlier)
    with conductor_cpu.flows_in_process('simcpu-bench', sim, tmp) as (
            runner, template, _database):
        per_create, counts0, server0 = [], None, None
        for i in range(WARMUP + creates):
            if i == WARMUP:
                meter.on = True
                counts0 = app.request_counts()
                server0 = _threads_cpu(threads)
            before = meter.cpu
            conductor_cpu.create_one(runner, template)
            if meter.on:
                per_create.append(meter.cpu - before)
        server_cpu = _threads_cpu(threads) - server0
        counts = app.request_counts()
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
        meter.report(result, creates, profile)
        out('simulated cloud CPU per create (in process): %s' % result)
        return result


def main(argv=None):
    return harness.per_create_main(run, __doc__, argv, creates=60)


if __name__ == '__main__':
    sys.exit(main())
