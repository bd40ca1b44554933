"""The drivers' templates on the real Heat (with the real Nova behind it).

Every variant the drivers' checked-templates test renders (each driver x
server type x OS x cluster shape: tests/unit/drivers/
test_checked_templates.py) passes the real Heat's template validation,
nested templates and parameters included, with Neutron, Octavia and Cinder
types mapped to stand-ins made from Heat's own description of each type
(tests/openstack/heat_standins.py). OS::Nova::Server, OS::Nova::ServerGroup
and the OS::Heat types are Heat's real ones, checked against the real
Nova (flavors, the user's keypair) and the Glance stand-in (images).
"""

import ipaddress
import json
import time
import uuid

import pytest
import yaml
from heatclient import client as heat_client
from heatclient import exc as heat_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from novaclient import client as nova_client

from tests import checks
from tests.openstack import heat_standins
from tests.openstack import signaller
from tests.unit.drivers import test_checked_templates as checked

pytestmark = pytest.mark.openstack

# What the tier's Nova and Glance stand-in call the variants' references.
IMAGES = {'fedora-coreos': 'fedora-coreos-40'}
FLAVORS = {'baremetal': 'm1.medium'}


@pytest.fixture(scope='module')
def heat(openstack):
    session = ks_session.Session(auth=v3.Password(
        auth_url=openstack['CAAS_OSTACK_AUTH_URL'], username='alpha-member',
        password=openstack['CAAS_OSTACK_PASSWORD'], project_name='alpha',
        user_domain_name='Default', project_domain_name='Default'))
    return heat_client.Client('1', session=session)


def definition_of(name, provided, shape):
    driver, cluster, template, groups = checked._inputs(name, provided,
                                                        shape)
    template['image_id'] = IMAGES.get(template['image_id'],
                                      template['image_id'])
    for key in ('flavor_id', 'master_flavor_id'):
        template[key] = FLAVORS.get(template[key], template[key])
    definition = driver.stack_definition(cluster, template, groups)
    checks._add_ca_keys(driver, template, definition)
    definition_of.inputs = (cluster, template)
    return driver, definition


def _standins(heat, definition, cache={}):
    types = heat_standins.types_in(definition['template'],
                                   *definition['files'].values())
    missing = [t for t in types if t not in cache]
    if missing:
        env, files = heat_standins.environment(heat, missing)
        for t in missing:
            path = env['resource_registry'][t]
            cache[t] = (path, files[path])
    env = {'resource_registry': {t: cache[t][0] for t in types}}
    files = {cache[t][0]: cache[t][1] for t in types}
    return env, files


@pytest.mark.parametrize('name,provided,shape', checked._variants())
def test_variant_passes_the_real_heats_validation(heat, name, provided,
                                                  shape):
    _driver, definition = definition_of(name, provided, shape)
    env, standins = _standins(heat, definition)
    assert env['resource_registry'], 'no stand-in needed: nothing mapped?'
    result = heat.stacks.validate(
        template=definition['template'],
        files=dict(definition['files'], **standins),
        environment=env, parameters=definition['parameters'])
    assert set(result['Parameters']) == set(
        definition['template']['parameters'])


def _all_standin_types():
    types = set()
    for param in checked._variants():
        _driver, definition = definition_of(*param.values)
        types.update(heat_standins.types_in(definition['template'],
                                            *definition['files'].values()))
    return sorted(types)


