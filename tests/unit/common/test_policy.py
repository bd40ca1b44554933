"""The policy defaults: Magnum's names, the personas, the scope guard, the
sample file and the oslo.policy entry points."""

import pathlib
import subprocess
import sys

import pytest
from oslo_policy import policy as oslo_policy

from caas.common import context
from caas.common import exceptions
from caas.common import policy

ROOT = pathlib.Path(__file__).resolve().parents[3]
GENERATOR_CONF = ROOT / 'etc' / 'caas' / 'caas-policy-generator.conf'
SAMPLE = ROOT / 'etc' / 'caas' / 'policy.yaml.sample'
BIN = pathlib.Path(sys.executable).parent

# Magnum's rule names for what caas serves or will serve (issue 7).
MAGNUM_RULES = [
    'context_is_admin', 'admin_or_project_member', 'admin_or_project_reader',
    'project_member', 'project_reader',
    'cluster:create', 'cluster:delete', 'cluster:delete_all_projects',
    'cluster:detail', 'cluster:detail_all_projects', 'cluster:get',
    'cluster:get_one_all_projects', 'cluster:get_all',
    'cluster:get_all_all_projects', 'cluster:update',
    'cluster:update_health_status', 'cluster:update_all_projects',
    'cluster:resize', 'cluster:upgrade', 'cluster:upgrade_all_projects',
    'clustertemplate:create', 'clustertemplate:delete',
    'clustertemplate:delete_all_projects', 'clustertemplate:detail',
    'clustertemplate:detail_all_projects', 'clustertemplate:get',
    'clustertemplate:get_one_all_projects', 'clustertemplate:get_all',
    'clustertemplate:get_all_all_projects', 'clustertemplate:update',
    'clustertemplate:update_all_projects', 'clustertemplate:publish',
    'nodegroup:get', 'nodegroup:get_all', 'nodegroup:get_all_all_projects',
    'nodegroup:get_one_all_projects', 'nodegroup:create',
    'nodegroup:update', 'nodegroup:delete',
    'certificate:create', 'certificate:get', 'certificate:rotate_ca',
    'credential:rotate',
    'quota:create', 'quota:delete', 'quota:get', 'quota:get_all',
    'quota:update', 'stats:get_all', 'magnum-service:get_all',
]


def ctx(project='a', roles=('member', 'reader'), system=None):
    return context.RequestContext(project_id=project, user_id='u',
                                  roles=list(roles), system_scope=system)


@pytest.fixture(autouse=True)
def fresh_enforcer():
    policy.reset()
    yield
    policy.reset()


def test_magnum_rule_names_are_registered_once():
    names = [rule.name for rule in policy.list_rules()]
    assert len(names) == len(set(names))
    assert set(MAGNUM_RULES) <= set(names)


def test_every_action_rule_is_documented_and_scoped():
    for rule in policy.list_rules():
        if ':' in rule.name:
            assert isinstance(rule, oslo_policy.DocumentedRuleDefault)
            assert rule.scope_types, rule.name


def _allowed(rule, caller, project='a'):
    return policy.check(caller, rule, {'project_id': project})


@pytest.mark.parametrize('rule', [
    'cluster:create', 'cluster:update', 'cluster:resize', 'cluster:delete',
    'cluster:upgrade', 'clustertemplate:create', 'clustertemplate:update',
    'clustertemplate:delete', 'nodegroup:create', 'nodegroup:update',
    'nodegroup:delete', 'certificate:create', 'certificate:rotate_ca',
    'credential:rotate', 'cluster:update_health_status'])
def test_changes_are_for_members_and_admins(rule):
    assert _allowed(rule, ctx())
    assert not _allowed(rule, ctx(roles=['reader']))
    assert not _allowed(rule, ctx(project='b'))
    assert _allowed(rule, ctx(project='c', roles=['admin']))


@pytest.mark.parametrize('rule', [
    'cluster:get', 'cluster:get_all', 'cluster:detail',
    'clustertemplate:get', 'clustertemplate:get_all',
    'clustertemplate:detail', 'nodegroup:get', 'nodegroup:get_all',
    'certificate:get', 'quota:get', 'stats:get_all'])
