"""The template sets are built once per process for each set of options
(issue 11: building them was most of a conductor's CPU per create); what a
caller gets is its own copy, and per-cluster values never reach them."""

import pytest
import yaml

from caas.drivers import heat
from caas.drivers.kubernetes import driver as k8s
from caas.drivers.kubernetes import template as k8s_template
from caas.drivers.swarm import driver as swarm
from caas.drivers.swarm import template as swarm_template

from .test_kubernetes import cluster
from .test_kubernetes import template

BUILT = (k8s_template.node_template, k8s_template.node_file,
         k8s_template.cluster_template, k8s_template.nodegroup_template,
         swarm_template.node_template, swarm_template.node_file,
         swarm_template.cluster_template, swarm_template.nodegroup_template)


@pytest.fixture(autouse=True)
def cold():
    for fn in BUILT:
        fn.cache_clear()


def _misses():
    return sum(fn.cache_info().misses for fn in BUILT)


def _swarm_template():
    return template(coe='swarm-mode', network_driver='docker')


@pytest.mark.parametrize('driver_cls, tmpl', [
    (k8s.UbuntuKubernetesDriver, template),
    (k8s.FedoraCoreOSKubernetesDriver, template),
    (swarm.UbuntuSwarmDriver, _swarm_template)])
def test_a_second_cluster_builds_no_template(driver_cls, tmpl):
    driver = driver_cls()
    first = driver.stack_definition(cluster(), tmpl(), [])
    built = _misses()
    assert built > 0
    second = driver.stack_definition(
        cluster(uuid='0c9b1a38-7e1b-4bd4-9a0b-6d2ff5a0e0f1', name='k2',
                node_count=7), tmpl(), [])
    assert _misses() == built
    # Only the parameters tell the two clusters apart.
    assert second['template'] == first['template']
    assert second['files'] == first['files']
    assert second['parameters']['cluster_uuid'] != \
        first['parameters']['cluster_uuid']


def test_other_options_are_built_apart():
    driver = k8s.UbuntuKubernetesDriver()
    plain = driver.stack_definition(cluster(), template(), [])
    built = _misses()
    no_fip = driver.stack_definition(
        cluster(floating_ip_enabled=False), template(), [])
    assert _misses() > built
    assert 'floating_ip' in yaml.safe_load(
        plain['files']['kubeminion.yaml'])['resources']
    assert 'floating_ip' not in yaml.safe_load(
        no_fip['files']['kubeminion.yaml'])['resources']


def test_editing_a_template_never_edits_the_next_one():
    driver = k8s.UbuntuKubernetesDriver()
    first = driver.stack_definition(cluster(), template(), [])
    pristine = driver.stack_definition(cluster(), template(), [])['template']
    # What a caller may do to its copy, down to a shared-looking leaf.
    first['template']['resources'].clear()
    first['template']['parameters']['cluster_uuid']['default'] = 'edited'
    again = driver.stack_definition(cluster(), template(), [])['template']
    assert again == pristine
    assert 'default' not in again['parameters']['cluster_uuid']


def test_copies_share_no_object():
    options = {'a': True, 'b': 'x'}

    @heat.template_per_options
    def build(role, options):
        shared = {'k': [role]}
        return {'one': shared, 'two': shared, 'options': dict(options)}

    one = build('r', options)
    one['one']['k'].append('edited')
    assert one['two']['k'] == ['r'], 'two keys of one copy share nothing'
    assert build('r', dict(reversed(list(options.items())))) == {
        'one': {'k': ['r']}, 'two': {'k': ['r']}, 'options': options}
    assert build.cache_info().misses == 1


def test_options_of_unhashable_values_are_refused():
    @heat.per_options
    def build(options):
        return 'text'

    with pytest.raises(TypeError):
        build({'list': ['not', 'a', 'switch']})


def test_threads_asking_at_once_build_once():
    """The flows that start together in a fresh process all miss: one
    builds, the others wait for it and take what it built."""
    import threading
    import time
    builds = []
    started = threading.Barrier(16)

    @heat.template_per_options
    def build(options):
        builds.append(1)
        time.sleep(0.05)    # long enough for every other thread to ask
        return {'k': 'v'}

    def ask():
        started.wait()
        return build({'floating_ip': True})
    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    assert build.cache_info().misses == 1
