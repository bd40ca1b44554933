"""``/v1/clusters/<ident>/nodegroups``: read-only, microversion 1.9 on."""

from caas.api import microversions
from caas.api import request
from caas.api import scope
from caas.api import views
from caas.api.controllers.v1 import clusters
from caas.common import exceptions
from caas.db import api as db


def _cluster(ident, rule, all_projects_rule):
    if request.version() < microversions.NODEGROUPS:
        raise exceptions.NotAcceptable(
            message='Nodegroups need microversion %s or later (requested '
                    '%s).' % (microversions.NODEGROUPS, request.version()))
    return scope.find(db.get_cluster, ident, rule, all_projects_rule)


def get_all(ident):
    cluster = _cluster(ident, 'nodegroup:get_all',
                       'nodegroup:get_all_all_projects')
    groups = db.list_nodegroups(cluster.uuid)
    base = request.base_url()
    return request.respond({'nodegroups': [
        views.nodegroup(ng, base, summary=True) for ng in groups]})


def get_one(ident, nodegroup):
    cluster = _cluster(ident, 'nodegroup:get',
                       'nodegroup:get_one_all_projects')
    ng = clusters.find_nodegroup(cluster.uuid, nodegroup)
    return request.respond(views.nodegroup(ng, request.base_url()))


def register(app):
    base = '/v1/clusters/<ident>/nodegroups'
    app.add_url_rule(base, 'nodegroups_get_all', get_all, methods=['GET'],
                     strict_slashes=False)
    app.add_url_rule(base + '/<nodegroup>', 'nodegroups_get_one', get_one,
                     methods=['GET'], strict_slashes=False)