def test_reads_are_for_readers_members_and_admins(rule):
    assert _allowed(rule, ctx(roles=['reader']))
    # A member whose token lacks the implied reader role still reads.
    assert _allowed(rule, ctx(roles=['member']))
    assert not _allowed(rule, ctx(project='b', roles=['reader']))
    assert not _allowed(rule, ctx(roles=['observer']))
    assert _allowed(rule, ctx(project='c', roles=['admin']))


@pytest.mark.parametrize('rule', [
    name for name in MAGNUM_RULES if name.endswith('_all_projects')] + [
    'clustertemplate:publish', 'quota:create', 'quota:update',
    'quota:delete', 'quota:get_all', 'magnum-service:get_all'])
def test_admin_only_rules(rule):
    assert not _allowed(rule, ctx())
    assert not _allowed(rule, ctx(roles=['reader']))
    assert _allowed(rule, ctx(project='c', roles=['admin']))


def test_the_check_string_alone_passes_on_none_equals_none():
    # Why the guard exists: oslo.policy compares str(None) with 'None'.
    enforcer = oslo_policy.Enforcer(policy.CONF)
    enforcer.register_default(oslo_policy.RuleDefault(
        'owner', 'project_id:%(project_id)s'))
    assert enforcer.authorize('owner', {'project_id': None},
                              {'project_id': None, 'roles': []})


@pytest.mark.parametrize('project', [None, ''])
@pytest.mark.parametrize('rule', [
    rule.name for rule in policy.list_rules()
    if rule.scope_types == ['project']])
def test_no_project_is_refused_for_every_project_rule(rule, project):
    for roles in (['member', 'reader'], ['admin', 'member', 'reader']):
        caller = ctx(project=project, roles=roles)
        with pytest.raises(policy.NoProject):
            policy.authorize(caller, rule, {'project_id': project})
        with pytest.raises(policy.NoProject):
            policy.authorize(caller, rule)


def test_a_system_scoped_admin_lists_services_and_nothing_else():
    system_admin = ctx(project=None, roles=['admin'], system='all')
    assert policy.check(system_admin, 'magnum-service:get_all')
    assert not policy.check(system_admin, 'cluster:get_all_all_projects')
    assert not policy.check(system_admin, 'cluster:get_all')
    # Without a system scope either, an admin role is not enough.
    assert not policy.check(ctx(project=None, roles=['admin']),
                            'magnum-service:get_all')


def test_a_row_without_a_project_belongs_to_no_member():
    assert not policy.check(ctx(), 'cluster:get', {'project_id': None})
    assert policy.check(ctx(project='c', roles=['admin']), 'cluster:get',
                        {'project_id': None})


def test_an_unknown_rule_is_refused():
    with pytest.raises(exceptions.PolicyNotAuthorized):
        policy.authorize(ctx(roles=['admin']), 'cluster:teleport')


def test_an_operator_policy_file_overrides_a_default(tmp_path, conf):
    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text('"cluster:create": "rule:context_is_admin"\n'
                           '"cluster:get": "rule:admin_or_project_member"\n')
    conf('policy_file', str(policy_file), group='oslo_policy')
    policy.reset()
    assert not _allowed('cluster:create', ctx())
    assert _allowed('cluster:create', ctx(roles=['admin']))
    assert not _allowed('cluster:get', ctx(roles=['reader']))
    # The scope guard is not a rule: a policy file cannot switch it off.
    policy_file.write_text('"cluster:get_all": "@"\n')
    policy.reset()
    assert _allowed('cluster:get_all', ctx(roles=[]))
    assert not _allowed('cluster:get_all', ctx(project=None))


def _run(argv):
    return subprocess.run(argv, check=True, cwd=ROOT, capture_output=True,
                          text=True, timeout=120).stdout


def test_sample_generator_prints_every_rule_and_the_sample_is_current(
        tmp_path):
    out = tmp_path / 'policy.yaml.sample'
    _run([str(BIN / 'oslopolicy-sample-generator'), '--config-file',
          str(GENERATOR_CONF), '--output-file', str(out)])
    text = out.read_text()
    for rule in policy.list_rules():
        assert '#"%s": "%s"' % (rule.name, rule.check_str) in text
    assert text == SAMPLE.read_text(), (
        'etc/caas/policy.yaml.sample is stale; regenerate it with '
        'oslopolicy-sample-generator --config-file '
        'etc/caas/caas-policy-generator.conf')


