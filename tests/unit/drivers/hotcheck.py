"""A static checker for the stack definitions drivers produce.

It checks what the simulated and the real Heat reject only at create time:
undeclared parameters and resources, unknown resource types, intrinsics the
simulated cloud does not implement, and nested templates fed properties they
do not declare (or starved of ones they require).
"""

import yaml

FUNCTIONS = {'get_param', 'get_resource', 'get_attr', 'str_replace',
             'list_join', 'str_split'}
TYPES = {'OS::Nova::Server', 'OS::Heat::ResourceGroup', 'OS::Heat::None',
         'OS::Heat::RandomString', 'OS::Heat::SoftwareConfig',
         'OS::Heat::SoftwareDeployment',
         'OS::Heat::MultipartMime', 'OS::Heat::Value',
         'OS::Heat::SoftwareDeployment',
         'OS::Nova::ServerGroup', 'OS::Neutron::Net', 'OS::Neutron::Subnet',
         'OS::Neutron::Router', 'OS::Neutron::RouterInterface',
         'OS::Neutron::SecurityGroup', 'OS::Neutron::Port',
         'OS::Neutron::FloatingIP', 'OS::Neutron::FloatingIPAssociation',
         'OS::Heat::WaitConditionHandle', 'OS::Heat::WaitCondition',
         'OS::Cinder::Volume', 'OS::Cinder::VolumeAttachment',
         'OS::Octavia::LoadBalancer', 'OS::Octavia::Listener',
         'OS::Octavia::Pool', 'OS::Octavia::PoolMember',
         'OS::Octavia::HealthMonitor'}
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


def check(template, files, where='template'):
    """A list of problems; empty when the template set is consistent."""
    problems = []
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
    for name, definition in resources.items():
        deps = definition.get('depends_on') or []
        for dep in [deps] if isinstance(deps, str) else deps:
            if dep not in resources:
                problems.append('%s: %s depends on missing %s'
                                % (where, name, dep))
        rtype, props = definition['type'], definition.get('properties', {})
        if rtype == 'OS::Heat::ResourceGroup':
            rtype, props = (props['resource_def']['type'],
                            props['resource_def'].get('properties', {}))
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