def _wait(heat, name, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        stack = heat.stacks.get(name)
        if not stack.stack_status.endswith('IN_PROGRESS'):
            return stack
        assert time.monotonic() < deadline, stack.stack_status
        time.sleep(0.5)


def _dummy(spec):
    return {'number': 1, 'boolean': False, 'json': {},
            'comma_delimited_list': ''}.get(spec.get('type'), 'standin')


def test_every_stand_in_matches_its_real_type(heat):
    """Heat checks a facade against the real type only when it creates
    it (``validate`` does not): each stand-in is created once from Heat's
    own template of its type - every property set - and must be taken."""
    types = _all_standin_types()
    assert any(t.startswith('OS::Octavia::') for t in types), types
    env, files = heat_standins.environment(heat, types)
    for type_name in types:
        generated = heat.resource_types.generate_template(
            type_name, template_type='hot')
        params = {k: _dummy(v) for k, v in generated['parameters'].items()
                  if 'default' not in v}
        # (Its own parameters' constraints are the real type's, which the
        # dummy values need not meet: the stand-in is what is checked.)
        for spec in generated['parameters'].values():
            spec.pop('constraints', None)
        name = 'standin-%s-%s' % (type_name.replace('::', '-'),
                                  uuid.uuid4().hex[:6])
        heat.stacks.create(stack_name=name, template=generated,
                           files=files, environment=env, parameters=params)
        stack = _wait(heat, name)
        assert stack.stack_status == 'CREATE_COMPLETE', (
            type_name, stack.stack_status_reason)
        heat.stacks.delete(stack.id)


PORT_TEMPLATE = {
    'heat_template_version': '2021-04-16',
    'resources': {'port': {'type': 'OS::Neutron::Port',
                           'properties': {'network': 'public'}}},
    'outputs': {'ip': {'value': {'get_attr': [
        'port', 'fixed_ips', 0, 'ip_address']}}}}


def test_a_stand_in_short_of_an_attribute_is_refused_by_heat(heat):
    """The stand-ins are checked by Heat, not trusted: the same port
    stand-in without one of the real type's attributes is refused; with
    them all it makes up a loopback address."""
    env, files = heat_standins.environment(heat, ['OS::Neutron::Port'])
    [path] = files
    good = 'standin-port-%s' % uuid.uuid4().hex[:6]
    heat.stacks.create(stack_name=good, template=PORT_TEMPLATE, files=files,
                       environment=env)
    stack = _wait(heat, good)
    assert stack.stack_status == 'CREATE_COMPLETE', stack.stack_status_reason
    [out] = stack.to_dict()['outputs']
    assert ipaddress.ip_address(out['output_value']) in \
        ipaddress.ip_network('127.0.0.0/8')
    heat.stacks.delete(stack.id)
    broken = yaml.safe_load(files[path])
    del broken['outputs']['fixed_ips']
    with pytest.raises(heat_exc.HTTPBadRequest,
                       match='Attribute fixed_ips for facade'):
        heat.stacks.create(stack_name='standin-broken',
                           template=PORT_TEMPLATE,
                           files={path: yaml.safe_dump(broken)},
                           environment=env)


SIGNALLED_SERVER = {
    'heat_template_version': '2021-04-16',
    'parameters': {'count': {'type': 'number', 'default': 2}},
    'resources': {
        'handle': {'type': 'OS::Heat::WaitConditionHandle'},
        'wait': {'type': 'OS::Heat::WaitCondition', 'properties': {
            'handle': {'get_resource': 'handle'},
            'count': {'get_param': 'count'}, 'timeout': 300}},
        'nodes': {'type': 'OS::Heat::ResourceGroup', 'properties': {
            'count': {'get_param': 'count'},
            'resource_def': {'type': 'OS::Nova::Server', 'properties': {
                'name': 'signalled-%index%', 'image': 'ubuntu-jammy',
                'flavor': 'm1.tiny', 'key_name': 'default',
                # No Neutron here; RAW: no heat-api-cfn either.
                'networks': [{'allocate_network': 'none'}],
                'user_data_format': 'RAW',
                'user_data': {'str_replace': {
                    'template': '#!/bin/sh\nset -eu\n'
                                'curl -fsS -X POST -H "X-Auth-Token: TOKEN" '
                                '-H "Content-Type: application/json" '
                                '-d \'{"status": "SUCCESS"}\' "ENDPOINT"\n',
                    'params': {
                        'TOKEN': {'get_attr': ['handle', 'token']},
                        'ENDPOINT': {'get_attr': ['handle', 'endpoint']},
                    }}}}}}},
    },
    'outputs': {'data': {'value': {'get_attr': ['wait', 'data']}}},
}


def test_real_nova_servers_signal_their_wait_condition_through_the_tier(
        heat, openstack):
    """Real Nova servers (fake virt driver: they run nothing) booted by the
    real Heat, whose user data carries a wait handle: the tier signaller
    reads it from Nova and signals for them, and the stack completes."""
    admin = ks_session.Session(auth=v3.Password(
        auth_url=openstack['CAAS_OSTACK_AUTH_URL'], username='admin',
        password=openstack['CAAS_OSTACK_PASSWORD'], project_name='admin',
        user_domain_name='Default', project_domain_name='Default'))
    name = 'signalled-%s' % uuid.uuid4().hex[:6]
    with signaller.Signaller(admin) as sig:
        heat.stacks.create(stack_name=name, template=SIGNALLED_SERVER)
        stack = _wait(heat, name, timeout=300)
    assert sig.errors == []
    assert stack.stack_status == 'CREATE_COMPLETE', stack.stack_status_reason
    [out] = stack.to_dict()['outputs']
    assert sorted(json.loads(out['output_value']).values()) == [
        'signalled-0', 'signalled-1']
    # (It signals any server of the cloud; these are this stack's.)
    assert sorted(n for n, _e in sig.sent if n.startswith('signalled-')) \
        == ['signalled-0', 'signalled-1']
    heat.stacks.delete(stack.id)
    stack = _wait(heat, stack.id)
    assert stack.stack_status == 'DELETE_COMPLETE'
    nova = nova_client.Client('2.3', session=admin)
    assert [s for s in nova.servers.list(search_opts={'all_tenants': 1})
            if s.name.startswith('signalled-')] == []


def _admin(openstack):
    return ks_session.Session(auth=v3.Password(
        auth_url=openstack['CAAS_OSTACK_AUTH_URL'], username='admin',
        password=openstack['CAAS_OSTACK_PASSWORD'], project_name='admin',
        user_domain_name='Default', project_domain_name='Default'))


def _delete_quietly(heat, name):
    """A failed test's stack is not left to the next ones. A stack the
    test has already seen DELETE_COMPLETE is left alone: Heat soft-deletes
    its row a moment after that status, and a DELETE inside that window
    gets Heat's 400 "Internal Error" (seen once in CI)."""
    try:
        if heat.stacks.get(name).stack_status == 'DELETE_COMPLETE':
            return
        heat.stacks.delete(name)
    except heat_exc.HTTPNotFound:
        pass


def _servers_of(nova, stack_name):
    return sorted(s.name for s in nova.servers.list(
        search_opts={'all_tenants': 1}) if s.name.startswith(stack_name))


@pytest.mark.parametrize('variant', ['swarm_ubuntu_v1-vm-ubuntu-default',
                                     'k8s_ubuntu_v1-vm-ubuntu-default'])
def test_a_cluster_stack_completes_resizes_and_leaves_nothing(
        heat, openstack, variant, request):
    """The driver's whole stack on the real Heat: every OS::Nova::Server a
    real Nova server (the stand-in of heat_standins.server_facade: on the
    Neutron stand-in's private network, no scheduler hints), with the
    addresses Nova gives it; Neutron/Octavia/Cinder stand-ins, the
    tier signaller signalling each wait condition from the user data Nova
    holds. It completes, a worker more is a stack update, and the delete
    leaves no server."""
    [param] = [p for p in checked._variants() if p.id == variant]
    driver, definition = definition_of(*param.values)
    cluster, template = definition_of.inputs
    env, standins = _standins(heat, definition)
    env = {'resource_registry': dict(
        env['resource_registry'],
        **{'OS::Nova::Server': 'standin/OS-Nova-Server.yaml'})}
    standins['standin/OS-Nova-Server.yaml'] = yaml.safe_dump(
        heat_standins.server_facade(heat.resource_types.generate_template(
            'OS::Nova::Server', template_type='hot')))
    files = dict(definition['files'], **standins)
    admin = _admin(openstack)
    nova = nova_client.Client('2.3', session=admin)
    name = 'real-%s' % uuid.uuid4().hex[:6]
    request.addfinalizer(lambda: _delete_quietly(heat, name))
    with signaller.Signaller(admin) as sig:
        heat.stacks.create(stack_name=name, template=definition['template'],
                           files=files, environment=env,
                           parameters=definition['parameters'],
                           timeout_mins=15)
        stack = _wait(heat, name, timeout=900)
        assert stack.stack_status == 'CREATE_COMPLETE', \
            stack.stack_status_reason
        values = driver.cluster_values_from_outputs(
            {o['output_key']: o['output_value']
             for o in stack.to_dict()['outputs']})
        host = values['api_address'].split('://')[1].rsplit(':', 1)[0]
        assert ipaddress.ip_address(host) in \
            ipaddress.ip_network('127.0.0.0/8')
        created = _servers_of(nova, name)
        # One master and the cluster's two workers, each a real server.
        assert len(created) == 1 + cluster['node_count'], created
        addresses = heat_standins.real_server_addresses(
            heat, nova, stack.id, openstack['CAAS_OSTACK_PRIVATE_SUBNET'])
        assert len(addresses) == len(created)
        params = driver.update_parameters(
            dict(cluster, node_count=cluster['node_count'] + 1), template,
            [])
        heat.stacks.update(stack.id, existing=True, parameters=params)
        stack = _wait(heat, stack.id, timeout=900)
        assert stack.stack_status == 'UPDATE_COMPLETE', \
            stack.stack_status_reason
        assert len(_servers_of(nova, name)) == len(created) + 1
    assert sig.errors == []
    heat.stacks.delete(stack.id)
    stack = _wait(heat, stack.id, timeout=600)
    assert stack.stack_status == 'DELETE_COMPLETE', stack.stack_status_reason
    assert _servers_of(nova, name) == []
    assert heat_standins.ports_of(admin, addresses) == []