def test_enforcer_entry_point_gives_the_effective_policy():
    # oslopolicy-policy-generator loads the oslo.policy.enforcer entry
    # point (caas.common.policy:get_enforcer).
    text = _run([str(BIN / 'oslopolicy-policy-generator'), '--namespace',
                 'caas'])
    assert '"cluster:get": "rule:admin_or_project_reader"' in text
    assert '"clustertemplate:publish": "rule:context_is_admin"' in text


@pytest.fixture
def evaluations(monkeypatch):
    """How many times oslo.policy evaluated a rule's check tree."""
    from oslo_policy import _checks
    calls = []
    real = _checks._check

    def counting(rule, target, creds, enforcer, current_rule):
        if current_rule is not None and rule is enforcer.rules.get(
                current_rule):
            calls.append(current_rule)
        return real(rule, target, creds, enforcer, current_rule)

    monkeypatch.setattr(_checks, '_check', counting)
    return calls


def test_an_allowed_action_is_decided_once_per_caller_and_target(
        evaluations):
    member = ctx()
    for _ in range(3):
        policy.authorize(member, 'cluster:get_all')
        policy.authorize(member, 'cluster:get', {'project_id': 'a'})
    assert evaluations == ['cluster:get_all', 'cluster:get']
    # Another target, another caller, another role: decided afresh, and
    # each gets its own answer, not the remembered one.
    assert not _allowed('cluster:get', member, project='b')
    assert not _allowed('cluster:get', ctx(project='b'), project='a')
    assert not _allowed('cluster:create', ctx(roles=['reader']))
    assert _allowed('cluster:get', ctx(roles=['reader']))
    assert evaluations[2:] == ['cluster:get', 'cluster:get',
                               'cluster:create', 'cluster:get']
    assert policy.get_enforcer().decisions.hits == 4


def test_a_refusal_is_decided_every_time(evaluations):
    reader = ctx(roles=['reader'])
    for _ in range(3):
        assert not _allowed('cluster:create', reader)
    assert evaluations == ['cluster:create'] * 3


def test_a_changed_policy_file_applies_at_the_next_call(tmp_path, conf,
                                                        evaluations):
    """No reset: oslo.policy notices the file's new modification time on
    the next call, and no remembered decision outlives the rules it was
    made under."""
    import os
    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text('"cluster:get": "rule:admin_or_project_reader"\n')
    conf('policy_file', str(policy_file), group='oslo_policy')
    policy.reset()
    assert _allowed('cluster:get', ctx())
    assert _allowed('cluster:get', ctx())
    assert evaluations == ['cluster:get']
    policy_file.write_text('"cluster:get": "rule:context_is_admin"\n')
    later = os.stat(policy_file).st_mtime + 10
    os.utime(policy_file, (later, later))
    assert not _allowed('cluster:get', ctx())
    assert _allowed('cluster:get', ctx(roles=['admin']))
    policy_file.write_text('"cluster:get": "@"\n')
    os.utime(policy_file, (later + 10, later + 10))
    assert _allowed('cluster:get', ctx(roles=[]))


def test_set_rules_starts_a_new_generation(evaluations):
    enforcer = policy.get_enforcer()
    member = ctx()
    assert _allowed('cluster:get', member)
    assert _allowed('cluster:get', member)
    enforcer.set_rules(oslo_policy.Rules.from_dict(
        {'cluster:get': '!'}), overwrite=False)
    assert not _allowed('cluster:get', member)
    assert evaluations == ['cluster:get', 'cluster:get']


def test_a_rule_that_asks_elsewhere_is_never_remembered(tmp_path, conf,
                                                         monkeypatch):
    """A check kind other than oslo.policy's own (an operator's http: check
    asks a server) is evaluated on every call, whatever rule uses it."""
    from oslo_policy import _checks
    asked = []

    class Asking(_checks.Check):
        def __call__(self, target, creds, enforcer, current_rule=None):
            asked.append(self.match)
            return True

    monkeypatch.setitem(_checks.registered_checks, 'asking', Asking)
    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text('"cluster:get": "asking:x"\n')
    conf('policy_file', str(policy_file), group='oslo_policy')
    policy.reset()
    for _ in range(3):
        assert _allowed('cluster:get', ctx())
        assert _allowed('cluster:get_all', ctx())
    assert asked == ['x'] * 3
    assert policy.get_enforcer().decisions.hits == 0


