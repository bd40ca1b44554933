"""HOT template language of the simulated Heat: parsing, parameters,
static validation, dependencies and intrinsic functions.

Resource types live in ``caas.sim.resources``; the stack engine that applies
templates to the cloud lives in ``caas.sim.stacks``.  This module knows
nothing about the cloud: intrinsic functions reach resources through the
``Context`` the engine hands in.
"""

import functools
import itertools
import json
import re

import orjson
import yaml

RESOURCE_GROUP = 'OS::Heat::ResourceGroup'
PSEUDO_PARAMS = ('OS::stack_name', 'OS::stack_id', 'OS::project_id')
# The HOT versions Heat 27 knows (its refusal lists them; measured against
# the real Heat by tests/openstack/test_sim_vs_real.py): the dates, then
# the release names it accepts as aliases.
VERSION_DATES = ('2013-05-23', '2014-10-16', '2015-04-30', '2015-10-15',
                 '2016-04-08', '2016-10-14', '2017-02-24', '2017-09-01',
                 '2018-03-02', '2018-08-31', '2021-04-16')
VERSION_NAMES = ('newton', 'ocata', 'pike', 'queens', 'rocky', 'wallaby')
SECTIONS = ('heat_template_version', 'description', 'parameter_groups',
            'parameters', 'resources', 'outputs', 'conditions')


class HOTError(Exception):
    """A template or parameter problem; Heat answers 400 for these."""

    def __init__(self, message, error_type='StackValidationFailed'):
        super().__init__(message)
        self.message = message
        self.error_type = error_type


class _Loader(yaml.SafeLoader):
    """YAML loader that keeps dates as strings, as Heat's loader does."""


