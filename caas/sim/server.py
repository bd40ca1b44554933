"""SimServer: the simulated cloud served over HTTP in a background thread.

The server is waitress (as ``caas-api``'s): keep-alive connections served
by a fixed pool of threads. werkzeug's development server, used before,
answered every request with ``Connection: close`` and started a thread per
connection, so each of the ~4.4 cloud requests of a cluster create paid a
TCP connection and a thread on both sides.
"""

import logging

from caas.api import server as api_server
from caas.sim import app as sim_app
from caas.sim import state

LOG = logging.getLogger(__name__)

# Requests served at once. Handlers may sleep (the api_latency knob) and a
# request waits in waitress's queue while every thread is busy, so there
# is one thread for each caller that may wait on the cloud at once: two
# conductors' flow workers and periodic tasks (2 x (32 + 4), the pool
# caas.clients.cloud.pool_size keeps per conductor), two caas-api
# processes' threads making reference checks (2 x 8), and as many again
# for real nodes' signals, tests and tools: 128. An idle thread waits on
# a condition and costs no CPU.
THREADS = 128
# Open connections accepted at once. Clients keep their connections
# (each conductor and caas-api process pools 44 per host), and waitress
# stops accepting at its default of 100, leaving a new client waiting
# until an idle connection times out.
CONNECTION_LIMIT = 1000


class SimServer(object):
    """The simulated Keystone/Nova/Glance/Heat on one (threaded) port.

    ``knobs`` are the behaviour settings of ``caas.sim.state.Cloud``:
    server_boot_delay, resource_delay, delete_delay, server_failure_rate,
    api_error_rate, api_latency, admin_password.
    """

    def __init__(self, host='127.0.0.1', port=0, state_dir=None,
                 container_infra_url=None, real_nodes=None,
                 floating_ip_range=None, threads=THREADS, **knobs):
        self.host = host
        self.port = port
        self.threads = threads
        # The base root filesystem of real nodes (caas.sim.realnodes), or
        # 'auto' (the default place); None: every server is simulated.
        self.real_nodes = real_nodes
        # [sim] floating_ip_range; a cloud with real nodes holds it (or a
        # range of its own) machine-wide.
        self.floating_ip_range = floating_ip_range or None
        self.cloud = state.Cloud(state_dir=state_dir, **knobs)
        if self.floating_ip_range and not real_nodes:
            import ipaddress
            self.cloud.floating_range = ipaddress.ip_network(
                self.floating_ip_range)
        self.app = sim_app.SimApp(self.cloud, container_infra_url)
        self._server = None

    @property
    def url(self):
        host = self.host if ':' not in self.host else '[%s]' % self.host
        return 'http://%s:%d' % (host, self.port)

    @property
    def auth_url(self):
        return self.url + '/identity/v3'

    def start(self):
        if self._server is not None:
            return self
        if self.real_nodes:
            from caas.sim import realnodes
            if self.real_nodes == realnodes.base_mod.AUTO:
                self.real_nodes = realnodes.base_mod.default_path()
            # Refuse before listening, naming what is missing.
            realnodes.check(self.real_nodes)
        self._server = api_server.Server(
            self.app, self.host, self.port, self.threads,
            ident='caas-cloudsim', connection_limit=CONNECTION_LIMIT,
            # poll(), not select(): no limit at 1,024 descriptors.
            asyncore_use_poll=True,
            # caas-api's read-ahead is for its event streams; the cloud's
            # requests are answered as they come.
            channel_request_lookahead=0)
        self.port = self._server.port
        # Where nodes signal their wait-condition handles (caas.sim.signals).
        self.cloud.public_url = self.url
        if self.real_nodes:
            from caas.sim import realnodes
            try:
                self.cloud.realnodes = realnodes.RealNodes(
                    self.cloud, self.port, self.real_nodes,
                    floating_ip_range=self.floating_ip_range)
            except realnodes.Unavailable:
                server, self._server = self._server, None
                server.stop()
                raise
        self._server.start()
        LOG.info('Simulated cloud listening on %s', self.url)
        return self

    def stop(self):
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        backend, self.cloud.realnodes = self.cloud.realnodes, None
        if backend is not None:
            backend.close()
        with self.cloud.lock:
            self.cloud.save()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
