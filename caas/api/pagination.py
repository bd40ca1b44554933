"""List parameters shared by every collection: marker, limit, sort."""

import collections

import flask
import orjson

from caas.api import request
from caas.api import views
from caas.common import exceptions
from caas.db import api as db

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


def list_response(key, path, lister, view, sort_keys, summary, scope,
                  **filters):
    """One page of a collection as the response body Magnum sends.

    :param lister: ``lister(scope=, limit=, marker=, sort_key=, sort_dir=,
        **filters)`` from ``caas.db.api``.
    :param view: ``view(row, base_url, summary=...)`` from ``views``.
    :param scope: from ``caas.api.scope.for_list``.
    """
    page = from_args(flask.request.args,
                     request.services().conf.api.max_limit, sort_keys)
    rows = lister(scope=scope, limit=page.limit, marker=page.marker,
                  sort_key=page.sort_key, sort_dir=page.sort_dir, **filters)
    base = request.base_url()
    items = [view(row, base, summary=summary) for row in rows]
    extra = {} if scope is not db.ALL_PROJECTS else {'all_projects': 'true'}
    return request.respond(views.collection(key, items, rows, page, base,
                                            path, extra))


def prebuilt_body(key, path, page, items_json, count, last_uuid, scope):
    """The body of :func:`list_response` (bytes) around items the database
    already encoded as one JSON array (``items_json``, UTF-8 bytes)."""
    extra = {} if scope is not db.ALL_PROJECTS else {'all_projects': 'true'}
    nxt = views.next_link(count, last_uuid, page, request.base_url(), path,
                          extra)
    return b''.join((b'{', orjson.dumps(key), b':', items_json,
                     b',"next":%s' % orjson.dumps(nxt) if nxt else b'',
                     b'}'))


def prebuilt_response(body):
    """A 200 of a JSON body already made (bytes), sent as it is."""
    return flask.Response(body, status=200, mimetype='application/json')
