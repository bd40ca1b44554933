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
import glob
import ipaddress
import os
import re

import yaml

PREFIXES = ('OS::Neutron::', 'OS::Octavia::', 'OS::Cinder::')
_TYPE = re.compile(r'\b(OS::(?:Neutron|Octavia|Cinder)::[A-Za-z]+)\b')

# An address in 127.0.0.0/8 from the stand-in's three random octets, each
# "1" and two random digits (100-199: no leading zero, no network or
# broadcast address). No yaql: Heat 27's yaql lexer is not thread-safe
# ("'Lexer' object has no attribute 'lexmatch'" when stand-ins were created
# at once).
OCTETS = ('o1', 'o2', 'o3')
_ADDRESS = {'list_join': ['.', ['127'] + [
    {'list_join': ['', ['1', {'get_attr': [name, 'value']}]]}
    for name in OCTETS]]}
_ID = {'list_join': ['', [{'get_attr': [name, 'value']} for name in OCTETS]]}

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
        return {'id': _ID}
    if attr in ('subnets', 'pools', 'security_groups', 'attachments_list',
                'allowed_address_pairs', 'dns_assignment', 'members',
                'listeners', 'tags'):
        return []
    return _ID


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
        'resources': {name: {
            'type': 'OS::Heat::RandomString',
            'properties': {'length': 2, 'character_classes': [
                {'class': 'digits', 'min': 1}]}} for name in OCTETS},
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


def server_facade(generated):
    """OS::Nova::Server's stand-in: a *real* Nova server inside (Heat does
    not apply a mapping to the provider template that defines it), booted
    from the same image, flavor, keypair and user data on the tier's
    `private` network, where the Neutron stand-in (tools/openstack/
    standin.py) gives its port an address in 127.0.0.0/8, but with no
    scheduler hints (the fake virt driver is one host: anti-affinity would
    fail) and not on the template's ports (themselves stand-ins). Its
    name, addresses and networks are the real server's, as Nova reports
    them."""
    template = facade(generated)
    template['resources']['server'] = {
        'type': 'OS::Nova::Server',
        'properties': {
            'name': {'get_param': 'name'},
            'image': {'get_param': 'image'},
            'flavor': {'get_param': 'flavor'},
            'key_name': {'get_param': 'key_name'},
            'metadata': {'get_param': 'metadata'},
            'user_data': {'get_param': 'user_data'},
            'user_data_format': 'RAW',
            'networks': [{'network': 'private'}]}}
    outputs = template['outputs']
    for attr in ('name', 'instance_name', 'addresses', 'networks',
                 'accessIPv4', 'accessIPv6', 'first_address', 'show'):
        # first_address: a hidden (deprecated) attribute Heat's generated
        # template leaves out, and its facade check still asks for.
        outputs[attr] = {'value': {'get_attr': ['server', attr]}}
    # Its own id is the real server's, as get_resource on a server is.
    outputs['OS::stack_id'] = {'value': {'get_resource': 'server'}}
    return template


DRIVER_TEMPLATES = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), 'caas', 'drivers', '*', 'templates', '*.yaml')


def write_environment(heat, directory):
    """An operator's environment file in ``directory`` mapping every
    Neutron/Octavia/Cinder type of the drivers' templates, and
    OS::Nova::Server (to :func:`server_facade`), to stand-ins written next
    to it under relative paths, as ``[heat] environment_file`` reads
    them; its path."""
    texts = []
    for path in sorted(glob.glob(DRIVER_TEMPLATES)):
        with open(path) as f:
            texts.append(f.read())
    env, files = environment(heat, types_in(*texts))
    server = 'standin/OS-Nova-Server.yaml'
    env['resource_registry']['OS::Nova::Server'] = server
    files[server] = yaml.safe_dump(server_facade(
        heat.resource_types.generate_template('OS::Nova::Server',
                                              template_type='hot')))
    for name, text in files.items():
        os.makedirs(os.path.join(directory, os.path.dirname(name)),
                    exist_ok=True)
        with open(os.path.join(directory, name), 'w') as f:
            f.write(text)
    path = os.path.join(directory, 'environment.yaml')
    with open(path, 'w') as f:
        f.write(yaml.safe_dump(env))
    return path


def real_server_addresses(heat, nova, stack_id, private_subnet):
    """{Nova server id: its address} for every real server of a stack (the
    one inside each :func:`server_facade`), checking on the way that Nova
    reports exactly one fixed address for it, on `private`, in the tier's
    subnet, and that the stand-in's attributes (first_address, addresses,
    networks, its id) are those of the real server as Nova lists it."""
    subnet = ipaddress.ip_network(private_subnet)
    found = {}
    for res in heat.resources.list(stack_id, nested_depth=5):
        # The real server, not the driver's template's resource mapped to
        # the stand-in (a nested stack; it may be named `server` too).
        rels = {link['rel'] for link in res.links}
        if res.resource_type != 'OS::Nova::Server' or 'nested' in rels:
            continue
        [facade_stack] = [link['href'].rstrip('/').rsplit('/', 1)[1]
                          for link in res.links if link['rel'] == 'stack']
        outputs = {o['output_key']: o['output_value'] for o in
                   heat.stacks.get(facade_stack).to_dict()['outputs']}
        server = nova.servers.get(res.physical_resource_id)
        assert list(server.addresses) == ['private'], server.addresses
        [entry] = server.addresses['private']
        address = entry['addr']
        assert entry['OS-EXT-IPS:type'] == 'fixed', entry
        assert ipaddress.ip_address(address) in subnet, (address, subnet)
        assert outputs['first_address'] == address, outputs
        assert [a['addr'] for a in outputs['addresses']['private']] == [
            address], outputs['addresses']
        assert outputs['networks']['private'] == [address], outputs
        assert outputs['OS::stack_id'] == server.id
        found[server.id] = address
    # Each server its own address.
    assert len(set(found.values())) == len(found), found
    return found


def ports_of(session, server_ids):
    """The Neutron stand-in's ports bound to any of these servers."""
    url = session.get_endpoint(service_type='network', interface='public')
    ports = []
    for server_id in server_ids:
        ports += session.get('%s/v2.0/ports?device_id=%s' % (
            url.rstrip('/'), server_id)).json()['ports']
    return ports
