from caas.drivers.fake import driver as fake

from . import hotcheck


def test_fake_definition_is_consistent():
    definition = fake.FakeDriver().stack_definition(
        {'uuid': 'u', 'node_count': 2, 'master_count': 1}, {}, [])
    assert hotcheck.check_definition(definition) == []
    assert definition['parameters'] == {'number_of_masters': 1,
                                        'number_of_minions': 2}


def test_fake_outputs_use_the_common_keys():
    values = fake.FakeDriver().cluster_values_from_outputs({
        'api_address': 'https://127.10.0.0:6443',
        'kube_masters': ['127.10.0.0'], 'kube_minions': ['127.10.1.0'],
        'kube_version': 'v0.0.0-fake'})
    assert values['master_addresses'] == ['127.10.0.0']
    assert values['node_addresses'] == ['127.10.1.0']
