"""The checkers of tests/checks.py find what they are for.

Each checker is shown a good input (no problem) and bad ones (a problem
naming what is wrong), so that a checker that cannot fail is caught.
"""

import base64
import json
import urllib.parse

import pytest

from tests import checks

GOOD_SH = '#!/bin/sh\nset -eu\nname="$1"\nprintf \'%s\\n\' "$name"\n'
BAD_SH = '#!/bin/sh\nfor f in $(ls /etc); do echo $f; done\ncd /tmp\n'


def _ignition(script, **extra):
    doc = {'ignition': {'version': '3.4.0'},
           'storage': {'files': [{
               'path': '/usr/local/bin/boot', 'mode': 493,
               'contents': {'source': 'data:,' + urllib.parse.quote(
                   script, safe='')}}]},
           'systemd': {'units': [{'name': 'boot.service', 'enabled': True,
                                  'contents': '[Unit]\n'}]}}
    doc.update(extra)
    return json.dumps(doc)


def test_shellcheck_passes_a_clean_script():
    assert checks.shellcheck(GOOD_SH, 'good.sh') == []


def test_shellcheck_finds_problems():
    problems = checks.shellcheck(BAD_SH, 'bad.sh')
    codes = ' '.join(problems)
    assert 'SC2045' in codes or 'SC2013' in codes  # iterating over ls
    assert 'SC2086' in codes                        # unquoted $f
    assert 'SC2164' in codes                        # cd without || exit
    assert all(p.startswith('bad.sh: shellcheck: line ') for p in problems)


def test_cloud_init_schema_passes_a_valid_config():
    text = ('#cloud-config\nwrite_files:\n- path: /etc/x\n  content: hi\n'
            '  permissions: "0644"\nruncmd:\n- [sh, -c, "echo hi"]\n')
    assert checks.cloud_config(text, 'cc') == []


@pytest.mark.parametrize('text,expected', [
    ('#cloud-config\nruncmd: 5\n', "runcmd: 5 is not of type 'array'"),
    ('#cloud-config\nwrite_files:\n- path: /x\n  contnt: hi\n',
     "'contnt' was unexpected"),
    ('runcmd: [ls]\n', 'needs to begin with "#cloud-config"'),
])
def test_cloud_init_schema_finds_problems(text, expected):
    problems = checks.cloud_config(text, 'cc')
    assert len(problems) == 1 and expected in problems[0]
    assert problems[0].startswith('cc: cloud-init schema:')


def test_ignition_passes_a_valid_config():
    assert checks.ignition(_ignition(GOOD_SH)) == []


@pytest.mark.parametrize('text,expected', [
    (_ignition(GOOD_SH, ignition={'version': '3.3.0'}),
     "spec version '3.3.0' has no vendored schema"),
    (_ignition(GOOD_SH, ignition={}), 'spec version None'),
    (json.dumps({'ignition': {'version': '3.4.0'}, 'storage': {'files': [
        {'path': '/x', 'mode': '0755'}]}}), "'0755' is not of type"),
    (json.dumps({'ignition': {'version': '3.4.0'}, 'storage': {'files': [
        {'contents': {'source': 'data:,x'}}]}}), "'path' is a required"),
    (json.dumps({'ignition': {'version': '3.4.0'}, 'systemd': {'units': [
        {'name': 'a.service', 'enable': True}]}}),
     "'enable' was unexpected"),
    (json.dumps({'ignition': {'version': '3.4.0'}, 'storage': {'files': [
        {'path': '/x', 'overwrite': True, 'contents': {'sorce': 'x'}}]}}),
     "'sorce' was unexpected"),
    ('{"ignition": ', 'not JSON'),
])
def test_ignition_finds_problems(text, expected):
    problems = checks.ignition(text, 'ign')
    assert problems and any(expected in p for p in problems), problems


def test_user_data_checks_every_part_by_its_kind():
    assert checks.user_data(GOOD_SH) == []
    assert checks.user_data(_ignition(GOOD_SH)) == []
    assert any('SC2086' in p for p in checks.user_data(BAD_SH))
    # The script inside the Ignition config is checked too.
    assert any('SC2086' in p and 'user_data:/usr/local/bin/boot' in p
               for p in checks.user_data(_ignition(BAD_SH)))
    mime = ('Content-Type: multipart/mixed; boundary="B"\nMIME-Version: '
            '1.0\n\n--B\nContent-Type: text/x-shellscript\nContent-'
            'Transfer-Encoding: base64\n\n%s\n--B\nContent-Type: text/'
            'cloud-config\n\n#cloud-config\nruncmd: 5\n--B--\n'
            % base64.b64encode(BAD_SH.encode()).decode())
    found = checks.user_data(mime)
    assert any('SC2086' in p for p in found)
    assert any('cloud-init schema' in p for p in found)
    assert checks.user_data('just some words') == [
        'user_data: neither a script, a cloud-config, an Ignition config '
        'nor a MIME archive']


