"""``quota:*`` and ``stats:*`` rules (Magnum's names).

Quotas are written by administrators only; a project may read its own.
"""

from caas.common.policies import base

BASE = '/v1/quotas'
ONE = BASE + '/{project_id}/{resource}'

rules = [
    base.operation('quota:create', base.ADMIN, "Set a project's quota.",
                   [('POST', BASE)]),
    base.operation('quota:update', base.ADMIN, "Change a project's quota.",
                   [('PATCH', ONE)]),
    base.operation('quota:delete', base.ADMIN,
                   "Remove a project's quota (the default applies again).",
                   [('DELETE', ONE)]),
    base.operation('quota:get_all', base.ADMIN,
                   'List the quotas of every project.', [('GET', BASE)]),
    base.operation('quota:get', base.ADMIN_OR_PROJECT_READER,
                   "Show a project's quota (target: the quota's project).",
                   [('GET', ONE)]),
    base.operation('stats:get_all', base.ADMIN_OR_PROJECT_READER,
                   "Cluster and node counts of the project (an admin's "
                   "may cover every project).", [('GET', '/v1/stats')]),
]


def list_rules():
    return rules
