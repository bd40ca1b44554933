"""``/v1/mservices``: the conductors and whether their heartbeat is fresh.

A conductor is ``up`` while its last heartbeat is newer than
``[conductor] heartbeat_timeout`` seconds, the same limit after which its
operations are taken over.

Each conductor is reported as Magnum reports its own: binary
``magnum-conductor`` (whether it runs as ``caas-conductor`` or inside
``caas-all``; ``GET /v1/conductors`` names the real one), so tools written
for Magnum recognise it. Its ``id`` is the conductor row's: a small
integer given when a host first registers (1 for the first) and kept
across restarts, since a restarted conductor re-registers its host's row.
"""


from caas.api import request
from caas.api import views
from caas.common import policy
from caas.db import operations as db_ops
from caas.db.sqlalchemy import models


def liveness(row, now, timeout):
    """(seconds since the conductor's last heartbeat or None, 'up' or
    'down')."""
    if row.heartbeat_at is None:
        return None, 'down'
    age = (now - row.heartbeat_at).total_seconds()
    return age, 'up' if age <= timeout else 'down'


#: The binary every conductor is listed as.
MAGNUM_BINARY = 'magnum-conductor'


def _view(row, now, timeout):
    return {
        'id': row.id,
        'host': row.host,
        'binary': MAGNUM_BINARY,
        'state': liveness(row, now, timeout)[1],
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


