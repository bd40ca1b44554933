"""Nova (compute v2.1) subset: flavors, keypairs and servers."""

import re

from caas.sim import state as st
from caas.sim import web
from caas.sim.web import ApiError

PREFIX = '/compute'
PUBLIC = ('/v2.1',)
MIN_VERSION = (2, 1)
MAX_VERSION = (2, 90)
ERROR_KEYS = {400: 'badRequest', 401: 'unauthorized', 403: 'forbidden',
              404: 'itemNotFound', 405: 'badMethod', 409: 'conflictingRequest',
              503: 'serviceUnavailable'}


def error_body(code, message, error_type=None):
    return {ERROR_KEYS.get(code, 'computeFault'): {'code': code,
                                                   'message': message}}


def _version_doc(base):
    return {'id': 'v2.1', 'status': 'CURRENT',
            'version': '%d.%d' % MAX_VERSION,
            'min_version': '%d.%d' % MIN_VERSION,
            'updated': '2013-07-23T11:33:21Z',
            'links': [{'rel': 'self', 'href': base + '/compute/v2.1/'}],
            'media-types': [{'base': 'application/json',
                             'type': 'application/vnd.openstack.compute+json;'
                                     'version=2.1'}]}


def versions(app, req):
    return web.json_response({'versions': [_version_doc(req.host_url)]},
                             status=300)


def version(app, req):
    return web.json_response({'version': _version_doc(req.host_url)})


def _microversion(req):
    """The requested microversion, checked against what we serve."""
    raw = req.headers.get('OpenStack-API-Version', '')
    match = re.search(r'compute\s+(\S+)', raw)
    text = match.group(1) if match else req.headers.get(
        'X-OpenStack-Nova-API-Version', '2.1')
    if text == 'latest':
        return MAX_VERSION
    try:
        major, minor = (int(x) for x in text.split('.'))
    except ValueError:
        raise ApiError(400, 'Invalid microversion %s' % text)
    if not MIN_VERSION <= (major, minor) <= MAX_VERSION:
        raise ApiError(406, 'Version %s is not supported by the API. '
                            'Minimum is %d.%d and maximum is %d.%d.' % (
                                (text,) + MIN_VERSION + MAX_VERSION))
    return major, minor


def _respond(req, body, status=200):
    version = '%d.%d' % _microversion(req)
    return web.json_response(body, status=status, headers={
        'OpenStack-API-Version': 'compute ' + version,
        'X-OpenStack-Nova-API-Version': version,
        'Vary': 'OpenStack-API-Version, X-OpenStack-Nova-API-Version'})


def _link(req, kind, ident):
    return [{'rel': 'self',
             'href': '%s/compute/v2.1/%s/%s' % (req.host_url, kind, ident)},
            {'rel': 'bookmark',
             'href': '%s/compute/%s/%s' % (req.host_url, kind, ident)}]


# flavors ---------------------------------------------------------------------
def _flavor_view(req, flavor, detail=True):
    view = {'id': flavor['id'], 'name': flavor['name'],
            'links': _link(req, 'flavors', flavor['id'])}
    if detail:
        view.update({k: v for k, v in flavor.items()
                     if k not in view and k != 'extra_specs'})
        if _microversion(req) >= (2, 55):
            view['description'] = None
        if _microversion(req) >= (2, 61):
            view['extra_specs'] = dict(flavor.get('extra_specs') or {})
    return view


def flavor_list(app, req, detail=None):
    with app.cloud.lock:
        flavors = sorted(app.cloud.data['flavors'].values(),
                         key=lambda f: (f['ram'], f['id']))
    return _respond(req, {'flavors': [_flavor_view(req, f, bool(detail))
                                      for f in flavors]})


def flavor_show(app, req, flavor_id):
    with app.cloud.lock:
        flavor = app.cloud.data['flavors'].get(flavor_id)
    if flavor is None:
        raise ApiError(404, 'Flavor %s could not be found.' % flavor_id)
    return _respond(req, {'flavor': _flavor_view(req, flavor)})


def flavor_extra_specs(app, req, flavor_id):
    with app.cloud.lock:
        flavor = app.cloud.data['flavors'].get(flavor_id)
    if flavor is None:
        raise ApiError(404, 'Flavor %s could not be found.' % flavor_id)
    return _respond(req, {'extra_specs': dict(flavor.get('extra_specs')
                                              or {})})


