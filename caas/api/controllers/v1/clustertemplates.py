"""``/v1/clustertemplates``: create, list, show, JSON-Patch, delete.

A template is checked when written: its image, flavors and networks
against the cloud (``[cloud] validate_references``), its network and
volume drivers against Magnum's lists for its COE, and the (server_type,
image os_distro, coe) triple against the drivers. Its keypair is checked
when a cluster is created from it, as in Magnum (the keypair is the
cluster creator's, and a cluster may name its own). While clusters use a
template only cosmetic fields may change (409 otherwise). Lists return
whole templates, as Magnum's do.

Lists without a marker and shows are answered from the process's memory
while no template was written (``caas.db.template_pages``: one statement
of one row, exact whoever writes); the policy checks run every time.
"""

import flask
from oslo_log import log as logging
import orjson

from caas.api import pagination
from caas.api import patching
from caas.api import references
from caas.api import request
from caas.api import scope
from caas.api import views
from caas.api.schemas import clustertemplate as schema
from caas.api import schemas
from caas.common import exceptions
from caas.common import policy
from caas.db import api as db
from caas.db import template_pages
from caas.db.sqlalchemy import models

LOG = logging.getLogger(__name__)

REFERENCE_FIELDS = ('image_id', 'flavor_id', 'master_flavor_id',
                    'external_network_id', 'fixed_network')
SORT_KEYS = db.SORT_KEYS[models.ClusterTemplate]


def _read_target(row):
    # A public template is readable by every project: judge the read as if
    # it were the caller's own (a reader still needs the reader role).
    if row.public:
        return {'project_id': request.context().project_id}
    return {'project_id': row.project_id}


def _find(ident, rule, all_projects_rule, target=None, remembered=False):
    getter = template_pages.get_template \
        if remembered and template_pages.supported() \
        else db.get_cluster_template
    return scope.find(getter, ident, rule, all_projects_rule, target)


def _view(row, summary=False):
    return views.cluster_template(row, request.base_url(), summary=summary,
                                  owner=_owns(row))


def _owns(row):
    """Whether the caller may see the template's proxy credentials."""
    ctx = request.context()
    return row.project_id == ctx.project_id or policy.check_is_admin(ctx)


def _default(field, coe):
    if field == 'network_driver':
        return schema.NETWORK_DRIVER_DEFAULTS.get(coe)
    value = schema.DEFAULTS.get(field)
    return dict(value) if isinstance(value, dict) else value


def _check_coe_drivers(values):
    """400 naming the allowed values when the network or volume driver is
    not one Magnum supports for the template's COE."""
    coe = values.get('coe')
    for field, allowed in (('network_driver', schema.NETWORK_DRIVERS),
                           ('volume_driver', schema.VOLUME_DRIVERS)):
        value = values.get(field)
        if value and coe in allowed and value not in allowed[coe]:
            raise exceptions.InvalidParameterValue(
                err='Invalid value for field/attribute %s: %s is not '
                    'supported for coe %s; use one of %s, or leave it '
                    'unset.' % (field, value, coe, ', '.join(allowed[coe])))


def _check_cloud_and_driver(values, changed_fields):
    """Validate references among changed_fields; keep cluster_distro right.

    Mutates values['cluster_distro'] when the image was looked up.
    """
    services = request.services()
    if services.conf.cloud.validate_references:
        found = services.check_references(
            values,
            [f for f in REFERENCE_FIELDS if f in changed_fields])
        if references.image_distro(found.get('image_id')):
            values['cluster_distro'] = references.image_distro(
                found['image_id'])
    if values.get('cluster_distro'):
        driver = services.find_driver(
            values['server_type'], values['cluster_distro'], values['coe'],
            explicit=values.get('driver'))
        driver.validate_labels(values.get('labels'))
        driver.validate_network_driver(values.get('network_driver'))
        driver.validate_cluster({}, values)
    else:
        LOG.warning('Template %s: image %s has no known os_distro; the '
                    'driver is chosen when a cluster is created.',
                    values.get('uuid') or values.get('name'),
                    values.get('image_id'))


def create():
    ctx = request.context()
    policy.authorize(ctx, 'clustertemplate:create')
    body = schemas.coerce_and_validate(schema.CREATE, request.json_body())
    if body.get('public') or body.get('hidden'):
        policy.authorize(ctx, 'clustertemplate:publish')
    values = {k: v for k, v in body.items() if v is not None}
    for field in list(schema.DEFAULTS) + ['network_driver']:
        if values.get(field) is None:
            values[field] = _default(field, values['coe'])
    values['uuid'] = db.new_uuid()
    values['cluster_distro'] = values.get('cluster_distro') or None
    _check_coe_drivers(values)
    _check_cloud_and_driver(values, REFERENCE_FIELDS)
    values.update(project_id=ctx.project_id, user_id=ctx.user_id)
    row = db.create_cluster_template(values)
    LOG.info('Created cluster template %s (%s) for project %s', row.uuid,
             row.name, row.project_id)
    base = request.base_url()
    return request.respond(
        views.cluster_template(row, base, owner=True), 201,
        {'Location': '%s/v1/clustertemplates/%s' % (base, row.uuid)})


