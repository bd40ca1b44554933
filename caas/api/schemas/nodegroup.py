"""Bodies of ``POST /v1/clusters/<c>/nodegroups`` and the nodegroup PATCH,
and the Kubernetes syntax of ``node_labels`` and ``node_taints`` (1.14).

Kubernetes' own rules (k8s.io/apimachinery validation): a label key is an
optional DNS-subdomain prefix and a slash, then a name of at most 63
characters of alphanumerics, ``-``, ``_`` and ``.``, starting and ending
alphanumeric; a value is empty or a name. A taint is a key, an optional
value and one of three effects. Taints are stored in one canonical form,
``[{"key", "value", "effect"}]``; the API also accepts Kubernetes'
command-line form ``key=value:Effect`` (or ``key:Effect``).
"""

import re

from caas.api.schemas import cluster as cluster_schema
from caas.common import exceptions

_NAME = r'([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)'
_PREFIX = r'([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)'
KEY_RE = re.compile(r'^(%s/)?%s$' % (_PREFIX, _NAME))
VALUE_RE = re.compile(r'^(%s)?$' % _NAME)
TAINT_RE = re.compile(r'^(?P<key>[^=:]+)(=(?P<value>[^:]*))?:(?P<effect>.+)$')
EFFECTS = ('NoSchedule', 'PreferNoSchedule', 'NoExecute')

# A kubelet may only set labels of these kubernetes.io / k8s.io prefixes on
# its own node (the NodeRestriction admission plugin refuses the others,
# and the node would never register).
KUBELET_PREFIXES = ('kubelet.kubernetes.io', 'node.kubernetes.io')

MAX_LABELS = 64
MAX_TAINTS = 32

_ref = {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255}

PROPERTIES = {
    'name': {'type': 'string', 'minLength': 1, 'maxLength': 255,
             'pattern': '^[a-zA-Z][a-zA-Z0-9_.-]*$'},
    'node_count': {'type': 'integer', 'minimum': 0,
                   'maximum': cluster_schema.MAX_NODES},
    'min_node_count': {'type': ['integer', 'null'], 'minimum': 0,
                       'maximum': cluster_schema.MAX_NODES},
    'max_node_count': {'type': ['integer', 'null'], 'minimum': 0,
                       'maximum': cluster_schema.MAX_NODES},
    'flavor_id': _ref,
    'image_id': _ref,
    'docker_volume_size': {'type': ['integer', 'null'], 'minimum': 1,
                           'maximum': cluster_schema.MAX_VOLUME_GB},
    'labels': {'type': ['object', 'null'],
               'additionalProperties': {'type': 'string'}},
    'merge_labels': {'type': ['boolean', 'null']},
    'role': {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255},
}

# Microversion 1.14 on.
NODE_PROPERTIES = {
    'node_labels': {'type': ['object', 'null'], 'maxProperties': MAX_LABELS,
                    'additionalProperties': {'type': 'string'}},
    'node_taints': {'type': ['array', 'null'], 'maxItems': MAX_TAINTS,
                    'items': {'type': ['string', 'object']}},
}

# What a nodegroup PATCH may change. Magnum allows min/max only; caas also
# takes node_count (the same as a resize naming the nodegroup), and from
# 1.14 on node_labels and node_taints (NODE_PROPERTIES).
UPDATABLE = ('node_count', 'min_node_count', 'max_node_count')


def create(min_nodes=0, node_fields=False):
    props = dict(PROPERTIES)
    props['node_count'] = dict(props['node_count'], minimum=min_nodes)
    if node_fields:
        props.update(NODE_PROPERTIES)
    return {'type': 'object', 'properties': props, 'required': ['name'],
            'additionalProperties': False}


def update(min_nodes=0):
    """A nodegroup after its PATCH, restricted to what may change."""
    return {
        'type': 'object',
        'properties': {
            'node_count': dict(PROPERTIES['node_count'], minimum=min_nodes),
            'min_node_count': PROPERTIES['min_node_count'],
            'max_node_count': PROPERTIES['max_node_count'],
        },
        'required': ['node_count'],
    }