# keypairs --------------------------------------------------------------------
# Keypairs are per user, as in Nova: two users may own the same name, and a
# caller sees, boots with and deletes only its own, unless an admin names
# another user with ``user_id`` (2.10+). Shapes follow the microversion.
def _is_admin(cloud, token):
    user = cloud.data['users'].get(token['user_id'])
    return bool(user and token['project_id'] and 'admin' in
                cloud.roles_of(user, token['project_id']))


def _owner(req, cloud, spec=None):
    """The user whose keypairs the request is about."""
    token = web.token(req)
    asked = (spec or {}).get('user_id') or req.GET.get('user_id')
    if asked and _microversion(req) >= (2, 10) and asked != token['user_id']:
        if not _is_admin(cloud, token):
            raise ApiError(403, 'Policy doesn\'t allow '
                                'os_compute_api:os-keypairs:show to be '
                                'performed.')
        return asked
    return token['user_id']


def _keypair_view(req, keypair, kind):
    """kind: 'list', 'show' or 'create' (Nova's three shapes)."""
    view = {'name': keypair['name'], 'public_key': keypair['public_key'],
            'fingerprint': keypair['fingerprint']}
    if _microversion(req) >= (2, 2):
        view['type'] = keypair['type']
    if kind == 'create':
        view['user_id'] = keypair['user_id']
    elif kind == 'show':
        view.update({'user_id': keypair['user_id'], 'id': keypair.get('id', 0),
                     'created_at': keypair['created_at'], 'deleted': False,
                     'deleted_at': None, 'updated_at': None})
    return view


def keypair_list(app, req):
    cloud = app.cloud
    with cloud.lock:
        owner = _owner(req, cloud)
        pairs = sorted((k for k in cloud.data['keypairs'].values()
                        if k['user_id'] == owner), key=lambda k: k['name'])
    return _respond(req, {'keypairs': [{'keypair': _keypair_view(
        req, k, 'list')} for k in pairs]})


def keypair_show(app, req, name):
    cloud = app.cloud
    with cloud.lock:
        owner = _owner(req, cloud)
        keypair = cloud.keypair(owner, name)
        if keypair is None:
            raise ApiError(404, 'Keypair %s not found for user %s' % (
                name, owner))
        if req.method == 'DELETE':
            del cloud.data['keypairs'][st.keypair_key(owner, name)]
            cloud.save()
            return _respond(req, None, status=202
                            if _microversion(req) < (2, 2) else 204)
        view = _keypair_view(req, keypair, 'show')
    return _respond(req, {'keypair': view})


