"""Kubernetes on Nova servers, bootstrapped with kubeadm.

One driver class per OS variant, both over the same template set: the
variant only sets ``os_distro`` (a stack parameter read by the bootstrap
script) and the flavour of the user data (``template.user_data``).

Everything a node needs is in its RAW user data (no Heat agent): the CA
bundle; on masters the control plane's shared keys (cluster, etcd and
front-proxy CAs, the service-account key pair) so that a master joins at
any time, and the cloud credential when the cloud provider or the Cinder
CSI runs. A credential or CA rotation updates the stack with
``user_data_update_policy`` IGNORE (:meth:`rotation_parameters`): no
server is replaced, the servers Heat creates later boot with the new
values, and each new master re-applies the cloud-config Secret.
"""

import base64
import hashlib
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from caas.common import exceptions
from caas.drivers import base
from caas.drivers import heat
from caas.drivers.kubernetes import labels as k8s_labels
from caas.drivers.kubernetes import template as k8s_template

DEFAULT_KUBE_TAG = k8s_labels.DEFAULT_KUBE_TAG
DEFAULT_FLAVOR = 'm1.small'
NETWORK_DRIVERS = ('flannel', 'calico')
LABELS_SCHEMA = k8s_labels.SCHEMA
PODS_CIDR_LABEL = k8s_labels.PODS_CIDR_LABEL
DEFAULT_PODS_CIDR = '10.100.0.0/16'

# Stack parameters of the CA material, by CA type: (certificate, key).
CA_PARAMETERS = {'kubernetes': ('kube_ca_cert', 'kube_ca_key'),
                 'etcd': ('etcd_ca_cert', 'etcd_ca_key'),
                 'front_proxy': ('front_proxy_ca_cert', 'front_proxy_ca_key')}


def ca_cert_hash(cert_pem):
    """``sha256:<hex>`` of the certificate's DER SubjectPublicKeyInfo: the
    hash ``kubeadm join --discovery-token-ca-cert-hash`` checks."""
    cert = x509.load_pem_x509_certificate(
        cert_pem.encode() if isinstance(cert_pem, str) else cert_pem)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    return 'sha256:' + hashlib.sha256(spki).hexdigest()


# The order of NIST P-256, whose scalars are the service-account keys.
_P256_ORDER = int('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2'
                  'FC632551', 16)


