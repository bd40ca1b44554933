"""``cluster:*`` rules (Magnum's names)."""

from caas.common.policies import base

BASE = '/v1/clusters'
ONE = BASE + '/{cluster_ident}'

rules = [
    base.operation('cluster:create', base.ADMIN_OR_PROJECT_MEMBER,
                   'Create a cluster in the caller\'s project.',
                   [('POST', BASE)]),
    base.operation('cluster:get_all', base.ADMIN_OR_PROJECT_READER,
                   "List the project's clusters.", [('GET', BASE)]),
    base.operation('cluster:get_all_all_projects', base.ADMIN,
                   'List the clusters of every project '
                   '(?all_projects=true).', [('GET', BASE)]),
    base.operation('cluster:detail', base.ADMIN_OR_PROJECT_READER,
                   "List the project's clusters with details.",
                   [('GET', BASE + '/detail')]),
    base.operation('cluster:detail_all_projects', base.ADMIN,
                   'List the clusters of every project with details '
                   '(?all_projects=true).', [('GET', BASE + '/detail')]),
    base.operation('cluster:get', base.ADMIN_OR_PROJECT_READER,
                   'Show a cluster.', [('GET', ONE)]),
    base.operation('cluster:get_one_all_projects', base.ADMIN,
                   "Find a cluster in any project by UUID or name (else "
                   "only the caller's project is searched).",
                   [('GET', ONE)]),
    base.operation('cluster:update', base.ADMIN_OR_PROJECT_MEMBER,
                   'Change a cluster (JSON-Patch of node_count).',
                   [('PATCH', ONE)]),
    base.operation('cluster:update_health_status',
                   base.ADMIN_OR_PROJECT_MEMBER,
                   "Change a cluster's health_status and "
                   "health_status_reason.", [('PATCH', ONE)]),
    base.operation('cluster:update_all_projects', base.ADMIN,
                   'Find a cluster to change (PATCH, resize) in any '
                   'project.',
                   [('PATCH', ONE), ('POST', ONE + '/actions/resize')]),
    base.operation('cluster:resize', base.ADMIN_OR_PROJECT_MEMBER,
                   'Resize a nodegroup of a cluster.',
                   [('POST', ONE + '/actions/resize')]),
    base.operation('cluster:upgrade', base.ADMIN_OR_PROJECT_MEMBER,
                   'Upgrade a cluster to another template.',
                   [('POST', ONE + '/actions/upgrade')]),
    base.operation('cluster:upgrade_all_projects', base.ADMIN,
                   'Find a cluster to upgrade in any project.',
                   [('POST', ONE + '/actions/upgrade')]),
    base.operation('cluster:delete', base.ADMIN_OR_PROJECT_MEMBER,
                   'Delete a cluster.', [('DELETE', ONE)]),
    base.operation('cluster:delete_all_projects', base.ADMIN,
                   'Find a cluster to delete in any project.',
                   [('DELETE', ONE)]),
]


def list_rules():
    return rules
