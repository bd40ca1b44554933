"""``/v1/clusters/<ident>/nodegroups``: read-only, microversion 1.9 on."""

from caas.api import microversions
from caas.api import request
from caas.api import views
from caas.api.controllers.v1 import clusters
from caas.common import exceptions
from caas.common import policy
from caas.db import api as db


def _cluster(ident, rule):
    if request.version() < microversions.NODEGROUPS:
        raise exceptions.NotAcceptable(
            message='Nodegroups need microversion %s or later (requested '
                    '%s).' % (microversions.NODEGROUPS, request.version()))
    row = db.get_cluster(ident, request.project_scope())
    policy.authorize(request.context(), rule, {'project_id': row.project_id})
    return row


def get_all(ident):
    cluster = _cluster(ident, 'nodegroup:get_all')
    groups = db.list_nodegroups(cluster.uuid)
    base = request.base_url()
    return request.respond({'nodegroups': [
        views.nodegroup(ng, base, summary=True) for ng in groups]})


def get_one(ident, nodegroup):
    cluster = _cluster(ident, 'nodegroup:get')
    ng = clusters.find_nodegroup(cluster.uuid, nodegroup)
    return request.respond(views.nodegroup(ng, request.base_url()))


def register(app):
    base = '/v1/clusters/<ident>/nodegroups'
    app.add_url_rule(base, 'nodegroups_get_all', get_all, methods=['GET'],
                     strict_slashes=False)
    app.add_url_rule(base + '/<nodegroup>', 'nodegroups_get_one', get_one,
                     methods=['GET'], strict_slashes=False)
