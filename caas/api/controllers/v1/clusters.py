"""``/v1/clusters``: create, list, show, PATCH node_count, resize, delete.

Every mutation follows the data path's first contract: one transaction
writes the row change and an ``operations`` row (``db.create_cluster`` /
``db.start_operation``, which raise 409 when another operation is in
progress), and only after it committed is the conductor cast. A failed
cast is logged, not reported: the operation is durable and the
conductors' sweeper re-drives it, so the 202 stays true. A create is
counted against the project's cluster quota in that same transaction.
A PATCH of ``health_status``/``health_status_reason`` only (what external
auto-healers send) is written as it is: it changes no node, so it starts
no operation.
"""

import functools

import flask
import orjson
from oslo_log import log as logging

from caas.api import microversions
from caas.api import pagination
from caas.api import patching
from caas.api import request
from caas.api import scope
from caas.api import views
from caas.api.controllers.v1 import credentials
from caas.api.schemas import cluster as schema
from caas.api.schemas import nodegroup as ng_schema
from caas.api import schemas
from caas.common import exceptions
from caas.common import notifications
from caas.common import policy
from caas.common import states
from caas.db import api as db
from caas.db import cluster_pages
from caas.db import quotas
from caas.db.sqlalchemy import models
from caas.drivers import base as drivers_base
from caas.pki import keystore

LOG = logging.getLogger(__name__)

SORT_KEYS = db.SORT_KEYS[models.Cluster]

# Cluster fields that fall back to the template's value when not given.
FROM_TEMPLATE = {
    'keypair': 'keypair_id',
    'flavor_id': 'flavor_id',
    'master_flavor_id': 'master_flavor_id',
    'docker_volume_size': 'docker_volume_size',
    'fixed_network': 'fixed_network',
    'fixed_subnet': 'fixed_subnet',
    'floating_ip_enabled': 'floating_ip_enabled',
    'master_lb_enabled': 'master_lb_enabled',
}


# The create's body schema: built once (copying it cost a create ~30 us).
_CREATE_SCHEMA = schema.create(0)


def _labels(body, template):
    """Magnum's rule: no labels (or empty ones) take the template's; given
    labels replace them, or override them with ``merge_labels``."""
    labels = body.get('labels')
    if not labels:
        return dict(template.labels or {})
    if body.get('merge_labels'):
        return dict(template.labels or {}, **labels)
    return dict(labels)


def view(row, base_url, summary=False):
    """A cluster's view at the request's microversion: from 1.13 on it
    names the cluster's id in its driver's backend (``cluster_id``; here
    the Heat stack's id), as Magnum does. The full view says, as Magnum's
    does at every version, how the cluster's labels differ from its
    template's (``labels_overridden``, ``labels_added``,
    ``labels_skipped``)."""
    data = views.cluster(row, base_url, summary=summary)
    if request.version() >= microversions.CLUSTER_ID:
        data['cluster_id'] = row.stack_id
    if not summary:
        overridden, added, skipped = drivers_base.labels_diff(
            row.template_labels, row.labels)
        data.update(labels_overridden=overridden, labels_added=added,
                    labels_skipped=skipped)
    return data


def _min_nodes():
    """Least node count of a resize. A cluster's own ``node_count`` (create,
    PATCH) may be 0 at every version, as Magnum's cluster type allows and
    magnum-tempest-plugin's test_create_cluster_with_zero_nodes expects
    without a microversion header."""
    return 0 if request.version() >= microversions.ZERO_NODES else 1


def cast(method, cluster, operation):
    """Cast after the commit; a lost cast is re-driven by the sweeper.
    Magnum's pending notification goes first (after the commit too)."""
    _pending(operation.kind, cluster)
    rpcapi = request.services().rpcapi
    try:
        getattr(rpcapi, method)(request.context(), cluster_uuid=cluster.uuid,
                                operation_id=operation.id,
                                request_id=request.request_id())
    except Exception:
        LOG.exception('Cluster %s: could not cast %s for operation %s; it is '
                      'recorded and the sweeper will re-drive it.',
                      cluster.uuid, method, operation.id)


def _pending(kind, cluster):
    """Magnum's pending notification, sent after the commit."""
    notifications.notify_cluster(request.context(), kind,
                                 notifications.PENDING, cluster)


def _template_fields(template):
    """The template row as the drivers take it (Magnum's field names)."""
    return {key: getattr(template, key) for key in (
        'server_type', 'fixed_network', 'fixed_subnet', 'docker_volume_size',
        'floating_ip_enabled', 'master_lb_enabled', 'keypair_id', 'labels',
        'network_driver')}


