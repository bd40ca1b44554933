"""WSGI entry point for uwsgi / mod_wsgi (``caas-api-wsgi``).

Reads the configuration file named by ``CAAS_CONFIG_FILE``, or
``/etc/caas/caas.conf``, sets up logging and returns the application.
"""

import os


from caas import conf as caas_conf
from caas.api import app as api_app
from caas.common import log as caas_log
from caas.conf import CONF

DEFAULT_CONFIG_FILE = '/etc/caas/caas.conf'


def init_application():
    config_file = os.environ.get('CAAS_CONFIG_FILE', DEFAULT_CONFIG_FILE)
    files = [config_file] if os.path.exists(config_file) else []
    caas_conf.register_log_opts()
    CONF([], project='caas', prog='caas-api-wsgi',
         default_config_files=files)
    caas_log.setup(CONF, 'caas')
    return api_app.build_app(CONF)
