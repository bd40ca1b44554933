"""A conductor's own CPU per cluster created, in process and repeatable.

The flow runner of ``caas-conductor`` creates K Kubernetes clusters one
after the other, against an in-process simulated cloud whose stacks are
complete when created (the wait step polls once), on PostgreSQL when
``CAAS_TEST_DB_URL`` is set (``tools/services.sh start``), else SQLite.
Only the conductor's threads are measured: the claim (the RPC endpoint's
thread) and the flow thread, with ``time.thread_time``; the simulated
cloud's threads and the database server are not. ``--calls`` also counts
the Python function calls of those threads (cProfile): a figure that does
not move with the machine's load. ``--profile FILE`` writes their
cProfile statistics (pstats) over every measured create.

    eval "$(tools/services.sh start)"
    .venv/bin/python benchmarks/conductor_cpu.py [--creates 30] [--calls]

Prints figures; asserts nothing about time.
"""

import contextlib
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

import harness  # noqa: E402

WARMUP = 3


def _configure(db_url, sim):
    from cryptography import fernet

    from caas import conf as caas_conf
    from caas.conf import CONF
    from caas.db import migration
    from caas.db.sqlalchemy import engine

    caas_conf.register_log_opts()
    CONF([], project='caas', default_config_files=[])
    for name, value, group in (
            ('connection', db_url, 'database'),
            ('auth_url', sim.auth_url, 'cloud'),
            ('username', 'caas', 'cloud'), ('password', 'caas', 'cloud'),
            ('project_name', 'service', 'cloud'),
            ('stack_poll_initial', 0.02, 'conductor'),
            ('encryption_keys', [fernet.Fernet.generate_key().decode()],
             'pki')):
        CONF.set_override(name, value, group=group)
    engine.dispose()
    migration.upgrade()


def _template():
    """The Kubernetes template the creates use; its uuid."""
    from caas.db import api as db_api

    return db_api.create_cluster_template({
        'name': 'cpu', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': 'bench', 'server_type': 'vm',
        'cluster_distro': 'ubuntu', 'flavor_id': 'm1.small',
        'master_flavor_id': 'm1.small', 'keypair_id': 'default',
        'external_network_id': 'public', 'labels': {}}).uuid


def _new_cluster(template):
    """A cluster as ``POST /v1/clusters`` writes it: no CA (the create's
    stack step makes them, in the conductor)."""
    from caas.db import api as db_api

    uuid = db_api.new_uuid()
    groups = [{'name': 'default-master', 'role': 'master', 'node_count': 1,
               'flavor_id': 'm1.small', 'image_id': 'ubuntu-jammy',
               'is_default': True},
              {'name': 'default-worker', 'role': 'worker', 'node_count': 1,
               'flavor_id': 'm1.small', 'image_id': 'ubuntu-jammy',
               'is_default': True}]
    return db_api.create_cluster(
        {'uuid': uuid, 'name': 'cpu', 'project_id': 'bench',
         'cluster_template_id': template, 'node_count': 1,
         'master_count': 1, 'keypair': 'default', 'flavor_id': 'm1.small',
         'master_flavor_id': 'm1.small', 'create_timeout': 60,
         'labels': {}}, groups, timeout_minutes=60)


class Meter:
    """CPU seconds (and optionally a profile) of the calls it wraps, in
    the thread that makes each (``conductor_cpu.py``: the claim and the
    flow; ``cloudsim_cpu.py``: the simulated cloud's WSGI calls)."""

    def __init__(self, profile):
        self.cpu = 0.0
        # Timed in thread CPU: waiting for the database or the cloud is
        # not the measured part's cost.
        self.profile = cProfile.Profile(time.thread_time) if profile \
            else None
        self._lock = threading.Lock()
        self.on = False

    def wrap(self, fn):
        def measured(*args, **kwargs):
            if not self.on:
                return fn(*args, **kwargs)
            if self.profile is not None:
                # One call at a time: the profile is not thread-safe.
                with self._lock:
                    return self._profiled(fn, args, kwargs)
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.cpu += time.thread_time() - t0
        return measured

    def _profiled(self, fn, args, kwargs):
        t0 = time.thread_time()
        self.profile.enable()
        try:
            return fn(*args, **kwargs)
        finally:
            self.profile.disable()
            self.cpu += time.thread_time() - t0

    def report(self, result, creates, path=None):
        """Add the Python calls per create to ``result`` and write the
        profile to ``path``, when profiling."""
        if self.profile is None:
            return
        result['python_calls_per_create'] = round(
            pstats.Stats(self.profile).total_calls / creates)
        if path:
            self.profile.dump_stats(path)