def _list(summary, rule, path):
    ctx = request.context()
    where = scope.for_list(rule, rule + '_all_projects')
    admin = policy.check_is_admin(ctx)

    def view(row, base, summary):
        return views.cluster_template(
            row, base, summary=summary,
            owner=admin or row.project_id == ctx.project_id)
    # Hidden templates are listed for administrators only (Magnum's rule).
    page = pagination.from_args(flask.request.args,
                                request.services().conf.api.max_limit,
                                SORT_KEYS)
    if page.marker is None and template_pages.supported():
        base = request.base_url()

        def render(rows):
            items = [view(row, base, summary) for row in rows]
            extra = {} if where is not db.ALL_PROJECTS else \
                {'all_projects': 'true'}
            return orjson.dumps(views.collection(
                'clustertemplates', items, rows, page, base, path, extra))
        # What the body depends on besides the rows: whose proxy
        # credentials the caller sees (admin, or its own project's).
        body = template_pages.template_list(
            scope=where, limit=page.limit, sort_key=page.sort_key,
            sort_dir=page.sort_dir, show_hidden=admin, render=render,
            shape=(base, path, summary, admin, ctx.project_id))
        return flask.Response(body, status=200, mimetype='application/json')
    return pagination.list_response(
        'clustertemplates', path, db.list_cluster_templates, view,
        SORT_KEYS, summary, where, show_hidden=admin)


def get_all():
    # Whole templates, as Magnum lists them (clients filter the list by
    # image and coe, and `template list --fields` shows any field).
    return _list(False, 'clustertemplate:get_all', 'clustertemplates')


def detail():
    return _list(False, 'clustertemplate:detail', 'clustertemplates/detail')


def get_one(ident):
    row = _find(ident, 'clustertemplate:get',
                'clustertemplate:get_one_all_projects', _read_target,
                remembered=True)
    return request.respond(_view(row))


def update(ident):
    ctx = request.context()
    patch = patching.read()
    row = _find(ident, 'clustertemplate:update',
                'clustertemplate:update_all_projects')
    current = {k: getattr(row, k) for k in schema.PROPERTIES}
    patched = patching.apply(current, patch,
                             allowed=schema.PROPERTIES,
                             read_only=schema.READ_ONLY)
    for field in schema.PROPERTIES:
        if field not in patched:
            # A removed field goes back to its default.
            patched[field] = _default(field, patched.get('coe', row.coe))
    patched = schemas.coerce_and_validate(schema.CREATE, {
        k: v for k, v in patched.items()
        if v is not None or k not in ('coe', 'image_id')},
        nulls_as_absent=False)
    changes = {k: v for k, v in patched.items() if getattr(row, k) != v}
    if not changes:
        return request.respond(_view(row))
    if 'public' in changes or 'hidden' in changes:
        policy.authorize(ctx, 'clustertemplate:publish')
    checked = dict(patched, uuid=row.uuid, cluster_distro=row.cluster_distro)
    if set(changes) & {'coe', 'network_driver', 'volume_driver'}:
        _check_coe_drivers(checked)
    if set(changes) & {'image_id', 'server_type', 'coe', 'driver',
                       'labels', 'network_driver'} or \
            set(changes) & set(REFERENCE_FIELDS):
        _check_cloud_and_driver(checked, changes)
        if checked['cluster_distro'] != row.cluster_distro:
            changes['cluster_distro'] = checked['cluster_distro']
    row = db.update_cluster_template(
        row.uuid, changes, allowed_in_use=schema.UPDATABLE_IN_USE)
    LOG.info('Updated cluster template %s: %s', row.uuid,
             ', '.join(sorted(changes)))
    return request.respond(_view(row))


def delete(ident):
    row = _find(ident, 'clustertemplate:delete',
                'clustertemplate:delete_all_projects')
    db.destroy_cluster_template(row.uuid)
    LOG.info('Deleted cluster template %s', row.uuid)
    return request.no_content()


def register(app):
    base = '/v1/clustertemplates'
    app.add_url_rule(base, 'clustertemplates_get_all', get_all,
                     methods=['GET'], strict_slashes=False)
    app.add_url_rule(base, 'clustertemplates_create', create,
                     methods=['POST'], strict_slashes=False)
    app.add_url_rule(base + '/detail', 'clustertemplates_detail', detail,
                     methods=['GET'], strict_slashes=False)
    app.add_url_rule(base + '/<ident>', 'clustertemplates_get_one', get_one,
                     methods=['GET'], strict_slashes=False)
    app.add_url_rule(base + '/<ident>', 'clustertemplates_update', update,
                     methods=['PATCH'], strict_slashes=False)
    app.add_url_rule(base + '/<ident>', 'clustertemplates_delete', delete,
                     methods=['DELETE'], strict_slashes=False)
