"""``/v1/clusters/<ident>/nodegroups``: microversion 1.9 on.

Lists (with Magnum's ``role`` filter) and shows a cluster's nodegroups;
creates, changes and deletes the ones users add. Every change follows the
data path's first contract: the nodegroup row (created, or its status) and
an ``operations`` row are written in the transaction that compare-and-sets
the cluster to UPDATE_IN_PROGRESS (a cluster with another operation in
progress is a 409), and only after the commit is the conductor cast.

The default nodegroups are built by the cluster's own stack and cannot be
deleted; a nodegroup users add has its own stack of workers that join the
cluster's control plane, so only worker nodegroups can be added.
"""

import ast

import flask
from oslo_log import log as logging

from caas.api import microversions
from caas.api import patching
from caas.api import request
from caas.api import scope
from caas.api import views
from caas.api.controllers.v1 import clusters
from caas.api.controllers.v1 import credentials
from caas.api.schemas import nodegroup as schema
from caas.api import schemas
from caas.common import exceptions
from caas.common import states
from caas.db import api as db

LOG = logging.getLogger(__name__)


def _need(version, what):
    if request.version() < version:
        raise exceptions.NotAcceptable(
            message='%s need microversion %s or later (requested %s).' % (
                what, version, request.version()))


def _cluster(ident, rule, all_projects_rule):
    _need(microversions.NODEGROUPS, 'Nodegroups')
    return scope.find(db.get_cluster, ident, rule, all_projects_rule)


def _min_nodes():
    return 0 if request.version() >= microversions.ZERO_NODES else 1


def _view(ng, summary=False):
    return views.nodegroup(
        ng, request.base_url(), summary=summary,
        node_fields=request.version() >= microversions.NODE_LABELS)


def get_all(ident):
    cluster = _cluster(ident, 'nodegroup:get_all',
                       'nodegroup:get_all_all_projects')
    role = flask.request.args.get('role') or None
    groups = db.list_nodegroups(cluster.uuid, role=role)
    return request.respond({'nodegroups': [
        _view(ng, summary=True) for ng in groups]})


def get_one(ident, nodegroup):
    cluster = _cluster(ident, 'nodegroup:get',
                       'nodegroup:get_one_all_projects')
    ng = clusters.find_nodegroup(cluster.uuid, nodegroup)
    return request.respond(_view(ng))


def _check_node_fields_version(body):
    """node_labels / node_taints checked and in their stored form; below
    1.14 they are unknown fields (a 400 that names the version)."""
    if not isinstance(body, dict):
        return      # the schema says what is wrong with it
    given = [k for k in schema.NODE_PROPERTIES if k in body]
    if given and request.version() < microversions.NODE_LABELS:
        raise exceptions.InvalidParameterValue(
            err='Invalid input: %s need(s) microversion %s or later '
                '(requested %s).' % (', '.join(given),
                                     microversions.NODE_LABELS,
                                     request.version()))


def _literal(field, value):
    """python-magnumclient sends dict and list PATCH values as their
    Python repr (Magnum's JSON-Patch values were text)."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value) if value.strip() else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise exceptions.InvalidParameterValue(
            err='Invalid value for field/attribute %s: %s is neither JSON '
                'nor a Python literal.' % (field, value[:100]))


def _patched_node_fields(ng, current, patched):
    """The changed node_labels / node_taints in their stored form."""
    changed = {}
    labels = _literal('node_labels', patched.get('node_labels'))
    if not isinstance(labels, (dict, type(None))):
        raise exceptions.InvalidParameterValue(
            err='Invalid value for field/attribute node_labels: an object of '
                'labels is needed.')
    labels = schema.node_labels(labels or {})
    if labels != current['node_labels']:
        changed['node_labels'] = labels
    taints = _literal('node_taints', patched.get('node_taints'))
    if not isinstance(taints, (list, type(None))):
        raise exceptions.InvalidParameterValue(
            err='Invalid value for field/attribute node_taints: a list of '
                'taints is needed.')
    taints = schema.node_taints(taints or [])
    if taints != current['node_taints']:
        changed['node_taints'] = taints
    return changed


def _labels(cluster, template, body, services):
    """Magnum's rule: the cluster's labels unless labels are given; with
    ``merge_labels`` the given ones override the cluster's."""
    given = body.get('labels')
    if given is None:
        labels = dict(cluster.labels or {})
    elif body.get('merge_labels'):
        labels = dict(cluster.labels or {}, **given)
    else:
        labels = dict(given)
    if template.cluster_distro or template.driver:
        driver = services.find_driver(
            template.server_type, template.cluster_distro, template.coe,
            explicit=template.driver)
        driver.validate_labels(dict(template.labels or {}, **labels))
    return labels



