"""Bodies of ``POST /v1/clusters``, the cluster PATCH and ``resize``.

``node_count`` may be 0 from microversion 1.10 on (empty worker
nodegroups); :func:`create` and :func:`resize` take the minimum.
"""

import copy

_ref = {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255}

# Upper bounds keep every number inside what the database stores and what
# a cloud could build; they are far above any real cluster.
MAX_NODES = 10000
MAX_MASTERS = 99
MAX_CREATE_TIMEOUT = 10080      # minutes: one week
MAX_VOLUME_GB = 65536

_CREATE = {
    'type': 'object',
    'properties': {
        'name': {'type': ['string', 'null'], 'minLength': 1,
                 'maxLength': 242,
                 'pattern': '^[a-zA-Z][a-zA-Z0-9_.-]*$'},
        'cluster_template_id': {'type': 'string', 'minLength': 1,
                                'maxLength': 255},
        'keypair': _ref,
        'master_count': {'type': 'integer', 'minimum': 1,
                         'maximum': MAX_MASTERS},
        'node_count': {'type': 'integer', 'minimum': 1,
                       'maximum': MAX_NODES},
        'create_timeout': {'type': ['integer', 'null'], 'minimum': 0,
                           'maximum': MAX_CREATE_TIMEOUT},
        'discovery_url': {'type': ['string', 'null'], 'maxLength': 255},
        'labels': {'type': ['object', 'null'],
                   'additionalProperties': {'type': 'string'}},
        'master_flavor_id': _ref,
        'flavor_id': _ref,
        'docker_volume_size': {'type': ['integer', 'null'], 'minimum': 1,
                               'maximum': MAX_VOLUME_GB},
        'fixed_network': _ref,
        'fixed_subnet': _ref,
        'floating_ip_enabled': {'type': ['boolean', 'null']},
        'master_lb_enabled': {'type': ['boolean', 'null']},
        # With labels: the template's labels, overridden by these (else
        # these replace the template's, as in Magnum).
        'merge_labels': {'type': ['boolean', 'null']},
    },
    'required': ['cluster_template_id'],
    'additionalProperties': False,
}

_RESIZE = {
    'type': 'object',
    'properties': {
        'node_count': {'type': 'integer', 'minimum': 1,
                       'maximum': MAX_NODES},
        'nodes_to_remove': {'type': 'array', 'items': {'type': 'string'}},
        'nodegroup': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    },
    'required': ['node_count'],
    'additionalProperties': False,
}

# POST /v1/clusters/{ident}/actions/upgrade (microversion 1.8).
UPGRADE = {
    'type': 'object',
    'properties': {
        'cluster_template': {'type': 'string', 'minLength': 1,
                             'maxLength': 255},
        'max_batch_size': {'type': 'integer', 'minimum': 1,
                           'maximum': MAX_NODES, 'default': 1},
        'nodegroup': {'type': ['string', 'null'], 'minLength': 1,
                      'maxLength': 255},
    },
    'required': ['cluster_template'],
    'additionalProperties': False,
}

# What a cluster PATCH may change (Magnum's): node_count starts an update;
# the health fields (external auto-healers report them) are written as
# they are, without an operation.
UPDATABLE = ('node_count', 'health_status', 'health_status_reason')
HEALTH_FIELDS = ('health_status', 'health_status_reason')
HEALTH_STATUSES = ('HEALTHY', 'UNHEALTHY', 'UNKNOWN')


def _with_min_nodes(schema, minimum):
    schema = copy.deepcopy(schema)
    schema['properties']['node_count']['minimum'] = minimum
    return schema


def create(min_nodes=1):
    return _with_min_nodes(_CREATE, min_nodes)


def resize(min_nodes=1):
    return _with_min_nodes(_RESIZE, min_nodes)


def update(min_nodes=1):
    """A cluster after its PATCH, restricted to what may change."""
    return {
        'type': 'object',
        'properties': {
            'node_count': {'type': 'integer', 'minimum': min_nodes,
                           'maximum': MAX_NODES},
            'health_status': {'type': ['string', 'null'],
                              'enum': list(HEALTH_STATUSES) + [None]},
            'health_status_reason': {
                'type': ['object', 'null'], 'maxProperties': 100,
                'additionalProperties': {'type': 'string',
                                         'maxLength': 1024}},
        },
        'required': ['node_count'],
    }