def test_an_absent_policy_file_is_looked_for_once_per_interval_and_applies_once_created(  # noqa: E501
        tmp_path, conf, monkeypatch):
    """oslo.policy looks for a missing policy file (and each policy
    directory) on every call; here once per ABSENT_RECHECK_SECONDS, and a
    file or directory created later applies at the first call after it."""
    now = [1000.0]
    monkeypatch.setattr(policy, '_clock', lambda: now[0])
    searched = []
    real = oslo_policy.Enforcer._get_policy_path

    def counting(self, path):
        searched.append(path)
        return real(self, path)

    monkeypatch.setattr(oslo_policy.Enforcer, '_get_policy_path', counting)
    policy_file = tmp_path / 'policy.yaml'
    policy_dir = tmp_path / 'policy.d'
    conf('policy_file', str(policy_file), group='oslo_policy')
    conf('policy_dirs', [str(policy_dir)], group='oslo_policy')
    policy.reset()
    member, admin = ctx(), ctx(roles=['admin'])
    for _ in range(20):
        assert _allowed('cluster:get', member)
        assert _allowed('cluster:create', member)
    assert searched == [str(policy_file), str(policy_dir)]
    # Created now, seen once the interval has passed (not before: that is
    # the price of not searching on every call).
    policy_file.write_text('"cluster:get": "rule:context_is_admin"\n')
    now[0] += policy.ABSENT_RECHECK_SECONDS / 2
    assert _allowed('cluster:get', member)
    assert len(searched) == 2
    now[0] += policy.ABSENT_RECHECK_SECONDS / 2
    assert not _allowed('cluster:get', member)
    assert _allowed('cluster:get', admin)
    assert _allowed('cluster:create', member)
    # Found: never searched for again, still re-read when it changes.
    assert searched.count(str(policy_file)) == 2
    for _ in range(5):
        assert not _allowed('cluster:get', member)
    assert searched.count(str(policy_file)) == 2
    # A policy directory made later applies the same way.
    policy_dir.mkdir()
    (policy_dir / 'more.yaml').write_text(
        '"cluster:create": "rule:context_is_admin"\n')
    assert _allowed('cluster:create', member)
    now[0] += policy.ABSENT_RECHECK_SECONDS
    assert not _allowed('cluster:create', member)
    assert _allowed('cluster:create', admin)
    assert not _allowed('cluster:get', member)


def test_without_a_policy_file_the_rules_are_loaded_once_per_interval(
        conf, monkeypatch, evaluations):
    """oslo.policy's load_rules (a walk of every registered default) runs
    once per ABSENT_RECHECK_SECONDS while there is no policy file and
    nothing changed the rules; a change of the rules loads them at once."""
    now = [1000.0]
    monkeypatch.setattr(policy, '_clock', lambda: now[0])
    loads = []
    real = oslo_policy.Enforcer.load_rules

    def counting(self, force_reload=False):
        loads.append(force_reload)
        return real(self, force_reload)

    monkeypatch.setattr(oslo_policy.Enforcer, 'load_rules', counting)
    conf('policy_file', 'caas-no-such-policy.yaml', group='oslo_policy')
    policy.reset()
    member = ctx()
    for _ in range(20):
        assert _allowed('cluster:get', member)
        assert not _allowed('cluster:create', ctx(roles=['reader']))
    assert len(loads) == 1
    now[0] += policy.ABSENT_RECHECK_SECONDS
    assert _allowed('cluster:get', member)
    assert len(loads) == 2
    # A default registered later, and rules set by hand: loaded (and
    # decided) again at once.
    enforcer = policy.get_enforcer()
    enforcer.register_default(oslo_policy.RuleDefault('caas:test', '@'))
    assert policy.check(member, 'caas:test')
    assert len(loads) == 3
    assert policy.check(member, 'caas:test')
    assert len(loads) == 3
    enforcer.set_rules(oslo_policy.Rules.from_dict({'cluster:get': '!'}),
                       overwrite=False)
    assert not _allowed('cluster:get', member)
    assert len(loads) == 4
