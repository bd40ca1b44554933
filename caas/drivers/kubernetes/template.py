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
import functools
import json
import os
import urllib.parse

import yaml

TEMPLATE_DIR = os.path.join(os.path.dirname(__file__), 'templates')
USER_DATA_MARK = 'USER_DATA'
BOOTSTRAP_PATH = '/usr/local/bin/caas-bootstrap'

NETWORK_RESOURCES = ('network', 'subnet', 'router', 'router_interface')
VIP_RESOURCES = ('api_port', 'api_floating_ip', 'api_floating_ip_association')
LB_RESOURCES = ('api_lb', 'api_lb_listener', 'api_lb_pool', 'api_lb_monitor',
                'api_lb_floating_ip')
SERVER_GROUPS = ('master_server_group', 'worker_server_group')
NODE_FIP_RESOURCES = ('floating_ip', 'floating_ip_association')

# The cluster CAs' files on a master: (path, stack parameter, mode). Only a
# master's user data holds them; a worker learns the CA at its join,
# checked against the CA's hash.
CA_FILES = (
    ('/etc/kubernetes/pki/ca.crt', 'kube_ca_cert', 0o644),
    ('/etc/kubernetes/pki/ca.key', 'kube_ca_key', 0o600),
    ('/etc/kubernetes/pki/etcd/ca.crt', 'etcd_ca_cert', 0o644),
    ('/etc/kubernetes/pki/etcd/ca.key', 'etcd_ca_key', 0o600),
    ('/etc/kubernetes/pki/front-proxy-ca.crt', 'front_proxy_ca_cert', 0o644),
    ('/etc/kubernetes/pki/front-proxy-ca.key', 'front_proxy_ca_key', 0o600),
)
MASTER_ONLY_PARAMETERS = tuple(p for _path, p, _mode in CA_FILES) + (
    'certificate_key',)

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


def placeholder(parameter):
    """The user data's placeholder for a node template parameter."""
    return '__CAAS_%s__' % parameter.upper()


class _Literal(str):
    """A string dumped as a YAML literal block (readable scripts)."""


def _literal(dumper, value):
    return dumper.represent_scalar('tag:yaml.org,2002:str', value, style='|')


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _cloud_config(role):
    files = [{'path': path, 'encoding': 'b64', 'owner': 'root:root',
              'permissions': '%04o' % mode, 'content': placeholder(param)}
             for path, param, mode in CA_FILES if role == 'master']
    files.append({'path': BOOTSTRAP_PATH, 'owner': 'root:root',
                  'permissions': '0755',
                  'content': _Literal(bootstrap_script())})
    body = {'write_files': files, 'runcmd': [[BOOTSTRAP_PATH]]}
    return '#cloud-config\n' + yaml.dump(body, Dumper=_Dumper,
                                         sort_keys=False, width=1000)


def _ignition(role):
    files = [{'path': path, 'mode': mode, 'overwrite': True,
              'contents': {'source': 'data:;base64,' + placeholder(param)}}
             for path, param, mode in CA_FILES if role == 'master']
    # Placeholders survive the percent-encoding (letters and underscores),
    # so Heat's str_replace fills them; what it puts there (addresses,
    # tokens, base64, URLs) needs no encoding in a data URL.
    files.append({'path': BOOTSTRAP_PATH, 'mode': 0o755, 'overwrite': True,
                  'contents': {'source': 'data:,' + urllib.parse.quote(
                      bootstrap_script(), safe='')}})
    return json.dumps({
        'ignition': {'version': '3.4.0'},
        'storage': {'files': files},
        'systemd': {'units': [{'name': 'caas-bootstrap.service',
                               'enabled': True,
                               'contents': IGNITION_UNIT}]},
    }, indent=1, sort_keys=True)


def user_data(os_distro, role='worker'):
    """The bootstrap in the flavour the OS's first boot reads: a
    ``#cloud-config`` for Ubuntu's cloud-init, an Ignition config for
    Fedora CoreOS. A master's also writes the cluster's CA files."""
    if os_distro == 'fedora-coreos':
        return _ignition(role)
    return _cloud_config(role)


def script_of(text):
    """The bootstrap script inside rendered (or template) user data."""
    if text.startswith('#cloud-config'):
        body = yaml.safe_load(text)
        return next(f['content'] for f in body['write_files']
                    if f['path'] == BOOTSTRAP_PATH)
    config = json.loads(text)
    source = next(f['contents']['source'] for f in config['storage']['files']
                  if f['path'] == BOOTSTRAP_PATH)
    return urllib.parse.unquote(source[len('data:,'):])


def _replace(value, old, new):
    """``value`` with every sub-value equal to ``old`` replaced by ``new``."""
    if value == old:
        return copy.deepcopy(new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


def _refers(value, names):
    """True when ``value`` is a get_resource/get_attr of one of ``names``."""
    if isinstance(value, dict) and len(value) == 1:
        if 'get_resource' in value:
            return value['get_resource'] in names
        if 'get_attr' in value:
            return value['get_attr'][0] in names
    return False


def _blank(value, names):
    """References to the resources ``names`` replaced by ''."""
    if _refers(value, names):
        return ''
    if isinstance(value, dict):
        return {k: _blank(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v, names) for v in value]
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
    """kubemaster.yaml (role ``master``) or kubeminion.yaml as a dict.

    :param options: as for :func:`cluster_template`.
    """
    tpl = _load('kubenode.yaml')
    res = tpl['resources']
    props = res['server']['properties']
    replace = props['user_data']['str_replace']
    replace['template'] = user_data(os_distro, role)
    master = role == 'master'
    if not master:
        # Never a CA key in a worker's user data, nor the key that lets a
        # node download the control plane's certificates.
        for param in MASTER_ONLY_PARAMETERS:
            if param == 'certificate_key':
                replace['params'][placeholder(param)] = ''
            else:
                del replace['params'][placeholder(param)]
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


def cluster_template(options):
    """The top-level template as a dict.

    :param options: ``fixed_network`` (bool: a network is given, by the
        template or as bare metal's provisioning network),
        ``provisioning_network`` (bool: that network is bare metal's
        provisioning network), ``subnet`` (bool: a subnet is known),
        ``lb`` (the API behind Octavia), ``api_floating_ip``,
        ``node_floating_ip``, ``keypair``, ``docker_volume``,
        ``etcd_volume``, ``volume_type`` (bools), ``server_type``
        (``vm``/``bm``) and ``os_distro``.
    """
    tpl = _load('kubecluster.yaml')
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


def nodegroup_template(options):
    """The stack of one nodegroup users added (``templates/
    kubenodegroup.yaml``) as a dict: its workers only, on the network of
    the cluster's stack.

    :param options: as for :func:`cluster_template`.
    """
    tpl = _load('kubenodegroup.yaml')
    if options['server_type'] == 'bm':
        _remove_resources(tpl, ['server_group'])
        tpl = _blank(tpl, ['server_group'])
    probe = node_template('worker', options['os_distro'], options)
    rdef = tpl['resources']['kube_minions']['properties']['resource_def']
    rdef['properties'] = {k: v for k, v in rdef['properties'].items()
                          if k in probe['parameters']}
    _prune_parameters(tpl)
    return tpl
