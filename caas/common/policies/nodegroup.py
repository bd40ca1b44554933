"""``nodegroup:*`` rules (Magnum's names)."""

from caas.common.policies import base

BASE = '/v1/clusters/{cluster_ident}/nodegroups'
ONE = BASE + '/{nodegroup}'

rules = [
    base.operation('nodegroup:get_all', base.ADMIN_OR_PROJECT_READER,
                   "List a cluster's nodegroups.", [('GET', BASE)]),
    base.operation('nodegroup:get_all_all_projects', base.ADMIN,
                   'List the nodegroups of a cluster of any project.',
                   [('GET', BASE)]),
    base.operation('nodegroup:get', base.ADMIN_OR_PROJECT_READER,
                   'Show a nodegroup.', [('GET', ONE)]),
    base.operation('nodegroup:get_one_all_projects', base.ADMIN,
                   'Show a nodegroup of a cluster of any project.',
                   [('GET', ONE)]),
    base.operation('nodegroup:create', base.ADMIN_OR_PROJECT_MEMBER,
                   'Add a nodegroup to a cluster.', [('POST', BASE)]),
    base.operation('nodegroup:update', base.ADMIN_OR_PROJECT_MEMBER,
                   'Change a nodegroup.', [('PATCH', ONE)]),
    base.operation('nodegroup:delete', base.ADMIN_OR_PROJECT_MEMBER,
                   'Delete a nodegroup.', [('DELETE', ONE)]),
]


def list_rules():
    return rules
