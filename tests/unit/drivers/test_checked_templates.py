"""Every declared driver's stacks, checked by the real tools.

Data-driven: each driver setup.cfg declares, for each (server type, OS,
COE) it provides, in a few cluster shapes, rendered on the simulated cloud
and given to tests/checks.py's ``check_rendered`` (HOT lint, Heat's
refusals, CREATE_COMPLETE, shellcheck, cloud-init schema, Ignition schema).
A driver added to setup.cfg is checked here without another line.
"""

import collections

import pytest

from caas.drivers import heat
from tests import checks

from . import conftest

IMAGES = {'ubuntu': 'ubuntu-jammy', 'fedora-coreos': 'fedora-coreos',
          'debian': 'debian-bookworm-docker'}
FLAVORS = {'vm': 'm1.small', 'bm': 'baremetal'}
UUID = '5d12f6fd-a196-4bf0-ae4c-1f639a523a52'
NODEGROUP = {'name': 'extra', 'role': 'worker', 'is_default': False,
             'node_count': 1, 'node_labels': {'tier': 'batch'},
             'node_taints': [{'key': 'gpu', 'value': 'yes',
                              'effect': 'NoSchedule'}]}
# Bare metal boots on the network Ironic provisions on: a given network.
BARE_METAL = {'fixed_network': 'private', 'fixed_subnet': 'private-subnet'}
# name: (cluster fields, template fields, nodegroups, COEs it applies to)
SHAPES = {
    'default': ({}, {}, [], None),
    'no floating IPs': ({'floating_ip_enabled': False}, {}, [], None),
    'fixed network and subnet': ({'fixed_network': 'private',
                                  'fixed_subnet': 'private-subnet'}, {},
                                 [], None),
    'three masters, calico': ({'master_count': 3,
                               'master_lb_enabled': True},
                              {'network_driver': 'calico'}, [],
                              ('kubernetes',)),
    'three managers behind a load balancer': ({'master_count': 3,
                                              'master_lb_enabled': True},
                                             {}, [], ('swarm-mode',)),
    'a nodegroup with labels and taints': ({}, {}, [NODEGROUP], None),
    'three masters, cloud provider and Cinder CSI, a nodegroup': (
        {'master_count': 3, 'master_lb_enabled': True,
         'labels': {'cloud_provider_enabled': 'true',
                    'cinder_csi_enabled': 'true'}}, {}, [NODEGROUP],
        ('kubernetes',)),
}


def _variants():
    out = []
    for name, target in sorted(conftest.declared_entry_points().items()):
        for provided in getattr(conftest.load(target), 'provides', []):
            for shape, (_c, _t, _n, coes) in sorted(SHAPES.items()):
                if coes is None or provided['coe'] in coes:
                    out.append(pytest.param(
                        name, provided, shape, id='%s-%s-%s-%s' % (
                            name, provided['server_type'], provided['os'],
                            shape)))
    return out


def _inputs(name, provided, shape):
    """(driver, cluster, template, nodegroups) of one variant."""
    cluster_fields, template_fields, nodegroups, _coes = SHAPES[shape]
    driver_cls = conftest.load(conftest.declared_entry_points()[name])
    flavor = FLAVORS[provided['server_type']]
    cluster = dict({'uuid': UUID, 'name': 'k1', 'node_count': 2,
                    'master_count': 1, 'keypair': 'default', 'labels': {}},
                   **(BARE_METAL if provided['server_type'] == 'bm' else {}))
    cluster.update(cluster_fields)
    template = dict({'coe': provided['coe'],
                     'image_id': IMAGES[provided['os']],
                     'server_type': provided['server_type'],
                     'external_network_id': 'public', 'flavor_id': flavor,
                     'master_flavor_id': flavor, 'labels': {}},
                    **template_fields)
    groups = [dict(g, flavor_id=flavor, image_id=template['image_id'])
              for g in nodegroups]
    return driver_cls(), cluster, template, groups


@pytest.mark.parametrize('name,provided,shape', _variants())
def test_rendered_stacks_pass_every_checker(name, provided, shape):
    assert checks.check_rendered(*_inputs(name, provided, shape)) == []


KUBE_CONTROL_PLANE = ('/etc/kubernetes/pki/ca.key',
                      '/etc/kubernetes/pki/etcd/ca.key',
                      '/etc/kubernetes/pki/front-proxy-ca.key',
                      '/etc/kubernetes/pki/sa.key',
                      '/etc/kubernetes/pki/sa.pub')
CLOUD_CONFIG = '/etc/kubernetes/cloud-config'


@pytest.mark.parametrize('name,provided,shape', _variants())
def test_each_secret_is_on_exactly_the_nodes_that_need_it(name, provided,
                                                         shape):
    """What every server of the variant booted with, as the simulated
    cloud's Nova has it: private keys and the cloud credential only on
    masters (the credential only with the cloud provider or the CSI), the
    control plane's shared files on every master, the CA bundle on every
    Kubernetes node."""
    driver, cluster, template, groups = _inputs(name, provided, shape)
    cloud, rendered, problems = checks.render(driver, cluster, template,
                                              groups)
    assert problems == []
    labels = cluster['labels']
    wants_credential = bool(labels.get('cloud_provider_enabled') or
                            labels.get('cinder_csi_enabled'))
    kube = provided['coe'] == 'kubernetes'
    roles = collections.Counter()
    for server in cloud.data['servers'].values():
        files = heat.files_of(server['user_data'])
        master = '-master-' in server['name'] or 'primary' in server[
            'name'] or '-manager' in server['name']
        roles[master] += 1
        private = [path for path, (_mode, text) in files.items()
                   if 'PRIVATE KEY' in text]
        credential = [path for path, (_mode, text) in files.items()
                      if checks.CREDENTIAL['password'] in text]
        if not master:
            assert private == [] and credential == [], server['name']
            continue
        assert private, server['name']
        for path in private:
            assert files[path][0] == 0o600, path
        if kube:
            for path in KUBE_CONTROL_PLANE:
                assert files[path][1].startswith('-----BEGIN'), path
            assert credential == ([CLOUD_CONFIG] if wants_credential
                                  else []), server['name']
            if wants_credential:
                assert files[CLOUD_CONFIG][0] == 0o600
        if kube:
            assert files['/etc/caas/ca-bundle.crt'][1].startswith(
                '-----BEGIN CERTIFICATE')
    for server in cloud.data['servers'].values():
        if kube:
            files = heat.files_of(server['user_data'])
            assert files['/etc/caas/ca-bundle.crt'][1].startswith(
                '-----BEGIN CERTIFICATE'), server['name']
    assert roles[True] == cluster['master_count']
    assert roles[False] >= cluster['node_count']