def _creator_params(services):
    """Acting through the cluster's trust, Heat still wants a token of the
    user's own to create a stack (caas.clients.trusted): the caller's."""
    if not services.conf.trust.act_as_trustee:
        return {}
    return credentials.trustor_params()

def create(ident):
    # Adding a nodegroup changes the cluster: an administrator of another
    # project may, as for a cluster update (no nodegroup rule says so).
    cluster = _cluster(ident, 'nodegroup:create',
                       'cluster:update_all_projects')
    services = request.services()
    raw = request.json_body()
    _check_node_fields_version(raw)
    body = schemas.coerce_and_validate(
        schema.create(_min_nodes(),
                      request.version() >= microversions.NODE_LABELS), raw)
    name = body['name']
    role = body.get('role') or 'worker'
    if role == 'master':
        raise exceptions.InvalidParameterValue(
            err='Invalid value for field/attribute role: master. caas cannot '
                "add masters to a running cluster's control plane (the "
                "masters are the cluster's default-master nodegroup); "
                'create a worker nodegroup.')
    if any(ng.name == name for ng in db.list_nodegroups(cluster.uuid)):
        raise exceptions.NodeGroupAlreadyExists(name=name,
                                                cluster=cluster.uuid)
    template = db.get_cluster_template(cluster.cluster_template_id,
                                       scope=db.ALL_PROJECTS)
    node_count = body.get('node_count')
    node_count = 1 if node_count is None else node_count
    min_count = body.get('min_node_count')
    if min_count is None:
        min_count = _min_nodes()
    schema.check_bounds(name, node_count, min_count,
                        body.get('max_node_count'))
    values = {
        'uuid': db.new_uuid(), 'name': name, 'role': role,
        'project_id': cluster.project_id, 'is_default': False,
        'node_count': node_count, 'min_node_count': min_count,
        'max_node_count': body.get('max_node_count'),
        'flavor_id': body.get('flavor_id') or cluster.flavor_id,
        'image_id': body.get('image_id') or template.image_id,
        'docker_volume_size': body.get('docker_volume_size') or
        cluster.docker_volume_size,
        'labels': _labels(cluster, template, body, services),
        'node_labels': schema.node_labels(body.get('node_labels')),
        'node_taints': schema.node_taints(body.get('node_taints')),
        'status': states.CREATE_IN_PROGRESS, 'node_addresses': [],
    }
    if services.conf.cloud.validate_references:
        services.check_references(values, ('flavor_id', 'image_id'))
    cluster, operation = db.start_operation(
        cluster.uuid, states.OP_NODEGROUP_CREATE,
        params=dict(_creator_params(services), nodegroup=values['uuid']),
        timeout_minutes=cluster.create_timeout or
        services.conf.conductor.default_create_timeout,
        request_id=request.request_id(), new_nodegroup=values)
    LOG.info('Cluster %s: nodegroup %s (%s) create accepted (operation %s)',
             cluster.uuid, name, values['uuid'], operation.id)
    clusters.cast('nodegroup_create', cluster, operation)
    ng = clusters.find_nodegroup(cluster.uuid, values['uuid'])
    return request.respond(_view(ng), 202)


def start_update(cluster, ng, params):
    """Record a change of a nodegroup the cluster's stack does not build
    (PATCH, or a resize naming it) and cast it; the nodegroup view."""
    services = request.services()
    params = dict(params, nodegroup=ng.uuid)
    cluster, operation = db.start_operation(
        cluster.uuid, states.OP_NODEGROUP_UPDATE, params=params,
        timeout_minutes=services.conf.conductor.update_timeout,
        request_id=request.request_id(),
        nodegroup=(ng.uuid, {'status': states.UPDATE_IN_PROGRESS,
                             'status_reason': None}))
    LOG.info('Cluster %s: nodegroup %s update accepted (operation %s, %s)',
             cluster.uuid, ng.uuid, operation.id, params)
    clusters.cast('nodegroup_update', cluster, operation)
    return clusters.find_nodegroup(cluster.uuid, ng.uuid)


