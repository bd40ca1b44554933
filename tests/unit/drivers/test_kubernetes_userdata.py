"""The Kubernetes nodes' user data, rendered as Heat renders it, checked by
the real tools: the bootstrap script by ``shellcheck``, the cloud-config by
``cloud-init schema``, the Ignition config for its spec's shape; the CA
material where it belongs (masters) and nowhere else (workers); the CA hash
as kubeadm computes it.

A missing tool skips its check, and fails it under CI (``.ci/run``
installs them).
"""

import base64
import json
import os
import shutil
import subprocess
import urllib.parse

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization

from caas.drivers.kubernetes import driver as k8s
from caas.drivers.kubernetes import template as k8s_template
from caas.pki import authority

from . import test_kubernetes as k8s_test
from .test_credential_parameters import CREDENTIAL

ROLES = {'master': 'kubemaster.yaml', 'worker': 'kubeminion.yaml'}


def tool(name):
    path = shutil.which(name)
    if path is None:
        if os.environ.get('CI'):
            pytest.fail('%s is not installed' % name)
        pytest.skip('%s is not installed' % name)
    return path


@pytest.fixture(scope='module')
def cas():
    return {ca_type: authority.make_ca(k8s_test.UUID, ca_type)
            for ca_type in ('kubernetes', 'etcd', 'front_proxy')}


def sample_values(role, cas):
    """Values of every node parameter, as a cluster's stack gives them."""
    values = {
        'role': role, 'node_index': '0', 'kube_tag': 'v1.29.6',
        'containerd_tag': '1.7.20', 'api_ip': '10.0.0.5',
        'apiserver_port': '6443', 'api_public_ip': '172.24.4.5',
        'api_vip': 'true', 'bootstrap_token': 'abcdef.0123456789abcdef',
        'pods_network_cidr': '10.100.0.0/16',
        'service_cluster_ip_range': '10.254.0.0/16',
        'dns_cluster_domain': 'cluster.local', 'network_driver': 'calico',
        'calico_tag': 'v3.27.3', 'flannel_tag': 'v0.25.5',
        'cloud_provider_enabled': 'true', 'cloud_provider_tag': 'v1.29.0',
        'cinder_csi_enabled': 'true', 'cinder_csi_plugin_tag': 'v1.29.0',
        'cluster_uuid': k8s_test.UUID, 'http_proxy': 'http://proxy:3128',
        'https_proxy': 'http://proxy:3128', 'no_proxy': 'localhost',
        'node_registration': k8s.node_registration(
            {'node_labels': {'tier': 'batch'}}),
        'server_type': 'vm',
    }
    driver = k8s.KubernetesDriver()
    values.update(driver.ca_key_parameters(
        {t: (cert, key) for t, (cert, key) in cas.items()}))
    values.update(driver.ca_parameters([cert for cert, _key in
                                        cas.values()]))
    values.update(driver.credential_parameters(CREDENTIAL))
    return values


ATTRIBUTES = {
    'endpoint': 'http://127.0.0.1:8000/v1/signal/arn%3Aopenstack%3Aheat',
    'token': 'gAAAAABmZ-token_with-chars',
}


def rendered(driver_cls, role, cas, **cluster_fields):
    """The role's user data after Heat's str_replace."""
    definition = driver_cls().stack_definition(
        k8s_test.cluster(docker_volume_size=10, **dict({'labels': {
            'kube_tag': 'v1.28.4', 'cloud_provider_enabled': 'true'}},
            **cluster_fields)),
        k8s_test.template(), [])
    node = yaml.safe_load(definition['files'][ROLES[role]])
    replace = node['resources']['server']['properties']['user_data'][
        'str_replace']
    values = sample_values(role, cas)
    values['os_distro'] = driver_cls.os_distro
    text = replace['template']
    for key, ref in replace['params'].items():
        if isinstance(ref, dict) and 'get_param' in ref:
            value = values.get(ref['get_param'], node['parameters'][
                ref['get_param']].get('default', ''))
        elif isinstance(ref, dict) and 'get_attr' in ref:
            value = ATTRIBUTES[ref['get_attr'][1]]
        elif isinstance(ref, dict) and 'get_resource' in ref:
            value = '0b2f6c9e-5a41-4c1d-9e1b-7d1f1c0f9a11'
        else:
            value = ref
        text = text.replace(key, str(value))
    assert '__CAAS_' not in text, 'a placeholder was left unfilled'
    return text


