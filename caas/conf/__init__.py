"""Configuration: every option group of caas, registered on the global CONF.

oslo.messaging registers some of its options only on the global ``cfg.CONF``,
so caas uses that object everywhere instead of a private ``ConfigOpts``.
"""

from oslo_config import cfg
from oslo_log import log
from oslo_messaging import opts as messaging_opts

from caas.conf import api
from caas.conf import cloud
from caas.conf import conductor
from caas.conf import database
from caas.conf import default
from caas.conf import drivers
from caas.conf import health
from caas.conf import heat
from caas.conf import pki
from caas.conf import quotas
from caas.conf import sim
from caas.conf import trust

CONF = cfg.CONF

for _module in (default, api, cloud, conductor, database, drivers,
                health, heat, pki, quotas, sim, trust):
    _module.register_opts(CONF)

# transport_url and friends, so they can be read and overridden before the
# first transport exists (oslo.messaging registers them lazily).
for _group, _opts in messaging_opts.list_opts():
    if _group in (None, 'DEFAULT'):
        CONF.register_opts(_opts)

_log_registered = False


def register_log_opts():
    global _log_registered
    if not _log_registered:
        log.register_options(CONF)
        _log_registered = True
