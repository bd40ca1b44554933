"""``GET /v1/stats`` (microversion 1.4 on): how many clusters and nodes.

Magnum's semantics: a project's reader or member gets its own project's
counts (or names it with ``?project_id=``); naming another project is a
403. An administrator gets every project's counts, or one project's with
``?project_id=``. ``type`` may only be ``cluster``. Nodes count every
nodegroup's nodes, masters included.
"""

import flask

from caas.api import microversions
from caas.api import request
from caas.common import exceptions
from caas.common import policy
from caas.db import api as db

STATS_TYPES = ('cluster',)


def get_all():
    if request.version() < microversions.STATS:
        # Magnum's answer to a method its requested version lacks.
        raise exceptions.NotAcceptable(
            message='Stats need microversion %s or later (requested %s).' % (
                microversions.STATS, request.version()))
    ctx = request.context()
    asked = flask.request.args.get('project_id') or None
    kind = flask.request.args.get('type', 'cluster')
    if policy.check_is_admin(ctx):
        policy.authorize(ctx, 'stats:get_all')
        scope = asked or db.ALL_PROJECTS
    else:
        # The target is the project asked for: another project's counts
        # are refused by the rule itself (403).
        scope = asked or ctx.project_id
        policy.authorize(ctx, 'stats:get_all', {'project_id': scope})
    if kind.lower() not in STATS_TYPES:
        raise exceptions.InvalidParameterValue(
            err="Invalid stats type %s. Allowed values are '%s'." % (
                kind, ','.join(STATS_TYPES)))
    clusters, nodes = db.cluster_stats(scope=scope)
    return request.respond({'clusters': clusters, 'nodes': nodes})


def register(app):
    app.add_url_rule('/v1/stats', 'stats_get_all', get_all, methods=['GET'],
                     strict_slashes=False)
