"""Every declared driver's stacks, checked by the real tools.

Data-driven: each driver setup.cfg declares, for each (server type, OS,
COE) it provides, in a few cluster shapes, rendered on the simulated cloud
and given to tests/checks.py's ``check_rendered`` (HOT lint, Heat's
refusals, CREATE_COMPLETE, shellcheck, cloud-init schema, Ignition schema).
A driver added to setup.cfg is checked here without another line.
"""

import pytest

from tests import checks

from . import conftest

IMAGES = {'ubuntu': 'ubuntu-jammy', 'fedora-coreos': 'fedora-coreos'}
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


@pytest.mark.parametrize('name,provided,shape', _variants())
def test_rendered_stacks_pass_every_checker(name, provided, shape):
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
    assert checks.check_rendered(driver_cls(), cluster, template,
                                 groups) == []