def service_account_keys(ca_key_pem):
    """The service-account signing key pair (PEM private, PEM public) the
    masters share, derived from the cluster's Kubernetes CA key: an ECDSA
    P-256 key (kube-apiserver signs ES256 tokens with it), the same for
    the same CA key, so a re-run of the stack's create hands the same
    one. It is handed at create only, like the CA keys: a later CA
    rotation does not change it (tokens already issued stay valid)."""
    secret = HKDF(algorithm=hashes.SHA256(), length=48, salt=b'caas',
                  info=b'kubernetes service-account signing key').derive(
        ca_key_pem.encode() if isinstance(ca_key_pem, str) else ca_key_pem)
    scalar = int.from_bytes(secret, 'big') % (_P256_ORDER - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode('ascii'), public.decode('ascii')


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


_first = heat.first
_b64 = heat.b64


def _bool(value, default):
    return heat.flag(value, default=default)


class KubernetesDriver(base.Driver):
    """kubeadm clusters on virtual machines or bare metal; subclasses only
    name their operating system."""

    os_distro = None
    labels_schema = LABELS_SCHEMA
    network_drivers = NETWORK_DRIVERS
    version_labels = ('kube_tag',)

    def coe_version(self, labels):
        tag = (labels or {}).get('kube_tag') or DEFAULT_KUBE_TAG
        return tag if tag.startswith('v') else 'v' + tag

    def container_version(self, labels):
        return (labels or {}).get('containerd_tag') or \
            k8s_labels.DEFAULT_CONTAINERD_TAG

    @staticmethod
    def server_type(template):
        return template.get('server_type') or 'vm'

    def _options(self, cluster, template, labels):
        """What the template set is built with (see
        :func:`k8s_template.cluster_template`) and a few values."""
        fip = _bool(_first(cluster.get('floating_ip_enabled'),
                           template.get('floating_ip_enabled')), True)
        lb = _bool(_first(cluster.get('master_lb_enabled'),
                          template.get('master_lb_enabled')), False)
        server_type = self.server_type(template)
        network = _first(cluster.get('fixed_network'),
                         template.get('fixed_network'))
        provisioning = server_type == 'bm' and not network and \
            bool(labels.get('provisioning_network'))
        subnet = _first(cluster.get('fixed_subnet'),
                        template.get('fixed_subnet'))
        volume = int(_first(cluster.get('docker_volume_size'),
                            template.get('docker_volume_size'),
                            default=0) or 0)
        return {
            'fixed_network': bool(network) or provisioning,
            'provisioning_network': provisioning,
            'subnet': bool(subnet) or not (network or provisioning),
            'lb': lb,
            'api_floating_ip': labels.get('master_lb_floating_ip_enabled',
                                          fip),
            'node_floating_ip': fip,
            'keypair': bool(_first(cluster.get('keypair'),
                                   template.get('keypair_id'))),
            'docker_volume': volume > 0,
            'etcd_volume': int(labels.get('etcd_volume_size') or 0) > 0,
            'volume_type': bool(labels.get('docker_volume_type')),
            'server_type': server_type,
            'os_distro': self.os_distro,
            # Only masters run what reads the credential (the cloud
            # controller manager; the CSI plugins mount the Secret).
            'cloud_credential': bool(labels.get('cloud_provider_enabled') or
                                     labels.get('cinder_csi_enabled')),
            # values, not switches
            'network': network, 'subnet_name': subnet,
            'docker_volume_size': volume,
        }

    def validate_cluster(self, cluster, template):
        """400s for what this driver cannot build, before anything is
        recorded: volumes on bare metal, a load balancer without a subnet
        for its address."""
        labels = self.effective_labels(cluster, template)
        opts = self._options(cluster, template, labels)
        if opts['server_type'] == 'bm':
            asked = [name for name, size in (
                ('docker_volume_size', opts['docker_volume_size']),
                ('etcd_volume_size', labels.get('etcd_volume_size')))
                if size]
            if asked:
                raise exceptions.InvalidParameterValue(
                    err='Invalid value for field/attribute %s: bare metal '
                        'servers (server_type bm) have no Cinder volumes; '
                        'leave it unset or 0.' % ' and '.join(asked))
        if opts['lb'] and not opts['subnet']:
            raise exceptions.InvalidParameterValue(
                err='master_lb_enabled needs a subnet for the load '
                    "balancer's address: give fixed_subnet with "
                    'fixed_network (or provisioning_network).')

    def _build(self, opts):
        return {k: v for k, v in opts.items()
                if k not in ('network', 'subnet_name',
                             'docker_volume_size')}

    def stack_definition(self, cluster, template, nodegroups):
        labels = self.effective_labels(cluster, template)
        opts = self._options(cluster, template, labels)
        network_driver = template.get('network_driver') or 'flannel'
        if network_driver not in NETWORK_DRIVERS:
            raise exceptions.InvalidParameterValue(
                err='network_driver %s is not supported by driver %s; use '
                    'one of %s.' % (network_driver, self.name,
                                    ', '.join(NETWORK_DRIVERS)))
        masters, workers, image, minion_image = heat.node_groups(
            nodegroups, template)
        build = self._build(opts)
        hot = k8s_template.cluster_template(build)
        files = {name: k8s_template.node_file(role, self.os_distro, build)
                 for name, role in (('kubemaster.yaml', 'master'),
                                    ('kubeminion.yaml', 'worker'))}
        params = dict(self._common_parameters(cluster, template, labels,
                                              opts, network_driver), **{
            **heat.flavors(cluster, template, masters, workers,
                           DEFAULT_FLAVOR),
            'server_image': image,
            'minion_image': minion_image,
            'fixed_network': opts['network'],
            'fixed_subnet': opts['subnet_name'],
            'provisioning_network': labels.get('provisioning_network'),
            'fixed_subnet_cidr': labels['fixed_subnet_cidr'],
            'dns_nameserver': _first(template.get('dns_nameserver'),
                                     default='8.8.8.8'),
            # Each group's version from its own labels: an upgrade may
            # move one group before the other.
            'kube_tag': self.coe_version(self.group_labels(
                cluster, template, masters)),
            'minion_kube_tag': self.coe_version(self.group_labels(
                cluster, template, workers)),
            'etcd_volume_size': labels['etcd_volume_size'],
        })
        params.update(self.update_parameters(cluster, template, nodegroups))
        # Only what this cluster's template declares: Heat rejects the rest.
        params = {k: v for k, v in params.items() if k in hot['parameters']}
        return {'template': hot, 'files': files,
                'parameters': params}

    def _common_parameters(self, cluster, template, labels, opts,
                           network_driver):
        """Parameters a cluster's stack and a nodegroup's share."""
        return {
            'cluster_uuid': cluster['uuid'],
            'os_distro': self.os_distro,
            'server_type': opts['server_type'],
            'ssh_key_name': _first(cluster.get('keypair'),
                                   template.get('keypair_id')),
            'external_network': _first(template.get('external_network_id'),
                                       default='public'),
            'containerd_tag': self.container_version(labels),
            'apiserver_port': int(_first(template.get('apiserver_port'),
                                         default=6443)),
            'pods_network_cidr': labels.get(PODS_CIDR_LABEL[network_driver],
                                            DEFAULT_PODS_CIDR),
            'service_cluster_ip_range': labels['service_cluster_ip_range'],
            'dns_cluster_domain': labels['dns_cluster_domain'],
            'network_driver': network_driver,
            'calico_tag': labels['calico_tag'],
            'flannel_tag': labels['flannel_tag'],
            'cloud_provider_enabled': _text(labels['cloud_provider_enabled']),
            'cloud_provider_tag': labels['cloud_provider_tag'],
            'cinder_csi_enabled': _text(labels['cinder_csi_enabled']),
            'cinder_csi_plugin_tag': labels['cinder_csi_plugin_tag'],
            'docker_volume_size': opts['docker_volume_size'],
            'volume_type': labels['docker_volume_type'],
            'node_join_timeout': labels['node_join_timeout'],
            'http_proxy': template.get('http_proxy') or '',
            'https_proxy': template.get('https_proxy') or '',
            'no_proxy': template.get('no_proxy') or '',
        }

    def ca_parameters(self, ca_pems):
        # Base64: the PEM is one line in either user-data flavour.
        return {'ca_bundle_b64': _b64(''.join(ca_pems))}

    def rotation_parameters(self):
        """A rotation's new values go into the user data Heat keeps for
        the servers it creates later; no running server is replaced."""
        return {'user_data_update_policy': 'IGNORE'}

    def ca_key_parameters(self, cas):
        """The CA certificates and keys for the masters' user data (base64
        of PEM, the keys in hidden parameters) and the Kubernetes CA's
        hash the workers check at their join.

        :param cas: ``{ca_type: (cert_pem, key_pem)}``.
        """
        params = {}
        for ca_type, (cert, key) in (cas or {}).items():
            if ca_type not in CA_PARAMETERS:
                continue
            cert_param, key_param = CA_PARAMETERS[ca_type]
            params[cert_param] = _b64(cert)
            params[key_param] = _b64(key)
        if 'kubernetes' in (cas or {}):
            params['ca_cert_hash'] = ca_cert_hash(cas['kubernetes'][0])
            sa_key, sa_pub = service_account_keys(cas['kubernetes'][1])
            params['sa_key'] = _b64(sa_key)
            params['sa_pub'] = _b64(sa_pub)
        return params

    def update_parameters(self, cluster, template, nodegroups, remove=()):
        masters, workers = base.node_counts(cluster, nodegroups)
        # REPLACE again after a rotation's IGNORE: an upgrade's or new node
        # labels' user data must replace the servers.
        return {'number_of_masters': masters, 'number_of_minions': workers,
                'minions_to_remove': ','.join(remove),
                'user_data_update_policy': 'REPLACE'}

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
        labels = self.effective_labels(cluster, template)
        opts = self._options(cluster, template, labels)
        hot = k8s_template.nodegroup_template(self._build(opts))
        params = dict(full['parameters'])
        # The stack has workers only: they boot the nodegroup's image and
        # run the nodegroup's version (its own labels: an upgrade of the
        # nodegroup moves it, not the control plane's).
        params['server_image'] = params.get('minion_image') or \
            params.get('server_image')
        params['kube_tag'] = params.get('minion_kube_tag') or \
            params.get('kube_tag')
        groups = [cluster_outputs['cluster_secgroup'],
                  cluster_outputs.get('worker_secgroup')]
        params.update(
            network=cluster_outputs['cluster_network'],
            subnet=cluster_outputs.get('cluster_subnet') or '',
            security_groups=','.join(g for g in groups if g),
            api_ip=cluster_outputs['api_private_ip'],
            api_public_ip=cluster_outputs.get('api_public_ip') or '',
            ca_cert_hash=cluster_outputs.get('ca_cert_hash') or '',
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
                'node_registration': node_registration(nodegroup),
                'user_data_update_policy': 'REPLACE'}


def _text(flag):
    """A boolean label as the 'true'/'false' the bootstrap script reads."""
    return 'true' if flag else 'false'


# Debian: kubeadm from pkgs.k8s.io as on Ubuntu. On the simulated cloud's
# real nodes (no mirror, no registry) the bootstrap fails, and says why.
_VARIANTS = heat.os_variants(KubernetesDriver, 'k8s', 'kubernetes', __name__,
                             extra=(('Debian', 'debian', 'debian'),))
UbuntuKubernetesDriver = _VARIANTS['UbuntuKubernetesDriver']
FedoraCoreOSKubernetesDriver = _VARIANTS['FedoraCoreOSKubernetesDriver']
DebianKubernetesDriver = _VARIANTS['DebianKubernetesDriver']
