"""What the Heat drivers (Kubernetes, Swarm) share.

* :class:`TemplateSet`: a driver's directory of HOT files and its
  bootstrap script, read once per process.
* The user-data renderers: one list of :class:`File` entries becomes a
  ``#cloud-config`` (Ubuntu's cloud-init) or an Ignition config (Fedora
  CoreOS) that writes them and runs the bootstrap once. Both flavours
  carry the same files, so a node boots complete from RAW user data
  without any Heat agent.
* Template surgery: removing resources a cluster does not need and
  rewriting the references to them, pruning parameters nothing reads.
* Small helpers the driver modules shared (:func:`first`, :func:`flag`,
  :func:`group`, :func:`b64`) and :func:`os_variants`, which makes the
  per-OS driver classes.
"""

import base64
import collections
import copy
import functools
import json
import os
import threading
import urllib.parse

import yaml

from caas.common import coercion
from caas.common import exceptions

IGNITION_VERSION = '3.4.0'

# A file a node's user data writes. ``content`` is the text itself, or,
# with ``b64``, a placeholder Heat fills with base64 (multi-line values
# such as PEM survive either flavour only that way).
File = collections.namedtuple('File', 'path mode content b64')


def text_file(path, mode, content):
    return File(path, mode, content, False)


def b64_file(path, mode, placeholder):
    return File(path, mode, placeholder, True)


class TemplateSet:
    """The HOT files and bootstrap script in one driver's directory."""

    def __init__(self, directory, script='bootstrap.sh'):
        self.directory = directory
        self.script = script

    @functools.lru_cache(maxsize=None)
    def read(self, name):
        with open(os.path.join(self.directory, name)) as f:
            return f.read()

    @functools.lru_cache(maxsize=None)
    def _as_json(self, name):
        # Parsing the YAML was a tenth of a conductor's CPU per create; the
        # files do not change while the process runs.
        return json.dumps(yaml.safe_load(self.read(name)))

    def load(self, name):
        """A fresh copy each time: JSON also unshares the YAML anchors, so
        editing one resource never edits another behind our back."""
        return json.loads(self._as_json(name))

    def bootstrap_script(self):
        return self.read(self.script)


# libyaml's emitter where PyYAML has it: the pure-Python one was about a
# fifth of a conductor's CPU per create (benchmarks/README: profiles).
_FILE_DUMPER = getattr(yaml, 'CSafeDumper', yaml.SafeDumper)


def template_text(body):
    """A nested template body as the YAML text of Heat's ``files`` map."""
    return yaml.dump(body, Dumper=_FILE_DUMPER, sort_keys=False)



# Built once per set of options --------------------------------------------
# A driver's templates depend only on a few switches (the ``options`` of its
# template module: booleans, the server type, the OS), never on a cluster's
# values, which go into the stack's parameters. Building them - loading,
# surgery, the user data's YAML with its bootstrap script - was most of a
# conductor's CPU per create (issue 11), and only a handful of distinct
# option sets exist, so each is built once per process.
_BUILT_PER_PROCESS = 256

# Held while a set is looked up or built: the flows that start together in
# a fresh process (up to [conductor] workers) all miss at once, and each
# built the same set (a tenth of the conductor's CPU over its first 60
# creates); one builds it, the others wait and take it. One lock for
# every set (re-entrant: a build may use another set), so builds that nest
# cannot deadlock.
_BUILDING = threading.RLock()


def per_options(build):
    """``build(*args, options)`` computed once per process for each
    distinct ``args`` and ``options`` (a dict of hashable values), also
    when threads ask for it at once. For results nobody edits (text); see
    :func:`template_per_options`."""
    @functools.lru_cache(maxsize=_BUILT_PER_PROCESS)
    def built(args, frozen):
        return build(*args, dict(frozen))

    @functools.wraps(build)
    def wrapper(*args):
        *head, options = args
        with _BUILDING:
            return built(tuple(head), tuple(sorted(options.items())))
    wrapper.cache_info = built.cache_info
    wrapper.cache_clear = built.cache_clear
    return wrapper


