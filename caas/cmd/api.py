"""caas-api: serve the REST API on ``[api] host:port`` with waitress."""

from oslo_log import log as logging

from caas import cmd
from caas.conf import CONF

LOG = logging.getLogger(__name__)


def main(argv=None):
    cmd.prepare(argv, description='caas-api')
    from caas.api import app as api_app
    from caas.api import server
    LOG.info('Starting caas-api on %s:%s (auth_strategy=%s)', CONF.api.host,
             CONF.api.port, CONF.auth_strategy)
    httpd = server.serve(api_app.build_app(CONF), CONF.api.host,
                         CONF.api.port, CONF.api.threads)
    cmd.wait_for_stop_signal('caas-api')
    httpd.stop()
    LOG.info('caas-api stopped')
    return 0
