"""Golden files: a few rendered Kubernetes stack definitions, pinned so that
every change to what Heat receives is seen in review.

Regenerate after an intended change (then read the diff):

    make golden        # or: .venv/bin/python -m tests.unit.drivers.test_kubernetes_golden
"""

import os
import sys

import pytest
import yaml

from caas.drivers.kubernetes import driver as k8s
from tests.unit.drivers import test_kubernetes as k8s_test

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), 'golden')
# Fixed CA material stands in for the cluster's: the files must not change
# from run to run.
CA_PARAMS = {'kube_ca_cert': 'S1VCRS1DQS1DRVJU', 'kube_ca_key': 'S0VZ',
             'etcd_ca_cert': 'RVRDRC1DRVJU', 'etcd_ca_key': 'S0VZ',
             'front_proxy_ca_cert': 'RlAtQ0VSVA==', 'front_proxy_ca_key': 'S0VZ',
             'ca_cert_hash': 'sha256:' + '0' * 64}

CASES = {
    'ubuntu-vm-1master-vip-fip': (
        k8s.UbuntuKubernetesDriver, {}, {}),
    'fcos-vm-3masters-lb-fip-volumes': (
        k8s.FedoraCoreOSKubernetesDriver,
        {'master_count': 3, 'master_lb_enabled': True,
         'docker_volume_size': 20,
         'labels': {'kube_tag': 'v1.28.4', 'etcd_volume_size': '10'}},
        {'image_id': 'fedora-coreos', 'network_driver': 'calico'}),
    'ubuntu-bm-1master-vip-nofip': (
        k8s.UbuntuKubernetesDriver,
        {'floating_ip_enabled': False,
         'labels': {'kube_tag': 'v1.28.4',
                    'provisioning_network': 'ironic-provisioning'}},
        {'server_type': 'bm'}),
    'ubuntu-vm-3masters-lb-nofip-fixed-network': (
        k8s.UbuntuKubernetesDriver,
        {'master_count': 3, 'master_lb_enabled': True,
         'floating_ip_enabled': False, 'fixed_network': 'net1',
         'fixed_subnet': 'sub1',
         'labels': {'kube_tag': 'v1.28.4', 'cloud_provider_enabled': 'true',
                    'cinder_csi_enabled': 'true'}}, {}),
}


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = '|' if '\n' in value else None
    return dumper.represent_scalar('tag:yaml.org,2002:str', value,
                                   style=style)


_Dumper.add_representer(str, _str)


def render(name):
    driver_cls, cluster_fields, template_fields = CASES[name]
    driver = driver_cls()
    cluster = k8s_test.cluster(**cluster_fields)
    template = k8s_test.template(**template_fields)
    driver.validate_cluster(cluster, template)
    definition = driver.stack_definition(cluster, template, [])
    declared = definition['template']['parameters']
    definition['parameters'].update(
        {k: v for k, v in CA_PARAMS.items() if k in declared})
    golden = {'template': definition['template'],
              'files': {k: yaml.safe_load(v)
                        for k, v in sorted(definition['files'].items())},
              'parameters': dict(sorted(definition['parameters'].items()))}
    # Trailing spaces cannot be a block scalar: the script has none.
    return yaml.dump(golden, Dumper=_Dumper, sort_keys=False, width=1000)


def path(name):
    return os.path.join(GOLDEN_DIR, name + '.yaml')


@pytest.mark.parametrize('name', sorted(CASES))
def test_rendered_definition_matches_its_golden_file(name):
    with open(path(name)) as f:
        pinned = f.read()
    assert render(name) == pinned, (
        'the rendered stack of %s changed; if intended, run make golden '
        'and review the diff' % name)


def test_golden_files_hold_what_they_claim():
    body = yaml.safe_load(open(path('fcos-vm-3masters-lb-fip-volumes')))
    types = {r['type'] for r in body['template']['resources'].values()}
    assert 'OS::Octavia::LoadBalancer' in types
    master = body['files']['kubemaster.yaml']['resources']
    assert master['etcd_volume']['type'] == 'OS::Cinder::Volume'
    bm = yaml.safe_load(open(path('ubuntu-bm-1master-vip-nofip')))
    assert 'OS::Nova::ServerGroup' not in {
        r['type'] for r in bm['template']['resources'].values()}
    assert not any(r['type'].startswith('OS::Cinder::') for r in
                   bm['files']['kubeminion.yaml']['resources'].values())


def regenerate():
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    for name in sorted(CASES):
        with open(path(name), 'w') as f:
            f.write(render(name))
        print('wrote %s' % path(name))


if __name__ == '__main__':
    sys.exit(regenerate())
