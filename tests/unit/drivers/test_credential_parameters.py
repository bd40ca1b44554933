"""The cluster's cloud credential as the Kubernetes driver hands it to its
nodes: stack parameters (the password hidden) rendered into the OpenStack
cloud provider's configuration by a software deployment per node."""

import pytest
import yaml

from caas.drivers.fake import driver as fake
from caas.drivers.kubernetes import driver as k8s

from .test_kubernetes import DRIVERS
from .test_kubernetes import cluster
from .test_kubernetes import template

CREDENTIAL = {'user_id': 'u-1', 'username': 'caas-c-o', 'domain_id': 'd',
              'password': 'pw-secret', 'trust_id': 't-1',
              'auth_url': 'http://127.0.0.1:5000/v3', 'region_name': 'R1',
              'hand_trust': True}


@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_the_template_takes_the_credential_and_hides_the_password(
        driver_cls):
    definition = driver_cls().stack_definition(cluster(), template(), [])
    declared = definition['template']['parameters']
    for name in ('auth_url', 'region_name', 'trustee_user_id',
                 'trustee_password', 'trust_id'):
        assert name in declared
    assert declared['trustee_password'].get('hidden') is True
    params = driver_cls().credential_parameters(CREDENTIAL)
    assert params['trustee_user_id'] == 'u-1'
    assert params['trust_id'] == 't-1'


@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_every_node_deploys_the_cloud_config(driver_cls):
    definition = driver_cls().stack_definition(cluster(), template(), [])
    config = definition['template']['resources']['cloud_config']
    script = config['properties']['config']['str_replace']
    assert '/etc/kubernetes/cloud-config' in script['template']
    assert script['params']['__TRUSTEE_PASSWORD__'] == {
        'get_param': 'trustee_password'}
    assert script['params']['__TRUST_ID__'] == {'get_param': 'trust_id'}
    for name in ('kubemaster.yaml', 'kubeminion.yaml'):
        node = yaml.safe_load(definition['files'][name])
        deploy = node['resources']['cloud_config_deployment']
        assert deploy['type'] == 'OS::Heat::SoftwareDeployment'
        assert deploy['properties']['config'] == {'get_param':
                                                  'cloud_config'}
        # Not in the user data: a rotation must not replace the servers.
        user_data = repr(node['resources']['server']['properties'])
        assert 'trustee' not in user_data and 'trust_id' not in user_data


def test_without_cluster_user_trust_the_nodes_get_no_trust():
    params = k8s.UbuntuKubernetesDriver().credential_parameters(
        dict(CREDENTIAL, hand_trust=False))
    assert params['trust_id'] == ''
    assert params['trustee_user_id'] == 'u-1'


def test_the_fake_driver_declares_the_credential_too():
    declared = fake.TEMPLATE['parameters']
    assert declared['trustee_password']['hidden'] is True
    assert {'trustee_user_id', 'trust_id'} <= set(declared)
