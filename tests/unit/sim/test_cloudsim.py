"""The simulated cloud driven by the real clients over HTTP."""

import json
import time

import pytest
import requests
from heatclient import client as heat_client
from heatclient import exc as heat_exc
from keystoneauth1 import identity
from keystoneauth1 import session as ks_session
from novaclient import client as nova_client

from caas.sim import server as sim_server
from caas.sim import state as sim_state
from caas.sim import store as sim_store

MEMBER = """
heat_template_version: 2018-08-31
parameters:
  name: {type: string}
  flavor: {type: string, default: m1.small}
  image: {type: string}
resources:
  port:
    type: OS::Neutron::Port
    properties: {network: private}
  fip:
    type: OS::Neutron::FloatingIP
    properties:
      floating_network: public
      port_id: {get_resource: port}
  node:
    type: OS::Nova::Server
    properties:
      name: {get_param: name}
      image: {get_param: image}
      flavor: {get_param: flavor}
      key_name: default
      networks: [{port: {get_resource: port}}]
      user_data:
        str_replace:
          template: "#!/bin/sh\\necho $NAME"
          params: {$NAME: {get_param: name}}
outputs:
  address: {value: {get_attr: [node, first_address]}}
  floating: {value: {get_attr: [fip, floating_ip_address]}}
"""

CLUSTER = """
heat_template_version: queens
parameters:
  count: {type: number, default: 2}
  image: {type: string}
resources:
  nodes:
    type: OS::Heat::ResourceGroup
    properties:
      count: {get_param: count}
      resource_def:
        type: member.yaml
        properties:
          name: node-%index%
          image: {get_param: image}
outputs:
  addresses:
    value: {get_attr: [nodes, address]}
  floating:
    value: {get_attr: [nodes, floating]}
  joined:
    value: {list_join: [',', {get_attr: [nodes, address]}]}
"""


def wait_for(heat, stack_id, done, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        stack = heat.stacks.get(stack_id)
        if stack.stack_status in done:
            return stack
        time.sleep(0.05)
    raise AssertionError('stack stuck in %s' % stack.stack_status)


def make_session(srv, user='caas', project='service', password='caas'):
    return ks_session.Session(auth=identity.v3.Password(
        auth_url=srv.auth_url, username=user, password=password,
        project_name=project, user_domain_name='Default',
        project_domain_name='Default'))


@pytest.fixture
def cloud(tmp_path):
    srv = sim_server.SimServer(port=0, state_dir=str(tmp_path),
                               server_boot_delay=0.1, resource_delay=0.01,
                               delete_delay=0.05)
    srv.start()
    yield srv
    srv.stop()
    assert_store_matches(srv.cloud, str(tmp_path))


def assert_store_matches(cloud, state_dir):
    """What a restart would load is what the cloud holds: every change made
    in place was noted (a change that was not would be lost on restart)."""
    def plain(data):
        return json.loads(json.dumps({k: dict(v) for k, v in data.items()},
                                     sort_keys=True))
    with cloud.lock:
        cloud.save()
        live = plain(cloud.data)
    stored = sim_state.loaded_records(sim_store.Store(state_dir).load())
    assert plain({k: stored.get(k, {}) for k in live}) == live


@pytest.fixture
def sess(cloud):
    return make_session(cloud)


@pytest.fixture
def heat(sess):
    return heat_client.Client('1', session=sess)


@pytest.fixture
def nova(sess):
    return nova_client.Client('2.1', session=sess)


def create_cluster(heat, name='c1', count=2, template=CLUSTER):
    return heat.stacks.create(stack_name=name, template=template,
                              parameters={'count': count,
                                          'image': 'ubuntu-jammy'},
                              files={'member.yaml': MEMBER})['stack']['id']


def test_token_has_catalog_and_roles(cloud, sess):
    token = sess.auth.get_access(sess)
    types = {s['type'] for s in token.service_catalog.catalog}
    assert {'identity', 'compute', 'image', 'orchestration'} <= types
    assert token.role_names == ['member', 'reader']
    assert token.project_name == 'service'


def test_catalog_lists_container_infra_when_given(tmp_path):
    srv = sim_server.SimServer(container_infra_url='http://x:9511/v1')
    srv.start()
    try:
        sess = make_session(srv)
        assert sess.get_endpoint(service_type='container-infra',
                                 interface='public') == 'http://x:9511/v1'
    finally:
        srv.stop()


def test_wrong_password_is_401(cloud):
    resp = requests.post(cloud.auth_url + '/auth/tokens', json={'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': 'caas', 'domain': {'name': 'Default'},
            'password': 'nope'}}}}})
    assert resp.status_code == 401
    assert resp.json()['error']['code'] == 401


