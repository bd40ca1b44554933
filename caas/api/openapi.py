"""The OpenAPI 3.1 description of the API, served at ``GET /v1/openapi.json``.

Built at request time from two sources that the API itself runs on, so that
it cannot drift from what is served: the Flask URL map (every route and
method) and the JSON Schemas the controllers validate bodies with
(``caas.api.schemas``, ``caas.api.patching.schema``, the list parameters'
sort keys, ``caas.api.errors.ERROR_SCHEMA``). OpenAPI 3.1 takes JSON Schema
as it is, so the body schemas are copied in unchanged. What cannot be read
from code (a summary, the success status, which schema goes with which
route) is in :data:`OPERATIONS`, keyed by Flask endpoint name; a test fails
when a route has no entry.
"""

import copy
import re

import flask

from caas import pki
from caas.api import errors
from caas.api import microversions
from caas.api import patching
from caas.api import request
from caas.api.controllers.v1 import clusters
from caas.api.controllers.v1 import clustertemplates
from caas.api.schemas import certificate as certificate_schema
from caas.api.schemas import cluster as cluster_schema
from caas.api.schemas import clustertemplate as template_schema
from caas.api.schemas import nodegroup as nodegroup_schema
from caas.api.schemas import quota as quota_schema
from caas.conf import CONF
from caas.db import quotas as db_quotas

PATH = '/v1/openapi.json'

_LIST_PARAMS = ('limit', 'marker', 'sort_key', 'sort_dir')


def _template_patch():
    return patching.schema(template_schema.PROPERTIES)


def _cluster_patch():
    return patching.schema(cluster_schema.UPDATABLE)


def _cluster_create():
    # The widest version: node_count may be 0 from 1.10 on.
    return cluster_schema.create(min_nodes=0)


def _cluster_resize():
    return cluster_schema.resize(min_nodes=0)


def _nodegroup_create():
    # The widest version: node_count 0 (1.10) and the node fields (1.14).
    return nodegroup_schema.create(min_nodes=0, node_fields=True)


def _nodegroup_patch():
    return patching.schema(nodegroup_schema.UPDATABLE)


def _cluster_upgrade():
    return cluster_schema.UPGRADE


def _template_create():
    return template_schema.CREATE


def _quota_create():
    return quota_schema.CREATE


def _quota_update():
    return quota_schema.UPDATE


def _certificate_sign():
    return certificate_schema.sign(CONF.pki.max_csr_bytes)


