"""A driver whose stack creates no servers.

Selected only explicitly (template ``driver: fake``): it lets flows, the
API and the simulated cloud be exercised in milliseconds.  Its outputs use
the same keys as the Kubernetes driver, so the base class reads them.
"""

import copy

from caas.drivers import base


def _group(count_param, prefix):
    return {'type': 'OS::Heat::ResourceGroup',
            'properties': {
                'count': {'get_param': count_param},
                'resource_def': {
                    'type': 'OS::Heat::Value',
                    'properties': {'value': '%s.%%index%%' % prefix}}}}


TEMPLATE = {
    'heat_template_version': '2021-04-16',
    'description': 'caas fake cluster: no servers, addresses made up.',
    'parameters': {
        'number_of_masters': {'type': 'number', 'default': 1},
        'number_of_minions': {'type': 'number', 'default': 1},
        # The cloud credential, as a real driver's nodes would get it.
        'trustee_user_id': {'type': 'string', 'default': ''},
        'trustee_password': {'type': 'string', 'default': '',
                             'hidden': True},
        'trust_id': {'type': 'string', 'default': ''},
    },
    'resources': {
        'masters': _group('number_of_masters', '127.10.0'),
        'minions': _group('number_of_minions', '127.10.1'),
    },
    'outputs': {
        'api_address': {'value': {'str_replace': {
            'template': 'https://HOST:6443',
            'params': {'HOST': {'get_attr': ['masters', 'resource.0.value']}},
        }}},
        'kube_masters': {'value': {'get_attr': ['masters', 'value']}},
        'kube_minions': {'value': {'get_attr': ['minions', 'value']}},
        'kube_version': {'value': 'v0.0.0-fake'},
    },
}


NODEGROUP_TEMPLATE = {
    'heat_template_version': '2021-04-16',
    'description': 'caas fake nodegroup: no servers, addresses made up.',
    'parameters': {
        'number_of_minions': {'type': 'number', 'default': 1},
        'address_prefix': {'type': 'string'},
    },
    'resources': {
        'minions': {'type': 'OS::Heat::ResourceGroup',
                    'properties': {
                        'count': {'get_param': 'number_of_minions'},
                        'resource_def': {
                            'type': 'OS::Heat::Value',
                            'properties': {'value': {'str_replace': {
                                'template': 'PREFIX.%index%',
                                'params': {'PREFIX': {
                                    'get_param': 'address_prefix'}}}}}}}},
    },
    'outputs': {
        'kube_minions': {'value': {'get_attr': ['minions', 'value']}},
    },
}


class FakeDriver(base.Driver):
    name = 'fake'
    provides = []
    # Fake clusters are for tests: any string label is accepted as is.
    labels_schema = {'type': 'object',
                     'additionalProperties': {'type': 'string'}}

    def coe_version(self, labels):
        return 'v0.0.0-fake'

    def stack_definition(self, cluster, template, nodegroups):
        self.effective_labels(cluster, template)
        return {'template': copy.deepcopy(TEMPLATE), 'files': {},
                'parameters': self.update_parameters(cluster, template,
                                                     nodegroups)}

    def update_parameters(self, cluster, template, nodegroups, remove=()):
        masters, workers = base.node_counts(cluster, nodegroups)
        return {'number_of_masters': masters, 'number_of_minions': workers}

    def nodegroup_stack_definition(self, cluster, template, nodegroup,
                                   cluster_outputs):
        # A loopback /24 per nodegroup, from its UUID: addresses differ
        # between groups, so tests see whose nodes are whose.
        octet = int(nodegroup['uuid'].replace('-', '')[:2], 16)
        params = {'address_prefix': '127.11.%d' % octet}
        params.update(self.nodegroup_update_parameters(cluster, template,
                                                       nodegroup))
        return {'template': copy.deepcopy(NODEGROUP_TEMPLATE), 'files': {},
                'parameters': params}
