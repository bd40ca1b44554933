"""``/v1/mservices``: the conductors and whether their heartbeat is fresh.

A conductor is ``up`` while its last heartbeat is newer than
``[conductor] heartbeat_timeout`` seconds, the same limit after which its
operations are taken over.
"""


from caas.api import request
from caas.api import views
from caas.common import policy
from caas.db import operations as db_ops
from caas.db.sqlalchemy import models


def _view(row, now, timeout):
    fresh = row.heartbeat_at is not None and (
        now - row.heartbeat_at).total_seconds() <= timeout
    return {
        'id': row.id,
        'host': row.host,
        'binary': row.binary,
        'state': 'up' if fresh else 'down',
        'report_count': row.report_count,
        'disabled': bool(row.disabled),
        'disabled_reason': row.disabled_reason,
        'created_at': views.json_value(row.created_at),
        'updated_at': views.json_value(row.heartbeat_at or row.updated_at),
    }


def get_all():
    policy.authorize(request.context(), 'magnum-service:get_all')
    timeout = request.services().conf.conductor.heartbeat_timeout
    now = models.utcnow()
    return request.respond({'mservices': [
        _view(row, now, timeout) for row in db_ops.list_conductors()]})


def register(app):
    app.add_url_rule('/v1/mservices', 'mservices_get_all', get_all,
                     methods=['GET'], strict_slashes=False)


