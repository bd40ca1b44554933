"""Policy: who may do what, with the defaults in code (oslo.policy).

The rules live in ``caas.common.policies`` under Magnum's names. The API
calls :func:`authorize` before every action. Three personas (secure RBAC):
an administrator (role ``admin``) may do everything in every project; a
project member reads and changes its project's resources; a project
reader lists and shows them only. Publishing a template (``public`` or
``hidden``), writing quotas, listing every project and listing the
services are for administrators.

Every rule but ``magnum-service:get_all`` is about a project's resources
and needs a token scoped to a project: a caller without a project is
refused here, before any check string runs, because
``project_id:%(project_id)s`` would pass on None == None (and oslo.policy
takes a token with neither a project nor a system scope for a project
token). The services may also be listed with a system-scoped token. A row
without a project is owned by no caller.

Operators override rules in ``policy.yaml`` (``[oslo_policy]
policy_file``); ``oslopolicy-sample-generator --config-file
etc/caas/caas-policy-generator.conf`` prints the defaults.
"""

import threading
import uuid

from oslo_policy import policy

from caas.common import exceptions
from caas.common import policies
from caas.conf import CONF


def list_rules():
    """Every default rule (entry point ``oslo.policy.policies``)."""
    return policies.list_rules()


# rule name -> the token scopes it accepts ('project', 'system'); a caller
# whose token has none of them is refused whatever its roles.
RULE_SCOPES = {rule.name: tuple(rule.scope_types)
               for rule in list_rules() if rule.scope_types}

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


class NoProject(exceptions.PolicyNotAuthorized):
    message = ('%(action)s needs a token scoped to a project; this token '
               'has none.')


def _in_scope(context, scopes):
    return (('project' in scopes and bool(context.project_id)) or
            ('system' in scopes and context.system_scope == 'all'))


def _target(context, target):
    target = dict(target) if target is not None else {
        'project_id': context.project_id}
    if not target.get('project_id'):
        # A resource without a project belongs to no caller: give the
        # check a project id that no token can carry.
        target['project_id'] = 'no-project-%s' % uuid.uuid4().hex
    return target


def authorize(context, rule, target=None):
    """Raise PolicyNotAuthorized (403) unless ``rule`` allows the action.

    :param target: the resource's attributes, at least ``project_id``;
        defaults to the caller's own project.
    :raises: NoProject (403) for a project rule and a caller without a
        project; PolicyNotAuthorized (403) when the rule refuses.
    """
    scopes = RULE_SCOPES.get(rule)
    if scopes and not _in_scope(context, scopes):
        raise NoProject(action=rule)
    try:
        return get_enforcer().authorize(
            rule, _target(context, target), context.to_policy_values(),
            do_raise=True, exc=exceptions.PolicyNotAuthorized, action=rule)
    except (policy.PolicyNotRegistered, policy.InvalidScope):
        raise exceptions.PolicyNotAuthorized(action=rule)


def check(context, rule, target=None):
    """True when :func:`authorize` would let the action through."""
    try:
        authorize(context, rule, target)
    except exceptions.PolicyNotAuthorized:
        return False
    return True


def check_is_admin(context):
    return check(context, 'context_is_admin')
