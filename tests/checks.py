"""What real tools say about what a driver generates (issue 8, item 6).

Each checker returns a list of problems (strings naming the file and the
tool's complaint); an empty list means the tool accepted everything:

- ``shellcheck(text, name)``: Debian's shellcheck over a shell script;
- ``cloud_config(text, name)``: ``cloud-init schema --config-file``;
- ``ignition(text, name)``: the config against the JSON schema of its
  Ignition spec version (vendored from coreos/ignition, see
  tests/checks_data/README), strictly: unknown keys are problems, as
  ``ignition-validate`` reports them;
- ``user_data(text, name)``: every part a boot would read
  (``caas.sim.userdata.parts``) given to the checker of its kind;
- ``hot(definition)``: the HOT lint of tests/unit/drivers/hotcheck.py.

``check_rendered(driver, cluster, template, nodegroups)`` is what a driver's
tests call: it renders the driver's stack (and the stacks of its
non-default nodegroups) on an in-process simulated cloud, so every
placeholder is filled as Heat fills it, lets the stack run to its end, and
runs every checker over the templates, each server's user data and each
software config. A missing tool is a skip, and a failure under CI.
"""

import copy
import functools
import json
import os
import shutil
import subprocess
import tempfile

import jsonschema
import pytest

from caas import pki
from caas.pki import authority
from caas.sim import hot
from caas.sim import stacks
from caas.sim import state
from caas.sim import userdata
from tests.unit.drivers import hotcheck

DATA = os.path.join(os.path.dirname(__file__), 'checks_data')
IGNITION_SCHEMAS = {'3.4.0': 'ignition-v3_4.json'}
# What heat-config's hooks give every deployment besides its own inputs.
HOOK_INPUTS = ('deploy_server_id', 'deploy_action', 'deploy_stack_id',
               'deploy_resource_name', 'deploy_signal_transport',
               'deploy_signal_id', 'deploy_signal_verb')
# Long enough for any wait condition or load balancer of the sim to settle.
SETTLE_SECONDS = 7200


def require_tool(name):
    """The tool's path; skip without it, fail under CI."""
    path = shutil.which(name)
    if path is None:
        message = '%s is not installed (Debian package %s)' % (name, name)
        if os.environ.get('CI'):
            pytest.fail(message)
        pytest.skip(message)
    return path


@functools.lru_cache(maxsize=512)
def shellcheck(text, name='script'):
    """shellcheck's findings (every severity) for one script."""
    tool = require_tool('shellcheck')
    args = [tool, '--format=gcc', '--color=never', '-']
    if not userdata.SHELL.match(text.lstrip()):
        args[1:1] = ['--shell=sh']
    proc = subprocess.run(args, input=text, capture_output=True, text=True,
                          timeout=120)
    if proc.returncode == 0:
        return []
    lines = (proc.stdout + proc.stderr).strip().splitlines() or [
        'exit status %d' % proc.returncode]
    return ['%s: shellcheck: %s' % (name, line.replace('-:', 'line ', 1))
            for line in lines]


@functools.lru_cache(maxsize=512)
def cloud_config(text, name='cloud-config'):
    """``cloud-init schema``'s verdict on one cloud-config."""
    tool = require_tool('cloud-init')
    with tempfile.NamedTemporaryFile('w', suffix='.yaml') as f:
        f.write(text)
        f.flush()
        proc = subprocess.run([tool, 'schema', '--config-file', f.name],
                              capture_output=True, text=True, timeout=120)
    if proc.returncode == 0:
        return []
    out = ' '.join((proc.stdout + proc.stderr).split()).replace(f.name, name)
    return ['%s: cloud-init schema: %s' % (name, out)]


def _pointer(root, ref):
    node = root
    for key in ref.lstrip('#/').split('/'):
        node = node[key]
    return node


