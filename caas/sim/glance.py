"""Glance v2 subset: read-only image listing and lookup."""

from caas.sim import web
from caas.sim.web import ApiError

PREFIX = '/image'
PUBLIC = ('/v2',)


def error_body(code, message, error_type=None):
    return {'code': code, 'title': web.title(code), 'message': message,
            'error': {'message': message, 'code': code}}


def _versions(req):
    return [{'id': 'v2.%d' % minor,
             'status': 'CURRENT' if minor == 16 else 'SUPPORTED',
             'links': [{'rel': 'self', 'href': req.host_url + '/image/v2/'}]}
            for minor in (16, 15, 9, 0)]


def versions(app, req):
    return web.json_response({'versions': _versions(req)}, status=300)


def _image_view(image):
    view = dict(image)
    view.update({'self': '/v2/images/%s' % image['id'],
                 'file': '/v2/images/%s/file' % image['id'],
                 'schema': '/v2/schemas/image'})
    return view


def _in_filter(value):
    if value and value.startswith('in:'):
        return set(value[3:].split(','))
    return {value} if value else None


def image_list(app, req):
    filters = {'id': _in_filter(req.GET.get('id')),
               'name': _in_filter(req.GET.get('name') or
                                  req.GET.get('names')),
               'status': _in_filter(req.GET.get('status')),
               'visibility': _in_filter(req.GET.get('visibility')),
               'os_distro': _in_filter(req.GET.get('os_distro'))}
    with app.cloud.lock:
        images = sorted(app.cloud.data['images'].values(),
                        key=lambda i: i['name'])
    for key, wanted in filters.items():
        if wanted is not None:
            images = [i for i in images if i.get(key) in wanted]
    marker = req.GET.get('marker')
    if marker:
        ids = [i['id'] for i in images]
        images = images[ids.index(marker) + 1:] if marker in ids else []
    if req.GET.get('limit'):
        images = images[:int(req.GET['limit'])]
    return web.json_response({'images': [_image_view(i) for i in images],
                              'first': '/v2/images',
                              'schema': '/v2/schemas/images'})


def image_show(app, req, image_id):
    with app.cloud.lock:
        image = app.cloud.data['images'].get(image_id)
    if image is None:
        raise ApiError(404, 'No image found with ID %s' % image_id)
    return web.json_response(_image_view(image))


ROUTES = [
    ('GET', '', versions),
    ('GET', '/v2', versions),
    ('GET', '/v2/images', image_list),
    ('GET', '/v2/images/(?P<image_id>[^/]+)', image_show),
]
