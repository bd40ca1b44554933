"""Multi-process deployments for the benchmarks (PostgreSQL + RabbitMQ).

Reuses the integration tests' ``Deployment`` (caas-cloudsim, caas-api and
N caas-conductor processes from real configuration files), without debug
logging, and adds what benchmarks need: settled clusters inserted straight
into the database (and their stacks straight into the simulated cloud's
store), request counts of the simulated cloud, CPU and RSS of a process.
"""

import datetime
import os
import sys
import tempfile
import urllib.parse
import uuid

import requests
import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from tests.integration import deployment  # noqa: E402

CLK_TCK = os.sysconf('SC_CLK_TCK')
PROJECT = 'bench'
HEADERS = {'X-Auth-Token': 'x', 'X-Project-Id': PROJECT,
           'X-User-Id': 'bench', 'X-Roles': 'member',
           'Content-Type': 'application/json',
           'OpenStack-API-Version': 'container-infra latest'}


def services():
    """(admin DB URL, transport URL) of ``tools/services.sh start``."""
    db = os.environ.get('CAAS_TEST_DB_URL')
    transport = os.environ.get('CAAS_TEST_TRANSPORT_URL')
    if not (db and transport):
        raise SystemExit('set CAAS_TEST_DB_URL and CAAS_TEST_TRANSPORT_URL: '
                         'eval "$(tools/services.sh start)"')
    return db, transport


class BenchDeployment(deployment.Deployment):
    """A deployment that logs at INFO (DEBUG logging costs every request)."""

    def __init__(self, conductors=1, boot_delay=0.2, conductor_opts=None,
                 api_threads=None, api_workers=0):
        admin, transport = services()
        self.tmp = tempfile.mkdtemp(prefix='caas-bench-')
        super().__init__(self.tmp, deployment.create_database(admin),
                         transport, conductors=conductors,
                         boot_delay=boot_delay,
                         conductor_opts=conductor_opts)
        self.api_threads = api_threads
        # caas-api processes ([api] workers; 0: one per CPU).
        self.api_workers = api_workers

    def write_config(self):
        super().write_config()
        with open(self.conf) as f:
            text = f.read().replace('debug = true', 'debug = false')
        text = text.replace('[api]\n', '[api]\nworkers = %d\n'
                            % self.api_workers)
        if self.api_threads:
            text = text.replace('[api]\n', '[api]\nthreads = %d\n'
                                % self.api_threads)
        with open(self.conf, 'w') as f:
            f.write(text)

    def migrate_only(self):
        """Write the configuration and migrate; start nothing."""
        self.write_config()
        import subprocess
        subprocess.run([os.path.join(deployment.BIN, 'caas-manage'),
                        '--config-file', self.conf, 'db', 'upgrade'],
                       check=True, capture_output=True)

    def start(self):
        self.migrate_only()
        self._spawn('cloudsim', [
            os.path.join(deployment.BIN, 'caas-cloudsim'), '--config-file',
            self.conf, '--container-infra-url', self.api_url + '/v1'])
        # Generous: the benchmarks run on busy machines too.
        deployment.wait_http(self.sim_url + '/sim/state', 120)
        self._spawn('api', [os.path.join(deployment.BIN, 'caas-api'),
                            '--config-file', self.conf])
        for i in range(self.n_conductors):
            self.start_conductor(i)
        deployment.wait_http(self.api_url + '/', 120)
        return self

    def sim_requests(self):
        return requests.get(self.sim_url + '/sim/requests', timeout=30).json()

    def pid(self, name):
        return self.procs[name].pid


def insert_settled(db_url, count, with_stacks=True):
    """``count`` CREATE_COMPLETE clusters of PROJECT; their stack ids."""
    from caas.db.sqlalchemy import models
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    now = datetime.datetime.utcnow()
    template = str(uuid.uuid4())
    rows, stacks = [], []
    for i in range(count):
        stack_id = str(uuid.uuid4())
        stacks.append(stack_id)
        rows.append({
            'uuid': str(uuid.uuid4()), 'name': 'settled-%05d' % i,
            'project_id': PROJECT, 'user_id': 'bench',
            'cluster_template_id': template, 'keypair': 'default',
            'labels': {'kube_tag': 'v1.27.3'}, 'master_flavor_id': 'm1.small',
            'flavor_id': 'm1.small', 'node_count': 2, 'master_count': 1,
            'create_timeout': 60, 'stack_id': stack_id,
            'status': 'CREATE_COMPLETE',
            'status_reason': 'Stack CREATE completed successfully',
            'health_status': 'HEALTHY' if with_stacks else None,
            'health_status_reason': {}, 'coe_version': 'v1.27.3',
            'api_address': 'https://172.24.4.%d:6443' % (i % 250 + 2),
            'master_addresses': ['172.24.4.%d' % (i % 250 + 2)],
            'node_addresses': ['10.0.0.%d' % (i % 250 + 2),
                               '10.0.0.%d' % ((i + 1) % 250 + 2)],
            'created_at': now, 'updated_at': now})
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(sa.insert(models.Cluster.__table__),
                         rows[start:start + 1000])
    engine.dispose()
    return stacks if with_stacks else []