def template_per_options(build):
    """:func:`per_options` for a function returning a template dict: each
    call returns a fresh copy (callers edit the templates they get), made
    from JSON text, which also shares no sub-object between two calls."""
    text = per_options(lambda *args: json.dumps(build(*args)))

    @functools.wraps(build)
    def wrapper(*args):
        return json.loads(text(*args))
    wrapper.cache_info = text.cache_info
    wrapper.cache_clear = text.cache_clear
    return wrapper


class _Literal(str):
    """A string dumped as a YAML literal block (readable scripts)."""


class _Quoted(str):
    """A string dumped single-quoted: a placeholder Heat may fill with
    nothing stays a string ('' rather than null) for cloud-init."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, lambda dumper, text: dumper.represent_scalar(
    'tag:yaml.org,2002:str', text, style='|'))
_Dumper.add_representer(_Quoted, lambda dumper, text: dumper.represent_scalar(
    'tag:yaml.org,2002:str', text, style="'"))


def cloud_config(files, run):
    """A ``#cloud-config`` writing ``files`` and running ``run`` once."""
    entries = []
    for f in files:
        entry = {'path': f.path, 'owner': 'root:root',
                 'permissions': '%04o' % f.mode}
        if f.b64:
            entry['encoding'] = 'b64'
        entry['content'] = _Quoted(f.content) if f.b64 else \
            _Literal(f.content)
        entries.append(entry)
    body = {'write_files': entries, 'runcmd': [[run]]}
    return '#cloud-config\n' + yaml.dump(body, Dumper=_Dumper,
                                         sort_keys=False, width=1000)


SYSTEMD_UNIT = """[Unit]
Description=%(description)s
Wants=network-online.target
After=network-online.target
ConditionPathExists=!/var/lib/caas-bootstrap.done

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%(run)s
ExecStartPost=/usr/bin/touch /var/lib/caas-bootstrap.done

[Install]
WantedBy=multi-user.target
"""


def ignition(files, run, unit, description):
    """An Ignition config writing ``files`` and a oneshot ``unit`` running
    ``run`` once. Placeholders survive the percent-encoding (letters and
    underscores), so Heat's str_replace fills them; what it puts there
    (addresses, tokens, base64, URLs) needs no encoding in a data URL."""
    entries = [{'path': f.path, 'mode': f.mode, 'overwrite': True,
                'contents': {'source': 'data:;base64,' + f.content
                             if f.b64 else 'data:,' + urllib.parse.quote(
                                 f.content, safe='')}}
               for f in files]
    return json.dumps({
        'ignition': {'version': IGNITION_VERSION},
        'storage': {'files': entries},
        'systemd': {'units': [{'name': unit, 'enabled': True,
                               'contents': SYSTEMD_UNIT % {
                                   'description': description,
                                   'run': run}}]},
    }, indent=1, sort_keys=True)


def user_data(os_distro, files, run, unit, description):
    """The files and the bootstrap in the flavour the OS's first boot
    reads: Ignition for Fedora CoreOS, cloud-init's #cloud-config else."""
    if os_distro == 'fedora-coreos':
        return ignition(files, run, unit, description)
    return cloud_config(files, run)


def files_of(text):
    """``{path: (mode, content)}`` of rendered (or template) user data;
    base64 content is decoded when it is base64 (placeholders stay)."""
    found = {}
    if text.startswith('#cloud-config'):
        for f in yaml.safe_load(text)['write_files']:
            content = f.get('content') or ''
            if f.get('encoding') == 'b64':
                content = _maybe_b64(content)
            found[f['path']] = (int(f['permissions'], 8), content)
        return found
    for f in json.loads(text)['storage']['files']:
        source = f['contents']['source']
        if source.startswith('data:;base64,'):
            content = _maybe_b64(source[len('data:;base64,'):])
        else:
            content = urllib.parse.unquote(source[len('data:,'):])
        found[f['path']] = (f['mode'], content)
    return found


def _maybe_b64(text):
    try:
        return base64.b64decode(text, validate=True).decode('utf-8')
    except (ValueError, UnicodeDecodeError):
        return text


