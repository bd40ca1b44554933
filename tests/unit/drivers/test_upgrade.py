"""What the drivers hand Heat for an upgrade and a CA rotation."""

import base64

import yaml

from caas.drivers import heat
from caas.drivers.fake import driver as fake
from caas.drivers.kubernetes import driver as k8s

from . import hotcheck
from .test_kubernetes import cluster
from .test_kubernetes import template

DRIVER = k8s.UbuntuKubernetesDriver()


def groups(image='ubuntu-jammy', labels=None):
    return [{'uuid': 'm', 'role': 'master', 'node_count': 1,
             'image_id': image, 'labels': dict(labels or {})},
            {'uuid': 'w', 'role': 'worker', 'node_count': 3,
             'image_id': image, 'labels': dict(labels or {})}]


def test_installed_reads_image_and_kube_tag_of_template_cluster_group():
    assert DRIVER.installed({}, template(labels={'kube_tag': 'v1.30.1'}),
                            {}) == {'image_id': 'ubuntu-jammy',
                                    'kube_tag': 'v1.30.1'}
    # The cluster's labels override the template's, a group's its cluster's.
    assert DRIVER.installed(cluster(), template(), {})['kube_tag'] == \
        'v1.28.4'
    assert DRIVER.installed(cluster(), template(), {
        'image_id': 'img-2', 'labels': {'kube_tag': 'v1.29.0'}}) == {
            'image_id': 'img-2', 'kube_tag': 'v1.29.0'}
    # No label at all: the driver's default version.
    assert DRIVER.installed({}, template(), {})['kube_tag'] == \
        k8s.DEFAULT_KUBE_TAG


def test_upgraded_group_takes_the_new_templates_image_and_version():
    new = template(image_id='ubuntu-noble', labels={'kube_tag': 'v1.30.1'})
    group = DRIVER.upgraded_nodegroup(new, groups(labels={
        'kube_tag': 'v1.28.4', 'dns_cluster_domain': 'x.local'})[1])
    assert group['image_id'] == 'ubuntu-noble'
    assert group['labels'] == {'kube_tag': 'v1.30.1',
                               'dns_cluster_domain': 'x.local'}
    assert group['version'] == 'v1.30.1'


def test_upgrading_the_workers_leaves_the_masters_stack_parameters():
    new = template(image_id='ubuntu-noble', labels={'kube_tag': 'v1.30.1'})
    old_master, old_worker = groups()
    ngs = [DRIVER.pinned_nodegroup(cluster(), template(), old_master),
           DRIVER.upgraded_nodegroup(new, old_worker)]
    params = DRIVER.upgrade_definition(cluster(), template(), ngs, 2,
                                       ['PEM1\n'])['parameters']
    assert params['server_image'] == 'ubuntu-jammy'
    assert params['kube_tag'] == 'v1.28.4'
    assert params['minion_image'] == 'ubuntu-noble'
    assert params['minion_kube_tag'] == 'v1.30.1'
    assert params['update_max_batch_size'] == 2
    assert base64.b64decode(params['ca_bundle_b64']) == b'PEM1\n'
    # An upgrade's new user data replaces the servers, even after a
    # rotation left IGNORE in the stack.
    assert params['user_data_update_policy'] == 'REPLACE'
    assert params['number_of_minions'] == 3


def test_a_pinned_group_ignores_a_new_cluster_template():
    # After an upgrade the cluster's template is the new one; a group that
    # was not upgraded keeps what it runs.
    old_master = DRIVER.pinned_nodegroup(cluster(labels={}), template(),
                                         groups()[0])
    new = template(image_id='ubuntu-noble', labels={'kube_tag': 'v1.30.1'})
    params = DRIVER.stack_definition(cluster(labels={}), new,
                                     [old_master])['parameters']
    assert params['server_image'] == 'ubuntu-jammy'
    assert params['kube_tag'] == k8s.DEFAULT_KUBE_TAG


def test_both_groups_roll_in_batches_of_the_parameter():
    definition = DRIVER.stack_definition(cluster(), template(), groups())
    hot = definition['template']
    for group in ('kube_masters', 'kube_minions'):
        policy = hot['resources'][group]['update_policy']
        assert policy == {'rolling_update': {
            'max_batch_size': {'get_param': 'update_max_batch_size'}}}
    assert hotcheck.check(hot, definition['files']) == []


def test_the_ca_bundle_is_in_every_nodes_user_data():
    definition = DRIVER.upgrade_definition(cluster(), template(), groups(),
                                           1, ['A\n', 'B\n'])
    assert base64.b64decode(definition['parameters']['ca_bundle_b64']) == \
        b'A\nB\n'
    for name in ('kubemaster.yaml', 'kubeminion.yaml'):
        node = yaml.safe_load(definition['files'][name])
        server = node['resources']['server']['properties']
        replace = server['user_data']['str_replace']
        files = heat.files_of(replace['template'])
        assert files['/etc/caas/ca-bundle.crt'] == (
            0o644, '__CAAS_CA_BUNDLE_B64__')
        assert replace['params']['__CAAS_CA_BUNDLE_B64__'] == {
            'get_param': 'ca_bundle_b64'}
        # A rotation sends IGNORE: the server is not replaced for it.
        assert server['user_data_update_policy'] == {
            'get_param': 'user_data_update_policy'}
        assert not [r for r in node['resources'].values()
                    if r['type'].startswith('OS::Heat::Software')]
    assert DRIVER.rotation_parameters() == {
        'user_data_update_policy': 'IGNORE'}
    for group in ('kube_masters', 'kube_minions'):
        props = definition['template']['resources'][group]['properties']
        assert props['resource_def']['properties']['ca_bundle_b64'] == {
            'get_param': 'ca_bundle_b64'}


def test_the_fake_driver_has_no_ca_or_batch_parameters():
    driver = fake.FakeDriver()
    params = driver.upgrade_definition(cluster(), template(), groups(), 3,
                                       ['A\n'])['parameters']
    assert set(params) == {'number_of_masters', 'number_of_minions'}
    assert driver.installed({}, template(), {}) == {
        'image_id': 'ubuntu-jammy'}
