"""The Swarm-mode stack created, scaled and deleted on the simulated cloud.

Through the real python-heatclient over HTTP, as the conductor does it,
for each OS variant x server type x one or three managers. A combination
whose resource types the simulated cloud does not know yet (Octavia for
three managers, Cinder for a volume) is skipped with the type named, so
it runs as soon as the simulated cloud learns them.
"""

import ipaddress
from urllib import parse

import pytest

from caas.drivers.swarm import driver as swarm  # noqa: F401
from caas.sim import state as on_sim_state

from . import test_kubernetes_on_sim as on_sim
from . import test_swarm as swarm_test

heat = on_sim.heat
wait = on_sim.wait
outputs = on_sim.outputs

IMAGES = {'ubuntu': 'ubuntu-jammy', 'fedora-coreos': 'fedora-coreos'}
BARE_METAL = {'server_type': 'bm', 'fixed_network': 'private',
              'fixed_subnet': ''}


def _types(definition):
    found = set()
    for body in [definition['template']] + [
            swarm_test.yaml.safe_load(t) for t in definition['files'].values()]:
        for res in body['resources'].values():
            found.add(res['type'])
            rdef = (res.get('properties') or {}).get('resource_def')
            if rdef:
                found.add(rdef['type'])
    return found


def _unknown_types(definition):
    from caas.sim import resources
    known = set(resources.TYPES)
    return sorted(t for t in _types(definition)
                  if t.startswith('OS::') and t not in known)


def _on_loopback(address):
    return ipaddress.ip_address(address) in \
        ipaddress.ip_network('127.0.0.0/8')


def _definition(driver, masters, server_type):
    template_fields = {'image_id': IMAGES[driver.os_distro]}
    if server_type == 'bm':
        template_fields.update(BARE_METAL)
    cluster = swarm_test.cluster(master_count=masters, node_count=2,
                                 master_lb_enabled=masters > 1)
    if server_type == 'bm' and masters > 1:
        template_fields['fixed_subnet'] = 'private-subnet'
    template = swarm_test.template(**template_fields)
    return cluster, template, driver.stack_definition(cluster, template, [])


@pytest.mark.parametrize('masters', [1, 3])
@pytest.mark.parametrize('server_type', ['vm', 'bm'])
@pytest.mark.parametrize('driver_cls', swarm_test.DRIVERS)
def test_cluster_stack_creates_scales_and_deletes(heat, driver_cls,
                                                  server_type, masters):
    driver = driver_cls()
    cluster, template, definition = _definition(driver, masters,
                                                server_type)
    unknown = _unknown_types(definition)
    if unknown:
        pytest.skip('the simulated cloud does not know %s yet'
                    % ', '.join(unknown))
    definition['parameters'].update(driver.ca_key_parameters(
        {'kubernetes': ('CERT', b'KEY')}))
    name = driver.stack_name(cluster)
    heat.stacks.create(stack_name=name, template=definition['template'],
                       files=definition['files'],
                       parameters=definition['parameters'])
    stack = wait(heat, name, 'CREATE_COMPLETE')
    values = driver.cluster_values_from_outputs(outputs(stack))
    assert len(values['master_addresses']) == masters
    assert len(values['node_addresses']) == 2
    url = parse.urlsplit(values['api_address'])
    assert url.scheme == 'tcp' and url.port == 2376
    assert _on_loopback(url.hostname)
    assert all(_on_loopback(a) for a in
               values['master_addresses'] + values['node_addresses'])
    assert driver.servers_addressed(outputs(stack), stack.parameters) == (
        masters + 2, masters + 2)

    # Resize: one worker more, then the first worker removed by name.
    heat.stacks.update(name, existing=True, parameters=driver.update_parameters(
        cluster, template, [{'role': 'master', 'node_count': masters},
                            {'role': 'worker', 'node_count': 3}]))
    stack = wait(heat, name, 'UPDATE_COMPLETE')
    values = driver.cluster_values_from_outputs(outputs(stack))
    assert len(values['node_addresses']) == 3
    assert len(values['master_addresses']) == masters
    members = driver.worker_members(outputs(stack))
    victim = next(s for s, m in members.items() if m == '0')
    heat.stacks.update(name, existing=True, parameters=driver.update_parameters(
        cluster, template, [{'role': 'master', 'node_count': masters},
                            {'role': 'worker', 'node_count': 2}],
        remove=[members[victim]]))
    stack = wait(heat, name, 'UPDATE_COMPLETE')
    left = driver.worker_members(outputs(stack))
    assert len(left) == 2 and victim not in left

    # Upgrade of the workers: a new image, replaced in batches; the
    # managers keep theirs.
    servers = {srv: member for srv, member in left.items()}
    managers = driver.nodegroup_addresses(outputs(stack))['master']
    groups = [driver.pinned_nodegroup(cluster, template, {
                  'uuid': 'm', 'role': 'master', 'node_count': masters}),
              driver.upgraded_nodegroup(
                  dict(template, image_id=IMAGES[driver.os_distro]), {
                      'uuid': 'w', 'role': 'worker', 'node_count': 2})]
    definition = driver.upgrade_definition(cluster, template, groups, 1, [])
    # The same image by its ID: a changed image property, as a new image
    # would be (the simulated cloud has one image per OS).
    definition['parameters']['minion_image'] = next(
        i for i, name, _distro in on_sim_state.IMAGES
        if name == IMAGES[driver.os_distro])
    heat.stacks.update(name, existing=True,
                       template=definition['template'],
                       files=definition['files'],
                       parameters=definition['parameters'])
    stack = wait(heat, name, 'UPDATE_COMPLETE')
    upgraded = driver.worker_members(outputs(stack))
    assert len(upgraded) == 2 and not set(upgraded) & set(servers)
    assert driver.nodegroup_addresses(outputs(stack))['master'] == managers

    heat.stacks.delete(name)
    deadline = on_sim.time.monotonic() + 30
    while any(s.stack_name == name for s in heat.stacks.list()):
        assert on_sim.time.monotonic() < deadline
        on_sim.time.sleep(0.1)


@pytest.mark.parametrize('driver_cls', swarm_test.DRIVERS)
def test_cluster_stack_with_docker_volumes(heat, driver_cls):
    driver = driver_cls()
    cluster = swarm_test.cluster(node_count=1, docker_volume_size=10)
    template = swarm_test.template(image_id=IMAGES[driver.os_distro])
    definition = driver.stack_definition(cluster, template, [])
    unknown = _unknown_types(definition)
    if unknown:
        pytest.skip('the simulated cloud does not know %s yet'
                    % ', '.join(unknown))
    name = driver.stack_name(cluster)
    heat.stacks.create(stack_name=name, template=definition['template'],
                       files=definition['files'],
                       parameters=definition['parameters'])
    values = driver.cluster_values_from_outputs(
        outputs(wait(heat, name, 'CREATE_COMPLETE')))
    assert len(values['master_addresses']) == 1
    assert len(values['node_addresses']) == 1