def seed_sim_stacks(state_dir, stack_ids):
    """Stacks in CREATE_COMPLETE written straight into the simulated
    cloud's store (before it starts), owned by caas's service project."""
    from caas.sim import state
    from caas.sim import store
    os.makedirs(state_dir, exist_ok=True)
    db = store.Store(state_dir)
    t = state.now() - 60
    rows = []
    for sid in stack_ids:
        rows.append(('stacks', sid, {
            'id': sid, 'name': 'caas-%s' % sid, 'user_id': None,
            'project_id': state.PROJECTS['service'], 'files': {},
            'parent': None, 'root_id': sid, 'template': {}, 'params': {},
            'param_values': {}, 'resources': {}, 'events': [],
            'action': 'CREATE', 'started_at': t, 'creation_time': t,
            'updated_time': None, 'delete_ready_at': None,
            'timeout_mins': None, 'disable_rollback': True,
            'environment': {}}))
    db.write(rows, [])
    db.close()


def _stat(pid):
    """The fields of ``/proc/PID/stat`` after the command's name."""
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()


def _children(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid):
    """CPU seconds of a process and of its children now alive (caas-api's
    worker processes)."""
    total = cpu_seconds(pid)
    for child in _children(pid):
        try:
            total += cpu_seconds(child)
        except OSError:
            pass
    return total


def family_cpu_seconds(pid):
    """CPU seconds of a process, of its descendants now alive and of the
    children it has reaped (PostgreSQL's ended backends, RabbitMQ's helper
    processes)."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    total = sum(int(v) for v in fields[11:15]) / CLK_TCK
    for child in _children(pid):
        total += family_cpu_seconds(child)
    return total


def listener_pid(port, host='127.0.0.1'):
    """The PID of the process that listens on host:port (TCP, IPv4), or
    None: the socket's inode from ``/proc/net/tcp``, then the process that
    holds it among ``/proc/*/fd``."""
    want = '%s:%04X' % (''.join('%02X' % int(b) for b in
                                reversed(host.split('.'))), port)
    inode = None
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            fields = line.split()
            # State 0A: LISTEN.
            if fields[1] == want and fields[3] == '0A':
                inode = fields[9]
                break
    if inode is None:
        return None
    target = 'socket:[%s]' % inode
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        fd_dir = '/proc/%s/fd' % entry
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == target:
                    return int(entry)
            except OSError:
                continue
    return None


def service_pids():
    """{'postgresql': postmaster pid, 'rabbitmq': beam pid} of
    ``tools/services.sh`` (those it can find): from their PID files, else
    from the process that listens on their port (:func:`service_port`; a
    PID file was seen gone while its broker ran)."""
    base = os.environ.get('CAAS_SERVICES_DIR', '/tmp/caas-services')
    out = {}
    for name, path, port_var, url_var, port in (
            ('postgresql', 'pg/postmaster.pid', 'CAAS_PG_PORT',
             'CAAS_TEST_DB_URL', 25432),
            ('rabbitmq', 'rabbit/rabbit.pid', 'CAAS_RABBIT_PORT',
             'CAAS_TEST_TRANSPORT_URL', 25672)):
        try:
            with open(os.path.join(base, path)) as f:
                out[name] = int(f.readline().strip())
            continue
        except (OSError, ValueError):
            pass
        pid = listener_pid(service_port(port_var, url_var, port))
        if pid is not None:
            out[name] = pid
    return out


def service_port(port_var, url_var, default):
    """A service's port: ``port_var`` (``tools/services.sh``'s), else the
    port of the URL in ``url_var`` (what ``services.sh start`` prints, all
    a shell that ran it may have kept), else ``default``."""
    if os.environ.get(port_var):
        return int(os.environ[port_var])
    try:
        port = urllib.parse.urlsplit(os.environ.get(url_var, '')).port
    except ValueError:
        port = None
    return port or default


def pg_backend_cpu(db_url):
    """{application_name: CPU seconds so far} of the PostgreSQL backends
    now connected to ``db_url``'s database (the server runs here)."""
    rows = _query(db_url, 'SELECT pid, application_name '
                  'FROM pg_stat_activity WHERE datname = current_database() '
                  'AND pid <> pg_backend_pid()')
    out = {}
    for pid, app in rows:
        try:
            cpu = cpu_seconds(pid)
        except OSError:
            continue
        key = app or 'unnamed'
        out[key] = out.get(key, 0.0) + cpu
    return out


def rss_mib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return None


def pg_writes(db_url):
    """{table: rows inserted + updated + deleted so far}, from PostgreSQL's
    statistics (flushed by the server about every 0.5 s)."""
    rows = _query(db_url, 'SELECT relname, n_tup_ins + n_tup_upd + '
                  'n_tup_del FROM pg_stat_user_tables')
    return {name: int(n) for name, n in rows}


def _query(db_url, sql):
    """The rows of one statement, on a connection of its own."""
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).fetchall()
    finally:
        engine.dispose()
