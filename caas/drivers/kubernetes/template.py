"""Builds the Kubernetes HOT template set for one cluster.

There is one template set (``templates/kubecluster.yaml`` and
``templates/kubenode.yaml``) for every operating system and server type.
Branches are decided here, in Python, while building: resources a cluster
does not need are removed and the references to them rewritten, so that
what Heat receives (and what the golden files pin) holds only what the
cluster gets. The operating system chooses the flavour of the user data
(cloud-init's ``#cloud-config`` or an Ignition config) around the one
bootstrap script; the server type removes what bare metal cannot have
(Cinder volumes, server groups).
"""

import copy
import os

from caas.drivers import heat

TEMPLATES = heat.TemplateSet(os.path.join(os.path.dirname(__file__),
                                          'templates'))
USER_DATA_MARK = 'USER_DATA'
BOOTSTRAP_PATH = '/usr/local/bin/caas-bootstrap'
CLOUD_CONFIG_PATH = '/etc/kubernetes/cloud-config'
CA_BUNDLE_PATH = '/etc/caas/ca-bundle.crt'

NETWORK_RESOURCES = ('network', 'subnet', 'router', 'router_interface')
VIP_RESOURCES = ('api_port', 'api_floating_ip', 'api_floating_ip_association')
LB_RESOURCES = ('api_lb', 'api_lb_listener', 'api_lb_pool', 'api_lb_monitor',
                'api_lb_floating_ip')
SERVER_GROUPS = ('master_server_group', 'worker_server_group')
NODE_FIP_RESOURCES = ('floating_ip', 'floating_ip_association')

# Every file the control plane's members share, pre-placed on each master
# by its user data: (path, stack parameter, mode). With all of them a
# master joins the control plane at any time (a replacement long after the
# create) without kubeadm's certificate upload, which lasts two hours.
# Only a master's user data holds them; a worker learns the CA at its
# join, checked against the CA's hash.
CA_FILES = (
    ('/etc/kubernetes/pki/ca.crt', 'kube_ca_cert', 0o644),
    ('/etc/kubernetes/pki/ca.key', 'kube_ca_key', 0o600),
    ('/etc/kubernetes/pki/etcd/ca.crt', 'etcd_ca_cert', 0o644),
    ('/etc/kubernetes/pki/etcd/ca.key', 'etcd_ca_key', 0o600),
    ('/etc/kubernetes/pki/front-proxy-ca.crt', 'front_proxy_ca_cert', 0o644),
    ('/etc/kubernetes/pki/front-proxy-ca.key', 'front_proxy_ca_key', 0o600),
    ('/etc/kubernetes/pki/sa.key', 'sa_key', 0o600),
    ('/etc/kubernetes/pki/sa.pub', 'sa_pub', 0o644),
)
# The cloud provider's configuration, on masters only (they run the cloud
# controller manager and put it in the kube-system/cloud-config Secret,
# which the Cinder CSI plugins mount: no worker reads a file). Written in
# clear (single-line values Heat fills), 0600.
CLOUD_CONFIG = """[Global]
auth-url=__CAAS_AUTH_URL__
region=__CAAS_REGION_NAME__
user-id=__CAAS_TRUSTEE_USER_ID__
password=__CAAS_TRUSTEE_PASSWORD__
trust-id=__CAAS_TRUST_ID__
"""
CLOUD_CONFIG_PARAMETERS = ('auth_url', 'region_name', 'trustee_user_id',
                           'trustee_password', 'trust_id')
MASTER_ONLY_PARAMETERS = tuple(p for _path, p, _mode in CA_FILES) + \
    CLOUD_CONFIG_PARAMETERS


def bootstrap_script():
    return TEMPLATES.bootstrap_script()


def placeholder(parameter):
    """The user data's placeholder for a node template parameter."""
    return '__CAAS_%s__' % parameter.upper()


def node_files(role, cloud_credential=True):
    """What a node's user data writes: the CA bundle every node trusts,
    on masters the shared control-plane files and (``cloud_credential``)
    the cloud provider's configuration, and the bootstrap script."""
    files = [heat.b64_file(CA_BUNDLE_PATH, 0o644, '__CAAS_CA_BUNDLE_B64__')]
    if role == 'master':
        files += [heat.b64_file(path, mode, placeholder(param))
                  for path, param, mode in CA_FILES]
        if cloud_credential:
            files.append(heat.text_file(CLOUD_CONFIG_PATH, 0o600,
                                        CLOUD_CONFIG))
    files.append(heat.text_file(BOOTSTRAP_PATH, 0o755, bootstrap_script()))
    return files


def user_data(os_distro, role='worker', cloud_credential=True):
    """The bootstrap in the flavour the OS's first boot reads: a
    ``#cloud-config`` for Ubuntu's cloud-init, an Ignition config for
    Fedora CoreOS, with the files of :func:`node_files`."""
    return heat.user_data(os_distro, node_files(role, cloud_credential),
                          BOOTSTRAP_PATH, 'caas-bootstrap.service',
                          'caas Kubernetes bootstrap')


def script_of(text):
    """The bootstrap script inside rendered (or template) user data."""
    return heat.script_of(text, BOOTSTRAP_PATH)


_replace = heat.replace
_blank = heat.blank
_remove_resources = heat.remove_resources
_prune_parameters = heat.prune_parameters