def test_token_validation(cloud, sess):
    token = sess.get_token()
    ok = requests.get(cloud.auth_url + '/auth/tokens', headers={
        'X-Auth-Token': token, 'X-Subject-Token': token})
    assert ok.json()['token']['user']['name'] == 'caas'
    bad = requests.get(cloud.auth_url + '/auth/tokens', headers={
        'X-Auth-Token': token, 'X-Subject-Token': 'bogus'})
    assert bad.status_code == 404


def test_services_require_a_token(cloud):
    resp = requests.get(cloud.url + '/compute/v2.1/flavors')
    assert resp.status_code == 401


def test_flavors_keypairs_and_images(nova):
    small = nova.flavors.find(name='m1.small')
    assert (small.vcpus, small.ram, small.disk) == (1, 2048, 20)
    assert nova.keypairs.get('default').name == 'default'
    assert nova.glance.find_image('ubuntu-jammy').os_distro == 'ubuntu'
    coreos = nova.glance.find_image('fedora-coreos')
    assert nova.glance.find_image(coreos.id).os_distro == 'fedora-coreos'


def test_nova_server_boots(nova):
    image = nova.glance.find_image('ubuntu-jammy')
    server = nova.servers.create('vm1', image.id, '2', key_name='default')
    assert nova.servers.get(server.id).status == 'BUILD'
    time.sleep(0.15)
    server = nova.servers.get(server.id)
    assert server.status == 'ACTIVE'
    assert server.addresses['private'][0]['addr'].startswith('127.10.0.')
    nova.servers.delete(server.id)


def test_stack_with_group_of_provider_servers(heat, nova):
    stack_id = create_cluster(heat)
    # The create may already be over on a loaded machine; the events below
    # show it went through CREATE_IN_PROGRESS.
    assert heat.stacks.get(stack_id).stack_status in (
        'CREATE_IN_PROGRESS', 'CREATE_COMPLETE')
    stack = wait_for(heat, stack_id, ('CREATE_COMPLETE', 'CREATE_FAILED'))
    assert stack.stack_status == 'CREATE_COMPLETE'
    outputs = {o['output_key']: o['output_value'] for o in stack.outputs}
    assert len(outputs['addresses']) == 2
    assert all(a.startswith('127.10.0.') for a in outputs['addresses'])
    assert all(a.startswith('127.24.4.') for a in outputs['floating'])
    assert outputs['joined'] == ','.join(outputs['addresses'])
    names = sorted(s.name for s in nova.servers.list())
    assert names == ['node-0', 'node-1']
    server = nova.servers.list()[0]
    types = {a['OS-EXT-IPS:type'] for a in server.addresses['private']}
    assert types == {'fixed', 'floating'}
    out = heat.stacks.output_show(stack_id, 'addresses')
    assert out['output']['output_value'] == outputs['addresses']
    assert heat.resources.list(stack_id)[0].resource_status == \
        'CREATE_COMPLETE'
    # Newest first, as Heat lists them.
    statuses = [e.resource_status for e in heat.events.list(stack_id)]
    assert statuses[-1] == 'CREATE_IN_PROGRESS'
    assert statuses[0] == 'CREATE_COMPLETE'


