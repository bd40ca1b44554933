"""Docker Swarm mode on Nova servers (vm) or Ironic (bm).

One driver class per OS variant, all over the same template set: the
variant sets ``os_distro`` and the user-data format (cloud-config for
Ubuntu and Debian, Ignition for Fedora CoreOS); the server type is read from the
cluster template. How the TLS and the join tokens get to the nodes:

* The conductor hands the cluster CA certificate and private key to the
  stack once, at create (:meth:`SwarmDriver.ca_key_parameters`, hidden
  parameters). Only the managers' user data carries them: each manager
  issues its own Docker server certificate at boot, naming its addresses
  (they exist only once Heat made the ports), and deletes the key file.
  Workers expose no Docker API and never get the CA or its key.
* The first manager runs ``docker swarm init`` and signals its
  ``OS::Heat::WaitConditionHandle`` with the join tokens as the data; the
  other managers and the workers are created after that wait condition
  and get the tokens from its ``data`` attribute in their user data.
"""

import base64
import json


from caas import pki
from caas.common import exceptions
from caas.drivers import base
from caas.drivers import heat
from caas.drivers.swarm import template as swarm_template

DEFAULT_FLAVOR = 'm1.small'
DOCKER_API_PORT = 2376
NETWORK_DRIVERS = ('docker',)
STORAGE_DRIVERS = ('overlay2',)

_CIDR = r'^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$'

LABELS_SCHEMA = {
    'type': 'object',
    'description': 'Labels of the caas Docker Swarm-mode drivers. Unknown '
                   'labels are stored and ignored, or refused with '
                   '[drivers] strict_labels.',
    'additionalProperties': False,
    'properties': {
        'docker_volume_type': {
            'type': 'string', 'minLength': 1,
            'description': 'Cinder volume type of the Docker volume '
                           '(docker_volume_size); the cloud\'s default '
                           'type when unset. Not used on bare metal.'},
        'availability_zone': {
            'type': 'string', 'minLength': 1,
            'description': 'Availability zone of the servers (and their '
                           'volumes).'},
        'fixed_subnet_cidr': {
            'type': 'string', 'pattern': _CIDR, 'default': '10.0.0.0/24',
            'description': 'CIDR of the private subnet caas creates.'},
        'master_lb_floating_ip_enabled': {
            'type': 'boolean',
            'description': 'Give the Docker API load balancer a floating '
                           'IP; defaults to the floating_ip_enabled field.'},
        'auto_healing_enabled': {
            'type': 'boolean', 'default': False,
            'description': 'Replace nodes that stay unhealthy (the '
                           'conductor watching the cluster asks the '
                           'managers\' Docker API for the node list).'},
        'rexray_preempt': {
            'type': 'boolean', 'enum': [False],
            'description': 'REX-Ray volume preemption. Not supported by this '
                           'driver: only false is accepted.'},
    },
}

# Outputs of the cluster's stack a nodegroup's stack is built from.
NODEGROUP_OUTPUTS = ('cluster_network', 'cluster_secgroup',
                     'primary_private_ip', 'swarm_join')


_first = heat.first
_group = heat.group
_b64 = heat.b64


def _flag(*values, default):
    return heat.flag(*values, default=default)


def engine_labels(nodegroup):
    """Base64 of the JSON list of Docker engine labels of a nodegroup's
    nodes (its node_labels and its name), for placement constraints
    (``node.labels`` need a manager; ``engine.labels`` a node sets
    itself). Base64 keeps it intact in either user-data format."""
    labels = dict(nodegroup.get('node_labels') or {})
    if nodegroup.get('name'):
        labels.setdefault('caas.nodegroup', nodegroup['name'])
    text = json.dumps(['%s=%s' % kv for kv in sorted(labels.items())])
    return base64.b64encode(text.encode()).decode()


