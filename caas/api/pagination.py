"""List parameters shared by every collection: marker, limit, sort."""

import collections

import flask

from caas.api import request
from caas.api import views
from caas.common import exceptions

Page = collections.namedtuple('Page', 'marker limit sort_key sort_dir')


def from_args(args, max_limit, sort_keys):
    """Validate ``marker``/``limit``/``sort_key``/``sort_dir`` query args.

    :param sort_keys: the keys that may be sorted on.
    :raises: InvalidParameterValue (400) naming the bad parameter.
    """
    limit = args.get('limit')
    if limit is None or limit == '':
        limit = max_limit
    else:
        try:
            limit = int(limit)
        except ValueError:
            limit = 0
        if limit <= 0:
            raise exceptions.InvalidParameterValue(
                err='Invalid value for limit: %s. It must be a positive '
                    'integer.' % args.get('limit'))
        limit = min(limit, max_limit)
    sort_key = args.get('sort_key') or 'id'
    if sort_key not in sort_keys:
        raise exceptions.InvalidParameterValue(
            err='Invalid value for sort_key: %s. Valid keys are: %s.' % (
                sort_key, ', '.join(sort_keys)))
    sort_dir = (args.get('sort_dir') or 'asc').lower()
    if sort_dir not in ('asc', 'desc'):
        raise exceptions.InvalidParameterValue(
            err="Invalid value for sort_dir: %s. Use 'asc' or 'desc'." %
                sort_dir)
    return Page(args.get('marker') or None, limit, sort_key, sort_dir)


def list_response(key, path, lister, view, sort_keys, summary):
    """One page of a collection as the response body Magnum sends.

    :param lister: ``lister(project_id, limit, marker, sort_key, sort_dir)``
        from ``caas.db.api``.
    :param view: ``view(row, base_url, summary=...)`` from ``views``.
    """
    page = from_args(flask.request.args,
                     request.services().conf.api.max_limit, sort_keys)
    rows = lister(request.project_scope(), page.limit, page.marker,
                  page.sort_key, page.sort_dir)
    base = request.base_url()
    items = [view(row, base, summary=summary) for row in rows]
    return request.respond(views.collection(key, items, rows, page, base,
                                            path))
