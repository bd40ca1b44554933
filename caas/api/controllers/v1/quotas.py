"""``/v1/quotas``: administrators set how many clusters a project may have.

Magnum's URLs, bodies and codes: ``POST /v1/quotas`` (201), ``GET
/v1/quotas`` (the caller's project; every project with ``all_tenants``
for an administrator), ``GET|PATCH|DELETE /v1/quotas/{project_id}/
{resource}`` (PATCH answers 202, DELETE 204). A project without a quota
row shows the default, ``[quotas] max_clusters_per_project``. As in
Magnum, the quotas API is served at every microversion. The limit is
enforced by ``caas.db.quotas`` when a cluster is created.
"""

import flask
from oslo_log import log as logging

from caas.api import pagination
from caas.api import request
from caas.api import schemas
from caas.api import views
from caas.api.schemas import quota as schema
from caas.common import coercion
from caas.common import exceptions
from caas.common import policy
from caas.db import api as db_api
from caas.db import quotas as db

LOG = logging.getLogger(__name__)

ALL_TENANTS_PARAM = 'all_tenants'


def _view(row):
    return {'id': row.id, 'project_id': row.project_id,
            'resource': row.resource, 'hard_limit': row.hard_limit,
            'created_at': views.json_value(row.created_at),
            'updated_at': views.json_value(row.updated_at)}


def _default_view(project_id, resource):
    return {'project_id': project_id, 'resource': resource,
            'hard_limit': request.services().conf.quotas
            .max_clusters_per_project}


def _all_tenants():
    value = flask.request.args.get(ALL_TENANTS_PARAM)
    if value is None or value.strip() == '':
        return False
    text = value.strip().lower()
    if text in coercion.TRUE:
        return True
    if text in coercion.FALSE:
        return False
    raise exceptions.InvalidParameterValue(
        err='Invalid value for %s: %s. Use true or false.' % (
            ALL_TENANTS_PARAM, value))


def _marker():
    marker = flask.request.args.get('marker')
    if marker in (None, ''):
        return None
    try:
        value = int(marker)
    except ValueError:
        value = 0
    # Ids are positive database integers: anything else names no quota.
    if not 0 < value < 2 ** 31:
        raise exceptions.InvalidParameterValue(
            err='Invalid value for marker: %s. A quota marker is the id of '
                'a quota.' % marker)
    return value


def _body():
    """The request body, which must be a JSON object (Magnum's Quota)."""
    body = request.json_body()
    if not isinstance(body, dict):
        raise exceptions.InvalidParameterValue(
            err='Invalid input: the request body must be a JSON object '
                'with project_id, resource and hard_limit.')
    return body


def create():
    ctx = request.context()
    policy.authorize(ctx, 'quota:create')
    body = schemas.coerce_and_validate(schema.CREATE, _body())
    values = dict(schema.DEFAULTS, **body)
    row = db.create_quota(values['project_id'], values['resource'],
                          values['hard_limit'])
    LOG.info('Quota set for project %s: %s hard_limit %d (by %s)',
             row.project_id, row.resource, row.hard_limit, ctx.user_id)
    return request.respond(_view(row), 201)


def get_all():
    ctx = request.context()
    policy.authorize(ctx, 'quota:get_all')
    everyone = _all_tenants() and policy.check_is_admin(ctx)
    if not everyone and not ctx.project_id:
        raise policy.NoProject(action='quota:get_all')
    page = pagination.from_args(
        {k: v for k, v in flask.request.args.items() if k != 'marker'},
        request.services().conf.api.max_limit, db.SORT_KEYS)
    rows = db.list_quotas(scope=db_api.ALL_PROJECTS if everyone
                          else ctx.project_id,
                          limit=page.limit, marker=_marker(),
                          sort_key=page.sort_key, sort_dir=page.sort_dir)
    body = {'quotas': [_view(row) for row in rows]}
    if page.limit and len(rows) == page.limit:
        query = {'limit': page.limit, 'marker': rows[-1].id,
                 'sort_key': page.sort_key, 'sort_dir': page.sort_dir}
        if everyone:
            query[ALL_TENANTS_PARAM] = 'true'
        body['next'] = '%s/v1/quotas?%s' % (
            request.base_url(),
            '&'.join('%s=%s' % kv for kv in sorted(query.items())))
    return request.respond(body)


def get_one(project_id, resource):
    # A reader of the project may see its own quota; another project's
    # is a 403, as in Magnum.
    policy.authorize(request.context(), 'quota:get',
                     {'project_id': project_id})
    try:
        return request.respond(_view(db.get_quota(project_id, resource)))
    except exceptions.QuotaNotFound:
        if resource not in db.RESOURCES:
            raise
        return request.respond(_default_view(project_id, resource))


def update(project_id, resource):
    ctx = request.context()
    policy.authorize(ctx, 'quota:update')
    # The body is checked before the quota is looked up.
    body = schemas.coerce_and_validate(schema.UPDATE, _body())
    row = db.update_quota(project_id, resource, body['hard_limit'])
    LOG.info('Quota of project %s changed: %s hard_limit %d (by %s)',
             project_id, resource, row.hard_limit, ctx.user_id)
    return request.respond(_view(row), 202)


def delete(project_id, resource):
    ctx = request.context()
    policy.authorize(ctx, 'quota:delete')
    db.delete_quota(project_id, resource)
    LOG.info('Quota of project %s for %s removed (by %s); the default '
             'applies again', project_id, resource, ctx.user_id)
    return request.no_content()


def register(app):
    base = '/v1/quotas'
    one = base + '/<project_id>/<resource>'
    opts = {'strict_slashes': False}
    app.add_url_rule(base, 'quotas_get_all', get_all, methods=['GET'],
                     **opts)
    app.add_url_rule(base, 'quotas_create', create, methods=['POST'], **opts)
    app.add_url_rule(one, 'quotas_get_one', get_one, methods=['GET'], **opts)
    app.add_url_rule(one, 'quotas_update', update, methods=['PATCH'],
                     **opts)
    app.add_url_rule(one, 'quotas_delete', delete, methods=['DELETE'],
                     **opts)