# endpoint: (tag, summary, success status, body schema factory or None,
#            list sort keys or None, extra query parameters)
OPERATIONS = {
    'versions': ('versions', 'The API versions document.', '200', None,
                 None, ()),
    'v1': ('versions', 'The v1 document: links and media types.', '200',
           None, None, ()),
    'openapi': ('versions', 'This OpenAPI description.', '200', None, None,
                ()),
    'clustertemplates_get_all': (
        'clustertemplates', 'List cluster templates (summary view).', '200',
        None, clustertemplates.SORT_KEYS, ()),
    'clustertemplates_detail': (
        'clustertemplates', 'List cluster templates with every field.',
        '200', None, clustertemplates.SORT_KEYS, ()),
    'clustertemplates_create': (
        'clustertemplates', 'Create a cluster template.', '201',
        _template_create, None, ()),
    'clustertemplates_get_one': (
        'clustertemplates', 'Show a cluster template by UUID or name.',
        '200', None, None, ()),
    'clustertemplates_update': (
        'clustertemplates', 'Change a cluster template (JSON Patch).', '200',
        _template_patch, None, ()),
    'clustertemplates_delete': (
        'clustertemplates', 'Delete a cluster template no cluster uses.',
        '204', None, None, ()),
    'clusters_get_all': (
        'clusters', 'List clusters (summary view).', '200', None,
        clusters.SORT_KEYS, ()),
    'clusters_detail': (
        'clusters', 'List clusters with every field.', '200', None,
        clusters.SORT_KEYS, ()),
    'clusters_create': (
        'clusters', 'Create a cluster (accepted; built asynchronously).',
        '202', _cluster_create, None, ()),
    'clusters_get_one': (
        'clusters', 'Show a cluster by UUID or name.', '200', None, None,
        ()),
    'clusters_update': (
        'clusters', 'Change node_count (JSON Patch); rollback from 1.3.',
        '202', _cluster_patch, None, ('rollback',)),
    'clusters_delete': (
        'clusters', 'Delete a cluster (accepted; deleted asynchronously).',
        '204', None, None, ()),
    'clusters_resize': (
        'clusters', 'Resize a worker nodegroup (microversion 1.7 on).',
        '202', _cluster_resize, None, ()),
    'clusters_upgrade': (
        'clusters', 'Upgrade a cluster (or one default nodegroup) to another '
        'template, replacing nodes in batches (microversion 1.8 on).',
        '202', _cluster_upgrade, None, ()),
    'nodegroups_get_all': (
        'nodegroups', "List a cluster's nodegroups (microversion 1.9 on).",
        '200', None, None, ('role',)),
    'nodegroups_get_one': (
        'nodegroups', 'Show a nodegroup by UUID or name (1.9 on).', '200',
        None, None, ()),
    'nodegroups_create': (
        'nodegroups', 'Add a worker nodegroup (1.9 on; node_labels and '
        'node_taints 1.14 on).', '202', _nodegroup_create, None, ()),
    'nodegroups_update': (
        'nodegroups', 'Change node_count, min_node_count, max_node_count '
        '(JSON Patch; 1.9 on).', '202', _nodegroup_patch, None, ()),
    'nodegroups_delete': (
        'nodegroups', 'Delete a nodegroup users added (1.9 on).', '204',
        None, None, ()),
    'certificates_get_one': (
        'certificates', "Show a cluster's CA certificate (PEM).", '200',
        None, None, ('ca_cert_type',)),
    'certificates_create': (
        'certificates', "Sign a CSR with a cluster's CA.", '201',
        _certificate_sign, None, ()),
    'certificates_rotate': (
        'certificates', "Rotate a cluster's CAs (microversion 1.5 on).",
        '202', None, None, ()),
    'credentials_rotate': (
        'credentials', "Rotate the cloud credential (Keystone trustee and "
        "trust) of a cluster's nodes (microversion 1.12 on).", '202', None,
        None, ()),
    'clusters_events': (
        'events', "A cluster's progress events, paged (a caas extension).",
        '200', None, ('id',), ('all_projects',)),
    'events_get_all': (
        'events', "Progress events of the caller's project, paged (a caas "
        'extension).', '200', None, ('id',), ('all_projects',)),
    'events_stream': (
        'events', 'Progress events as Server-Sent Events, for a bounded '
        'time (a caas extension).', '200', None, None,
        ('cluster', 'last_event_id', 'all_projects')),
    'conductors_get_all': (
        'conductors', 'The conductors, their heartbeats and the operations '
        'each owns (a caas extension).', '200', None, None, ()),
    'mservices_get_all': (
        'mservices', 'List the conductors and whether they are up.', '200',
        None, None, ()),
    'stats_get_all': (
        'stats', 'Cluster and node counts of a project, or of every project '
        'for an administrator (microversion 1.4 on).', '200', None, None,
        ('project_id', 'type')),
    'quotas_get_all': (
        'quotas', "List quotas: the caller's project, every project with "
        'all_tenants (administrators).', '200', None, db_quotas.SORT_KEYS,
        ('all_tenants',)),
    'quotas_create': (
        'quotas', "Set a project's quota (administrators).", '201',
        _quota_create, None, ()),
    'quotas_get_one': (
        'quotas', "Show a project's quota (the default when none is set).",
        '200', None, None, ()),
    'quotas_update': (
        'quotas', "Change a project's quota (a Quota object, not a JSON "
        'Patch).', '202', _quota_update, None, ()),
    'quotas_delete': (
        'quotas', "Remove a project's quota; the default applies again.",
        '204', None, None, ()),
}

_QUERY = {
    'limit': {'type': 'integer', 'minimum': 1},
    'marker': {'type': 'string'},
    'sort_dir': {'type': 'string', 'enum': ['asc', 'desc']},
    'rollback': {'type': 'string', 'enum': ['true', 'false']},
    'ca_cert_type': {'type': 'string', 'enum': list(pki.ALL_CA_TYPES)},
    'all_projects': {'type': 'string', 'enum': ['true', 'false']},
    'cluster': {'type': 'string'},
    'role': {'type': 'string'},
    'last_event_id': {'type': 'integer', 'minimum': 0},
    'type': {'type': 'string', 'enum': ['cluster']},
    'all_tenants': {'type': 'string', 'enum': ['true', 'false']},
}


