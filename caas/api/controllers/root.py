"""``GET /`` and ``GET /v1``: the version documents, shaped like Magnum's."""

from caas.api import microversions
from caas.api import request


def _v1_summary(base):
    return {
        'id': 'v1',
        'links': [{'href': '%s/v1/' % base, 'rel': 'self'}],
        'status': 'CURRENT',
        'max_version': microversions.MAX_VERSION_STRING,
        'min_version': microversions.MIN_VERSION_STRING,
    }


def versions():
    base = request.base_url()
    v1 = _v1_summary(base)
    return request.respond({
        'name': 'OpenStack Magnum API',
        'description': 'caas: container clusters as a service, speaking '
                       "Magnum's v1 API.",
        'versions': [v1],
        'default_version': v1,
    })


def _resource_links(base, name):
    return [{'href': '%s/v1/%s/' % (base, name), 'rel': 'self'},
            {'href': '%s/%s/' % (base, name), 'rel': 'bookmark'}]


def v1():
    base = request.base_url()
    body = {
        'id': 'v1',
        'links': [
            {'href': '%s/v1/' % base, 'rel': 'self'},
            {'href': 'https://docs.openstack.org/magnum/latest/user/',
             'rel': 'describedby', 'type': 'text/html'},
        ],
        'media_types': [{'base': 'application/json',
                         'type': 'application/vnd.openstack.magnum.v1+json'}],
    }
    for name in ('clustertemplates', 'clusters', 'mservices', 'quotas',
                 'stats'):
        body[name] = _resource_links(base, name)
    return request.respond(body)


def register(app):
    app.add_url_rule('/', 'versions', versions, methods=['GET'])
    app.add_url_rule('/v1', 'v1', v1, methods=['GET'], strict_slashes=False)
