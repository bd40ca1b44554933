"""A static checker for the stack definitions drivers produce.

It checks what the simulated and the real Heat reject only at create time:
templates that do not parse as HOT, undeclared parameters and resources,
unknown resource types, properties a type does not have, attributes a
type (or a nested template's outputs) does not have, intrinsics the
simulated cloud does not implement, and nested templates fed properties
they do not declare (or starved of ones they require). The resource types,
their properties and attributes are those of the simulated Heat
(``caas.sim.resources``), which follows Heat's resource type reference.
"""

import copy

import yaml

from caas.sim import hot
from caas.sim import props as sim_props
from caas.sim import resources as sim_resources

FUNCTIONS = set(hot.FUNCTIONS) | {'if'}
TYPES = set(sim_resources.TYPES)
PSEUDO = {'OS::stack_name', 'OS::stack_id', 'OS::project_id'}


def calls(value):
    """(function, args) of every intrinsic call inside value."""
    if isinstance(value, dict):
        if len(value) == 1:
            key, args = next(iter(value.items()))
            if key in FUNCTIONS or key.startswith(('get_', 'list_', 'str_',
                                                   'map_', 'if', 'repeat',
                                                   'Fn::', 'yaql')):
                yield key, args
        for item in value.values():
            yield from calls(item)
    elif isinstance(value, list):
        for item in value:
            yield from calls(item)


def required(params):
    return {k for k, v in params.items() if 'default' not in (v or {})}


def _attribute_problem(where, resources, files, target, attr):
    """A problem if ``get_attr [target, attr]`` reads nothing there is."""
    definition = resources[target]
    rtype = definition['type']
    if rtype == 'OS::Heat::ResourceGroup':
        if attr in sim_resources.ResourceGroup.GROUP_ATTRIBUTES or \
                attr.startswith('resource.'):
            return None
        definition = (definition.get('properties') or {}).get(
            'resource_def') or {}
        rtype = definition.get('type')
    if rtype in files:
        outputs = yaml.safe_load(files[rtype]).get('outputs') or {}
        if attr not in outputs and attr != 'OS::stack_id':
            return '%s: get_attr %s.%s: %s has no such output' % (
                where, target, attr, rtype)
    elif rtype in TYPES:
        if sim_resources.TYPES[rtype].has_attribute(
                attr, definition, files) is False:
            return '%s: get_attr %s.%s: %s has no such attribute' % (
                where, target, attr, rtype)
    return None


def _property_problems(where, name, rtype, props):
    if rtype not in TYPES or not isinstance(props, dict):
        return []
    ctx = sim_props.partial_context({}, {})
    try:
        sim_resources.TYPES[rtype].validate(
            name, sim_props.partial_resolve(props, ctx))
    except hot.HOTError as exc:
        return ['%s: %s' % (where, exc.message)]
    return []


def check(template, files, where='template'):
    """A list of problems; empty when the template set is consistent."""
    problems = []
    try:
        template = hot.parse(copy.deepcopy(template))
    except hot.HOTError as exc:
        return ['%s: does not parse as HOT: %s' % (where, exc.message)]
    params = template.get('parameters') or {}
    resources = template.get('resources') or {}
    body = [resources, template.get('outputs') or {}]
    for func, args in calls(body):
        if func not in FUNCTIONS:
            problems.append('%s: unsupported function %s' % (where, func))
        elif func == 'get_param':
            name = args[0] if isinstance(args, list) else args
            if name not in params and name not in PSEUDO:
                problems.append('%s: get_param %s not declared'
                                % (where, name))
        elif func in ('get_resource', 'get_attr'):
            name = args if func == 'get_resource' else args[0]
            if name not in resources:
                problems.append('%s: %s %s not declared'
                                % (where, func, name))
            elif func == 'get_attr' and len(args) > 1 and \
                    isinstance(args[1], str):
                problem = _attribute_problem(where, resources, files, name,
                                             args[1])
                if problem:
                    problems.append(problem)
    for name, definition in resources.items():
        deps = definition.get('depends_on') or []
        for dep in [deps] if isinstance(deps, str) else deps:
            if dep not in resources:
                problems.append('%s: %s depends on missing %s'
                                % (where, name, dep))
        rtype, props = definition['type'], definition.get('properties', {})
        problems += _property_problems(where, name, rtype, props)
        if rtype == 'OS::Heat::ResourceGroup':
            rtype, props = (props['resource_def']['type'],
                            props['resource_def'].get('properties', {}))
            problems += _property_problems(where, name, rtype, props)
        if rtype in TYPES:
            continue
        if rtype not in files:
            problems.append('%s: %s has unknown type %s'
                            % (where, name, rtype))
            continue
        nested = yaml.safe_load(files[rtype])
        declared = nested.get('parameters') or {}
        for prop in set(props) - set(declared):
            problems.append('%s: %s passes undeclared %s to %s'
                            % (where, name, prop, rtype))
        for prop in required(declared) - set(props):
            problems.append('%s: %s does not pass required %s to %s'
                            % (where, name, prop, rtype))
        problems += check(nested, files, rtype)
    return problems


def check_definition(definition):
    """Problems of a driver's ``stack_definition`` result."""
    template = definition['template']
    params = template.get('parameters') or {}
    given = definition['parameters']
    problems = check(template, definition['files'])
    problems += ['parameter %s is not declared' % k
                 for k in set(given) - set(params)]
    problems += ['required parameter %s is not given' % k
                 for k in required(params) - set(given)]
    return problems
