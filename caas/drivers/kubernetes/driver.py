"""Kubernetes on Nova servers, bootstrapped with kubeadm.

One driver class per OS variant, both over the same template set: the
variant only sets ``os_distro`` (a stack parameter read by the bootstrap
script) and the flavour of the user data (``template.user_data``).
"""

import base64
import json

import yaml

from caas.common import coercion
from caas.common import exceptions
from caas.drivers import base
from caas.drivers.kubernetes import template as k8s_template

DEFAULT_KUBE_TAG = 'v1.29.6'
DEFAULT_FLAVOR = 'm1.small'
NETWORK_DRIVERS = ('flannel', 'calico')

_CIDR = r'^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$'


def _unsupported_feature(description):
    # Magnum clients (Terraform, Horizon) often send these switches as
    # "false"; accept that value and refuse "true" with a clear message.
    return {'type': 'boolean', 'enum': [False],
            'description': description + ' Not supported by this driver: '
                           'only false is accepted.'}


LABELS_SCHEMA = {
    'type': 'object',
    'description': 'Labels of the caas Kubernetes drivers. Unknown labels '
                   'are stored and ignored, or refused with [drivers] '
                   'strict_labels so that a typo never goes unnoticed.',
    'additionalProperties': False,
    'properties': {
        'kube_tag': {
            'type': 'string', 'pattern': r'^v?[0-9]+\.[0-9]+\.[0-9]+$',
            'default': DEFAULT_KUBE_TAG,
            'description': 'Kubernetes version installed by kubeadm.'},
        'container_runtime': {
            'type': 'string', 'enum': ['containerd'],
            'default': 'containerd',
            'description': 'Container runtime of every node.'},
        'master_lb_floating_ip_enabled': {
            'type': 'boolean',
            'description': 'Give the API virtual IP a floating IP; '
                           'defaults to the floating_ip_enabled field.'},
        'flannel_network_cidr': {
            'type': 'string', 'pattern': _CIDR,
            'description': 'Pod network when network_driver is flannel.'},
        'calico_ipv4pool': {
            'type': 'string', 'pattern': _CIDR,
            'description': 'Pod network when network_driver is calico.'},
        'service_cluster_ip_range': {
            'type': 'string', 'pattern': _CIDR, 'default': '10.254.0.0/16',
            'description': 'Range of service cluster IPs.'},
        'dns_cluster_domain': {
            'type': 'string', 'default': 'cluster.local',
            'pattern': r'^[a-z0-9]([a-z0-9-]*[a-z0-9])?'
                       r'(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$',
            'description': 'DNS domain of services.'},
        'fixed_subnet_cidr': {
            'type': 'string', 'pattern': _CIDR, 'default': '10.0.0.0/24',
            'description': 'CIDR of the private subnet caas creates.'},
        'kube_dashboard_enabled': _unsupported_feature(
            'Deploy the Kubernetes dashboard.'),
        'monitoring_enabled': _unsupported_feature('Deploy Prometheus.'),
        'auto_healing_enabled': _unsupported_feature(
            'Replace unhealthy nodes.'),
        'auto_scaling_enabled': _unsupported_feature(
            'Run the cluster autoscaler.'),
        'cloud_provider_enabled': _unsupported_feature(
            'Run the OpenStack cloud controller manager.'),
        'cinder_csi_enabled': _unsupported_feature('Run the Cinder CSI.'),
        'keystone_auth_enabled': _unsupported_feature(
            'Authenticate Kubernetes users with Keystone.'),
    },
}

DEFAULT_PODS_CIDR = '10.100.0.0/16'
PODS_CIDR_LABEL = {'flannel': 'flannel_network_cidr',
                   'calico': 'calico_ipv4pool'}


# Outputs of the cluster's stack a nodegroup's stack is built from.
NODEGROUP_OUTPUTS = ('cluster_network', 'cluster_secgroup', 'api_private_ip',
                     'bootstrap_token')


def node_registration(nodegroup):
    """Base64 of the JSON ``nodeRegistration`` of a kubeadm
    JoinConfiguration that gives the nodegroup's nodes their node_labels
    (kubelet ``--node-labels``) and node_taints (registered with them)."""
    registration = {}
    labels = nodegroup.get('node_labels') or {}
    if labels:
        registration['kubeletExtraArgs'] = {'node-labels': ','.join(
            '%s=%s' % (k, v) for k, v in sorted(labels.items()))}
    taints = nodegroup.get('node_taints') or []
    if taints:
        registration['taints'] = [
            dict({'key': t['key'], 'effect': t['effect']},
                 **({'value': t['value']} if t.get('value') else {}))
            for t in taints]
    text = json.dumps(registration, sort_keys=True)
    return base64.b64encode(text.encode()).decode()


