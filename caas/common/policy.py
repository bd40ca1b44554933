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
import time
import uuid

from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_policy import _checks
from oslo_policy import policy

from caas.common import exceptions
from caas.common import lru
from caas.common import policies
from caas.conf import CONF


def list_rules():
    """Every default rule (entry point ``oslo.policy.policies``)."""
    return policies.list_rules()


# rule name -> the token scopes it accepts ('project', 'system'); a caller
# whose token has none of them is refused whatever its roles.
RULE_SCOPES = {rule.name: tuple(rule.scope_types)
               for rule in list_rules() if rule.scope_types}

# Checks whose answer depends on nothing but the target, the credentials
# and the rules: a decision made of them alone can be remembered. An
# operator's ``http:`` check (or any other kind) asks something else each
# time, and a rule set holding one is evaluated every time.
_PURE_CHECKS = (_checks.AndCheck, _checks.OrCheck, _checks.NotCheck,
                _checks.RuleCheck, _checks.RoleCheck, _checks.GenericCheck,
                _checks.TrueCheck, _checks.FalseCheck)

# Decisions remembered per process (a key is a rule, a target and a
# caller's credentials: a few hundred bytes).
MAX_DECISIONS = 4096

# How long a policy file or policy directory found absent is taken to be
# absent. oslo.policy searches every configuration directory for the
# file (and for each of ``[oslo_policy] policy_dirs``) on every call
# until it finds it: without a policy file, that search was most of what
# a remembered decision still cost. A file created later applies at the
# first call after this many seconds; a file that exists is found once
# and its modification time still checked on every call.
ABSENT_RECHECK_SECONDS = 1.0
_clock = time.monotonic


def _pure(check):
    """True when ``check`` and every check under it are :data:`_PURE_CHECKS`
    (a ``rule:`` check names another rule, itself checked with the rest)."""
    if type(check) not in _PURE_CHECKS:
        return False
    children = getattr(check, 'rules', None)
    if children is None:
        children = [check.rule] if isinstance(check, _checks.NotCheck) \
            else []
    return all(_pure(child) for child in children)


def _frozen(mapping):
    """A hashable copy of a target or credentials mapping, or None when a
    value is neither hashable nor a list of hashables."""
    items = []
    for key, value in mapping.items():
        if isinstance(value, list):
            value = ('list', tuple(value))
        items.append((key, value))
    try:
        items.sort()
        frozen = tuple(items)
        hash(frozen)
    except TypeError:
        return None
    return frozen


class Enforcer(policy.Enforcer):
    """oslo.policy's enforcer, remembering the actions it allowed.

    Evaluating a rule costs more than the rest of a cached cluster list
    (oslo.policy inspects each check's signature on every call). An
    allowed ``(rule, target, credentials)`` is remembered with the
    *generation* of the rules it was decided under; every change of the
    rules - a policy file or directory (re)loaded, which oslo.policy still
    looks for on every call, :meth:`set_rules`, :meth:`clear`, defaults
    registered and applied - starts a new generation, and a decision of an
    older one is decided again. Refusals are never remembered, nor any
    decision while a rule that is not :data:`_PURE_CHECKS` is loaded.
    Every call still goes through :meth:`authorize`'s registration check
    and :meth:`load_rules`; a policy file or directory found absent is
    looked for again :data:`ABSENT_RECHECK_SECONDS` later, not before.
    """

    def __init__(self, *args, **kwargs):
        # path -> clock time until which it is taken to be absent
        self._absent = {}
        # the rules' state after a load_rules that found no policy file
        self._loaded = None
        self._generation = 0
        self._generation_lock = threading.Lock()
        self._pure_generation = None
        self.decisions = lru.LRU(MAX_DECISIONS)
        super().__init__(*args, **kwargs)

    def _new_generation(self):
        with self._generation_lock:
            self._generation += 1

    def set_rules(self, rules, overwrite=True, use_conf=False):
        self._new_generation()
        super().set_rules(rules, overwrite=overwrite, use_conf=use_conf)
        self._new_generation()

    def clear(self):
        super().clear()
        self.decisions.clear()
        self._absent.clear()
        self._new_generation()

    def _get_policy_path(self, path):
        now = _clock()
        until = self._absent.get(path)
        if until is not None and now < until:
            raise cfg.ConfigFilesNotFoundError([path])
        try:
            found = super()._get_policy_path(path)
        except cfg.ConfigFilesNotFoundError:
            self._absent[path] = now + ABSENT_RECHECK_SECONDS
            raise
        self._absent.pop(path, None)
        return found

    def register_default(self, default):
        super().register_default(default)
        self._new_generation()

    def load_rules(self, force_reload=False):
        if not force_reload and self._nothing_to_load():
            return
        before = (self._generation, id(self.rules), len(self.rules))
        super().load_rules(force_reload)
        # oslo.policy also replaces or fills ``rules`` without set_rules
        # (policy directories, defaults not yet in the rules).
        if (self._generation, id(self.rules), len(self.rules)) != before:
            self._new_generation()
        self._loaded = self._load_state() if self.policy_path is None \
            else None

    def _load_state(self):
        return (self._generation, id(self.rules), len(self.rules),
                len(self.registered_rules), self.use_conf)

    def _nothing_to_load(self):
        """True when oslo.policy's ``load_rules`` would change nothing: no
        policy file, it and every policy directory known absent (their
        search not due), and the rules as its last call left them (no
        generation since, the same mapping and size, no default
        registered). It then still walked every registered default to
        fill the rules in, on every call. A rule deleted from
        ``self.rules`` and another added in its place by hand is not
        noticed until the next search."""
        if self._loaded is None or self._loaded != self._load_state():
            return False
        now = _clock()
        for path in [self.policy_file] + list(
                self.conf.oslo_policy.policy_dirs):
            until = self._absent.get(path)
            if until is None or now >= until:
                return False
        return True

    def _remembering(self, generation):
        """True when every rule of ``generation`` may be remembered."""
        if self._pure_generation != generation:
            rules = self.rules
            if not all(_pure(check) for check in list(rules.values())):
                return False
            self._pure_generation = generation
        return True

    def enforce(self, rule, target, creds, do_raise=False, exc=None,
                *args, **kwargs):
        key = None
        if isinstance(rule, str) and isinstance(target, dict) and \
                not isinstance(creds, oslo_context.RequestContext):
            frozen_target, frozen_creds = _frozen(target), _frozen(creds)
            if frozen_target is not None and frozen_creds is not None:
                key = (rule, frozen_target, frozen_creds)
        if key is None:
            return super().enforce(rule, target, creds, do_raise, exc,
                                   *args, **kwargs)
        self.load_rules()
        generation = self._generation
        known = self.decisions.get(key)
        if known is not None and known[0] == generation:
            self.decisions.count(hit=True)
            return known[1]
        self.decisions.count(hit=False)
        result = super().enforce(rule, target, creds, do_raise, exc, *args,
                                 **kwargs)
        if result and self._remembering(generation):
            self.decisions.put(key, (generation, result))
        return result


_lock = threading.Lock()
_enforcer = None


def get_enforcer():
    """The process's enforcer (entry point ``oslo.policy.enforcer``)."""
    global _enforcer
    if _enforcer is None:
        with _lock:
            if _enforcer is None:
                enforcer = Enforcer(CONF)
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