def test_update_existing_resizes_group(heat, nova):
    stack_id = create_cluster(heat)
    wait_for(heat, stack_id, ('CREATE_COMPLETE',))
    heat.stacks.update(stack_id, existing=True, parameters={'count': 3})
    assert heat.stacks.get(stack_id).stack_status in (
        'UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE')
    stack = wait_for(heat, stack_id, ('UPDATE_COMPLETE', 'UPDATE_FAILED'))
    assert stack.stack_status == 'UPDATE_COMPLETE'
    statuses = [e.resource_status for e in heat.events.list(
        stack_id, sort_dir='asc')]
    assert statuses.index('UPDATE_IN_PROGRESS') < statuses.index(
        'UPDATE_COMPLETE')
    outputs = {o['output_key']: o['output_value'] for o in stack.outputs}
    assert len(outputs['addresses']) == 3
    assert len(nova.servers.list()) == 3
    heat.stacks.update(stack_id, existing=True, parameters={'count': 1})
    wait_for(heat, stack_id, ('UPDATE_COMPLETE',))
    # As in Heat, the update ends once the servers it removed are gone.
    assert [s.name for s in nova.servers.list()] == ['node-0']


def test_delete_then_404(heat, nova):
    stack_id = create_cluster(heat, count=1)
    wait_for(heat, stack_id, ('CREATE_COMPLETE',))
    heat.stacks.delete(stack_id)
    # In progress, then gone (a loaded machine may skip the first sight).
    seen = []
    for _ in range(200):
        try:
            seen.append(heat.stacks.get(stack_id).stack_status)
        except heat_exc.HTTPNotFound:
            break
        time.sleep(0.05)
    else:
        pytest.fail('stack still there after its delete: %s' % seen[-1:])
    assert set(seen) <= {'DELETE_IN_PROGRESS'}
    with pytest.raises(heat_exc.HTTPNotFound):
        heat.stacks.get(stack_id)
    assert list(heat.stacks.list()) == []
    assert nova.servers.list() == []


def test_duplicate_name_is_409(heat):
    create_cluster(heat)
    with pytest.raises(heat_exc.HTTPConflict):
        create_cluster(heat)


def test_unknown_resource_type_is_400(heat):
    template = {'heat_template_version': '2018-08-31',
                'resources': {'x': {'type': 'OS::Nope::Thing'}}}
    with pytest.raises(heat_exc.HTTPBadRequest) as err:
        heat.stacks.create(stack_name='bad', template=template)
    assert 'OS::Nope::Thing' in str(err.value)


def test_missing_parameter_is_400(heat):
    with pytest.raises(heat_exc.HTTPBadRequest) as err:
        heat.stacks.create(stack_name='bad', template=CLUSTER,
                           files={'member.yaml': MEMBER})
    assert 'image' in str(err.value)


def test_bad_reference_is_400(heat):
    template = {'heat_template_version': '2018-08-31',
                'resources': {'v': {'type': 'OS::Heat::Value', 'properties': {
                    'value': {'get_attr': ['missing', 'x']}}}}}
    with pytest.raises(heat_exc.HTTPBadRequest):
        heat.stacks.create(stack_name='bad', template=template)


def test_server_failure_fails_the_stack(cloud, heat):
    requests.post(cloud.url + '/sim/faults',
                  json={'server_failure_rate': 1.0})
    stack_id = create_cluster(heat)
    stack = wait_for(heat, stack_id, ('CREATE_COMPLETE', 'CREATE_FAILED'))
    assert stack.stack_status == 'CREATE_FAILED'
    assert 'ERROR' in stack.stack_status_reason
    assert 'nodes' in stack.stack_status_reason


def test_restart_keeps_stacks(tmp_path):
    srv = sim_server.SimServer(state_dir=str(tmp_path),
                               server_boot_delay=0.1).start()
    heat = heat_client.Client('1', session=make_session(srv))
    stack_id = create_cluster(heat)
    srv.stop()
    srv2 = sim_server.SimServer(state_dir=str(tmp_path),
                                server_boot_delay=0.1).start()
    try:
        heat = heat_client.Client('1', session=make_session(srv2))
        stack = wait_for(heat, stack_id, ('CREATE_COMPLETE',))
        assert stack.stack_name == 'c1'
        state = requests.get(srv2.url + '/sim/state').json()
        assert state['counts']['servers'] == 2
    finally:
        srv2.stop()


def test_api_error_injection_gives_503(cloud, nova):
    requests.post(cloud.url + '/sim/faults', json={'api_error_rate': 1.0})
    with pytest.raises(Exception) as err:
        nova.flavors.list()
    assert getattr(err.value, 'code', None) == 503
    assert requests.get(cloud.url + '/sim/faults').json()[
        'api_error_rate'] == 1.0