def script_of(text, path):
    """The bootstrap script at ``path`` inside rendered user data."""
    return files_of(text)[path][1]


# template surgery ---------------------------------------------------------
def replace(value, old, new):
    """``value`` with every sub-value equal to ``old`` replaced by ``new``."""
    if value == old:
        return copy.deepcopy(new)
    if isinstance(value, dict):
        return {k: replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [replace(v, old, new) for v in value]
    return value


def _refers(value, names):
    """True when ``value`` is a get_resource/get_attr of one of ``names``."""
    if isinstance(value, dict) and len(value) == 1:
        if 'get_resource' in value:
            return value['get_resource'] in names
        if 'get_attr' in value:
            return value['get_attr'][0] in names
    return False


def blank(value, names):
    """References to the resources ``names`` replaced by ''."""
    if _refers(value, names):
        return ''
    if isinstance(value, dict):
        return {k: blank(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [blank(v, names) for v in value]
    return value


def remove_resources(template, names):
    """Drop ``names`` and the depends_on entries naming them."""
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


def prune_parameters(template):
    """Drop declared parameters nothing reads any more."""
    used = used_parameters([template['resources'], template['outputs']])
    template['parameters'] = {k: v for k, v in
                              template['parameters'].items() if k in used}


def restrict_properties(properties, declared):
    """Only the properties a nested template still declares."""
    return {k: v for k, v in properties.items() if k in declared}


# driver helpers -----------------------------------------------------------
def first(*values, default=None):
    """The first value that is neither None nor ''."""
    for value in values:
        if value not in (None, ''):
            return value
    return default


def flag(*values, default):
    """The first given value as a boolean ('true', 'False', 1...)."""
    value = first(*values, default=default)
    return bool(coercion.from_string(value, {'type': 'boolean'}))


def group(nodegroups, role):
    """The nodegroup of ``role`` the cluster's stack builds: the default
    groups first."""
    ordered = sorted(nodegroups or [],
                     key=lambda g: not g.get('is_default', True))
    for ng in ordered:
        if (ng.get('role') == 'master') == (role == 'master'):
            return ng
    return {}


def node_groups(nodegroups, template):
    """(masters' nodegroup, workers' nodegroup, masters' image, workers'
    image) of the cluster's stack; a 400 without an image."""
    masters = group(nodegroups, 'master')
    workers = group(nodegroups, 'worker')
    image = first(masters.get('image_id'), template.get('image_id'))
    minion_image = first(workers.get('image_id'), image)
    if not image or not minion_image:
        raise exceptions.InvalidParameterValue(
            err='The cluster template has no image_id.')
    return masters, workers, image, minion_image


def flavors(cluster, template, masters, workers, default):
    """The masters' and the workers' flavors: a nodegroup's own, else the
    cluster's, else its template's."""
    return {
        'master_flavor': first(
            masters.get('flavor_id'), cluster.get('master_flavor_id'),
            template.get('master_flavor_id'), default=default),
        'minion_flavor': first(
            workers.get('flavor_id'), cluster.get('flavor_id'),
            template.get('flavor_id'), default=default)}


def b64(text):
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode('ascii')


OS_VARIANTS = (('Ubuntu', 'ubuntu', 'ubuntu'),
               ('FedoraCoreOS', 'fcos', 'fedora-coreos'))


def os_variants(base, prefix, coe, module, extra=()):
    """The driver classes of ``base``, one per OS: only their name, their
    ``os_distro`` and what they provide differ (``module`` is where the
    entry points find them; ``extra`` adds OS variants to OS_VARIANTS)."""
    classes = {}
    for class_prefix, short, os_distro in OS_VARIANTS + tuple(extra):
        name = class_prefix + base.__name__
        classes[name] = type(name, (base,), {
            '__module__': module,
            '__doc__': '%s on %s.' % (base.__name__, os_distro),
            'name': '%s_%s_v1' % (prefix, short),
            'os_distro': os_distro,
            'provides': [{'server_type': st, 'os': os_distro, 'coe': coe}
                         for st in ('vm', 'bm')]})
    return classes
