"""The personas every caas rule is built from (secure RBAC).

``admin`` (Keystone role ``admin``) may do everything, in every project.
A project ``member`` reads and changes its own project's resources; a
project ``reader`` lists and shows them and changes nothing. Keystone's
default implied roles (admin -> member -> reader) put ``reader`` into a
member's token; the reader persona accepts ``member`` too so that clouds
without those implications still let members read what they own.

``project_id:%(project_id)s`` would pass when both sides are None (an
unscoped token looking at a row without a project): ``caas.common.policy``
refuses a caller without a project before any rule is evaluated, so these
strings never see that case.
"""

from oslo_policy import policy

ADMIN = 'rule:context_is_admin'
PROJECT_MEMBER = 'rule:project_member'
PROJECT_READER = 'rule:project_reader'
ADMIN_OR_PROJECT_MEMBER = 'rule:admin_or_project_member'
ADMIN_OR_PROJECT_READER = 'rule:admin_or_project_reader'

# Rules with this scope need a token scoped to a project.
PROJECT_SCOPE = ['project']

rules = [
    policy.RuleDefault(
        'context_is_admin', 'role:admin',
        description='Who counts as an administrator (every project).'),
    policy.RuleDefault(
        'admin_api', ADMIN,
        description='Administrators only (kept for policy files that name '
                    'it).'),
    policy.RuleDefault(
        'project_member', 'role:member and project_id:%(project_id)s',
        description="A member of the resource's project."),
    policy.RuleDefault(
        'project_reader',
        '(role:reader or role:member) and project_id:%(project_id)s',
        description="A reader (or member) of the resource's project."),
    policy.RuleDefault(
        'admin_or_project_member', '%s or %s' % (ADMIN, PROJECT_MEMBER),
        description="An administrator or a member of the resource's "
                    "project: may change it."),
    policy.RuleDefault(
        'admin_or_project_reader', '%s or %s' % (ADMIN, PROJECT_READER),
        description="An administrator or a reader of the resource's "
                    "project: may list and show it."),
]


def operation(name, check_str, description, operations,
              scope_types=PROJECT_SCOPE):
    """A documented rule; by default it needs a project-scoped token."""
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{'method': m, 'path': p} for m, p in operations],
        scope_types=scope_types)


def list_rules():
    return rules
