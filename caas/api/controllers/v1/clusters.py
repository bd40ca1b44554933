"""``/v1/clusters``: create, list, show, PATCH node_count, resize, delete.

Every mutation follows the data path's first contract: one transaction
writes the row change and an ``operations`` row (``db.create_cluster`` /
``db.start_operation``, which raise 409 when another operation is in
progress), and only after it committed is the conductor cast. A failed
cast is logged, not reported: the operation is durable and the
conductors' sweeper re-drives it, so the 202 stays true.
"""

import functools

import flask
from oslo_log import log as logging

from caas import pki
from caas.api import microversions
from caas.api import pagination
from caas.api import patching
from caas.api import references
from caas.api import request
from caas.api import scope
from caas.api import views
from caas.api.controllers.v1 import credentials
from caas.api.schemas import cluster as schema
from caas.api import schemas
from caas.common import exceptions
from caas.common import policy
from caas.common import states
from caas.db import api as db
from caas.db.sqlalchemy import models
from caas.pki import authority

LOG = logging.getLogger(__name__)

SORT_KEYS = db.SORT_KEYS[models.Cluster]

# Cluster fields that fall back to the template's value when not given.
FROM_TEMPLATE = {
    'keypair': 'keypair_id',
    'flavor_id': 'flavor_id',
    'master_flavor_id': 'master_flavor_id',
    'docker_volume_size': 'docker_volume_size',
    'labels': 'labels',
    'fixed_network': 'fixed_network',
    'fixed_subnet': 'fixed_subnet',
    'floating_ip_enabled': 'floating_ip_enabled',
    'master_lb_enabled': 'master_lb_enabled',
}


def _min_nodes():
    return 0 if request.version() >= microversions.ZERO_NODES else 1


def _cast(method, cluster, operation):
    """Cast after the commit; a lost cast is re-driven by the sweeper."""
    rpcapi = request.services().rpcapi
    try:
        getattr(rpcapi, method)(request.context(), cluster_uuid=cluster.uuid,
                                operation_id=operation.id,
                                request_id=request.request_id())
    except Exception:
        LOG.exception('Cluster %s: could not cast %s for operation %s; it is '
                      'recorded and the sweeper will re-drive it.',
                      cluster.uuid, method, operation.id)


def _template_for_create(ident):
    # The caller's own or a public template, for administrators too: a
    # cluster never runs from another project's private template.
    try:
        return db.get_cluster_template(
            ident, scope=scope.project('cluster:create'))
    except exceptions.ClusterTemplateNotFound as exc:
        # A body naming a missing template is a bad request, not a 404.
        raise exceptions.InvalidParameterValue(
            err='Invalid value for field/attribute cluster_template_id: %s' %
                exc)


def create():
    ctx = request.context()
    policy.authorize(ctx, 'cluster:create')
    services = request.services()
    body = schemas.coerce_and_validate(schema.create(_min_nodes()),
                                       request.json_body())
    template = _template_for_create(body['cluster_template_id'])
    values = {k: v for k, v in body.items() if v is not None}
    for field, template_field in FROM_TEMPLATE.items():
        if values.get(field) is None:
            values[field] = getattr(template, template_field)
    if not values.get('master_flavor_id'):
        values['master_flavor_id'] = values.get('flavor_id')
    master_count = values.setdefault('master_count', 1)
    node_count = values.setdefault('node_count', 1)
    if master_count > 1 and not values.get('master_lb_enabled'):
        raise exceptions.InvalidParameterValue(
            err='Invalid value for field/attribute master_count: %d. More '
                'than one master needs master_lb_enabled.' % master_count)
    if values.get('create_timeout') is None:
        values['create_timeout'] = services.conf.conductor.default_create_timeout
    if services.conf.cloud.validate_references:
        references.check(services.cloud, values,
                         ('keypair', 'flavor_id', 'master_flavor_id',
                          'fixed_network'))
    if template.cluster_distro:
        # Cluster labels override the template's; the driver says which
        # labels it understands (a bad one is a 400 now, not a failed
        # create later).
        driver = services.find_driver(
            template.server_type, template.cluster_distro, template.coe,
            explicit=template.driver)
        driver.validate_labels(dict(template.labels or {},
                                    **(values.get('labels') or {})))
    values['uuid'] = db.new_uuid()
    values.setdefault('name', 'cluster-%s' % values['uuid'][:8])
    values.update(cluster_template_id=template.uuid,
                  project_id=ctx.project_id, user_id=ctx.user_id,
                  labels=values.get('labels') or {})
    common = {'image_id': template.image_id, 'is_default': True,
              'docker_volume_size': values.get('docker_volume_size'),
              'labels': dict(values['labels'])}
    nodegroups = [
        dict(common, name='default-master', role='master',
             node_count=master_count, flavor_id=values['master_flavor_id'],
             min_node_count=1),
        dict(common, name='default-worker', role='worker',
             node_count=node_count, flavor_id=values.get('flavor_id'),
             min_node_count=0),
    ]
    timeout = values['create_timeout'] or \
        services.conf.conductor.default_create_timeout
    # The CAs are written with the cluster: one transaction, no cluster
    # without them, nothing for a conductor to make idempotently later.
    cas = authority.new_cas(values['uuid'], pki.ca_types(template.coe))
    # The caller's token, sealed, for the trust the conductor makes.
    cluster, operation = db.create_cluster(
        values, nodegroups, timeout_minutes=timeout,
        request_id=request.request_id(), cas=cas,
        op_params=credentials.trustor_params())
    LOG.info('Cluster %s: create accepted (operation %s)', cluster.uuid,
             operation.id)
    _cast('cluster_create', cluster, operation)
    return request.respond({'uuid': cluster.uuid}, 202)


