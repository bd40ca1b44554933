"""The cluster's cloud credential as the Kubernetes driver hands it to its
nodes: stack parameters (the password hidden) rendered by Heat into the
OpenStack cloud provider's configuration in the masters' RAW user data
(no Heat agent), only when the cloud provider or the Cinder CSI runs."""

import pytest
import yaml

from caas.drivers import heat
from caas.drivers.fake import driver as fake
from caas.drivers.kubernetes import driver as k8s

from .test_kubernetes import DRIVERS
from .test_kubernetes import cluster
from .test_kubernetes import template

CREDENTIAL = {'user_id': 'u-1', 'username': 'caas-c-o', 'domain_id': 'd',
              'password': 'pw-secret', 'trust_id': 't-1',
              'auth_url': 'http://127.0.0.1:5000/v3', 'region_name': 'R1',
              'hand_trust': True}


CLOUD_LABELS = ({'cloud_provider_enabled': 'true'},
                {'cinder_csi_enabled': 'true'})


@pytest.mark.parametrize('labels', CLOUD_LABELS)
@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_the_template_takes_the_credential_and_hides_the_password(
        driver_cls, labels):
    definition = driver_cls().stack_definition(
        cluster(labels=dict(labels, kube_tag='v1.28.4')), template(), [])
    declared = definition['template']['parameters']
    for name in ('auth_url', 'region_name', 'trustee_user_id',
                 'trustee_password', 'trust_id'):
        assert name in declared
    assert declared['trustee_password'].get('hidden') is True
    params = driver_cls().credential_parameters(CREDENTIAL)
    assert params['trustee_user_id'] == 'u-1'
    assert params['trust_id'] == 't-1'


@pytest.mark.parametrize('labels', CLOUD_LABELS)
@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_only_the_masters_user_data_writes_the_cloud_config(driver_cls,
                                                            labels):
    definition = driver_cls().stack_definition(
        cluster(labels=dict(labels, kube_tag='v1.28.4')), template(), [])
    master = yaml.safe_load(definition['files']['kubemaster.yaml'])
    server = master['resources']['server']['properties']
    files = heat.files_of(server['user_data']['str_replace']['template'])
    mode, content = files['/etc/kubernetes/cloud-config']
    assert mode == 0o600
    assert 'password=__CAAS_TRUSTEE_PASSWORD__' in content
    params = server['user_data']['str_replace']['params']
    assert params['__CAAS_TRUSTEE_PASSWORD__'] == {
        'get_param': 'trustee_password'}
    assert master['parameters']['trustee_password']['hidden'] is True
    # No software deployment, no agent: the file is in the user data.
    assert not [r for r in master['resources'].values()
                if r['type'].startswith('OS::Heat::Software')]
    worker = yaml.safe_load(definition['files']['kubeminion.yaml'])
    server = worker['resources']['server']['properties']
    files = heat.files_of(server['user_data']['str_replace']['template'])
    assert '/etc/kubernetes/cloud-config' not in files
    assert not [f for f in files.values() if 'TRUSTEE' in f[1]]
    assert not {'auth_url', 'trustee_user_id', 'trustee_password',
                'trust_id'} & set(worker['parameters'])
    assert not [k for k in server['user_data']['str_replace']['params']
                if 'TRUST' in k or 'AUTH_URL' in k]


@pytest.mark.parametrize('driver_cls', DRIVERS)
def test_without_cloud_provider_or_csi_no_node_gets_the_credential(
        driver_cls):
    definition = driver_cls().stack_definition(cluster(), template(), [])
    assert 'trustee_password' not in definition['template']['parameters']
    for body in definition['files'].values():
        node = yaml.safe_load(body)
        assert 'trustee_password' not in node['parameters']
        files = heat.files_of(node['resources']['server']['properties'][
            'user_data']['str_replace']['template'])
        assert '/etc/kubernetes/cloud-config' not in files


def test_without_cluster_user_trust_the_nodes_get_no_trust():
    params = k8s.UbuntuKubernetesDriver().credential_parameters(
        dict(CREDENTIAL, hand_trust=False))
    assert params['trust_id'] == ''
    assert params['trustee_user_id'] == 'u-1'


def test_the_fake_driver_declares_the_credential_too():
    declared = fake.TEMPLATE['parameters']
    assert declared['trustee_password']['hidden'] is True
    assert {'trustee_user_id', 'trust_id'} <= set(declared)
