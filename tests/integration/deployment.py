"""A multi-process caas deployment on real RabbitMQ and PostgreSQL.

caas-cloudsim, caas-api and N caas-conductor processes, each started from
real configuration files as an operator would, owned by the test and
stopped by PID.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

from cryptography import fernet
import psycopg2
import requests
import sqlalchemy as sa

BIN = os.path.dirname(sys.executable)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def create_database(admin_url):
    """A fresh PostgreSQL database for one test; returns its SQLAlchemy URL."""
    url = sa.engine.make_url(admin_url)
    name = 'caas_%s' % uuid.uuid4().hex[:12]
    conn = psycopg2.connect(host=url.host, port=url.port,
                            user=url.username, dbname=url.database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute('CREATE DATABASE %s' % name)
    conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


def wait_http(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError('%s did not answer in %ss' % (url, timeout))


class Deployment:

    def __init__(self, workdir, db_url, transport_url, conductors=2,
                 boot_delay=1.0, conductor_opts=None, auth_strategy='noauth',
                 notification_topic=None):
        self.workdir = str(workdir)
        self.db_url = db_url
        self.transport_url = transport_url
        self.n_conductors = conductors
        self.boot_delay = boot_delay
        self.api_port = free_port()
        self.sim_port = free_port()
        self.topic = 'caas-conductor-%s' % uuid.uuid4().hex[:8]
        self.conductor_opts = {
            'heartbeat_interval': 0.5, 'heartbeat_timeout': 4,
            'sweep_interval': 0.5, 'unclaimed_timeout': 4,
            'stack_poll_initial': 0.1, 'stack_poll_max': 1,
            'health_check_interval': 5}
        self.conductor_opts.update(conductor_opts or {})
        self.auth_strategy = auth_strategy
        # Notifications over the same broker on this topic (off if None).
        self.notification_topic = notification_topic
        self.procs = {}
        self.spawns = {}
        # After stop_all nothing starts: a test's restart thread that
        # wakes after its teardown would leave a conductor running.
        self._closed = False
        self._spawning = threading.Lock()
        self.conf = os.path.join(self.workdir, 'caas.conf')
        self.pki_key = fernet.Fernet.generate_key().decode()

    @property
    def api_url(self):
        return 'http://127.0.0.1:%d' % self.api_port

    @property
    def sim_url(self):
        return 'http://127.0.0.1:%d' % self.sim_port

    def write_config(self):
        lines = [
            '[DEFAULT]',
            'transport_url = %s' % self.transport_url,
            'auth_strategy = %s' % self.auth_strategy,
            'debug = true',
            '[database]',
            'connection = %s' % self.db_url,
            '[api]',
            'host = 127.0.0.1',
            'port = %d' % self.api_port,
            '[cloud]',
            'auth_url = %s/identity/v3' % self.sim_url,
            'username = caas',
            'password = caas',
            'project_name = service',
            '[sim]',
            'host = 127.0.0.1',
            'port = %d' % self.sim_port,
            'state_dir = %s' % os.path.join(self.workdir, 'cloudsim'),
            'server_boot_delay = %s' % self.boot_delay,
            'resource_delay = 0.05',
            'delete_delay = 0.3',
            '[keystone_authtoken]',
            'www_authenticate_uri = %s/identity/v3' % self.sim_url,
            'auth_url = %s/identity/v3' % self.sim_url,
            'auth_type = password',
            'username = caas',
            'password = caas',
            'project_name = service',
            'user_domain_name = Default',
            'project_domain_name = Default',
            '[pki]',
            'encryption_keys = %s' % self.pki_key,
            # Scenarios and benchmarks make more clusters in one project
            # than Magnum's default quota (20) allows.
            '[quotas]',
            'max_clusters_per_project = 1000000',
            # COE probes go to the clusters' API addresses: loopback only.
            # Off, as in caas-all: no simulated server serves a COE API, so
            # a probe would turn any cluster UNKNOWN whenever it came (seen:
            # between two snapshots of a test that expects no change).
            '[health]',
            'probe_networks = 127.0.0.0/8',
            'coe_probes = false',
            '[conductor]',
            'topic = %s' % self.topic,
        ] + ['%s = %s' % kv for kv in self.conductor_opts.items()]
        if self.notification_topic:
            lines += ['[oslo_messaging_notifications]', 'driver = messaging',
                      'topics = %s' % self.notification_topic]
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')

    def _spawn(self, name, argv):
        with self._spawning:
            if self._closed:
                raise RuntimeError('%s not started: the deployment was '
                                   'stopped' % name)
            log = open(os.path.join(self.workdir, '%s.log' % name), 'ab')
            proc = subprocess.Popen(argv, stdout=log,
                                    stderr=subprocess.STDOUT,
                                    cwd=self.workdir)
            log.close()
            self.procs[name] = proc
            self.spawns[name] = self.spawns.get(name, 0) + 1
            return proc

    def conductor_name(self, i):
        return 'conductor-%d' % i

    def start_conductor(self, i):
        name = self.conductor_name(i)
        extra = os.path.join(self.workdir, '%s.conf' % name)
        with open(extra, 'w') as f:
            f.write('[DEFAULT]\nhost = %s\n' % name)
        return self._spawn(name, [
            os.path.join(BIN, 'caas-conductor'), '--config-file', self.conf,
            '--config-file', extra])

    def start(self):
        self.write_config()
        subprocess.run([os.path.join(BIN, 'caas-manage'), '--config-file',
                        self.conf, 'db', 'upgrade'], check=True,
                       capture_output=True)
        self._spawn('cloudsim', [
            os.path.join(BIN, 'caas-cloudsim'), '--config-file', self.conf,
            '--container-infra-url', self.api_url + '/v1'])
        wait_http(self.sim_url + '/sim/state', timeout=120)
        self._spawn('api', [os.path.join(BIN, 'caas-api'), '--config-file',
                            self.conf])
        for i in range(self.n_conductors):
            self.start_conductor(i)
        # Start-up imports are slow on a loaded machine; this is not a
        # figure under test.
        wait_http(self.api_url + '/', timeout=120)
        return self

    def conductor_ready(self, i):
        """Alive and done starting: its last start logged 'started'."""
        name = self.conductor_name(i)
        if not self.alive(name):
            return False
        return self.logs(name).count(
            'Conductor %s started on topic' % name) >= self.spawns[name]

    def kill(self, name):
        """SIGKILL: no chance to clean up, like a crashed host."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, name, timeout=10):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def stop_all(self):
        with self._spawning:
            self._closed = True
        for name in list(self.procs):
            self.stop(name)

    def alive(self, name):
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def sim_state(self):
        return requests.get(self.sim_url + '/sim/state', timeout=10).json()

    def logs(self, name):
        with open(os.path.join(self.workdir, '%s.log' % name), errors='replace') as f:
            return f.read()