class SwarmDriver(base.Driver):
    """Docker Swarm mode; subclasses only name their OS variant."""

    os_distro = None
    labels_schema = LABELS_SCHEMA
    network_drivers = NETWORK_DRIVERS
    # What a node runs is the image's Docker Engine: an upgrade is a new
    # image, replaced in batches (no version label to choose).
    version_labels = ()

    def coe_version(self, labels):
        # Known only once the nodes report it (cluster_values_from_outputs).
        return None

    # options ------------------------------------------------------------
    def _options(self, cluster, template, labels, nodegroups=()):
        server_type = template.get('server_type') or 'vm'
        if server_type not in ('vm', 'bm'):
            raise exceptions.InvalidParameterValue(
                err='Driver %s cannot build server_type %s.'
                    % (self.name, server_type))
        if _flag(template.get('tls_disabled'), default=False):
            raise exceptions.InvalidParameterValue(
                err='Driver %s serves the Docker API with TLS only: a '
                    'cluster template with tls_disabled cannot be used '
                    '(an unauthenticated Docker API is root on every '
                    'manager).' % self.name)
        storage = _first(template.get('docker_storage_driver'),
                         default='overlay2')
        if storage not in STORAGE_DRIVERS:
            raise exceptions.InvalidParameterValue(
                err='docker_storage_driver %s is not supported by driver %s '
                    '(current Docker Engines have only %s).' % (
                        storage, self.name, ', '.join(STORAGE_DRIVERS)))
        network_driver = template.get('network_driver') or 'docker'
        if network_driver not in NETWORK_DRIVERS:
            raise exceptions.InvalidParameterValue(
                err='network_driver %s is not supported by driver %s; use '
                    'one of %s.' % (network_driver, self.name,
                                    ', '.join(NETWORK_DRIVERS)))
        network = _first(cluster.get('fixed_network'),
                         template.get('fixed_network'))
        subnet = _first(cluster.get('fixed_subnet'),
                        template.get('fixed_subnet'))
        bare_metal = server_type == 'bm'
        if bare_metal and not network:
            raise exceptions.InvalidParameterValue(
                err='Bare metal servers boot on the network Ironic '
                    'provisions them on: the cluster template of driver %s '
                    'with server_type bm needs fixed_network.' % self.name)
        fip = _flag(cluster.get('floating_ip_enabled'),
                    template.get('floating_ip_enabled'), default=True)
        lb = _flag(cluster.get('master_lb_enabled'),
                   template.get('master_lb_enabled'), default=False)
        if lb and network and not subnet:
            raise exceptions.InvalidParameterValue(
                err='The Docker API load balancer needs a subnet: set '
                    'fixed_subnet with fixed_network.')
        volume_size = int(_first(
            _group(nodegroups, 'worker').get('docker_volume_size'),
            cluster.get('docker_volume_size'),
            template.get('docker_volume_size'), default=0))
        return {
            'server_type': server_type,
            'fixed_network_id': network, 'fixed_subnet_id': subnet,
            'storage_driver': storage,
            'volume_size': 0 if bare_metal else volume_size,
            'keypair_name': _first(cluster.get('keypair'),
                                   template.get('keypair_id')),
            'build': {
                'fixed_network': bool(network),
                'subnet': bool(subnet) or not network,
                'lb': lb,
                'api_floating_ip': lb and labels.get(
                    'master_lb_floating_ip_enabled', fip),
                'node_floating_ip': fip,
                'keypair': bool(_first(cluster.get('keypair'),
                                       template.get('keypair_id'))),
                'availability_zone': bool(labels.get('availability_zone')),
                'docker_volume_type': bool(labels.get('docker_volume_type')),
                'volume': not bare_metal and volume_size > 0,
                'server_groups': not bare_metal,
            },
        }

    # stack ----------------------------------------------------------------
    def stack_definition(self, cluster, template, nodegroups):
        labels = self.effective_labels(cluster, template)
        opts = self._options(cluster, template, labels, nodegroups)
        build = opts['build']
        masters, workers, image, minion_image = heat.node_groups(
            nodegroups, template)
        hot = swarm_template.cluster_template(build)
        files = {name: swarm_template.node_file(role, self.os_distro, build)
                 for name, role in (('swarmmanager.yaml', 'manager'),
                                    ('swarmworker.yaml', 'worker'))}
        timeout = int(_first(cluster.get('create_timeout'), default=60))
        params = {
            'cluster_uuid': cluster['uuid'],
            'os_distro': self.os_distro,
            **heat.flavors(cluster, template, masters, workers,
                           DEFAULT_FLAVOR),
            'server_image': image,
            'minion_image': minion_image,
            'ssh_key_name': opts['keypair_name'],
            'external_network': _first(template.get('external_network_id'),
                                       default='public'),
            'fixed_network': opts['fixed_network_id'],
            'fixed_subnet': opts['fixed_subnet_id'],
            'fixed_subnet_cidr': labels['fixed_subnet_cidr'],
            'dns_nameserver': _first(template.get('dns_nameserver'),
                                     default='8.8.8.8'),
            'availability_zone': labels.get('availability_zone'),
            'docker_api_port': DOCKER_API_PORT,
            'docker_storage_driver': opts['storage_driver'],
            'docker_volume_size': opts['volume_size'],
            'docker_volume_type': labels.get('docker_volume_type'),
            # A node has the whole create to join; Heat counts seconds.
            'wait_condition_timeout': timeout * 60,
            'engine_labels': engine_labels(workers),
            'http_proxy': template.get('http_proxy') or '',
            'https_proxy': template.get('https_proxy') or '',
            'no_proxy': template.get('no_proxy') or '',
        }
        params.update(self.update_parameters(cluster, template, nodegroups))
        # Only what this cluster's template declares: Heat rejects the rest.
        params = {k: v for k, v in params.items()
                  if k in hot['parameters'] and v is not None}
        return {'template': hot, 'files': files,
                'parameters': params}

    def update_parameters(self, cluster, template, nodegroups, remove=()):
        masters, workers = base.node_counts(cluster, nodegroups)
        return {'number_of_secondary_masters': max(masters - 1, 0),
                'number_of_minions': workers,
                'minions_to_remove': ','.join(remove)}

    # TLS ------------------------------------------------------------------
    def ca_key_parameters(self, cas):
        """The cluster CA and its private key for the managers, at create
        only (hidden in the stack; see the module docstring).

        :param cas: ``{ca_type: (cert_pem, key_pem)}``.
        """
        if pki.DEFAULT_CA_TYPE not in (cas or {}):
            raise exceptions.CaasException(
                message='Cluster has no %s CA: the Swarm managers cannot '
                        'issue their Docker API certificates.'
                        % pki.DEFAULT_CA_TYPE)
        cert_pem, key_pem = cas[pki.DEFAULT_CA_TYPE]
        return {'ca_cert_b64': _b64(cert_pem), 'ca_key_b64': _b64(key_pem)}

    # A CA rotation is not handed to running swarm nodes (base: {}): the
    # managers' user data carries the CA, and replacing them all with a
    # new one would split the swarm. See the release note.

    # nodegroups users add --------------------------------------------------
    def nodegroup_stack_definition(self, cluster, template, nodegroup,
                                   cluster_outputs):
        cluster_outputs = cluster_outputs or {}
        # The tokens are whatever the first manager signalled: present even
        # when empty (a simulated cloud signals no data).
        missing = [k for k in NODEGROUP_OUTPUTS
                   if cluster_outputs.get(k) is None or
                   (k != 'swarm_join' and not cluster_outputs[k])]
        if missing:
            raise exceptions.InvalidParameterValue(
                err="The cluster's Heat stack has no %s output, so a "
                    'nodegroup cannot join its swarm.' % ', '.join(missing))
        group = dict(nodegroup, role='worker')
        full = self.stack_definition(cluster, template, [group])
        labels = self.effective_labels(cluster, template)
        build = self._options(cluster, template, labels, [group])['build']
        hot = swarm_template.nodegroup_template(build)
        params = dict(full['parameters'])
        params['server_image'] = params.get('minion_image') or \
            params.get('server_image')
        params.update(
            network=cluster_outputs['cluster_network'],
            subnet=cluster_outputs.get('cluster_subnet') or '',
            security_group=cluster_outputs['cluster_secgroup'],
            primary_ip=cluster_outputs['primary_private_ip'],
            swarm_join=cluster_outputs['swarm_join'] or '')
        params.update(self.nodegroup_update_parameters(
            cluster, template, nodegroup))
        params = {k: v for k, v in params.items() if k in hot['parameters']}
        return {'template': hot,
                'files': {'swarmworker.yaml':
                          full['files']['swarmworker.yaml']},
                'parameters': params}

    def nodegroup_update_parameters(self, cluster, template, nodegroup,
                                    remove=()):
        return {'number_of_minions': int(nodegroup.get('node_count') or 0),
                'minions_to_remove': ','.join(remove),
                'engine_labels': engine_labels(nodegroup)}

    def worker_members(self, outputs):
        members = outputs.get('swarm_node_servers') or {}
        return {server: name for name, server in members.items() if server}

    # outputs --------------------------------------------------------------
    def nodegroup_addresses(self, outputs):
        masters = base._as_list(outputs.get('swarm_primary_master')) + \
            base._as_list(outputs.get('swarm_secondary_masters'))
        return {'master': masters,
                'worker': base._as_list(outputs.get('swarm_nodes'))}

    def expected_servers(self, parameters):
        # The first manager is a resource of its own.
        return 1 + sum(int(parameters[k]) for k in (
            'number_of_secondary_masters', 'number_of_minions'))

    def cluster_values_from_outputs(self, outputs):
        outputs = outputs or {}
        addresses = self.nodegroup_addresses(outputs)
        api = outputs.get('api_address') or None
        if api and '://' not in api:
            api = 'tcp://%s:%d' % (api, DOCKER_API_PORT)
        if api and api.startswith('tcp://:'):
            api = None    # no address yet
        version = docker_version(outputs.get('docker_version'))
        return {'api_address': api,
                'master_addresses': addresses['master'],
                'node_addresses': addresses['worker'],
                'coe_version': version,
                'container_version': version}


def docker_version(data):
    """The Docker Engine version the first manager signalled: its wait
    condition's data, ``{"<signal id>": "24.0.7"}`` as Heat reports it
    (a list of one from a group); None when it said nothing usable."""
    if isinstance(data, list):
        data = data[0] if data else None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return None
    if not isinstance(data, dict):
        return None
    for value in data.values():
        if isinstance(value, str) and value and \
                all(c.isalnum() or c in '.-+~' for c in value):
            return value
    return None


# Debian (cloud-init, Debian's docker.io): what the simulated cloud's real
# nodes run (image debian-bookworm-docker), and any Debian cloud image.
DEBIAN = ('Debian', 'debian', 'debian')
_VARIANTS = heat.os_variants(SwarmDriver, 'swarm', 'swarm-mode', __name__,
                             extra=(DEBIAN,))
UbuntuSwarmDriver = _VARIANTS['UbuntuSwarmDriver']
FedoraCoreOSSwarmDriver = _VARIANTS['FedoraCoreOSSwarmDriver']
DebianSwarmDriver = _VARIANTS['DebianSwarmDriver']
