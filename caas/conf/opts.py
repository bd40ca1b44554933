"""Entry points for oslo-config-generator."""

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


def list_opts():
    result = []
    for module in (default, api, cloud, conductor, database, drivers,
                   health, heat, pki, quotas, sim, trust):
        for group, opts in module.list_opts().items():
            result.append((group, opts))
    return result