def _version_pattern():
    """The header values served: "container-infra latest" or a version in
    [MIN, MAX] (one major version)."""
    low, high = microversions.MIN_VERSION, microversions.MAX_VERSION
    versions = ['%d\\.%d' % (low.major, minor)
                for minor in range(low.minor, high.minor + 1)]
    return '^%s (latest|%s)$' % (microversions.SERVICE_TYPE,
                                 '|'.join(versions))


def _openapi_path(rule):
    return re.sub(r'<(?:[^:<>]+:)?([^<>]+)>', r'{\1}', rule)


def _parameters(rule, sort_keys, extra):
    params = [{'name': name, 'in': 'path', 'required': True,
               'schema': {'type': 'string', 'minLength': 1}}
              for name in re.findall(r'<(?:[^:<>]+:)?([^<>]+)>', rule)]
    names = (_LIST_PARAMS if sort_keys else ()) + tuple(extra)
    for name in names:
        schema = copy.deepcopy(_QUERY.get(name, {'type': 'string'}))
        if name == 'sort_key':
            schema = {'type': 'string', 'enum': list(sort_keys)}
        params.append({'name': name, 'in': 'query', 'required': False,
                       'schema': schema})
    if rule.startswith('/v1'):
        params.append({
            'name': microversions.HEADER, 'in': 'header', 'required': False,
            'description': 'The microversion, "%s X.Y" (%s to %s) or "%s '
                           'latest"; the minimum when absent.' % (
                               microversions.SERVICE_TYPE,
                               microversions.MIN_VERSION_STRING,
                               microversions.MAX_VERSION_STRING,
                               microversions.SERVICE_TYPE),
            'schema': {'type': 'string', 'pattern': _version_pattern()}})
    return params


def _operation(endpoint, rule, method):
    tag, summary, status, body, sort_keys, extra = OPERATIONS[endpoint]
    op = {
        'operationId': '%s_%s' % (endpoint, method.lower()),
        'tags': [tag],
        'summary': summary,
        'parameters': _parameters(rule, sort_keys, extra),
        'responses': {
            status: {'description': summary} if status == '204' else {
                'description': summary,
                'content': {'application/json': {
                    'schema': {'type': 'object'}}}},
            'default': {
                'description': "An error in Magnum's shape.",
                'content': {'application/json': {
                    'schema': {'$ref': '#/components/schemas/Error'}}}},
        },
    }
    if body is not None:
        op['requestBody'] = {
            'required': True,
            'content': {'application/json': {'schema': copy.deepcopy(
                body())}}}
    return op


def undescribed(app):
    """(rule, method) pairs of ``app`` that OPERATIONS does not describe."""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == 'static':
            continue
        for method in sorted(rule.methods - {'HEAD', 'OPTIONS'}):
            if rule.endpoint not in OPERATIONS:
                missing.append((rule.rule, method))
    return missing


def document(app, base_url=''):
    """The OpenAPI description of ``app`` (a dict)."""
    paths = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint not in OPERATIONS:
            continue
        item = paths.setdefault(_openapi_path(rule.rule), {})
        for method in sorted(rule.methods - {'HEAD', 'OPTIONS'}):
            item[method.lower()] = _operation(rule.endpoint, rule.rule,
                                              method)
    return {
        'openapi': '3.1.0',
        'info': {
            'title': "caas: OpenStack Magnum's v1 API (container-infra)",
            'version': microversions.MAX_VERSION_STRING,
            'description': 'Microversions %s to %s, negotiated with the %s '
                           'header. Errors are JSON in Magnum\'s shape for '
                           'every status.' % (
                               microversions.MIN_VERSION_STRING,
                               microversions.MAX_VERSION_STRING,
                               microversions.HEADER),
        },
        'servers': [{'url': base_url or '/'}],
        'security': [{'keystone': []}],
        'paths': paths,
        'components': {
            'schemas': {'Error': copy.deepcopy(errors.ERROR_SCHEMA)},
            'securitySchemes': {'keystone': {
                'type': 'apiKey', 'in': 'header', 'name': 'X-Auth-Token',
                'description': 'A Keystone token (auth_strategy = '
                               'keystone); not needed with noauth.'}},
        },
    }


def serve():
    return request.respond(document(flask.current_app, request.base_url()))


def register(app):
    app.add_url_rule(PATH, 'openapi', serve, methods=['GET'])