def _generate():
    """A new ed25519 key: (public key in OpenSSH format, private PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH,
        serialization.PublicFormat.OpenSSH).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode()
    return public, private


def keypair_create(app, req):
    spec = web.json_body(req).get('keypair')
    if not isinstance(spec, dict) or not isinstance(spec.get('name'), str) \
            or not re.match(r'^[\w .@-]{1,255}$', spec['name']):
        raise ApiError(400, "Invalid input for field/attribute keypair. "
                            "'name' must be 1-255 letters, digits, spaces, "
                            "'_', '-', '.' or '@'.")
    key_type = spec.get('type', 'ssh')
    if key_type not in ('ssh', 'x509') or (
            'type' in spec and _microversion(req) < (2, 2)):
        raise ApiError(400, "Invalid input for field/attribute keypair. "
                            "'type' is not allowed here.")
    cloud = app.cloud
    public, private = spec.get('public_key'), None
    if not public:
        public, private = _generate()
    with cloud.lock:
        owner = _owner(req, cloud, spec)
        name = spec['name']
        if cloud.keypair(owner, name) is not None:
            raise ApiError(409, 'Key pair \'%s\' already exists.' % name)
        cloud.data['counters']['keypair'] = \
            cloud.data['counters'].get('keypair', 0) + 1
        keypair = {'id': cloud.data['counters']['keypair'], 'name': name,
                   'public_key': public, 'type': key_type, 'user_id': owner,
                   'fingerprint': ':'.join('%02x' % b for b in bytes(
                       st.new_uuid().encode()[:16])),
                   'created_at': st.isotime(st.now())}
        cloud.data['keypairs'][st.keypair_key(owner, name)] = keypair
        cloud.save()
    view = _keypair_view(req, keypair, 'create')
    if private:
        view['private_key'] = private
    return _respond(req, {'keypair': view},
                    status=200 if _microversion(req) < (2, 2) else 201)


# servers ---------------------------------------------------------------------
def server_view(cloud, srv, host_url, detail=True, version=(2, 1)):
    view = {'id': srv['id'], 'name': srv['name'],
            'links': [{'rel': 'self', 'href': '%s/compute/v2.1/servers/%s'
                                             % (host_url, srv['id'])}]}
    if not detail:
        return view
    status = cloud.server_status(srv)
    flavor = cloud.data['flavors'].get(srv['flavor_id']) or {}
    if version >= (2, 47):
        flavor_view = {'original_name': flavor.get('name'),
                       'vcpus': flavor.get('vcpus'), 'ram': flavor.get('ram'),
                       'disk': flavor.get('disk'), 'ephemeral': 0, 'swap': 0,
                       'extra_specs': dict(flavor.get('extra_specs') or {})}
    else:
        flavor_view = {'id': srv['flavor_id'], 'links': []}
    deleting = srv.get('delete_at') is not None
    view.update({
        'status': status, 'tenant_id': srv['project_id'],
        'user_id': srv['user_id'], 'metadata': srv['metadata'],
        'hostId': '' if status == 'BUILD' else 'simhost1',
        'image': {'id': srv['image_id'], 'links': []}
        if srv['image_id'] else '',
        'flavor': flavor_view,
        'created': st.isotime(srv['created_at']),
        'updated': st.isotime(max(srv['updated_at'], min(
            st.now(), srv['ready_at']))),
        'addresses': cloud.server_addresses(srv),
        'accessIPv4': '', 'accessIPv6': '', 'OS-DCF:diskConfig': 'MANUAL',
        'progress': 100 if status == 'ACTIVE' else 0,
        'key_name': srv['key_name'], 'config_drive': '',
        'OS-EXT-AZ:availability_zone': 'nova',
        'OS-EXT-STS:vm_state': {'BUILD': 'building', 'ACTIVE': 'active',
                                'ERROR': 'error',
                                'SHUTOFF': 'stopped'}[status],
        'OS-EXT-STS:task_state': 'deleting' if deleting else (
            'spawning' if status == 'BUILD' else None),
        'OS-EXT-STS:power_state': {'ACTIVE': 1, 'SHUTOFF': 4}.get(status, 0),
        'OS-SRV-USG:launched_at': None if status == 'BUILD' else
        st.isotime(srv['ready_at']),
        'OS-SRV-USG:terminated_at': None,
        'security_groups': [{'name': 'default'}],
        'os-extended-volumes:volumes_attached': [],
    })
    if status == 'ERROR':
        view['fault'] = {'code': 500, 'message': srv.get('fault_message')
                         or st.FAULT_MESSAGE,
                         'created': st.isotime(srv['ready_at'])}
    return view


def _visible(req, cloud):
    token = web.token(req)
    servers = cloud.visible_servers()
    if req.GET.get('all_tenants') in ('1', 'True', 'true') and \
            _is_admin(cloud, token):
        return servers
    return [s for s in servers if s['project_id'] == token['project_id']]


def server_list(app, req, detail=None):
    cloud = app.cloud
    version = _microversion(req)
    with cloud.lock:
        servers = sorted(_visible(req, cloud),
                         key=lambda s: (-s['created_at'], s['id']))
        name, status = req.GET.get('name'), req.GET.get('status')
        if name:
            servers = [s for s in servers if re.search(name, s['name'])]
        if status:
            servers = [s for s in servers
                       if cloud.server_status(s) == status.upper()]
        marker = req.GET.get('marker')
        if marker:
            ids = [s['id'] for s in servers]
            if marker not in ids:
                raise ApiError(400, 'marker [%s] not found' % marker)
            servers = servers[ids.index(marker) + 1:]
        if req.GET.get('limit'):
            servers = servers[:int(req.GET['limit'])]
        views = [server_view(cloud, s, req.host_url, bool(detail), version)
                 for s in servers]
    return _respond(req, {'servers': views})


def _server(req, cloud, server_id):
    srv = cloud.server(server_id)
    token = web.token(req)
    if srv is None or (srv['project_id'] != token['project_id'] and
                       not _is_admin(cloud, token)):
        raise ApiError(404, 'Instance %s could not be found.' % server_id)
    return srv


def server_show(app, req, server_id):
    cloud = app.cloud
    with cloud.lock:
        srv = _server(req, cloud, server_id)
        if req.method == 'DELETE':
            cloud.delete_server(srv)
            cloud.save()
            return _respond(req, None, status=204)
        view = server_view(cloud, srv, req.host_url, True,
                           _microversion(req))
    return _respond(req, {'server': view})


def server_create(app, req):
    spec = web.json_body(req).get('server') or {}
    cloud = app.cloud
    token = web.token(req)
    if not spec.get('name'):
        raise ApiError(400, "Invalid input for field/attribute server. "
                            "'name' is a required property")
    with cloud.lock:
        flavor = cloud.find('flavors', str(spec.get('flavorRef', '')))
        if flavor is None:
            raise ApiError(400, 'Flavor %s could not be found.'
                           % spec.get('flavorRef'))
        image = cloud.find('images', spec.get('imageRef') or '') \
            if spec.get('imageRef') else None
        if spec.get('imageRef') and image is None:
            raise ApiError(400, 'Can not find requested image')
        if spec.get('key_name') and \
                cloud.keypair(token['user_id'], spec['key_name']) is None:
            # Nova boots with the caller's own keypair of that name.
            raise ApiError(400, 'Invalid key_name provided.')
        networks = spec.get('networks')
        networks = networks if isinstance(networks, list) else None
        srv = cloud.create_server(
            token['project_id'], token['user_id'], spec['name'], flavor,
            image, key_name=spec.get('key_name'), networks=networks,
            metadata=spec.get('metadata'), user_data=spec.get('user_data'))
        cloud.save()
    body = {'server': {'id': srv['id'], 'links': server_view(
        cloud, srv, req.host_url, False)['links'],
        'OS-DCF:diskConfig': 'MANUAL', 'adminPass': 'simulated',
        'security_groups': [{'name': 'default'}]}}
    return _respond(req, body, status=202)


def server_action(app, req, server_id):
    """``os-stop`` and ``os-start``: a node that is switched off is what
    auto-healing replaces (Nova answers 409 when the server is not in a
    state the action starts from)."""
    body = web.json_body(req)
    actions = {'os-stop': ('ACTIVE', 'SHUTOFF'),
               'os-start': ('SHUTOFF', 'ACTIVE')}
    if len(body) != 1 or next(iter(body)) not in actions:
        raise ApiError(400, 'There is no such action: %s'
                       % ', '.join(sorted(body)) or '-')
    cloud = app.cloud
    with cloud.lock:
        srv = _server(req, cloud, server_id)
        before, after = actions[next(iter(body))]
        status = cloud.server_status(srv)
        if status != before:
            raise ApiError(409, "Cannot '%s' instance %s while it is in "
                                'vm_state %s' % (next(iter(body)), server_id,
                                                 status.lower()))
        cloud.set_server_status(srv, after)
        cloud.save()
    return _respond(req, None, status=202)


ROUTES = [
    ('GET', '', versions),
    ('GET', '/v2.1', version),
    ('GET', r'/v2\.1/flavors(?P<detail>/detail)?', flavor_list),
    ('GET', r'/v2\.1/flavors/(?P<flavor_id>[^/]+)', flavor_show),
    ('GET', r'/v2\.1/flavors/(?P<flavor_id>[^/]+)/os-extra_specs',
     flavor_extra_specs),
    ('GET', r'/v2\.1/os-keypairs', keypair_list),
    ('POST', r'/v2\.1/os-keypairs', keypair_create),
    ('GET|DELETE', r'/v2\.1/os-keypairs/(?P<name>[^/]+)', keypair_show),
    ('GET', r'/v2\.1/servers(?P<detail>/detail)?', server_list),
    ('POST', r'/v2\.1/servers', server_create),
    ('GET|DELETE', r'/v2\.1/servers/(?P<server_id>[^/]+)', server_show),
    ('POST', r'/v2\.1/servers/(?P<server_id>[^/]+)/action', server_action),
]
