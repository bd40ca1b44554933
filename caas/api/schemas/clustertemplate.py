"""Body of ``POST /v1/clustertemplates`` (and a template after a PATCH)."""

from caas.api.schemas import cluster

COES = ('kubernetes', 'swarm', 'swarm-mode', 'mesos', 'dcos')

_name = {'type': ['string', 'null'], 'maxLength': 255}
_ref = {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255}
_text = {'type': ['string', 'null'], 'maxLength': 255}
_bool = {'type': 'boolean'}

PROPERTIES = {
    'name': _name,
    'coe': {'type': 'string', 'enum': list(COES)},
    'image_id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    'flavor_id': _ref,
    'master_flavor_id': _ref,
    'keypair_id': _ref,
    'external_network_id': _ref,
    'fixed_network': _ref,
    'fixed_subnet': _ref,
    'network_driver': _text,
    'volume_driver': _text,
    'dns_nameserver': _text,
    'apiserver_port': {'type': ['integer', 'null'], 'minimum': 1024,
                       'maximum': 65535},
    'docker_volume_size': {'type': ['integer', 'null'], 'minimum': 1,
                           'maximum': cluster.MAX_VOLUME_GB},
    'docker_storage_driver': {'type': ['string', 'null'],
                              'enum': ['devicemapper', 'overlay', 'overlay2',
                                       None]},
    'http_proxy': _text,
    'https_proxy': _text,
    'no_proxy': _text,
    'registry_enabled': _bool,
    'labels': {'type': ['object', 'null'],
               'additionalProperties': {'type': 'string'}},
    'tls_disabled': _bool,
    'public': _bool,
    'server_type': {'type': 'string', 'enum': ['vm', 'bm']},
    'insecure_registry': _text,
    'master_lb_enabled': _bool,
    'floating_ip_enabled': _bool,
    'hidden': _bool,
    'tags': _text,
    'driver': _text,
    # Accepted at create (Magnum's clients send it); the image's os_distro
    # wins when the image is looked up. Read-only for a PATCH.
    'cluster_distro': _text,
}

CREATE = {
    'type': 'object',
    'properties': PROPERTIES,
    'required': ['coe', 'image_id'],
    'additionalProperties': False,
}

# Magnum's defaults; network_driver depends on the coe.
DEFAULTS = {
    'server_type': 'vm',
    'tls_disabled': False,
    'public': False,
    'registry_enabled': False,
    'master_lb_enabled': False,
    'floating_ip_enabled': True,
    'hidden': False,
    'docker_storage_driver': 'overlay2',
    'labels': {},
}

NETWORK_DRIVER_DEFAULTS = {
    'kubernetes': 'flannel',
    'swarm': 'docker',
    'swarm-mode': 'docker',
    'mesos': 'docker',
    'dcos': 'docker',
}

# Magnum's supported network and volume drivers per COE (its API
# validation lists; swarm-mode as swarm, dcos as mesos).
NETWORK_DRIVERS = {
    'kubernetes': ('flannel', 'calico', 'cilium'),
    'swarm': ('docker', 'flannel'),
    'swarm-mode': ('docker', 'flannel'),
    'mesos': ('docker',),
    'dcos': ('docker',),
}
VOLUME_DRIVERS = {
    'kubernetes': ('cinder',),
    'swarm': ('rexray',),
    'swarm-mode': ('rexray',),
    'mesos': ('rexray',),
    'dcos': ('rexray',),
}

# What may change on a template that clusters use (cosmetic fields only:
# anything that shapes a cluster must stay as the clusters were built).
UPDATABLE_IN_USE = ('name', 'public', 'hidden', 'tags')

# Set by caas, never by a PATCH.
READ_ONLY = ('uuid', 'id', 'project_id', 'user_id', 'created_at',
             'updated_at', 'cluster_distro', 'links')
