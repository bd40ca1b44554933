"""``magnum-service:*``: the conductors, an operator's view of the service.

Not a project's resource: an administrator with a system-scoped token may
list the services too, as may one with a project-scoped token.
"""

from caas.common.policies import base

rules = [
    base.operation('magnum-service:get_all', base.ADMIN,
                   'List the conductor services and whether they are up.',
                   [('GET', '/v1/mservices')],
                   scope_types=['system', 'project']),
]


def list_rules():
    return rules