def _template_for_create(ident):
    # The caller's own or a public template, for administrators too: a
    # cluster never runs from another project's private template. One
    # statement, outside the create's transaction (as before: a template
    # in use cannot be deleted, and its fields are copied here).
    try:
        return db.find_cluster_template(
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
    body = schemas.coerce_and_validate(_CREATE_SCHEMA, request.json_body())
    template = _template_for_create(body['cluster_template_id'])
    labels = _labels(body, template)
    values = {k: v for k, v in body.items()
              if v is not None and k != 'merge_labels'}
    values['labels'] = labels
    for field, template_field in FROM_TEMPLATE.items():
        if values.get(field) is None:
            values[field] = getattr(template, template_field)
    if not values.get('master_flavor_id'):
        values['master_flavor_id'] = values.get('flavor_id')
    master_count = values.setdefault('master_count', 1)
    node_count = values.setdefault('node_count', 1)
    if master_count > 1 and not values.get('master_lb_enabled'):
        # Magnum's rule and words (attr_validator.validate_master_count).
        raise exceptions.InvalidParameterValue(
            err='master_count must be 1 when master_lb_enabled is False '
                '(master_count %d).' % master_count)
    if values.get('create_timeout') is None:
        values['create_timeout'] = services.conf.conductor.default_create_timeout
    if services.conf.cloud.validate_references:
        services.check_references(
            values, ('flavor_id', 'master_flavor_id', 'fixed_network'))
        # Keypairs are per user: the requesting user's is the one to find.
        services.check_references(values, ('keypair',), as_user=True)
    if template.cluster_distro:
        # The driver type-checks the labels it knows (a bad one is a 400
        # now, not a failed create later); unknown ones are stored.
        driver = services.find_driver(
            template.server_type, template.cluster_distro, template.coe,
            explicit=template.driver)
        driver.validate_labels(labels)
        driver.validate_cluster(values, _template_fields(template))
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
    # The CAs are made by the conductor's create, before its stack hands
    # them to the nodes (caas.db.certificates.make_for_create); a create
    # whose CA keys could not be encrypted is still refused here (503).
    keystore.check_configured()
    # The caller's token, sealed, for the trust the conductor makes.
    cluster, operation = db.create_cluster(
        values, nodegroups, timeout_minutes=timeout,
        request_id=request.request_id(),
        quota_check=quotas.cluster_quota_check(
            services.conf.quotas.max_clusters_per_project),
        op_params=credentials.trustor_params())
    LOG.info('Cluster %s: create accepted (operation %s)', cluster.uuid,
             operation.id)
    cast('cluster_create', cluster, operation)
    return request.respond({'uuid': cluster.uuid}, 202)


def _list(summary, rule, path):
    where = scope.for_list(rule, rule + '_all_projects')
    if summary and cluster_pages.supported():
        return _prebuilt_summaries(where, path)
    lister = functools.partial(db.list_clusters, summary=summary)
    return pagination.list_response('clusters', path, lister, view,
                                    SORT_KEYS, summary, where)


def _prebuilt_summaries(where, path):
    """The summary list with its JSON built by the database (the same body
    as ``view(row, summary=True)`` per row)."""
    page = pagination.from_args(flask.request.args,
                                request.services().conf.api.max_limit,
                                SORT_KEYS)
    aliases = ((('cluster_id', 'stack_id'),)
               if request.version() >= microversions.CLUSTER_ID else ())
    # The body is made of the page and of this request's shape only (all
    # in the page's key), so it is remembered with the page.
    body, _count, _last = cluster_pages.summary_page(
        scope=where, fields=views.CLUSTER_SUMMARY,
        base_url=request.base_url(), limit=page.limit, marker=page.marker,
        sort_key=page.sort_key, sort_dir=page.sort_dir, aliases=aliases,
        render=functools.partial(pagination.prebuilt_body, 'clusters', path,
                                 page, scope=where))
    return pagination.prebuilt_response(body)


def get_all():
    return _list(True, 'cluster:get_all', 'clusters')


def detail():
    return _list(False, 'cluster:detail', 'clusters/detail')


def _get(ident, rule, all_projects_rule):
    return scope.find(db.get_cluster, ident, rule, all_projects_rule)


def get_one(ident):
    if cluster_pages.supported():
        return _remembered_show(ident)
    row = _get(ident, 'cluster:get', 'cluster:get_one_all_projects')
    return request.respond(view(row, request.base_url()))


def _remembered_show(ident):
    """The show from the cluster remembered while nothing it depends on
    was written (``cluster_pages.get_cluster``), its body made once per
    request shape; the same look-up order, policy and body as the row
    path."""
    shown = scope.find(cluster_pages.get_cluster, ident, 'cluster:get',
                       'cluster:get_one_all_projects')
    base_url = request.base_url()
    body = shown.body(
        (base_url, request.version() >= microversions.CLUSTER_ID),
        lambda: orjson.dumps(view(shown.row, base_url)))
    return pagination.prebuilt_response(body)


def _default_worker(cluster_uuid):
    groups = db.list_nodegroups(cluster_uuid)
    workers = [ng for ng in groups if ng.role != 'master']
    for ng in workers:
        if ng.is_default:
            return ng
    if workers:
        return workers[0]
    raise exceptions.NodeGroupNotFound(nodegroup='default-worker')


def start_update(row, params):
    """Record and cast a change of the cluster's own stack (its default
    worker nodegroup); (cluster, operation)."""
    services = request.services()
    cluster, operation = db.start_operation(
        row.uuid, states.OP_CLUSTER_UPDATE, params=params,
        timeout_minutes=services.conf.conductor.update_timeout,
        request_id=request.request_id())
    LOG.info('Cluster %s: update accepted (operation %s, %s)', cluster.uuid,
             operation.id, params)
    cast('cluster_update', cluster, operation)
    return cluster, operation


def _accepted(cluster):
    return request.respond({'uuid': cluster.uuid}, 202)


def _check_bounds(ng, node_count):
    ng_schema.check_bounds(ng.name, node_count, ng.min_node_count,
                           ng.max_node_count)


def _set_health(row, patched):
    db.set_cluster_health(row.uuid, patched.get('health_status'),
                          patched.get('health_status_reason') or {})
    LOG.info('Cluster %s: health set to %s by %s', row.uuid,
             patched.get('health_status'), request.context().user_id)


def update(ident):
    patch = patching.read()
    row = _get(ident, 'cluster:update', 'cluster:update_all_projects')
    touched = patching.fields(patch)
    current = {'node_count': row.node_count,
               'health_status': row.health_status,
               'health_status_reason': row.health_status_reason}
    patched = patching.apply(current, patch, allowed=schema.UPDATABLE)
    patched = schemas.coerce_and_validate(schema.update(0),
                                          patched, nulls_as_absent=False)
    health = touched & set(schema.HEALTH_FIELDS)
    if health:
        policy.authorize(request.context(), 'cluster:update_health_status',
                         {'project_id': row.project_id})
    if 'node_count' not in touched:
        _set_health(row, patched)
        return request.respond({'uuid': row.uuid}, 202)
    worker = _default_worker(row.uuid)
    _check_bounds(worker, patched['node_count'])
    params = {'node_count': patched['node_count'], 'nodegroup': worker.uuid}
    rollback = flask.request.args.get('rollback', '').lower()
    if rollback in ('true', '1', 'yes') and \
            request.version() >= microversions.ROLLBACK:
        params['rollback'] = True
    resp = _accepted(start_update(row, params)[0])
    if health:
        # Only once the update was accepted: a 409 changes nothing.
        _set_health(row, patched)
    return resp


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
    _check_bounds(ng, body['node_count'])
    params = {'node_count': body['node_count'], 'nodegroup': ng.uuid}
    if body.get('nodes_to_remove'):
        params['nodes_to_remove'] = body['nodes_to_remove']
    if not ng.is_default:
        # A nodegroup users added has its own stack and operation.
        from caas.api.controllers.v1 import nodegroups
        nodegroups.start_update(row, ng, params)
        return _accepted(row)
    return _accepted(start_update(row, params)[0])


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
    """A DELETE always wins: an operation in progress (or stuck) is fenced
    out in the transaction that records the delete; a delete already
    running makes this one a no-op (204, nothing recorded or cast)."""
    row = _get(ident, 'cluster:delete', 'cluster:delete_all_projects')
    conf = request.services().conf
    # Acting through the cluster's trust, the conductor needs the caller's
    # token only if the trust gives none (the owner lost their role).
    cluster, operation, superseded = db.start_delete(
        row.uuid, timeout_minutes=conf.conductor.update_timeout,
        request_id=request.request_id(),
        params=credentials.trustor_params() if conf.trust.act_as_trustee
        else None)
    if operation is None:
        LOG.info('Cluster %s: delete already in progress', cluster.uuid)
        return request.no_content()
    if superseded is not None:
        LOG.warning('Cluster %s: delete (operation %s) supersedes %s '
                    'operation %s, which is fenced out', cluster.uuid,
                    operation.id, superseded[1], superseded[0])
        # The superseded operation's outcome: it ended here, unfinished.
        notifications.notify_cluster(request.context(), superseded[1],
                                     notifications.FAILURE, cluster)
    LOG.info('Cluster %s: delete accepted (operation %s)', cluster.uuid,
             operation.id)
    cast('cluster_delete', cluster, operation)
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
