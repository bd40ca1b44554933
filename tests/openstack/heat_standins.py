"""Provider-template stand-ins for the resource types with no service here.

The tier runs Keystone, Heat and Nova, not Neutron, Octavia or Cinder. Each
of their resource types a driver uses is mapped, through the environment's
``resource_registry``, to a provider template made from Heat's own
``resource_types/<type>/template`` answer: the same parameters (so Heat
checks every property the driver sets against the real property's type)
and an output for every attribute (Heat refuses a facade that lacks one).
Instead of the real resource the stand-in holds a random string, from
which the addresses it makes up are derived: always in 127.0.0.0/8, so
nothing - health probes included - leaves the machine.
"""

import copy
import re

import yaml

PREFIXES = ('OS::Neutron::', 'OS::Octavia::', 'OS::Cinder::')
_TYPE = re.compile(r'\b(OS::(?:Neutron|Octavia|Cinder)::[A-Za-z]+)\b')

# An address in 127.0.0.0/8 from the stand-in's random digits: each octet
# 1-100 (no network or broadcast address, no leading zero).
_OCTET = "str(int($.data.r.substring(%d, 2)) + 1)"
_ADDRESS = {'yaql': {
    'expression': "'127.' + %s + '.' + %s + '.' + %s" % (
        _OCTET % 0, _OCTET % 2, _OCTET % 4),
    'data': {'r': {'get_attr': ['digits', 'value']}}}}

_ADDRESS_ATTRS = ('vip_address', 'floating_ip_address', 'fixed_ip_address',
                  'gateway_ip', 'ip_address')


def types_in(*texts):
    """The stand-in types named in templates (as text or data)."""
    found = set()
    for text in texts:
        if not isinstance(text, str):
            text = yaml.safe_dump(text)
        found.update(_TYPE.findall(text))
    return sorted(found)


def _output(attr):
    if attr in _ADDRESS_ATTRS:
        return _ADDRESS
    if attr == 'fixed_ips':
        return [{'ip_address': _ADDRESS, 'subnet_id': 'standin-subnet'}]
    if attr == 'cidr':
        return '127.0.0.0/8'
    if attr == 'show':
        return {'id': {'get_attr': ['digits', 'value']}}
    if attr in ('subnets', 'pools', 'security_groups', 'attachments_list',
                'allowed_address_pairs', 'dns_assignment', 'members',
                'listeners', 'tags'):
        return []
    return {'get_attr': ['digits', 'value']}


def facade(generated):
    """A stand-in provider template from Heat's generated template of a
    type: its parameters (constraints that would look the value up in the
    missing service dropped), an output per attribute."""
    params = {}
    for name, spec in (generated.get('parameters') or {}).items():
        spec = copy.deepcopy(spec)
        spec.pop('constraints', None)
        # Optional properties have no default in the generated template:
        # the stand-in must not make them required.
        if 'default' not in spec:
            spec['default'] = {
                'comma_delimited_list': [], 'json': {}, 'number': 0,
                'boolean': False}.get(spec.get('type'), '')
        params[name] = spec
    outputs = {attr: {'value': _output(attr)}
               for attr in (generated.get('outputs') or {})
               if attr != 'OS::stack_id'}
    return {
        'heat_template_version': '2021-04-16',
        'description': 'caas tier stand-in made from Heat\'s own template '
                       'of the type',
        'parameters': params,
        'resources': {'digits': {
            'type': 'OS::Heat::RandomString',
            'properties': {'length': 6, 'character_classes': [
                {'class': 'digits', 'min': 1}]}}},
        'outputs': outputs,
    }


def environment(heat, types):
    """(environment, files) mapping each type to its stand-in."""
    registry, files = {}, {}
    for type_name in types:
        generated = heat.resource_types.generate_template(
            type_name, template_type='hot')
        path = 'standin/%s.yaml' % type_name.replace('::', '-')
        files[path] = yaml.safe_dump(facade(generated))
        registry[type_name] = path
    return {'resource_registry': registry}, files