def create_one(runner, template, claim=None):
    """One cluster created by ``runner`` (claimed through ``claim``, by
    default its own ``claim_and_run``), waited for to its end."""
    from caas.common import states
    from caas.db import api as db_api

    _cluster, op = _new_cluster(template)
    assert (claim or runner.claim_and_run)(op.id)
    _wait(runner, op.id)
    row = db_api.get_operation(op.id)
    if row.state != states.OP_SUCCEEDED:
        raise SystemExit('operation %s ended %s' % (op.id, row.state))


@contextlib.contextmanager
def flows_in_process(name, sim, tmp):
    """(flow runner, template id, database kind) for creating clusters one
    at a time in this process against ``sim`` (a started SimServer whose
    stacks complete when created), on PostgreSQL when
    ``CAAS_TEST_DB_URL`` is set (``tools/services.sh start``), else on
    SQLite in ``tmp``. The runner and ``sim`` are stopped at the end."""
    from caas.clients import cloud
    from caas.conductor import engine as flow_engine
    from tests.integration import deployment

    runner = None
    try:
        admin = os.environ.get('CAAS_TEST_DB_URL')
        db_url = deployment.create_database(admin) if admin else \
            'sqlite:///%s' % os.path.join(tmp, 'caas.sqlite')
        _configure(db_url, sim)
        template = _template()
        runner = flow_engine.FlowRunner(name, cloud.CloudClients(),
                                        workers=1)
        yield runner, template, 'postgresql' if admin else 'sqlite'
    finally:
        if runner is not None:
            runner.shutdown(wait=True, timeout=30)
        sim.stop()


def run(creates=30, calls=False, profile=None, out=print):
    from caas.sim.server import SimServer

    tmp = tempfile.mkdtemp(prefix='caas-cpu-')
    sim = SimServer(port=0, server_boot_delay=0, resource_delay=0,
                    delete_delay=0).start()
    with flows_in_process('cpu-bench', sim, tmp) as (runner, template,
                                                       database):
        meter = Meter(calls or profile)
        runner._run = meter.wrap(runner._run)
        claim = meter.wrap(runner.claim_and_run)
        per_create = []
        wall0 = time.monotonic()
        for i in range(WARMUP + creates):
            meter.on = i >= WARMUP
            before = meter.cpu
            create_one(runner, template, claim)
            if meter.on:
                per_create.append(meter.cpu - before)
            if i == WARMUP - 1:
                wall0 = time.monotonic()
        wall = time.monotonic() - wall0
        result = {
            'creates': creates,
            'database': database,
            'cpu_ms_per_create': round(1000 * meter.cpu / creates, 1),
            'cpu_ms_p50': round(1000 * statistics.median(per_create), 1),
            'cpu_ms_min': round(1000 * min(per_create), 1),
            'wall_s_per_create': round(wall / creates, 3),
            'profiled': bool(calls or profile),
        }
        meter.report(result, creates, profile)
        out('conductor CPU per create (in process): %s' % result)
        return result


def _wait(runner, op_id, timeout=120):
    # The runner forgets an operation once its flow thread is done: that
    # is the end of the create's cost, its last saves included.
    deadline = time.monotonic() + timeout
    while runner.running():
        if time.monotonic() > deadline:
            raise SystemExit('operation %s did not finish' % op_id)
        time.sleep(0.01)


def main(argv=None):
    return harness.per_create_main(run, __doc__, argv, creates=30)


if __name__ == '__main__':
    sys.exit(main())
