"""Builds the Docker Swarm-mode HOT template set for one cluster.

One template set (``templates/swarmcluster.yaml``, ``swarmnode.yaml`` and
``swarmnodegroup.yaml``) serves every OS variant and server type, as for
Kubernetes: what a cluster does not need (its own network, the load
balancer, floating IPs, volumes and server groups on bare metal) is
removed here, in Python, while building, and the references to it
rewritten. The node template becomes ``swarmmanager.yaml`` and
``swarmworker.yaml``; only the managers' user data carries the cluster CA
(and its key), so a worker's template does not even declare them.
"""

import copy
import os

from caas.drivers import heat

TEMPLATES = heat.TemplateSet(os.path.join(os.path.dirname(__file__),
                                          'templates'))
SCRIPT_PATH = '/usr/local/bin/caas-swarm-bootstrap'
CA_PATH = '/etc/caas/ca.pem'
CA_KEY_PATH = '/etc/caas/ca-key.pem'

NETWORK_RESOURCES = ('network', 'subnet', 'router', 'router_interface')
LB_RESOURCES = ('api_lb', 'api_listener', 'api_pool', 'api_monitor',
                'api_lb_floating_ip')
NODE_FIP_RESOURCES = ('floating_ip', 'floating_ip_association')
VOLUME_RESOURCES = ('docker_volume', 'docker_volume_attach')
SERVER_GROUPS = ('manager_server_group', 'worker_server_group')
# User-data values only a manager needs: a worker's template drops them.
MANAGER_ONLY = ('__CAAS_TOKENS_ENDPOINT__', '__CAAS_TOKENS_TOKEN__',
                '__CAAS_CA_CERT_B64__', '__CAAS_CA_KEY_B64__',
                '__CAAS_API_ADDRESSES__', '__CAAS_LB_ADDRESS__',
                '__CAAS_API_PORT__')


def bootstrap_script():
    return TEMPLATES.bootstrap_script()


def node_files(role):
    """The bootstrap script and, on managers, the cluster CA and its key
    (base64 from Heat): a manager issues its Docker API certificate."""
    files = [heat.text_file(SCRIPT_PATH, 0o755, bootstrap_script())]
    if role != 'worker':
        files += [heat.b64_file(CA_PATH, 0o644, '__CAAS_CA_CERT_B64__'),
                  heat.b64_file(CA_KEY_PATH, 0o600, '__CAAS_CA_KEY_B64__')]
    return files


def user_data(os_distro, role):
    """A #cloud-config (Ubuntu) or an Ignition config (Fedora CoreOS)
    writing :func:`node_files` and running the script once."""
    return heat.user_data(os_distro, node_files(role), SCRIPT_PATH,
                          'caas-swarm-bootstrap.service',
                          'caas Docker Swarm bootstrap')


_replace = heat.replace
_remove_resources = heat.remove_resources
_prune_parameters = heat.prune_parameters
_restrict_properties = heat.restrict_properties


@heat.template_per_options
def node_template(role, os_distro, options):
    """swarmmanager.yaml (role ``manager``) or swarmworker.yaml as a dict
    (built once per process for each options; a fresh copy each call).

    :param options: see :func:`cluster_template`.
    """
    tpl = TEMPLATES.load('swarmnode.yaml')
    res = tpl['resources']
    props = res['server']['properties']
    replace = props['user_data']['str_replace']
    replace['template'] = user_data(os_distro, role)
    if role == 'worker':
        # Filled with nothing rather than left out: Heat would leave the
        # placeholder itself in the script.
        for key in MANAGER_ONLY:
            replace['params'][key] = ''
    if role == 'worker' or not options['lb']:
        _remove_resources(tpl, ['api_pool_member'])
    if not options['subnet']:
        del res['port']['properties']['fixed_ips']
        if 'api_pool_member' in res:
            del res['api_pool_member']['properties']['subnet']
    if not options['keypair']:
        del props['key_name']
    if not options['availability_zone']:
        del props['availability_zone']
        del res['docker_volume']['properties']['availability_zone']
    if not options['docker_volume_type']:
        del res['docker_volume']['properties']['volume_type']
    if not options['volume']:
        _remove_resources(tpl, VOLUME_RESOURCES)
        replace['params']['__CAAS_VOLUME_ID__'] = ''
    if not options['server_groups']:
        del props['scheduler_hints']
    if not options['node_floating_ip']:
        _remove_resources(tpl, NODE_FIP_RESOURCES)
        replace['params']['__CAAS_PUBLIC_IP__'] = ''
        tpl['outputs']['address'] = copy.deepcopy(
            tpl['outputs']['private_address'])
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

    :param options: ``fixed_network`` (bool), ``subnet`` (a subnet is
        known), ``lb`` (a load balancer in front of the managers' Docker
        API), ``api_floating_ip`` (a floating IP on it), ``node_floating_ip``,
        ``keypair``, ``availability_zone``, ``docker_volume_type``,
        ``volume`` (a Cinder volume per node) and ``server_groups``
        (anti-affinity; never on bare metal), all bools.
    """
    tpl = TEMPLATES.load('swarmcluster.yaml')
    res = tpl['resources']
    if not options['server_groups']:
        _remove_resources(tpl, SERVER_GROUPS)
    if options['fixed_network']:
        _remove_resources(tpl, NETWORK_RESOURCES)
        tpl = _replace(tpl, {'get_resource': 'network'},
                       {'get_param': 'fixed_network'})
        tpl = _replace(tpl, {'get_resource': 'subnet'},
                       {'get_param': 'fixed_subnet'})
        res = tpl['resources']
    primary = res['swarm_primary']['properties']
    secondary = res['swarm_secondary_masters']['properties'][
        'resource_def']['properties']
    if not options['lb']:
        _remove_resources(tpl, LB_RESOURCES)
        for props in (primary, secondary):
            props['api_addresses'] = ''
            props['lb_address'] = ''
        tpl['outputs']['api_address']['value']['str_replace']['params'][
            'HOST'] = {'get_attr': ['swarm_primary', 'address']}
    elif not options['api_floating_ip']:
        _remove_resources(tpl, ['api_lb_floating_ip'])
        vip = {'get_attr': ['api_lb', 'vip_address']}
        for props in (primary, secondary):
            props['api_addresses'] = copy.deepcopy(vip)
        tpl['outputs']['api_address']['value']['str_replace']['params'][
            'HOST'] = vip
    # Node properties the nested templates no longer declare.
    manager = node_template('manager', 'ubuntu', options)['parameters']
    worker = node_template('worker', 'ubuntu', options)['parameters']
    res['swarm_primary']['properties'] = _restrict_properties(primary,
                                                              manager)
    res['swarm_secondary_masters']['properties']['resource_def'][
        'properties'] = _restrict_properties(secondary, manager)
    rdef = res['swarm_nodes']['properties']['resource_def']
    rdef['properties'] = _restrict_properties(rdef['properties'], worker)
    _prune_parameters(tpl)
    return tpl


@heat.template_per_options
def nodegroup_template(options):
    """The stack of one nodegroup users added, as a dict: its workers
    only, on the network of the cluster's stack (built once per process
    for each options)."""
    tpl = TEMPLATES.load('swarmnodegroup.yaml')
    if not options['server_groups']:
        _remove_resources(tpl, ['worker_server_group'])
    worker = node_template('worker', 'ubuntu', options)['parameters']
    rdef = tpl['resources']['swarm_nodes']['properties']['resource_def']
    rdef['properties'] = _restrict_properties(rdef['properties'], worker)
    _prune_parameters(tpl)
    return tpl