def _strict(node, root):
    """The schema with ``additionalProperties: false`` on every object
    (an ``allOf`` of objects merged first, so each part's keys count)."""
    if isinstance(node, list):
        return [_strict(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    if 'allOf' in node:
        merged = {'type': 'object', 'properties': {}, 'required': []}
        for part in node['allOf']:
            if '$ref' in part:
                part = _pointer(root, part['$ref'])
            merged['properties'].update(part.get('properties') or {})
            merged['required'] += part.get('required') or []
        node = merged
    node = {k: _strict(v, root) for k, v in node.items()}
    if 'properties' in node and 'additionalProperties' not in node:
        node['additionalProperties'] = False
    return node


@functools.lru_cache(maxsize=None)
def ignition_schema(version):
    with open(os.path.join(DATA, IGNITION_SCHEMAS[version])) as f:
        schema = json.load(f)
    return _strict(schema, schema)


def ignition(text, name='ignition'):
    """Problems of an Ignition config: its spec version's schema, and
    ``data:`` URLs that decode."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return ['%s: not JSON: %s' % (name, exc)]
    version = ((doc.get('ignition') or {}).get('version')
               if isinstance(doc, dict) else None)
    if version not in IGNITION_SCHEMAS:
        return ['%s: Ignition spec version %r has no vendored schema '
                '(known: %s)' % (name, version, ', '.join(IGNITION_SCHEMAS))]
    validator = jsonschema.Draft4Validator(ignition_schema(version))
    problems = ['%s: Ignition %s schema: %s at /%s' % (
        name, version, err.message, '/'.join(map(str, err.absolute_path)))
        for err in sorted(validator.iter_errors(doc), key=str)]
    for item in (doc.get('storage') or {}).get('files') or []:
        source = ((item or {}).get('contents') or {}).get('source')
        if isinstance(source, str) and source.startswith('data:'):
            try:
                userdata.data_url(source)
            except (ValueError, UnicodeDecodeError) as exc:
                problems.append('%s: %s: bad data URL: %s' % (
                    name, item.get('path'), exc))
    return problems


def user_data(text, name='user_data'):
    """Every part a first boot reads, checked by the tool of its kind."""
    problems = []
    try:
        found = list(userdata.parts(text, name))
    except Exception as exc:  # what a boot could not unwrap either
        return ['%s: cannot be unwrapped: %s' % (name, exc)]
    for part in found:
        if part.kind == 'shell':
            problems += shellcheck(part.text, part.name)
        elif part.kind == 'cloud-config':
            problems += cloud_config(part.text, part.name)
        elif part.kind == 'ignition':
            problems += ignition(part.text, part.name)
        elif part.kind == 'text' and part.name == name:
            problems.append('%s: neither a script, a cloud-config, an '
                            'Ignition config nor a MIME archive' % name)
    return problems


def hot(definition):
    """The HOT lint: parses, declares what it uses, references exist."""
    return hotcheck.check_definition(definition)


# rendering on the simulated cloud --------------------------------------------
def _project():
    return state.PROJECTS['service'], state.USERS['caas'][0]


def _create(cloud, name, definition):
    project, user = _project()
    with cloud.lock:
        return stacks.create_stack(
            cloud, name, project, user, copy.deepcopy(
                definition['template']), definition['parameters'],
            definition['files'])


def _settled(cloud, stack):
    with state.clock_at(stack['started_at'] + SETTLE_SECONDS), cloud.lock:
        status, reason = stacks.stack_status(cloud, stack)
        outputs = {o['output_key']: o.get('output_value')
                   for o in stacks.outputs(cloud, stack)}
    return status, reason, outputs


@functools.lru_cache(maxsize=None)
def _cas(coe):
    """CAs of a cluster of ``coe``, made once per run (keys are slow)."""
    return {ca_type: (cert, key.decode('ascii'))
            for ca_type in pki.ca_types(coe)
            for cert, key in [authority.make_ca(
                '00000000-0000-4000-8000-000000000000', ca_type)]}


# A cloud credential as caas.conductor.tasks.credential_params gives it.
CREDENTIAL = {'user_id': '6f1d0c3e9b8a4f2d8e7c6b5a49382716',
              'username': 'caas-5d12f6fd-op', 'domain_id': 'caas-domain',
              'password': 'Zx-9_kq2LmN4pQ7rS1tU3vW5', 'trust_id':
              '2b7f1c4e0a014e1f9d3c5b7a9e1f3d5c',
              'auth_url': 'http://127.0.0.1:5000/v3', 'region_name': 'R1',
              'hand_trust': True}


def _add_ca_keys(driver, template, definition):
    """What the conductor hands the stack at create: the CA material
    (caas.conductor.tasks.stack.ca_key_parameters and add_ca_parameters)
    and the cloud credential, so the user data is checked as a real create
    renders it."""
    declared = definition['template'].get('parameters') or {}
    cas = _cas(template.get('coe'))
    given = {}
    for hook, arg in (('ca_key_parameters', cas),
                      ('ca_parameters', [cert for cert, _key in
                                         cas.values()]),
                      ('credential_parameters', CREDENTIAL)):
        if hasattr(driver, hook):
            given.update(getattr(driver, hook)(arg))
    definition['parameters'].update(
        {k: v for k, v in given.items() if k in declared})


def render(driver, cluster, template, nodegroups=(), **knobs):
    """Create the driver's stacks on an in-process simulated cloud.

    :returns: (cloud, [(name, definition, status, reason)], problems)
    """
    cloud = state.Cloud(**dict({'server_boot_delay': 0.1,
                                'resource_delay': 0.0}, **knobs))
    rendered, problems = [], []
    definition = driver.stack_definition(cluster, template, list(nodegroups))
    _add_ca_keys(driver, template, definition)
    name = driver.stack_name(cluster)
    try:
        stack = _create(cloud, name, definition)
    except hot.HOTError as exc:
        return cloud, rendered, ['%s: Heat refuses the stack: %s' % (
            name, exc.message)]
    status, reason, outputs = _settled(cloud, stack)
    rendered.append((name, definition, status, reason))
    for group in nodegroups:
        if group.get('is_default', True) or group.get('role') == 'master' \
                or not hasattr(driver, 'nodegroup_stack_definition'):
            continue
        ng_def = driver.nodegroup_stack_definition(cluster, template, group,
                                                   outputs)
        # As caas.conductor.tasks.nodegroup does (what the stack declares).
        _add_ca_keys(driver, template, ng_def)
        ng_name = '%s-%s' % (name, group.get('name', 'nodegroup'))
        try:
            ng_stack = _create(cloud, ng_name, ng_def)
        except hot.HOTError as exc:
            problems.append('%s: Heat refuses the stack: %s' % (
                ng_name, exc.message))
            continue
        ng_status, ng_reason, _out = _settled(cloud, ng_stack)
        rendered.append((ng_name, ng_def, ng_status, ng_reason))
    return cloud, rendered, problems


def check_rendered(driver, cluster, template, nodegroups=(), **knobs):
    """Every problem any checker finds in what the driver generates for
    this cluster: HOT lint, Heat's refusals, a stack that does not reach
    CREATE_COMPLETE on the simulated cloud, shellcheck, cloud-init schema
    and Ignition schema over every server's user data and every software
    config. ``knobs`` are the simulated cloud's (caas.sim.state)."""
    cloud, rendered, problems = render(driver, cluster, template,
                                       nodegroups, **knobs)
    for name, definition, status, reason in rendered:
        problems += ['%s: %s' % (name, p) for p in hot(definition)]
        if status != 'CREATE_COMPLETE':
            problems.append('%s: %s on the simulated cloud: %s' % (
                name, status, reason))
    seen = set()
    for srv in cloud.data['servers'].values():
        text = srv.get('user_data')
        if text and text not in seen:
            seen.add(text)
            problems += user_data(text, 'user_data of %s' % srv['name'])
    for config in cloud.data['software_configs'].values():
        text = config.get('config')
        if not text or text in seen:
            continue
        seen.add(text)
        if config.get('group') == 'script' and \
                not userdata.SHELL.match(text.lstrip()):
            problems.append('software config %s: group script without a '
                            'shell shebang' % config['id'])
            continue
        if config.get('group') == 'script':
            # Heat's script hook exports the inputs to the script.
            names = list(config.get('inputs') or []) + list(HOOK_INPUTS)
            text += ''.join('\nexport %s' % name for name in names)
        problems += user_data(text, 'software config %s' % config['id'])
    return problems
