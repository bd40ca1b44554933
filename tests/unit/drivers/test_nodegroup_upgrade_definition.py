"""A nodegroup's own stack as an upgrade and the rotations need it: its
version is its own, its workers roll in batches, and it takes the CA
bundle and the cloud credential exactly as the cluster's stack does."""

import base64

import pytest

from caas.drivers.kubernetes import driver as k8s

from . import hotcheck
from .test_credential_parameters import CREDENTIAL
from .test_kubernetes import DRIVERS
from .test_kubernetes import cluster
from .test_kubernetes import template
from .test_nodegroup_stack import OUTPUTS
from .test_nodegroup_stack import nodegroup

OLD, NEW = 'v1.29.6', 'v1.30.2'


def _cluster():
    return cluster(labels={'kube_tag': OLD})


@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_the_nodegroup_runs_its_own_version(driver_cls):
    params = driver_cls().nodegroup_stack_definition(
        _cluster(), template(), nodegroup(labels={'kube_tag': NEW}),
        OUTPUTS)['parameters']
    assert params['kube_tag'] == NEW
    # Without a version of its own, the cluster's.
    params = driver_cls().nodegroup_stack_definition(
        _cluster(), template(), nodegroup(), OUTPUTS)['parameters']
    assert params['kube_tag'] == OLD


@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_the_upgrade_definition_rolls_the_workers_in_batches(driver_cls):
    driver = driver_cls()
    new_template = template(labels={'kube_tag': NEW}, image_id='img-2')
    upgraded = driver.upgraded_nodegroup(new_template, nodegroup())
    definition = driver.nodegroup_upgrade_definition(
        _cluster(), template(), upgraded, OUTPUTS, 3, ['PEM-1', 'PEM-2'])
    assert hotcheck.check_definition(definition) == []
    params = definition['parameters']
    assert (params['kube_tag'], params['server_image']) == (NEW, 'img-2')
    assert params['update_max_batch_size'] == 3
    assert base64.b64decode(params['ca_bundle_b64']) == b'PEM-1PEM-2'
    assert params['user_data_update_policy'] == 'REPLACE'
    group = definition['template']['resources']['kube_minions']
    assert group['update_policy'] == {'rolling_update': {
        'max_batch_size': {'get_param': 'update_max_batch_size'}}}
    assert upgraded['version'] == NEW


@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_the_workers_get_the_cas_and_credential_as_the_clusters_do(
        driver_cls):
    driver = driver_cls()
    ours = driver.nodegroup_stack_definition(_cluster(), template(),
                                             nodegroup(), OUTPUTS)
    theirs = driver.stack_definition(_cluster(), template(), [])
    declared = ours['template']['parameters']
    for name in driver.credential_parameters(CREDENTIAL):
        if name in theirs['template']['parameters']:
            assert name in declared, name
    # Workers read no credential file (the CSI node plugin mounts the
    # Secret): the nodegroup's stack does not even take it.
    assert 'trustee_password' not in declared
    assert 'ca_bundle_b64' in declared
    rdef = ours['template']['resources']['kube_minions']['properties'][
        'resource_def']['properties']
    assert rdef['ca_bundle_b64'] == {'get_param': 'ca_bundle_b64'}
    assert ours['files']['kubeminion.yaml'] == \
        theirs['files']['kubeminion.yaml']