def _invalid(err):
    return exceptions.InvalidParameterValue(err=err)


def _check_key(field, key):
    if len(key) > 317 or not KEY_RE.match(key):
        raise _invalid('Invalid %s key %r: a Kubernetes key is an optional '
                       'DNS subdomain prefix and "/", then a name of at most '
                       '63 letters, digits, "-", "_" or ".", starting and '
                       'ending with a letter or digit.' % (field, key))
    prefix = key.rpartition('/')[0]
    if len(prefix) > 253:
        raise _invalid('Invalid %s key %r: the prefix is longer than 253 '
                       'characters.' % (field, key))
    return prefix


def _check_value(field, key, value):
    if not isinstance(value, str) or not VALUE_RE.match(value):
        raise _invalid('Invalid %s value %r of %s: a Kubernetes label value '
                       'is empty or at most 63 letters, digits, "-", "_" or '
                       '".", starting and ending with a letter or digit.' % (
                           field, value, key))


def node_labels(labels):
    """Checked ``{key: value}`` Kubernetes labels for a nodegroup's nodes."""
    for key, value in (labels or {}).items():
        prefix = _check_key('node_labels', key)
        restricted = prefix == 'kubernetes.io' or prefix == 'k8s.io' or \
            prefix.endswith(('.kubernetes.io', '.k8s.io'))
        if restricted and prefix not in KUBELET_PREFIXES:
            raise _invalid('Invalid node_labels key %r: a kubelet may not set '
                           'labels under the %s prefix on its own node; use '
                           'your own prefix, or one of %s.' % (
                               key, prefix, ', '.join(KUBELET_PREFIXES)))
        _check_value('node_labels', key, value)
    return dict(labels or {})


def _taint(item):
    if isinstance(item, str):
        match = TAINT_RE.match(item)
        if not match:
            raise _invalid('Invalid node_taints entry %r: use "key=value:'
                           'Effect", "key:Effect" or {"key", "value", '
                           '"effect"}.' % item)
        item = {'key': match.group('key'),
                'value': match.group('value') or '',
                'effect': match.group('effect')}
    extra = set(item) - {'key', 'value', 'effect'}
    if extra or not isinstance(item.get('key'), str):
        raise _invalid('Invalid node_taints entry %r: an object needs "key" '
                       'and "effect" and may have "value", nothing else.'
                       % (item,))
    value = item.get('value')
    value = '' if value is None else value
    _check_key('node_taints', item['key'])
    _check_value('node_taints', item['key'], value)
    if item.get('effect') not in EFFECTS:
        raise _invalid('Invalid node_taints effect %r of %s: use one of %s.'
                       % (item.get('effect'), item['key'], ', '.join(EFFECTS)))
    return {'key': item['key'], 'value': value, 'effect': item['effect']}


def node_taints(taints):
    """Taints in their canonical form ``[{key, value, effect}]``; a second
    taint of the same key and effect is refused (Kubernetes does)."""
    result, seen = [], set()
    for item in taints or []:
        taint = _taint(item)
        ident = (taint['key'], taint['effect'])
        if ident in seen:
            raise _invalid('Invalid node_taints: %s:%s is given twice.'
                           % ident)
        seen.add(ident)
        result.append(taint)
    return result


def check_bounds(name, node_count, min_count, max_count):
    """min_node_count <= node_count <= max_node_count (max when set), as a
    400 naming the bounds."""
    min_count = min_count or 0
    if max_count is not None and max_count < min_count:
        raise _invalid('Invalid value for max_node_count of nodegroup %s: '
                       'min_node_count (%s) must be less than or equal to '
                       'max_node_count (%s).' % (name, min_count, max_count))
    if node_count < min_count:
        raise _invalid('Invalid value for node_count of nodegroup %s: %s is '
                       'below min_node_count (%s).' % (name, node_count,
                                                       min_count))
    if max_count is not None and node_count > max_count:
        raise _invalid('Invalid value for node_count of nodegroup %s: %s is '
                       'above max_node_count (%s).' % (name, node_count,
                                                       max_count))