# the HOT lint ----------------------------------------------------------------
def _definition(resources, outputs=None, parameters=None, files=None):
    return {'template': {'heat_template_version': '2021-04-16',
                         'parameters': parameters or {},
                         'resources': resources, 'outputs': outputs or {}},
            'files': files or {}, 'parameters': {}}


NET = {'net': {'type': 'OS::Neutron::Net', 'properties': {'name': 'n'}}}


def test_hot_lint_passes_a_consistent_template():
    assert checks.hot(_definition(dict(NET), outputs={
        'id': {'value': {'get_attr': ['net', 'subnets']}}})) == []


@pytest.mark.parametrize('definition,expected', [
    (_definition(dict(NET), outputs={
        'x': {'value': {'get_attr': ['net', 'cidr']}}}),
     'get_attr net.cidr: OS::Neutron::Net has no such attribute'),
    (_definition({'net': {'type': 'OS::Neutron::Net', 'properties': {
        'colour': 'red'}}}), 'Unknown Property colour'),
    (_definition({'net': {'type': 'OS::Neutron::Net', 'properties': {
        'name': {'get_param': 'nope'}}}}), 'get_param nope not declared'),
    (_definition({'g': {'type': 'OS::Heat::ResourceGroup', 'properties': {
        'resource_def': {'type': 'node.yaml'}}}}, outputs={
        'x': {'value': {'get_attr': ['g', 'adress']}}}, files={
        'node.yaml': 'heat_template_version: 2021-04-16\noutputs:\n  '
                     'address: {value: 1}\n'}),
     'get_attr g.adress: node.yaml has no such output'),
    (_definition({'s': {'type': 'OS::Nova::ServerGroup', 'properties': {
        'policies': ['spread']}}}), '"spread" is not an allowed value'),
    ({'template': {'heat_template_version': 'yesterday'}, 'files': {},
      'parameters': {}}, 'does not parse as HOT'),
])
def test_hot_lint_finds_problems(definition, expected):
    problems = checks.hot(definition)
    assert any(expected in p for p in problems), problems


# check_rendered --------------------------------------------------------------
class _Driver(object):
    """A driver whose one server boots ``script`` and whose wait condition
    needs ``count`` signals."""

    def __init__(self, script, count=1):
        self.script, self.count = script, count

    def stack_name(self, cluster):
        return 'c-' + cluster['uuid']

    def stack_definition(self, cluster, template, nodegroups):
        return _definition({
            'handle': {'type': 'OS::Heat::WaitConditionHandle'},
            'wait': {'type': 'OS::Heat::WaitCondition', 'properties': {
                'handle': {'get_resource': 'handle'}, 'timeout': 600,
                'count': self.count}},
            'node': {'type': 'OS::Nova::Server', 'properties': {
                'flavor': 'm1.small', 'image': 'ubuntu-jammy',
                'user_data_format': 'RAW',
                'user_data': {'str_replace': {
                    'template': self.script + 'SIGNAL\n',
                    'params': {'SIGNAL': {'get_attr': [
                        'handle', 'curl_cli']}}}}}}})


CLUSTER = {'uuid': '5d12f6fd-a196-4bf0-ae4c-1f639a523a52'}


def test_check_rendered_passes_a_clean_driver():
    assert checks.check_rendered(_Driver(GOOD_SH), CLUSTER, {}) == []


def test_check_rendered_finds_a_bad_script_in_rendered_user_data():
    problems = checks.check_rendered(_Driver(BAD_SH), CLUSTER, {})
    assert any('user_data of ' in p and 'SC2086' in p for p in problems)


def test_check_rendered_finds_a_stack_that_never_completes():
    problems = checks.check_rendered(_Driver(GOOD_SH, count=2), CLUSTER, {})
    assert any('CREATE_FAILED on the simulated cloud' in p and
               '1 of 2 received' in p for p in problems), problems
    problems = checks.check_rendered(_Driver(GOOD_SH), CLUSTER, {},
                                     nodes_signal=0)
    assert any('0 of 1 received' in p for p in problems), problems
