"""The labels of the Kubernetes drivers: one JSON Schema entry per label.

Each entry has a ``type``, a ``description`` (the help the user guide's
label page prints) and, where the driver has one, a ``default``. The API
type-checks labels against it (a 400 naming the label) when a template or
a cluster is created; the driver builds stacks from the typed values.
"""

DEFAULT_KUBE_TAG = 'v1.29.6'
DEFAULT_CONTAINERD_TAG = '1.7.20'

_CIDR = r'^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$'
_TAG = r'^v?[0-9]+\.[0-9]+\.[0-9]+$'


def unsupported_feature(description):
    # Magnum clients (Terraform, Horizon) often send these switches as
    # "false"; accept that value and refuse "true" with a clear message.
    return {'type': 'boolean', 'enum': [False], 'default': False,
            'description': description + ' Not supported by this driver: '
                           'only false is accepted.'}


def _flag(description):
    return {'type': 'boolean', 'default': False, 'description': description}


def _tag(default, description):
    return {'type': 'string', 'pattern': _TAG, 'default': default,
            'description': description}


SCHEMA = {
    'type': 'object',
    'description': 'Labels of the caas Kubernetes drivers. Unknown labels '
                   'are stored and ignored, or refused with [drivers] '
                   'strict_labels so that a typo never goes unnoticed.',
    'additionalProperties': False,
    'properties': {
        'kube_tag': _tag(DEFAULT_KUBE_TAG,
                         'Kubernetes version kubeadm installs (the '
                         "cluster's coe_version)."),
        'container_runtime': {
            'type': 'string', 'enum': ['containerd'],
            'default': 'containerd',
            'description': 'Container runtime of every node.'},
        'containerd_tag': {
            'type': 'string', 'pattern': r'^[0-9]+\.[0-9]+\.[0-9]+$',
            'default': DEFAULT_CONTAINERD_TAG,
            'description': 'containerd release every node installs (the '
                           "cluster's container_version)."},
        'master_lb_floating_ip_enabled': {
            'type': 'boolean',
            'description': "Give the API's address (load balancer or "
                           'virtual IP) a floating IP; defaults to the '
                           'floating_ip_enabled field.'},
        'flannel_network_cidr': {
            'type': 'string', 'pattern': _CIDR, 'default': '10.100.0.0/16',
            'description': 'Pod network when network_driver is flannel.'},
        'flannel_tag': {
            'type': 'string', 'pattern': _TAG, 'default': 'v0.25.5',
            'description': 'flannel release (network_driver flannel).'},
        'calico_ipv4pool': {
            'type': 'string', 'pattern': _CIDR, 'default': '10.100.0.0/16',
            'description': 'Pod network when network_driver is calico.'},
        'calico_tag': _tag('v3.27.3',
                           'Calico release (network_driver calico).'),
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
        'etcd_volume_size': {
            'type': 'integer', 'minimum': 0, 'default': 0,
            'description': 'GiB of a Cinder volume for etcd on each master '
                           '(0: none). Virtual machines only.'},
        'docker_volume_type': {
            'type': 'string', 'default': '',
            'description': 'Cinder volume type of the containerd and etcd '
                           "volumes (empty: the cloud's default)."},
        'provisioning_network': {
            'type': 'string', 'default': '',
            'description': 'Bare metal (server_type bm): the network the '
                           'servers are deployed on, used as the '
                           "cluster's network when fixed_network is not "
                           'given.'},
        'node_join_timeout': {
            'type': 'integer', 'minimum': 60, 'default': 3600,
            'description': 'Seconds each node has to join (its kubelet '
                           'running) before the stack fails.'},
        'cloud_provider_enabled': _flag(
            'Run the OpenStack cloud controller manager (Services of type '
            "LoadBalancer through Octavia), with the cluster's trustee "
            "credential: written by the masters' user data (no Heat agent "
            'needed) into the kube-system/cloud-config Secret. A '
            'credential rotation reaches masters created after it, no '
            'running node.'),
        'cloud_provider_tag': _tag('v1.29.0',
                                   'cloud-provider-openstack release.'),
        'cinder_csi_enabled': _flag(
            'Run the Cinder CSI plugin (persistent volumes on Cinder), '
            "with the cluster's trustee credential (the kube-system/"
            'cloud-config Secret, as for cloud_provider_enabled).'),
        'cinder_csi_plugin_tag': _tag('v1.29.0',
                                      'Cinder CSI plugin release.'),
        'auto_healing_enabled': _flag(
            'Replace nodes that stay unhealthy (the conductor watching '
            'the cluster does it).'),
        'kube_dashboard_enabled': unsupported_feature(
            'Deploy the Kubernetes dashboard.'),
        'monitoring_enabled': unsupported_feature('Deploy Prometheus.'),
        'auto_scaling_enabled': unsupported_feature(
            'Run the cluster autoscaler.'),
        'keystone_auth_enabled': unsupported_feature(
            'Authenticate Kubernetes users with Keystone.'),
    },
}

PODS_CIDR_LABEL = {'flannel': 'flannel_network_cidr',
                   'calico': 'calico_ipv4pool'}
