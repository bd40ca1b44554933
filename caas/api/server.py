"""The built-in WSGI server (waitress), stoppable for caas-all and tests.

Production deployments may run ``caas.api.wsgi:init_application`` under
uwsgi or mod_wsgi instead; ``caas-api`` uses this server.
"""

import threading

from oslo_log import log as logging
import waitress.server

LOG = logging.getLogger(__name__)


class Server:
    """A waitress server running in a background thread.

    ``port`` is the bound port (useful when asked for port 0).
    """

    def __init__(self, app, host, port, threads, sock=None):
        where = {'sockets': [sock]} if sock is not None else \
            {'host': host, 'port': port}
        self._server = waitress.server.create_server(
            app, threads=threads, **where,
            clear_untrusted_proxy_headers=True, ident='caas-api',
            # Reading ahead is what lets waitress notice that a client went
            # away (environ['waitress.client_disconnected']): an event
            # stream then frees its thread at once.
            channel_request_lookahead=1)
        self.host = self._server.effective_host
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run,
                                        name='caas-api', daemon=True)

    @property
    def url(self):
        return 'http://%s:%d' % (self.host, self.port)

    def start(self):
        self._thread.start()
        LOG.info('caas-api listening on %s', self.url)
        return self

    def stop(self, timeout=5):
        """Close the listener and open connections; stop the workers."""
        # The loop thread itself closes every dispatcher (closing them from
        # here would race its select()); an empty socket map ends the loop.
        if self._thread.is_alive():
            try:
                self._server.trigger.pull_trigger(self._close_all)
            except OSError:
                # The loop closed its trigger already: it is shutting down.
                pass
        else:
            self._close_all()
        self._server.task_dispatcher.shutdown(timeout=timeout)
        self._thread.join(timeout)
        LOG.info('caas-api on %s stopped', self.url)

    def _close_all(self):
        for channel in list(self._server._map.values()):
            try:
                channel.close()
            except OSError:
                pass

    def wait(self):
        self._thread.join()


def serve(app, host, port, threads=8, sock=None):
    """Start serving ``app`` in the background; returns a started Server.

    :param sock: a listening socket to accept on instead of binding
        ``host``:``port`` (the worker processes of ``caas-api`` share one).
    """
    return Server(app, host, port, threads, sock=sock).start()