def shellcheck(script, tmp_path):
    path = tmp_path / 'script.sh'
    path.write_text(script)
    out = subprocess.run([tool('shellcheck'), '-s', 'bash', str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_the_bootstrap_template_passes_shellcheck(tmp_path):
    shellcheck(k8s_template.bootstrap_script(), tmp_path)


@pytest.mark.parametrize('role', sorted(ROLES))
@pytest.mark.parametrize('driver_cls', k8s_test.DRIVERS)
def test_the_rendered_script_passes_shellcheck(driver_cls, role, cas,
                                               tmp_path):
    text = rendered(driver_cls, role, cas)
    shellcheck(k8s_template.script_of(text), tmp_path)


def test_shellcheck_is_not_a_rubber_stamp(tmp_path):
    with pytest.raises(AssertionError):
        shellcheck('#!/bin/bash\nrm -rf $DIR/*\n', tmp_path)


def cloud_init_schema(text, tmp_path):
    path = tmp_path / 'user-data'
    path.write_text(text)
    return subprocess.run([tool('cloud-init'), 'schema', '--config-file',
                           str(path)], capture_output=True, text=True)


@pytest.mark.parametrize('role', sorted(ROLES))
def test_the_rendered_cloud_config_is_valid(role, cas, tmp_path):
    text = rendered(k8s.UbuntuKubernetesDriver, role, cas)
    assert text.startswith('#cloud-config\n')
    out = cloud_init_schema(text, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    # cloud-init would write these files: the CA ones decode to PEM.
    for entry in yaml.safe_load(text)['write_files']:
        if entry.get('encoding') == 'b64':
            assert base64.b64decode(entry['content']).startswith(b'-----')


def test_cloud_init_schema_is_not_a_rubber_stamp(tmp_path):
    out = cloud_init_schema('#cloud-config\nruncmd: 5\n', tmp_path)
    assert out.returncode != 0


@pytest.mark.parametrize('role', sorted(ROLES))
def test_the_rendered_ignition_config_has_the_spec_shape(role, cas):
    config = json.loads(rendered(k8s.FedoraCoreOSKubernetesDriver, role,
                                 cas))
    assert config['ignition']['version'] == '3.4.0'
    assert set(config) <= {'ignition', 'storage', 'systemd', 'passwd',
                           'kernelArguments'}
    for entry in config['storage']['files']:
        assert entry['path'].startswith('/')
        assert isinstance(entry['mode'], int)
        source = entry['contents']['source']
        assert source.startswith('data:')
        meta, _, data = source[len('data:'):].partition(',')
        if meta.endswith(';base64'):
            base64.b64decode(data, validate=True)
        else:
            # Percent-encoded text: nothing Heat put there needs escaping.
            assert ' ' not in data and '"' not in data
            urllib.parse.unquote(data)
    for unit in config['systemd']['units']:
        assert unit['name'].endswith('.service')


def _all_user_data(cas, role):
    return [rendered(cls, role, cas) for cls in k8s_test.DRIVERS]


def test_masters_get_every_ca_and_its_key(cas):
    for text in _all_user_data(cas, 'master'):
        for cert, key in cas.values():
            assert base64.b64encode(key).decode() in text
            assert base64.b64encode(cert.encode()).decode() in text


def test_no_worker_user_data_holds_a_private_key(cas):
    keys = [key for _cert, key in cas.values()]
    for text in _all_user_data(cas, 'worker'):
        decoded = text + k8s_template.script_of(text)
        assert 'PRIVATE KEY' not in decoded
        for key in keys:
            assert base64.b64encode(key).decode() not in decoded
            assert key.decode() not in decoded
        # Nor the key that downloads the control plane's certificates.
        assert 'ab' * 32 not in decoded


def test_the_worker_template_does_not_even_declare_the_keys():
    definition = k8s.UbuntuKubernetesDriver().stack_definition(
        k8s_test.cluster(), k8s_test.template(), [])
    worker = yaml.safe_load(definition['files']['kubeminion.yaml'])
    passed = definition['template']['resources']['kube_minions'][
        'properties']['resource_def']['properties']
    for param in k8s_template.MASTER_ONLY_PARAMETERS:
        assert param not in worker['parameters']
        assert param not in passed


def test_ca_hash_is_the_sha256_of_the_subject_public_key_info(cas):
    cert_pem = cas['kubernetes'][0]
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    digest = hashes.Hash(hashes.SHA256())
    digest.update(cert.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo))
    assert k8s.ca_cert_hash(cert_pem) == 'sha256:' + digest.finalize().hex()
    other = authority.make_ca(k8s_test.UUID, 'kubernetes')[0]
    assert k8s.ca_cert_hash(other) != k8s.ca_cert_hash(cert_pem)


def test_ca_hash_matches_what_kubeadms_documented_openssl_pipe_prints(cas):
    # kubeadm's docs: openssl x509 -pubkey | openssl pkey -pubin -outform
    # der | sha256sum; an independent computation of the same hash.
    openssl = tool('openssl')
    cert_pem = cas['kubernetes'][0]
    pub = subprocess.run([openssl, 'x509', '-pubkey', '-noout'],
                         input=cert_pem.encode(), capture_output=True,
                         check=True).stdout
    der = subprocess.run([openssl, 'pkey', '-pubin', '-outform', 'der'],
                         input=pub, capture_output=True, check=True).stdout
    import hashlib
    assert k8s.ca_cert_hash(cert_pem) == \
        'sha256:' + hashlib.sha256(der).hexdigest()


def kubeadm_config(driver_cls, role, function, cas):
    """Run the rendered script's own config function with bash and parse
    the YAML documents it prints, as kubeadm would read them."""
    script = k8s_template.script_of(rendered(driver_cls, role, cas))
    settings = '\n'.join(line for line in script.splitlines()
                         if line.startswith(('ROLE=', 'NODE_', 'API_',
                                             'BOOTSTRAP_', 'CERTIFICATE_',
                                             'CA_CERT_', 'PODS_',
                                             'SERVICES_', 'DNS_', 'KUBE_TAG',
                                             'CLOUD_PROVIDER_ENABLED')))
    body = script[script.index('# >>> join-config'):
                  script.index('# <<< join-config')]
    out = subprocess.run(['bash', '-c', 'set -euo pipefail\n%s\n%s\n%s' % (
        settings, body, function)], capture_output=True, text=True,
        check=True)
    return list(yaml.safe_load_all(out.stdout))


@pytest.mark.parametrize('driver_cls', k8s_test.DRIVERS)
def test_the_first_master_inits_with_the_clusters_networks(driver_cls, cas):
    init, cluster = kubeadm_config(driver_cls, 'master', 'init_config', cas)
    assert init['kind'] == 'InitConfiguration'
    assert init['bootstrapTokens'][0]['token'] == 'abcdef.0123456789abcdef'
    # Every shared file is pre-placed: nothing is uploaded for a join.
    assert 'certificateKey' not in init
    # cloud_provider_enabled: the kubelet leaves the node to the CCM.
    assert init['nodeRegistration']['kubeletExtraArgs'] == {
        'cloud-provider': 'external', 'node-labels': 'tier=batch'}
    assert cluster['kind'] == 'ClusterConfiguration'
    assert cluster['controlPlaneEndpoint'] == '10.0.0.5:6443'
    assert cluster['apiServer']['certSANs'] == ['10.0.0.5', '172.24.4.5']
    assert cluster['networking'] == {'podSubnet': '10.100.0.0/16',
                                     'serviceSubnet': '10.254.0.0/16',
                                     'dnsDomain': 'cluster.local'}


def test_other_masters_join_the_control_plane_checking_the_ca(cas):
    (join,) = kubeadm_config(k8s.UbuntuKubernetesDriver, 'master',
                             'join_config', cas)
    # The shared files are in the master's user data: a join needs no
    # certificate key (kubeadm's upload lasts 2 h), so it works any time.
    assert join['controlPlane'] == {'localAPIEndpoint': {'bindPort': 6443}}
    assert join['discovery']['bootstrapToken']['caCertHashes'] == [
        k8s.ca_cert_hash(cas['kubernetes'][0])]