_Loader.yaml_implicit_resolvers = {
    key: [r for r in resolvers if r[0] != 'tag:yaml.org,2002:timestamp']
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


@functools.lru_cache(maxsize=256)
def _parsed_text(text):
    return json.dumps(_parse(text))


def parse(template):
    """A template dict from a dict, a JSON string or a YAML string.

    A string is parsed once (then copied from a cache as JSON, by orjson:
    half the time of ``json.loads``, which was 7-8 % of caas-all's busy
    time during a fill): the files of a stack are parsed again for every
    nested stack and check, and parsing YAML in Python was most of the
    cost of creating a stack."""
    if isinstance(template, (str, bytes)):
        try:
            return orjson.loads(_parsed_text(template))
        # YAML that is not JSON-able, or whose floats JSON has no words
        # for (.nan, .inf: json writes NaN, which orjson refuses): parse
        # every time.
        except (TypeError, orjson.JSONDecodeError):
            pass
    return _parse(template)


@functools.lru_cache(maxsize=256)
def _shared(text):
    return orjson.loads(_parsed_text(text))


def parse_shared(template):
    """:func:`parse` for readers that change nothing they get (checks,
    attribute look-ups): a string gives the same dict every time, not a
    copy (the checks of a stack create looked at its nested templates
    several times, each a copy of ~25 kB)."""
    if isinstance(template, (str, bytes)):
        try:
            return _shared(template)
        except (TypeError, orjson.JSONDecodeError):
            pass
    return _parse(template)


def _parse(template):
    if isinstance(template, (str, bytes)):
        try:
            template = json.loads(template)
        except ValueError:
            try:
                template = yaml.load(template, Loader=_Loader)
            except yaml.YAMLError as exc:
                raise HOTError('Error parsing template: %s' % exc)
    if not isinstance(template, dict):
        raise HOTError('The template is not a JSON object or YAML mapping.')
    version = str(template.get('heat_template_version', ''))
    if not version:
        raise HOTError('Template format version not found.',
                       'InvalidTemplateVersion')
    if version not in VERSION_DATES + VERSION_NAMES:
        raise HOTError('The template version is invalid: '
                       '"heat_template_version: %s". "heat_template_version" '
                       'should be one of: %s' % (
                           version, ', '.join(VERSION_DATES + VERSION_NAMES)),
                       'InvalidTemplateVersion')
    for key in template:
        if key not in SECTIONS:
            raise HOTError('The template section is invalid: %s' % key)
    for key in ('parameters', 'resources', 'outputs', 'conditions'):
        if template.get(key) is None:
            template[key] = {}
        elif not isinstance(template[key], dict):
            raise HOTError('The template section "%s" must be a map.' % key)
    return template


# parameters ---------------------------------------------------------------
def _convert(name, spec, value):
    ptype = spec.get('type', 'string')
    try:
        if ptype == 'string':
            if isinstance(value, (dict, list)):
                return json.dumps(value)
            if isinstance(value, bool):
                return 'true' if value else 'false'
            return '' if value is None else str(value)
        if ptype == 'number':
            if isinstance(value, (int, float)) and \
                    not isinstance(value, bool):
                return value
            text = str(value).strip()
            return int(text) if re.match(r'^-?\d+$', text) else float(text)
        if ptype == 'json':
            return json.loads(value) if isinstance(value, str) else value
        if ptype == 'comma_delimited_list':
            if isinstance(value, list):
                return value
            text = str(value)
            return [v.strip() for v in text.split(',')] if text else []
        if ptype == 'boolean':
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ('true', 't', 'yes', 'y', 'on', '1'):
                return True
            if text in ('false', 'f', 'no', 'n', 'off', '0'):
                return False
            raise ValueError(value)
    except (TypeError, ValueError):
        raise HOTError('Parameter \'%s\' is invalid: Value \'%s\' is not a '
                       'valid %s' % (name, value, ptype))
    raise HOTError('Invalid type (%s) of parameter %s' % (ptype, name))


def _check_constraints(name, spec, value):
    for constraint in spec.get('constraints') or []:
        desc = constraint.get('description')
        bad = None
        if 'allowed_values' in constraint and \
                value not in constraint['allowed_values']:
            bad = '"%s" is not an allowed value %s' % (
                value, constraint['allowed_values'])
        elif 'range' in constraint and isinstance(value, (int, float)):
            rng = constraint['range']
            if ('min' in rng and value < rng['min']) or \
                    ('max' in rng and value > rng['max']):
                bad = '%s is out of range %s' % (value, rng)
        elif 'length' in constraint and isinstance(value, (str, list)):
            rng = constraint['length']
            if ('min' in rng and len(value) < rng['min']) or \
                    ('max' in rng and len(value) > rng['max']):
                bad = 'length of "%s" is out of range %s' % (value, rng)
        elif 'allowed_pattern' in constraint and isinstance(value, str) \
                and not re.match('^(?:%s)$' % constraint['allowed_pattern'],
                                 value):
            bad = '"%s" does not match pattern "%s"' % (
                value, constraint['allowed_pattern'])
        if bad:
            raise HOTError('Parameter \'%s\' is invalid: %s' %
                           (name, desc or bad))


def resolve_params(template, given, strict=True):
    """Typed values of every declared parameter.

    ``strict`` rejects values for undeclared parameters, as Heat does for
    the parameters a user passes.
    """
    given = dict(given or {})
    declared = template.get('parameters') or {}
    if strict:
        for name in given:
            if name not in declared:
                raise HOTError('The Parameter (%s) was not defined in '
                               'template.' % name, 'UnknownUserParameter')
    values = {}
    for name, spec in declared.items():
        spec = spec or {}
        if name in given and given[name] is not None:
            value = given[name]
        elif 'default' in spec:
            value = spec['default']
        else:
            raise HOTError('The Parameter (%s) was not provided.' % name,
                           'UserParameterMissing')
        values[name] = _convert(name, spec, value)
        if name in given:
            _check_constraints(name, spec, values[name])
    return values


# static analysis ----------------------------------------------------------
def _walk_calls(value, names):
    """(function, args) of every call of ``names`` inside value, in
    document order (a call before the calls inside its arguments).

    A loop over a list of what is left to look at, not a recursive
    generator: a generator per nested value made this walk a third of
    the simulated cloud's CPU per stack create."""
    found = []
    todo = [value]
    pop, extend = todo.pop, todo.extend
    while todo:
        value = pop()
        if isinstance(value, dict):
            if len(value) == 1:
                for key, args in value.items():
                    if key in names:
                        found.append((key, args))
            extend(reversed(value.values()))
        elif isinstance(value, list):
            extend(reversed(value))
    return found


def _ref_target(func, args):
    if func == 'get_resource':
        return args if isinstance(args, str) else None
    if isinstance(args, list) and args and isinstance(args[0], str):
        return args[0]
    return None


def dependencies(definition):
    """Names of the resources a resource definition depends on."""
    deps = []
    for func, args in _walk_calls(definition.get('properties') or {},
                                  ('get_resource', 'get_attr')):
        target = _ref_target(func, args)
        if target and target not in deps:
            deps.append(target)
    extra = definition.get('depends_on') or []
    for name in [extra] if isinstance(extra, str) else extra:
        if name not in deps:
            deps.append(name)
    return deps


# What is known of templates by their text (see content_key), a few
# hundred entries each: the templates of a cluster's nested stacks are the
# same for every cluster, and walking them again at every create was a
# third of the simulated cloud's CPU per create.
_CACHE_SIZE = 512
_DEPENDENCY_MAPS = {}
_VALID = set()


def content_key(*values):
    """The JSON text of ``values`` (the same text: the same dependencies,
    the same verdict of a check), or None for what is not plain JSON
    (then nothing is cached)."""
    try:
        return orjson.dumps(values)
    except TypeError:
        return None


def remember(cache, key, value=None):
    """Keep ``key`` (in a set) or ``key: value`` (in a dict) in one of the
    template caches, emptied when it holds _CACHE_SIZE entries."""
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    if isinstance(cache, set):
        cache.add(key)
    else:
        cache[key] = value


def checked_once(cache, key, check):
    """Run ``check()`` (which raises what it finds) unless ``key`` passed
    it before; remember a pass. A refusal is looked for every time; a
    ``key`` of None (see content_key) is always checked."""
    if key is not None and key in cache:
        return
    check()
    if key is not None:
        remember(cache, key)


def dependency_map(template):
    """{resource name: tuple of its dependencies}, each found once (a
    template is looked at by validation, ordering and the engine in turn).
    Shared between callers: read it, never change it."""
    resources = template['resources']
    key = content_key(resources)
    found = _DEPENDENCY_MAPS.get(key) if key is not None else None
    if found is None:
        found = {name: tuple(dependencies(definition or {}))
                 for name, definition in resources.items()}
        if key is not None:
            remember(_DEPENDENCY_MAPS, key, found)
    return found


def creation_order(template, deps=None):
    """Resource names with every dependency before its dependents.

    :param deps: the template's :func:`dependency_map`, if known.
    """
    resources = template['resources']
    if deps is None:
        deps = dependency_map(template)
    order, visiting, done = [], set(), set()

    def visit(name):
        if name in done:
            return
        if name in visiting:
            raise HOTError('Circular Dependency Found: %s' % name,
                           'CircularDependencyException')
        visiting.add(name)
        for dep in deps[name]:
            if dep in resources:
                visit(dep)
        visiting.discard(name)
        done.add(name)
        order.append(name)

    for name in resources:
        visit(name)
    return order


def validate(template, files, known_types, _seen=()):
    """Reject what Heat rejects at create: unknown types, bad references.

    A template that passed with the same files and types passes again
    without a look (a refusal is looked for every time)."""
    key = None if _seen else content_key(template, files,
                                         sorted(known_types))
    checked_once(_VALID, key,
                 lambda: _validate(template, files, known_types, _seen))


def _validate(template, files, known_types, _seen):
    resources = template['resources']
    declared = template['parameters']
    for name, definition in resources.items():
        if not isinstance(definition, dict) or 'type' not in definition:
            raise HOTError('Resource %s is missing "type"' % name)
        _validate_type(definition['type'], files, known_types, _seen)
        if definition['type'] == RESOURCE_GROUP:
            rdef = (definition.get('properties') or {}).get('resource_def')
            if isinstance(rdef, dict) and isinstance(rdef.get('type'), str):
                _validate_type(rdef['type'], files, known_types, _seen)
    sections = [('resources', resources), ('outputs', template['outputs'])]
    for section, content in sections:
        for key, item in content.items():
            for func, args in _walk_calls(item, ('get_resource', 'get_attr',
                                                 'get_param')):
                if func == 'get_param':
                    pname = args[0] if isinstance(args, list) else args
                    if isinstance(pname, str) and pname not in declared \
                            and pname not in PSEUDO_PARAMS:
                        raise HOTError('The Parameter (%s) was not defined '
                                       'in template.' % pname,
                                       'InvalidTemplateReference')
                    continue
                target = _ref_target(func, args)
                if target is not None and target not in resources:
                    raise HOTError('The specified reference "%s" (in %s) '
                                   'is incorrect.' % (target, key),
                                   'InvalidTemplateReference')
    deps = dependency_map(template)
    for name in resources:
        for dep in deps[name]:
            if dep not in resources:
                raise HOTError('The specified reference "%s" (in %s) is '
                               'incorrect.' % (dep, name),
                               'InvalidTemplateReference')
    creation_order(template, deps)


def _validate_type(rtype, files, known_types, seen):
    if rtype in known_types:
        return
    if rtype in (files or {}):
        if rtype in seen:
            raise HOTError('Circular definition of %s' % rtype)
        nested = parse_shared(files[rtype])
        validate(nested, files, known_types, seen + (rtype,))
        return
    # Heat's create answers it as a failed validation, not a missing
    # entity (compared with the real Heat in tests/openstack).
    raise HOTError('The Resource Type (%s) could not be found.' % rtype,
                   'StackValidationFailed')


# intrinsic functions -------------------------------------------------------
class Context(object):
    """What intrinsic functions may see; the engine fills the callbacks."""

    def __init__(self, params, ref, attr, files=None, stack_name='',
                 stack_id='', project_id='', conditions=None):
        self.params = params
        self.ref = ref
        self.attr = attr
        self.files = files or {}
        self.pseudo = {'OS::stack_name': stack_name,
                       'OS::stack_id': stack_id,
                       'OS::project_id': project_id}
        self.conditions = conditions or {}


def _dig(value, path):
    for key in path:
        if isinstance(value, list):
            try:
                value = value[int(key)]
            except (ValueError, IndexError):
                return None
        elif isinstance(value, dict):
            value = value.get(key if key in value else str(key))
        else:
            return None
    return value


def _text(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def _get_param(ctx, args):
    args = args if isinstance(args, list) else [args]
    name = args[0]
    if name in ctx.pseudo:
        return ctx.pseudo[name]
    if name not in ctx.params:
        raise HOTError('The Parameter (%s) was not defined in template.'
                       % name, 'InvalidTemplateReference')
    return _dig(ctx.params[name], args[1:])


def _str_replace(ctx, args):
    text = _text(args.get('template'))
    params = args.get('params') or {}
    for key in sorted(params, key=len, reverse=True):
        text = text.replace(key, _text(params[key]))
    return text


def _list_join(ctx, args):
    delim, items = args[0], []
    for chunk in args[1:]:
        items.extend(chunk if isinstance(chunk, list) else [chunk])
    return delim.join(_text(i) for i in items)


def _str_split(ctx, args):
    parts = _text(args[1]).split(args[0])
    return parts[int(args[2])] if len(args) > 2 else parts


def _repeat(ctx, args):
    for_each = args['for_each']
    keys = list(for_each)
    out = []
    for combo in itertools.product(*(for_each[k] or [] for k in keys)):
        out.append(_substitute(args['template'], dict(zip(keys, combo))))
    return out


def _substitute(value, mapping):
    if isinstance(value, str):
        for key in sorted(mapping, key=len, reverse=True):
            if value == key:
                return mapping[key]
            value = value.replace(key, _text(mapping[key]))
        return value
    if isinstance(value, dict):
        return {_substitute(k, mapping): _substitute(v, mapping)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, mapping) for v in value]
    return value


def _map_merge(ctx, args):
    out = {}
    for item in args:
        out.update(item or {})
    return out


def _list_concat(ctx, args):
    return [x for item in args for x in (item or [])]


def condition(ctx, value):
    """Truth of a condition expression or the name of a condition."""
    if isinstance(value, str) and value in ctx.conditions:
        return bool(condition(ctx, ctx.conditions[value]))
    return bool(resolve(value, ctx))


FUNCTIONS = {
    'get_param': _get_param,
    'get_resource': lambda ctx, args: ctx.ref(args),
    'get_attr': lambda ctx, args: ctx.attr(args[0], args[1], args[2:]),
    'get_file': lambda ctx, args: ctx.files.get(args),
    'str_replace': _str_replace,
    'str_replace_strict': _str_replace,
    'str_replace_vstrict': _str_replace,
    'list_join': _list_join,
    'str_split': _str_split,
    'repeat': _repeat,
    'map_merge': _map_merge,
    'list_concat': _list_concat,
    'list_concat_unique': lambda ctx, args: list(
        dict.fromkeys(_list_concat(ctx, args))),
    'equals': lambda ctx, args: args[0] == args[1],
    'not': lambda ctx, args: not condition(ctx, args),
    'and': lambda ctx, args: all(condition(ctx, a) for a in args),
    'or': lambda ctx, args: any(condition(ctx, a) for a in args),
    'contains': lambda ctx, args: args[0] in (args[1] or []),
}
LAZY = ('if', 'not', 'and', 'or')


_CONTAINERS = (dict, list)


def resolve(value, ctx):
    """Evaluate every intrinsic function inside ``value``."""
    # Leaves (most values) are taken as they are, without a call each.
    if isinstance(value, dict):
        if len(value) == 1:
            key, args = next(iter(value.items()))
            if key == 'if':
                chosen = args[1] if condition(ctx, args[0]) else args[2]
                return resolve(chosen, ctx)
            if key in FUNCTIONS:
                if key not in LAZY:
                    args = resolve(args, ctx)
                return FUNCTIONS[key](ctx, args)
        return {k: resolve(v, ctx) if isinstance(v, _CONTAINERS) else v
                for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ctx) if isinstance(v, _CONTAINERS) else v
                for v in value]
    return value


def evaluate_conditions(template, ctx):
    """Truth of every entry of the ``conditions`` section."""
    raw = template.get('conditions') or {}
    ctx.conditions = raw
    return {name: condition(ctx, name) for name in raw}
