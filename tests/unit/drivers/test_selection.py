import importlib.metadata

import pytest

import caas.drivers
from caas.common import exceptions
from caas.drivers import base
from caas.drivers.fake import driver as fake
from caas.drivers.kubernetes import driver as k8s

from . import conftest


def test_setup_cfg_entry_points_name_driver_classes():
    for name, target in conftest.declared_entry_points().items():
        cls = conftest.load(target)
        assert issubclass(cls, base.Driver)
        assert cls.name == name


def test_ubuntu_triple_selects_ubuntu_driver():
    driver = caas.drivers.find_driver('vm', 'ubuntu', 'kubernetes')
    assert isinstance(driver, k8s.UbuntuKubernetesDriver)


def test_fedora_coreos_triple_selects_fcos_driver():
    driver = caas.drivers.find_driver('vm', 'fedora-coreos', 'kubernetes')
    assert isinstance(driver, k8s.FedoraCoreOSKubernetesDriver)


def test_explicit_name_wins_over_triple():
    driver = caas.drivers.find_driver('vm', 'ubuntu', 'kubernetes',
                                      explicit='fake')
    assert isinstance(driver, fake.FakeDriver)


def test_fake_driver_is_never_selected_by_triple():
    assert caas.drivers.get_driver('fake').provides == []


def test_unknown_explicit_driver_is_a_400_naming_it():
    with pytest.raises(exceptions.DriverNotFound) as exc:
        caas.drivers.find_driver('vm', 'ubuntu', 'kubernetes',
                                 explicit='k8s_nope')
    assert exc.value.code == 400
    assert 'k8s_nope' in str(exc.value)


def test_swarm_mode_has_no_driver():
    with pytest.raises(exceptions.DriverNotFound) as exc:
        caas.drivers.find_driver('vm', 'fedora-atomic', 'swarm-mode')
    assert exc.value.code == 400
    assert 'swarm-mode' in str(exc.value)


def test_bare_metal_kubernetes_is_served_by_the_same_drivers():
    assert caas.drivers.find_driver('bm', 'ubuntu', 'kubernetes').name == \
        'k8s_ubuntu_v1'
    assert caas.drivers.find_driver('bm', 'fedora-coreos',
                                    'kubernetes').name == 'k8s_fcos_v1'
    with pytest.raises(exceptions.DriverNotFound):
        caas.drivers.find_driver('bm', 'centos', 'kubernetes')


def test_list_drivers_names_every_driver_with_what_it_provides():
    listed = dict(caas.drivers.list_drivers())
    assert set(listed) == {'fake', 'k8s_ubuntu_v1', 'k8s_fcos_v1',
                           'k8s_debian_v1', 'swarm_ubuntu_v1',
                           'swarm_fcos_v1', 'swarm_debian_v1'}
    assert listed['swarm_debian_v1'] == [
        {'server_type': 'vm', 'os': 'debian', 'coe': 'swarm-mode'},
        {'server_type': 'bm', 'os': 'debian', 'coe': 'swarm-mode'}]
    assert listed['k8s_ubuntu_v1'] == [
        {'server_type': 'vm', 'os': 'ubuntu', 'coe': 'kubernetes'},
        {'server_type': 'bm', 'os': 'ubuntu', 'coe': 'kubernetes'}]


def test_get_driver_returns_a_fresh_instance():
    assert caas.drivers.get_driver('fake') is not \
        caas.drivers.get_driver('fake')


def test_installed_entry_points_match_setup_cfg():
    installed = {ep.name: ep.value for ep in
                 importlib.metadata.entry_points(group='caas.drivers')}
    if not installed:
        pytest.skip('caas is not installed with its entry points '
                    '(pip install -e . has not run)')
    assert installed == conftest.declared_entry_points()
