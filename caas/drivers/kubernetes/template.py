"""Builds the Kubernetes HOT template set for one cluster.

There is one template set (``templates/kubecluster.yaml`` and
``templates/kubenode.yaml``) for every OS variant.  Branches are decided
here, in Python, while building: resources a cluster does not need are
removed and the references to them rewritten, because the template language
the driver may rely on has no conditions.  The OS variant only changes the
flavour of the user data wrapping the one bootstrap script.
"""

import copy
import functools
import json
import os
import urllib.parse

import yaml

TEMPLATE_DIR = os.path.join(os.path.dirname(__file__), 'templates')
USER_DATA_MARK = 'USER_DATA'

NETWORK_RESOURCES = ('network', 'subnet', 'router', 'router_interface')
API_FIP_RESOURCES = ('api_floating_ip', 'api_floating_ip_association')
NODE_FIP_RESOURCES = ('floating_ip', 'floating_ip_association')

IGNITION_UNIT = """[Unit]
Description=caas Kubernetes bootstrap
Wants=network-online.target
After=network-online.target
ConditionPathExists=!/var/lib/caas-bootstrap.done

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/bin/caas-bootstrap
ExecStartPost=/usr/bin/touch /var/lib/caas-bootstrap.done

[Install]
WantedBy=multi-user.target
"""


@functools.lru_cache(maxsize=None)
def _read(name):
    with open(os.path.join(TEMPLATE_DIR, name)) as f:
        return f.read()


@functools.lru_cache(maxsize=None)
def _as_json(name):
    # Parsing the YAML was a tenth of a conductor's CPU per create; the
    # files do not change while the process runs.
    return json.dumps(yaml.safe_load(_read(name)))


def _load(name):
    # A fresh copy from JSON each time: it also unshares the YAML anchors,
    # so that editing one resource never edits another behind our back.
    return json.loads(_as_json(name))


def bootstrap_script():
    return _read('bootstrap.sh')


def user_data(os_distro):
    """The bootstrap script in the flavour the OS's first boot reads.

    Ubuntu's cloud-init runs a shell script given as user data.  Fedora
    CoreOS reads an Ignition config, which writes the script and a oneshot
    unit running it.  Placeholders survive the percent-encoding (they are
    letters and underscores), so Heat's str_replace fills both flavours.
    """
    script = bootstrap_script()
    if os_distro == 'fedora-coreos':
        return json.dumps({
            'ignition': {'version': '3.4.0'},
            'storage': {'files': [{
                'path': '/usr/local/bin/caas-bootstrap',
                'mode': 0o755,
                'contents': {'source': 'data:,' + urllib.parse.quote(
                    script, safe='')}}]},
            'systemd': {'units': [{
                'name': 'caas-bootstrap.service',
                'enabled': True,
                'contents': IGNITION_UNIT}]},
        }, indent=1, sort_keys=True)
    return script


def _replace(value, old, new):
    """``value`` with every sub-value equal to ``old`` replaced by ``new``."""
    if value == old:
        return copy.deepcopy(new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


def _remove_resources(template, names):
    resources = template['resources']
    for name in names:
        resources.pop(name, None)
    for definition in resources.values():
        deps = definition.get('depends_on')
        if deps is None:
            continue
        deps = [deps] if isinstance(deps, str) else deps
        deps = [d for d in deps if d in resources]
        if deps:
            definition['depends_on'] = deps
        else:
            del definition['depends_on']


def used_parameters(value):
    """Names of every parameter ``value`` reads with get_param."""
    found = set()
    if isinstance(value, dict):
        if len(value) == 1 and 'get_param' in value:
            args = value['get_param']
            found.add(args[0] if isinstance(args, list) else args)
        for item in value.values():
            found |= used_parameters(item)
    elif isinstance(value, list):
        for item in value:
            found |= used_parameters(item)
    return found


def _prune_parameters(template):
    """Drop declared parameters nothing reads any more."""
    used = used_parameters([template['resources'], template['outputs']])
    template['parameters'] = {k: v for k, v in
                              template['parameters'].items() if k in used}


def node_template(role, os_distro, options):
    """kubemaster.yaml (role ``master``) or kubeminion.yaml as a dict."""
    tpl = _load('kubenode.yaml')
    res = tpl['resources']
    props = res['server']['properties']
    props['user_data']['str_replace']['template'] = user_data(os_distro)
    if role != 'master':
        del res['port']['properties']['allowed_address_pairs']
    if not options['subnet']:
        del res['port']['properties']['fixed_ips']
    if not options['keypair']:
        del props['key_name']
    if not options['node_floating_ip']:
        _remove_resources(tpl, NODE_FIP_RESOURCES)
        tpl['outputs']['address'] = copy.deepcopy(
            tpl['outputs']['private_address'])
    _prune_parameters(tpl)
    return tpl


def cluster_template(options):
    """The top-level template as a dict.

    :param options: ``fixed_network`` (bool), ``subnet`` (bool: a subnet is
        known), ``api_floating_ip``, ``node_floating_ip`` and ``keypair``
        (bools).
    """
    tpl = _load('kubecluster.yaml')
    if options['fixed_network']:
        _remove_resources(tpl, NETWORK_RESOURCES)
        tpl = _replace(tpl, {'get_resource': 'network'},
                       {'get_param': 'fixed_network'})
        tpl = _replace(tpl, {'get_resource': 'subnet'},
                       {'get_param': 'fixed_subnet'})
        if not options['subnet']:
            del tpl['resources']['api_port']['properties']['fixed_ips']
    if not options['api_floating_ip']:
        _remove_resources(tpl, API_FIP_RESOURCES)
        tpl = _replace(tpl,
                       {'get_attr': ['api_floating_ip',
                                     'floating_ip_address']},
                       {'get_attr': ['api_port', 'fixed_ips', 0,
                                     'ip_address']})
    # Node properties the nested templates no longer declare.
    probe = node_template('master', 'ubuntu', options)
    for group in ('kube_masters', 'kube_minions'):
        rdef = tpl['resources'][group]['properties']['resource_def']
        rdef['properties'] = {k: v for k, v in rdef['properties'].items()
                              if k in probe['parameters']}
    _prune_parameters(tpl)
    return tpl


def nodegroup_template(options):
    """The stack of one nodegroup users added (``templates/
    kubenodegroup.yaml``) as a dict: its workers only, on the network of
    the cluster's stack.

    :param options: as for :func:`cluster_template`.
    """
    tpl = _load('kubenodegroup.yaml')
    probe = node_template('worker', 'ubuntu', options)
    rdef = tpl['resources']['kube_minions']['properties']['resource_def']
    rdef['properties'] = {k: v for k, v in rdef['properties'].items()
                          if k in probe['parameters']}
    _prune_parameters(tpl)
    return tpl