def update(ident, nodegroup):
    cluster = _cluster(ident, 'nodegroup:update',
                       'cluster:update_all_projects')
    ng = clusters.find_nodegroup(cluster.uuid, nodegroup)
    current = {'node_count': ng.node_count,
               'min_node_count': ng.min_node_count,
               'max_node_count': ng.max_node_count}
    allowed = schema.UPDATABLE
    node_fields = request.version() >= microversions.NODE_LABELS
    if node_fields:
        current.update(node_labels=dict(ng.node_labels or {}),
                       node_taints=list(ng.node_taints or []))
        allowed += tuple(schema.NODE_PROPERTIES)
    patched = patching.apply(current, request.json_body(), allowed=allowed)
    node_params = _patched_node_fields(ng, current, patched) \
        if node_fields else {}
    # A removed field is unset (node_count cannot be: a 400).
    patched = schemas.coerce_and_validate(schema.update(_min_nodes()), {
        k: v for k, v in patched.items() if k in schema.UPDATABLE})
    min_count = patched.get('min_node_count') or 0
    schema.check_bounds(ng.name, patched['node_count'], min_count,
                        patched.get('max_node_count'))
    if ng.role == 'master' and patched['node_count'] != ng.node_count:
        raise exceptions.InvalidParameterValue(
            err='Invalid value for field/attribute node_count: %s is a '
                'master nodegroup, which cannot be resized.' % ng.name)
    params = {'node_count': patched['node_count'],
              'min_node_count': min_count,
              'max_node_count': patched.get('max_node_count')}
    params.update(node_params)
    if ng.is_default and node_params:
        raise exceptions.InvalidParameterValue(
            err='Invalid patch: node_labels and node_taints of the default '
                'nodegroup %s cannot be changed; add a nodegroup with '
                'them.' % ng.name)
    if ng.is_default:
        # The cluster's own stack builds it: the cluster update does it
        # (for the masters only their bounds change).
        stack_params = dict(params, nodegroup=ng.uuid)
        if ng.role == 'master':
            del stack_params['node_count']
        clusters.start_update(cluster, stack_params)
        ng = clusters.find_nodegroup(cluster.uuid, ng.uuid)
    else:
        ng = start_update(cluster, ng, params)
    # Like Magnum, the answer shows the nodegroup as it will be.
    view = _view(ng)
    view.update(params)
    return request.respond(view, 202)


def delete(ident, nodegroup):
    cluster = _cluster(ident, 'nodegroup:delete',
                       'cluster:update_all_projects')
    ng = clusters.find_nodegroup(cluster.uuid, nodegroup)
    if ng.is_default:
        raise exceptions.InvalidParameterValue(
            err='Nodegroup %s is a default nodegroup of cluster %s; default '
                'nodegroups cannot be deleted (delete the cluster).' % (
                    ng.name, cluster.uuid))
    cluster, operation = db.start_operation(
        cluster.uuid, states.OP_NODEGROUP_DELETE,
        params={'nodegroup': ng.uuid},
        timeout_minutes=request.services().conf.conductor.update_timeout,
        request_id=request.request_id(),
        nodegroup=(ng.uuid, {'status': states.DELETE_IN_PROGRESS,
                             'status_reason': None}))
    LOG.info('Cluster %s: nodegroup %s delete accepted (operation %s)',
             cluster.uuid, ng.uuid, operation.id)
    clusters.cast('nodegroup_delete', cluster, operation)
    return request.no_content()


def register(app):
    base = '/v1/clusters/<ident>/nodegroups'
    opts = {'strict_slashes': False}
    app.add_url_rule(base, 'nodegroups_get_all', get_all, methods=['GET'],
                     **opts)
    app.add_url_rule(base, 'nodegroups_create', create, methods=['POST'],
                     **opts)
    app.add_url_rule(base + '/<nodegroup>', 'nodegroups_get_one', get_one,
                     methods=['GET'], **opts)
    app.add_url_rule(base + '/<nodegroup>', 'nodegroups_update', update,
                     methods=['PATCH'], **opts)
    app.add_url_rule(base + '/<nodegroup>', 'nodegroups_delete', delete,
                     methods=['DELETE'], **opts)