def test_get_by_name_redirects_and_list_filters(heat):
    stack_id = create_cluster(heat, name='named')
    assert heat.stacks.get('named').id == stack_id
    assert [s.id for s in heat.stacks.list(filters={'name': 'named'})] == [
        stack_id]
    assert list(heat.stacks.list(filters={'name': 'other'})) == []


def test_put_update_replaces_template(heat):
    stack_id = create_cluster(heat, count=1)
    wait_for(heat, stack_id, ('CREATE_COMPLETE',))
    template = {'heat_template_version': '2018-08-31',
                'resources': {'v': {'type': 'OS::Heat::Value',
                                    'properties': {'value': 42}}},
                'outputs': {'v': {'value': {'get_attr': ['v', 'value']}}}}
    heat.stacks.update(stack_id, template=template, parameters={})
    stack = wait_for(heat, stack_id, ('UPDATE_COMPLETE',))
    assert stack.outputs[0]['output_value'] == 42


def test_keystone_is_spared_by_error_injection(cloud):
    requests.post(cloud.url + '/sim/faults', json={'api_error_rate': 1.0})
    assert make_session(cloud).get_token()


def test_cloudsim_command_builds_server_from_options():
    from oslo_config import cfg

    from caas.cmd import cloudsim
    from caas.conf import sim as sim_opts
    conf = cfg.ConfigOpts()
    sim_opts.register_opts(conf)
    conf.register_cli_opts(cloudsim.CLI_OPTS)
    conf(['--port', '0', '--container-infra-url', 'http://c/v1'],
         default_config_files=[])
    conf.set_override('server_boot_delay', 0.25, group='sim')
    srv = cloudsim.build_server(conf)
    assert srv.port == 0
    assert srv.cloud.knobs['server_boot_delay'] == 0.25
    assert srv.app.container_infra_url == 'http://c/v1'


def test_a_change_writes_its_own_rows_whatever_the_number_of_stacks(cloud,
                                                                     heat):
    """One stack create and one delete write the same rows and about the
    same bytes with 2 stacks as with 30 stacks in the cloud (O(1) per
    change, not a rewrite of the whole state)."""
    store = cloud.cloud.store

    def cost(name):
        before = (store.rows_written, store.bytes_written)
        stack_id = create_cluster(heat, name, count=1)
        created = (store.rows_written - before[0],
                   store.bytes_written - before[1])
        before = (store.rows_written, store.bytes_written)
        heat.stacks.delete(stack_id)
        deleted = (store.rows_written - before[0],
                   store.bytes_written - before[1])
        return created, deleted

    create_cluster(heat, 'warm', count=1)
    small = cost('small')
    for i in range(28):
        create_cluster(heat, 'fill%d' % i, count=1)
    assert len(cloud.cloud.data['stacks']) >= 29
    large = cost('large')
    # Rows: the stack, its server, port, floating IP, counters, and the
    # token of a re-authentication at most; never one per existing stack.
    assert small[0][0] == large[0][0]
    assert small[1][0] == large[1][0]
    assert 0 < large[0][0] <= 10
    # Bytes differ only by the names and ids in the records.
    assert abs(large[0][1] - small[0][1]) < 200
    assert abs(large[1][1] - small[1][1]) < 200


def test_events_keep_each_actions_outcome_newest_first(heat, nova):
    """As the real Heat: after an update the stack's events still hold
    its CREATE_COMPLETE, and the list is newest first (oldest first with
    sort_dir=asc)."""
    stack_id = create_cluster(heat)
    wait_for(heat, stack_id, ('CREATE_COMPLETE',))
    heat.stacks.update(stack_id, existing=True, parameters={'count': 3})
    stack = wait_for(heat, stack_id, ('UPDATE_COMPLETE', 'UPDATE_FAILED'))
    name = stack.stack_name
    mine = [e.resource_status for e in heat.events.list(stack_id)
            if e.resource_name == name]
    assert mine == ['UPDATE_COMPLETE', 'UPDATE_IN_PROGRESS',
                    'CREATE_COMPLETE', 'CREATE_IN_PROGRESS']
    oldest_first = [e.resource_status for e in heat.events.list(
        stack_id, sort_dir='asc') if e.resource_name == name]
    assert oldest_first == list(reversed(mine))
