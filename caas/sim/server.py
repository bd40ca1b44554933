"""SimServer: the simulated cloud served over HTTP in a background thread."""

import logging
import threading

from werkzeug import serving

from caas.sim import app as sim_app
from caas.sim import state

LOG = logging.getLogger(__name__)


class _Handler(serving.WSGIRequestHandler):
    # Keep-alive connections, as a real cloud's WSGI server offers.
    protocol_version = 'HTTP/1.1'

    def log_request(self, code='-', size='-'):
        LOG.debug('%s %s -> %s', self.command, self.path, code)


class SimServer(object):
    """The simulated Keystone/Nova/Glance/Heat on one (threaded) port.

    ``knobs`` are the behaviour settings of ``caas.sim.state.Cloud``:
    server_boot_delay, resource_delay, delete_delay, server_failure_rate,
    api_error_rate, api_latency, admin_password.
    """

    def __init__(self, host='127.0.0.1', port=0, state_dir=None,
                 container_infra_url=None, real_nodes=None,
                 floating_ip_range=None, **knobs):
        self.host = host
        self.port = port
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
        self._thread = None

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
        self._server = serving.make_server(
            self.host, self.port, self.app, threaded=True,
            request_handler=_Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
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
                server.server_close()
                raise
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={'poll_interval': 0.05},
                                        name='cloudsim', daemon=True)
        self._thread.start()
        LOG.info('Simulated cloud listening on %s', self.url)
        return self

    def stop(self):
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        backend, self.cloud.realnodes = self.cloud.realnodes, None
        if backend is not None:
            backend.close()
        with self.cloud.lock:
            self.cloud.save()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
