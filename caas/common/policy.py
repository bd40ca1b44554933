"""Policy: who may do what, with defaults in code (oslo.policy).

The API calls :func:`authorize` before every action. Project members act on
their own project's resources; ``admin`` may act on every project's;
publishing a template (``public``) and listing services are admin only.
Operators override rules in a policy file; ``oslopolicy-sample-generator
--namespace caas`` prints the defaults.
"""

import threading

from oslo_policy import policy

from caas.common import exceptions
from caas.conf import CONF

ADMIN = 'role:admin'
ADMIN_OR_OWNER = 'rule:admin_or_owner'

_base_rules = [
    policy.RuleDefault('context_is_admin', ADMIN,
                       description='Who counts as an administrator.'),
    policy.RuleDefault('admin_or_owner',
                       'rule:context_is_admin or project_id:%(project_id)s',
                       description='An administrator, or a member of the '
                                   "resource's project."),
    policy.RuleDefault('admin_api', 'rule:context_is_admin',
                       description='Administrators only.'),
]


def _op(name, check, description, operations):
    return policy.DocumentedRuleDefault(
        name=name, check_str=check, description=description,
        operations=[{'path': p, 'method': m} for m, p in operations])


_cluster_rules = [
    _op('cluster:create', ADMIN_OR_OWNER, 'Create a cluster.',
        [('POST', '/v1/clusters')]),
    _op('cluster:get', ADMIN_OR_OWNER, 'Show a cluster.',
        [('GET', '/v1/clusters/{cluster_ident}')]),
    _op('cluster:get_all', ADMIN_OR_OWNER, 'List clusters.',
        [('GET', '/v1/clusters')]),
    _op('cluster:detail', ADMIN_OR_OWNER, 'List clusters with details.',
        [('GET', '/v1/clusters/detail')]),
    _op('cluster:update', ADMIN_OR_OWNER, "Change a cluster's node count.",
        [('PATCH', '/v1/clusters/{cluster_ident}')]),
    _op('cluster:resize', ADMIN_OR_OWNER, 'Resize a cluster.',
        [('POST', '/v1/clusters/{cluster_ident}/actions/resize')]),
    _op('cluster:delete', ADMIN_OR_OWNER, 'Delete a cluster.',
        [('DELETE', '/v1/clusters/{cluster_ident}')]),
    _op('nodegroup:get', ADMIN_OR_OWNER, 'Show a nodegroup.',
        [('GET', '/v1/clusters/{cluster_ident}/nodegroups/{nodegroup}')]),
    _op('nodegroup:get_all', ADMIN_OR_OWNER, "List a cluster's nodegroups.",
        [('GET', '/v1/clusters/{cluster_ident}/nodegroups')]),
]

_template_rules = [
    _op('clustertemplate:create', ADMIN_OR_OWNER, 'Create a cluster template.',
        [('POST', '/v1/clustertemplates')]),
    _op('clustertemplate:get', ADMIN_OR_OWNER,
        'Show a cluster template (own project or public).',
        [('GET', '/v1/clustertemplates/{clustertemplate_ident}')]),
    _op('clustertemplate:get_all', ADMIN_OR_OWNER, 'List cluster templates.',
        [('GET', '/v1/clustertemplates')]),
    _op('clustertemplate:detail', ADMIN_OR_OWNER,
        'List cluster templates with details.',
        [('GET', '/v1/clustertemplates/detail')]),
    _op('clustertemplate:update', ADMIN_OR_OWNER, 'Update a cluster template.',
        [('PATCH', '/v1/clustertemplates/{clustertemplate_ident}')]),
    _op('clustertemplate:delete', ADMIN_OR_OWNER, 'Delete a cluster template.',
        [('DELETE', '/v1/clustertemplates/{clustertemplate_ident}')]),
    _op('clustertemplate:publish', 'rule:admin_api',
        'Create or update a template with public=true (visible to every '
        'project).',
        [('POST', '/v1/clustertemplates'),
         ('PATCH', '/v1/clustertemplates/{clustertemplate_ident}')]),
]

_service_rules = [
    _op('magnum-service:get_all', 'rule:admin_api',
        'List the conductor services and whether they are up.',
        [('GET', '/v1/mservices')]),
]


# caas extensions (issue 12): progress events and the live views. Reading
# events takes what showing the cluster takes.
_event_rules = [
    _op('cluster:events', ADMIN_OR_OWNER,
        "List a cluster's progress events (a caas extension).",
        [('GET', '/v1/clusters/{cluster_ident}/events')]),
    _op('event:get_all', ADMIN_OR_OWNER,
        'List or stream the progress events of every cluster in scope (a '
        'caas extension).',
        [('GET', '/v1/events'), ('GET', '/v1/events/stream')]),
    _op('conductor:get_all', 'rule:admin_api',
        'List the conductors with their heartbeat age and the operations '
        'each owns (a caas extension).',
        [('GET', '/v1/conductors')]),
]


def list_rules():
    """Every default rule (entry point ``oslo.policy.policies``)."""
    return (_base_rules + _cluster_rules + _template_rules + _service_rules +
            _event_rules)


_lock = threading.Lock()
_enforcer = None


def get_enforcer():
    """The process's enforcer (entry point ``oslo.policy.enforcer``)."""
    global _enforcer
    if _enforcer is None:
        with _lock:
            if _enforcer is None:
                enforcer = policy.Enforcer(CONF)
                enforcer.register_defaults(list_rules())
                _enforcer = enforcer
    return _enforcer


def reset():
    """Forget the enforcer (tests, or after the policy file changed)."""
    global _enforcer
    with _lock:
        if _enforcer is not None:
            _enforcer.clear()
        _enforcer = None


def check_is_admin(context):
    return get_enforcer().authorize('context_is_admin', {},
                                    context.to_policy_values())


def authorize(context, rule, target=None):
    """Raise PolicyNotAuthorized (403) unless ``rule`` allows the action.

    :param target: the resource's attributes, at least ``project_id``;
        defaults to the caller's own project.
    """
    if target is None:
        target = {'project_id': context.project_id}
    try:
        return get_enforcer().authorize(
            rule, target, context.to_policy_values(), do_raise=True,
            exc=exceptions.PolicyNotAuthorized, action=rule)
    except policy.PolicyNotRegistered:
        raise exceptions.PolicyNotAuthorized(action=rule)