def _list(summary, rule, path):
    where = scope.for_list(rule, rule + '_all_projects')
    lister = functools.partial(db.list_clusters, summary=summary)
    return pagination.list_response('clusters', path, lister, views.cluster,
                                    SORT_KEYS, summary, where)


def get_all():
    return _list(True, 'cluster:get_all', 'clusters')


def detail():
    return _list(False, 'cluster:detail', 'clusters/detail')


def _get(ident, rule, all_projects_rule):
    return scope.find(db.get_cluster, ident, rule, all_projects_rule)


def get_one(ident):
    row = _get(ident, 'cluster:get', 'cluster:get_one_all_projects')
    return request.respond(views.cluster(row, request.base_url()))


def _default_worker(cluster_uuid):
    groups = db.list_nodegroups(cluster_uuid)
    workers = [ng for ng in groups if ng.role != 'master']
    for ng in workers:
        if ng.is_default:
            return ng
    if workers:
        return workers[0]
    raise exceptions.NodeGroupNotFound(nodegroup='default-worker')


def _start_update(row, params):
    services = request.services()
    cluster, operation = db.start_operation(
        row.uuid, states.OP_CLUSTER_UPDATE, params=params,
        timeout_minutes=services.conf.conductor.update_timeout,
        request_id=request.request_id())
    LOG.info('Cluster %s: update accepted (operation %s, %s)', cluster.uuid,
             operation.id, params)
    _cast('cluster_update', cluster, operation)
    return request.respond({'uuid': cluster.uuid}, 202)


def update(ident):
    row = _get(ident, 'cluster:update', 'cluster:update_all_projects')
    worker = _default_worker(row.uuid)
    patched = patching.apply({'node_count': row.node_count},
                             request.json_body(), allowed=schema.UPDATABLE)
    patched = schemas.coerce_and_validate(schema.update(_min_nodes()),
                                          patched)
    params = {'node_count': patched['node_count'], 'nodegroup': worker.uuid}
    rollback = flask.request.args.get('rollback', '').lower()
    if rollback in ('true', '1', 'yes') and \
            request.version() >= microversions.ROLLBACK:
        params['rollback'] = True
    return _start_update(row, params)


def resize(ident):
    if request.version() < microversions.RESIZE:
        raise exceptions.NotAcceptable(
            message='Resize needs microversion %s or later (requested %s).'
                    % (microversions.RESIZE, request.version()))
    row = _get(ident, 'cluster:resize', 'cluster:update_all_projects')
    body = schemas.coerce_and_validate(schema.resize(_min_nodes()),
                                       request.json_body())
    if body.get('nodegroup'):
        ng = find_nodegroup(row.uuid, body['nodegroup'])
    else:
        ng = _default_worker(row.uuid)
    if ng.role == 'master':
        raise exceptions.InvalidParameterValue(
            err='Invalid value for field/attribute nodegroup: %s is a master '
                'nodegroup, which cannot be resized.' % body['nodegroup'])
    params = {'node_count': body['node_count'], 'nodegroup': ng.uuid}
    if body.get('nodes_to_remove'):
        params['nodes_to_remove'] = body['nodes_to_remove']
    return _start_update(row, params)


def find_nodegroup(cluster_uuid, ident):
    """A cluster's nodegroup by UUID or name (ambiguous name: 409)."""
    groups = db.list_nodegroups(cluster_uuid)
    for ng in groups:
        if ng.uuid == ident:
            return ng
    named = [ng for ng in groups if ng.name == ident]
    if len(named) > 1:
        raise exceptions.Ambiguous(kind='nodegroups', name=ident)
    if not named:
        raise exceptions.NodeGroupNotFound(nodegroup=ident)
    return named[0]


def delete(ident):
    row = _get(ident, 'cluster:delete', 'cluster:delete_all_projects')
    cluster, operation = db.start_operation(
        row.uuid, states.OP_CLUSTER_DELETE,
        timeout_minutes=request.services().conf.conductor.update_timeout,
        request_id=request.request_id())
    LOG.info('Cluster %s: delete accepted (operation %s)', cluster.uuid,
             operation.id)
    _cast('cluster_delete', cluster, operation)
    return request.no_content()


def register(app):
    base = '/v1/clusters'
    opts = {'strict_slashes': False}
    app.add_url_rule(base, 'clusters_get_all', get_all, methods=['GET'],
                     **opts)
    app.add_url_rule(base, 'clusters_create', create, methods=['POST'],
                     **opts)
    app.add_url_rule(base + '/detail', 'clusters_detail', detail,
                     methods=['GET'], **opts)
    app.add_url_rule(base + '/<ident>', 'clusters_get_one', get_one,
                     methods=['GET'], **opts)
    app.add_url_rule(base + '/<ident>', 'clusters_update', update,
                     methods=['PATCH'], **opts)
    app.add_url_rule(base + '/<ident>', 'clusters_delete', delete,
                     methods=['DELETE'], **opts)
    app.add_url_rule(base + '/<ident>/actions/resize', 'clusters_resize',
                     resize, methods=['POST'], **opts)
