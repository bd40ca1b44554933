"""``clustertemplate:*`` rules (Magnum's names)."""

from caas.common.policies import base

BASE = '/v1/clustertemplates'
ONE = BASE + '/{clustertemplate_ident}'

rules = [
    base.operation('clustertemplate:create', base.ADMIN_OR_PROJECT_MEMBER,
                   "Create a cluster template in the caller's project.",
                   [('POST', BASE)]),
    base.operation('clustertemplate:get_all', base.ADMIN_OR_PROJECT_READER,
                   "List the project's and the public cluster templates.",
                   [('GET', BASE)]),
    base.operation('clustertemplate:get_all_all_projects', base.ADMIN,
                   'List the cluster templates of every project '
                   '(?all_projects=true).', [('GET', BASE)]),
    base.operation('clustertemplate:detail', base.ADMIN_OR_PROJECT_READER,
                   "List the project's and the public cluster templates "
                   "with details.", [('GET', BASE + '/detail')]),
    base.operation('clustertemplate:detail_all_projects', base.ADMIN,
                   'List the cluster templates of every project with '
                   'details (?all_projects=true).',
                   [('GET', BASE + '/detail')]),
    base.operation('clustertemplate:get', base.ADMIN_OR_PROJECT_READER,
                   "Show a cluster template of the project (a public one "
                   "is judged as the caller's own).", [('GET', ONE)]),
    base.operation('clustertemplate:get_one_all_projects', base.ADMIN,
                   'Find a cluster template in any project by UUID or '
                   'name.', [('GET', ONE)]),
    base.operation('clustertemplate:update', base.ADMIN_OR_PROJECT_MEMBER,
                   'Update a cluster template (JSON-Patch).',
                   [('PATCH', ONE)]),
    base.operation('clustertemplate:update_all_projects', base.ADMIN,
                   'Find a cluster template to update in any project.',
                   [('PATCH', ONE)]),
    base.operation('clustertemplate:delete', base.ADMIN_OR_PROJECT_MEMBER,
                   'Delete a cluster template.', [('DELETE', ONE)]),
    base.operation('clustertemplate:delete_all_projects', base.ADMIN,
                   'Find a cluster template to delete in any project.',
                   [('DELETE', ONE)]),
    base.operation('clustertemplate:publish', base.ADMIN,
                   'Create or change a template with public=true (usable '
                   'by every project) or hidden=true (left out of lists).',
                   [('POST', BASE), ('PATCH', ONE)]),
]


def list_rules():
    return rules
