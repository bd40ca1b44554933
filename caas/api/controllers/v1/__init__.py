"""Version 1 of the API: Magnum's resources, microversions 1.1 to 1.14."""

from caas.api.controllers.v1 import certificates
from caas.api.controllers.v1 import cluster_upgrade
from caas.api.controllers.v1 import clusters
from caas.api.controllers.v1 import clustertemplates
from caas.api.controllers.v1 import credentials
from caas.api.controllers.v1 import events
from caas.api.controllers.v1 import mservices
from caas.api.controllers.v1 import nodegroups
from caas.api.controllers.v1 import quotas
from caas.api.controllers.v1 import stats


def register(app):
    for module in (clustertemplates, clusters, cluster_upgrade, nodegroups,
                   mservices, certificates, events, quotas, stats,
                   credentials):
        module.register(app)
