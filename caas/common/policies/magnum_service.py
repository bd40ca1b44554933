"""``magnum-service:*``: the conductors, an operator's view of the service.

Not a project's resource, so not tied to a project-scoped token: an
administrator with a system-scoped token may list the services too.
"""

from caas.common.policies import base

rules = [
    base.operation('magnum-service:get_all', base.ADMIN,
                   'List the conductor services and whether they are up.',
                   [('GET', '/v1/mservices')], project=False),
]


def list_rules():
    return rules
