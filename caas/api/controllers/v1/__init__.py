"""Version 1 of the API: Magnum's resources, microversions 1.1 to 1.10."""

from caas.api.controllers.v1 import certificates
from caas.api.controllers.v1 import clusters
from caas.api.controllers.v1 import clustertemplates
from caas.api.controllers.v1 import credentials
from caas.api.controllers.v1 import events
from caas.api.controllers.v1 import mservices
from caas.api.controllers.v1 import nodegroups


def register(app):
    for module in (clustertemplates, clusters, nodegroups, mservices,
                   certificates, events, credentials):
        module.register(app)