def _first(*values, default=None):
    for value in values:
        if value not in (None, ''):
            return value
    return default


def _group(nodegroups, role):
    # The default groups first: they are what the cluster's stack builds.
    ordered = sorted(nodegroups or [],
                     key=lambda g: not g.get('is_default', True))
    for group in ordered:
        if (group.get('role') == 'master') == (role == 'master'):
            return group
    return {}


class KubernetesDriver(base.Driver):
    """kubeadm clusters; subclasses only name their OS variant."""

    os_distro = None
    labels_schema = LABELS_SCHEMA
    network_drivers = NETWORK_DRIVERS
    version_labels = ('kube_tag',)

    def coe_version(self, labels):
        tag = (labels or {}).get('kube_tag') or DEFAULT_KUBE_TAG
        return tag if tag.startswith('v') else 'v' + tag

    def _options(self, cluster, template, labels):
        fip = bool(coercion.from_string(_first(cluster.get('floating_ip_enabled'),
                                      template.get('floating_ip_enabled'),
                                      default=True), {'type': 'boolean'}))
        network = _first(cluster.get('fixed_network'),
                         template.get('fixed_network'))
        subnet = _first(cluster.get('fixed_subnet'),
                        template.get('fixed_subnet'))
        return {
            'fixed_network': network, 'fixed_subnet': subnet,
            'fixed': bool(network),
            'node_floating_ip': fip,
            'api_floating_ip': labels.get('master_lb_floating_ip_enabled',
                                          fip),
            'keypair': _first(cluster.get('keypair'),
                              template.get('keypair_id')),
        }

    def stack_definition(self, cluster, template, nodegroups):
        labels = self.effective_labels(cluster, template)
        opts = self._options(cluster, template, labels)
        network_driver = template.get('network_driver') or 'flannel'
        if network_driver not in NETWORK_DRIVERS:
            raise exceptions.InvalidParameterValue(
                err='network_driver %s is not supported by driver %s; use '
                    'one of %s.' % (network_driver, self.name,
                                    ', '.join(NETWORK_DRIVERS)))
        masters = _group(nodegroups, 'master')
        workers = _group(nodegroups, 'worker')
        image = _first(masters.get('image_id'), template.get('image_id'))
        minion_image = _first(workers.get('image_id'), image)
        if not image or not minion_image:
            raise exceptions.InvalidParameterValue(
                err='The cluster template has no image_id.')
        build = {'fixed_network': opts['fixed'],
                 'subnet': bool(opts['fixed_subnet']) or not opts['fixed'],
                 'api_floating_ip': opts['api_floating_ip'],
                 'node_floating_ip': opts['node_floating_ip'],
                 'keypair': bool(opts['keypair'])}
        hot = k8s_template.cluster_template(build)
        files = {name: k8s_template.node_template(role, self.os_distro,
                                                  build)
                 for name, role in (('kubemaster.yaml', 'master'),
                                    ('kubeminion.yaml', 'worker'))}
        pods = labels.get(PODS_CIDR_LABEL[network_driver],
                          DEFAULT_PODS_CIDR)
        params = {
            'cluster_uuid': cluster['uuid'],
            'os_distro': self.os_distro,
            'master_flavor': _first(
                _group(nodegroups, 'master').get('flavor_id'),
                cluster.get('master_flavor_id'),
                template.get('master_flavor_id'), default=DEFAULT_FLAVOR),
            'minion_flavor': _first(
                _group(nodegroups, 'worker').get('flavor_id'),
                cluster.get('flavor_id'), template.get('flavor_id'),
                default=DEFAULT_FLAVOR),
            'server_image': image,
            'minion_image': minion_image,
            'ssh_key_name': opts['keypair'],
            'external_network': _first(template.get('external_network_id'),
                                       default='public'),
            'fixed_network': opts['fixed_network'],
            'fixed_subnet': opts['fixed_subnet'],
            'fixed_subnet_cidr': labels['fixed_subnet_cidr'],
            'dns_nameserver': _first(template.get('dns_nameserver'),
                                     default='8.8.8.8'),
            # Each group's version from its own labels: an upgrade may
            # move one group before the other.
            'kube_tag': self.coe_version(self.group_labels(
                cluster, template, masters)),
            'minion_kube_tag': self.coe_version(self.group_labels(
                cluster, template, workers)),
            'apiserver_port': int(_first(template.get('apiserver_port'),
                                         default=6443)),
            'pods_network_cidr': pods,
            'service_cluster_ip_range': labels['service_cluster_ip_range'],
            'dns_cluster_domain': labels['dns_cluster_domain'],
            'network_driver': network_driver,
            'http_proxy': template.get('http_proxy') or '',
            'https_proxy': template.get('https_proxy') or '',
            'no_proxy': template.get('no_proxy') or '',
        }
        params.update(self.update_parameters(cluster, template, nodegroups))
        # Only what this cluster's template declares: Heat rejects the rest.
        params = {k: v for k, v in params.items() if k in hot['parameters']}
        return {'template': hot, 'files': {
            name: yaml.safe_dump(body, sort_keys=False)
            for name, body in files.items()}, 'parameters': params}

    def ca_parameters(self, ca_pems):
        return {'ca_bundle': ''.join(ca_pems)}

    def update_parameters(self, cluster, template, nodegroups, remove=()):
        masters, workers = base.node_counts(cluster, nodegroups)
        return {'number_of_masters': masters, 'number_of_minions': workers,
                'minions_to_remove': ','.join(remove)}

    # nodegroups users add --------------------------------------------------
    def nodegroup_stack_definition(self, cluster, template, nodegroup,
                                   cluster_outputs):
        """The nodegroup's own stack: workers that join the control plane
        of the cluster's stack, whose outputs say where it is."""
        missing = [k for k in NODEGROUP_OUTPUTS
                   if not (cluster_outputs or {}).get(k)]
        if missing:
            raise exceptions.InvalidParameterValue(
                err="The cluster's Heat stack has no %s output: it was "
                    'created before caas supported nodegroups, so a '
                    'nodegroup cannot join it.' % ', '.join(missing))
        full = self.stack_definition(cluster, template, [
            dict(nodegroup, role='worker')])
        opts = self._options(cluster, template,
                             self.effective_labels(cluster, template))
        build = {'fixed_network': opts['fixed'],
                 'subnet': bool(opts['fixed_subnet']) or not opts['fixed'],
                 'api_floating_ip': opts['api_floating_ip'],
                 'node_floating_ip': opts['node_floating_ip'],
                 'keypair': bool(opts['keypair'])}
        hot = k8s_template.nodegroup_template(build)
        params = dict(full['parameters'])
        # The stack has workers only: they boot the nodegroup's image and
        # run the nodegroup's version (its own labels: an upgrade of the
        # nodegroup moves it, not the control plane's).
        params['server_image'] = params.get('minion_image') or \
            params.get('server_image')
        params['kube_tag'] = params.get('minion_kube_tag') or \
            params.get('kube_tag')
        params.update(
            network=cluster_outputs['cluster_network'],
            subnet=cluster_outputs.get('cluster_subnet') or '',
            security_group=cluster_outputs['cluster_secgroup'],
            api_ip=cluster_outputs['api_private_ip'],
            api_public_ip=cluster_outputs.get('api_public_ip') or '',
            bootstrap_token=cluster_outputs['bootstrap_token'],
            node_registration=node_registration(nodegroup))
        params.update(self.nodegroup_update_parameters(
            cluster, template, nodegroup))
        params = {k: v for k, v in params.items() if k in hot['parameters']}
        return {'template': hot,
                'files': {'kubeminion.yaml': full['files']['kubeminion.yaml']},
                'parameters': params}

    def nodegroup_update_parameters(self, cluster, template, nodegroup,
                                    remove=()):
        # New node labels or taints change the workers' user data, so Heat
        # replaces them and they register again with the new ones.
        return {'number_of_minions': int(nodegroup.get('node_count') or 0),
                'minions_to_remove': ','.join(remove),
                'node_registration': node_registration(nodegroup)}


class UbuntuKubernetesDriver(KubernetesDriver):
    name = 'k8s_ubuntu_v1'
    os_distro = 'ubuntu'
    provides = [{'server_type': 'vm', 'os': 'ubuntu', 'coe': 'kubernetes'}]


class FedoraCoreOSKubernetesDriver(KubernetesDriver):
    name = 'k8s_fcos_v1'
    os_distro = 'fedora-coreos'
    provides = [{'server_type': 'vm', 'os': 'fedora-coreos',
                 'coe': 'kubernetes'}]
