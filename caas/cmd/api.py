"""caas-api: serve the REST API on ``[api] host:port`` with waitress, in
``[api] workers`` processes (see ``caas.api.workers``)."""

from oslo_log import log as logging

from caas import cmd
from caas.conf import CONF

LOG = logging.getLogger(__name__)


def _serve(sock=None):
    """Serve until SIGTERM or SIGINT (in this process)."""
    from caas.api import app as api_app
    from caas.api import server
    from caas.api import workers
    from caas.db.sqlalchemy import engine as db_engine
    # A connection for each request thread, and two to spare.
    db_engine.size_pool_for(CONF.api.threads + 2)
    app = api_app.build_app(CONF)
    workers.settle_heap()
    httpd = server.serve(app, CONF.api.host, CONF.api.port,
                         CONF.api.threads, sock=sock)
    cmd.wait_for_stop_signal('caas-api')
    httpd.stop()


def main(argv=None):
    cmd.prepare(argv, description='caas-api')
    # Imported before the workers fork, so that they share the modules
    # instead of each importing them while its first requests wait (seen
    # as a third of a new worker's CPU in a profile); the application
    # itself, with its pools and connections, is built in each worker.
    from caas.api import app as _app  # noqa: F401
    from caas.api import workers
    count = workers.count(CONF.api.workers)
    LOG.info('Starting caas-api on %s:%s (auth_strategy=%s, %d worker '
             'process%s)', CONF.api.host, CONF.api.port, CONF.auth_strategy,
             count, '' if count == 1 else 'es')
    if count == 1:
        _serve()
    else:
        workers.Supervisor(workers.listen(CONF.api.host, CONF.api.port,
                                          count), _serve).run()
    LOG.info('caas-api stopped')
    return 0