@heat.template_per_options
def node_template(role, os_distro, options):
    """kubemaster.yaml (role ``master``) or kubeminion.yaml as a dict
    (built once per process for each options; a fresh copy each call).

    :param options: as for :func:`cluster_template`.
    """
    tpl = TEMPLATES.load('kubenode.yaml')
    res = tpl['resources']
    props = res['server']['properties']
    replace = props['user_data']['str_replace']
    master = role == 'master'
    credential = master and options.get('cloud_credential', True)
    replace['template'] = user_data(os_distro, role, credential)
    # Never a CA key, the service-account key or the cloud credential in
    # a worker's user data: its template does not even declare them.
    dropped = () if master else MASTER_ONLY_PARAMETERS
    if not credential:
        dropped += CLOUD_CONFIG_PARAMETERS
    for param in dropped:
        replace['params'].pop(placeholder(param), None)
    if not master or options['lb']:
        del res['port']['properties']['allowed_address_pairs']
    if not options['subnet']:
        del res['port']['properties']['fixed_ips']
    if not options['keypair']:
        del props['key_name']
    gone = []
    if not master or not options['lb']:
        gone.append('api_pool_member')
    elif not options['subnet']:
        del res['api_pool_member']['properties']['subnet']
    bare_metal = options['server_type'] == 'bm'
    if bare_metal or not options['docker_volume']:
        gone += ['docker_volume', 'docker_volume_attach']
    if bare_metal or not master or not options['etcd_volume']:
        gone += ['etcd_volume', 'etcd_volume_attach']
    if bare_metal:
        del props['scheduler_hints']
    if not options['volume_type']:
        for name in ('docker_volume', 'etcd_volume'):
            if name in res:
                del res[name]['properties']['volume_type']
    if not options['node_floating_ip']:
        gone += list(NODE_FIP_RESOURCES)
        tpl['outputs']['address'] = copy.deepcopy(
            tpl['outputs']['private_address'])
    _remove_resources(tpl, gone)
    tpl = _blank(tpl, gone)
    _prune_parameters(tpl)
    return tpl


@heat.per_options
def node_file(role, os_distro, options):
    """:func:`node_template` as the text of Heat's files map."""
    return heat.template_text(node_template(role, os_distro, options))


@heat.template_per_options
def cluster_template(options):
    """The top-level template as a dict (built once per process for each
    options; a fresh copy each call).

    :param options: ``fixed_network`` (bool: a network is given, by the
        template or as bare metal's provisioning network),
        ``provisioning_network`` (bool: that network is bare metal's
        provisioning network), ``subnet`` (bool: a subnet is known),
        ``lb`` (the API behind Octavia), ``api_floating_ip``,
        ``node_floating_ip``, ``keypair``, ``docker_volume``,
        ``etcd_volume``, ``volume_type``, ``cloud_credential`` (bools: the
        last puts the cloud provider's configuration in the masters' user
        data), ``server_type`` (``vm``/``bm``) and ``os_distro``.
    """
    tpl = TEMPLATES.load('kubecluster.yaml')
    res = tpl['resources']
    if options['fixed_network']:
        _remove_resources(tpl, NETWORK_RESOURCES)
        network = 'provisioning_network' if options.get(
            'provisioning_network') else 'fixed_network'
        tpl = _replace(tpl, {'get_resource': 'network'},
                       {'get_param': network})
        tpl = _replace(tpl, {'get_resource': 'subnet'},
                       {'get_param': 'fixed_subnet'})
        res = tpl['resources']
        if not options['subnet']:
            del res['api_port']['properties']['fixed_ips']
    if options['lb']:
        _remove_resources(tpl, VIP_RESOURCES)
        vip = {'get_attr': ['api_lb', 'vip_address']}
        tpl = _replace(tpl, {'get_attr': ['api_port', 'fixed_ips', 0,
                                          'ip_address']}, vip)
        tpl = _replace(tpl, {'get_attr': ['api_floating_ip',
                                          'floating_ip_address']},
                       {'get_attr': ['api_lb_floating_ip',
                                     'floating_ip_address']}
                       if options['api_floating_ip'] else vip)
        if not options['api_floating_ip']:
            _remove_resources(tpl, ['api_lb_floating_ip'])
        for group in ('kube_masters', 'kube_minions'):
            tpl['resources'][group]['properties']['resource_def'][
                'properties']['api_vip'] = 'false'
    else:
        _remove_resources(tpl, LB_RESOURCES)
        tpl = _blank(tpl, LB_RESOURCES)
        if not options['api_floating_ip']:
            _remove_resources(tpl, ('api_floating_ip',
                                    'api_floating_ip_association'))
            tpl = _replace(tpl, {'get_attr': ['api_floating_ip',
                                              'floating_ip_address']},
                           {'get_attr': ['api_port', 'fixed_ips', 0,
                                         'ip_address']})
    if options['server_type'] == 'bm':
        _remove_resources(tpl, SERVER_GROUPS)
        tpl = _blank(tpl, SERVER_GROUPS)
    # Node properties the nested templates no longer declare.
    for group, role in (('kube_masters', 'master'), ('kube_minions',
                                                     'worker')):
        probe = node_template(role, options['os_distro'], options)
        rdef = tpl['resources'][group]['properties']['resource_def']
        rdef['properties'] = {k: v for k, v in rdef['properties'].items()
                              if k in probe['parameters']}
    _prune_parameters(tpl)
    return tpl


@heat.template_per_options
def nodegroup_template(options):
    """The stack of one nodegroup users added (``templates/
    kubenodegroup.yaml``) as a dict: its workers only, on the network of
    the cluster's stack (built once per process for each options).

    :param options: as for :func:`cluster_template`.
    """
    tpl = TEMPLATES.load('kubenodegroup.yaml')
    if options['server_type'] == 'bm':
        _remove_resources(tpl, ['server_group'])
        tpl = _blank(tpl, ['server_group'])
    probe = node_template('worker', options['os_distro'], options)
    rdef = tpl['resources']['kube_minions']['properties']['resource_def']
    rdef['properties'] = {k: v for k, v in rdef['properties'].items()
                          if k in probe['parameters']}
    _prune_parameters(tpl)
    return tpl
