"""Keystone v3 subset of the simulated cloud: tokens and the catalog (the
identity admin API is in ``caas.sim.keystone_admin``)."""

from caas.sim import identity
from caas.sim import keystone_admin
from caas.sim import state as st
from caas.sim import trusts
from caas.sim import web
from caas.sim.web import ApiError

PREFIX = '/identity'
PUBLIC = ('/v3', '/v3/auth/tokens')
REGION = 'RegionOne'


def error_body(code, message, error_type=None):
    return {'error': {'code': code, 'message': message,
                      'title': web.title(code)}}


def _version(base):
    return {'id': 'v3.14', 'status': 'stable',
            'updated': '2020-04-07T00:00:00Z',
            'links': [{'rel': 'self', 'href': base + 'identity/v3/'}],
            'media-types': [{'base': 'application/json',
                             'type': 'application/vnd.openstack.identity-'
                                     'v3+json'}]}


def versions(app, req):
    return web.json_response(
        {'versions': {'values': [_version(req.host_url + '/')]}},
        status=300)


def version(app, req):
    return web.json_response({'version': _version(req.host_url + '/')})


def _unauthorized():
    return ApiError(401, 'The request you have made requires '
                         'authentication.', 'Unauthorized')


def _domain_id(spec):
    spec = spec or {}
    if spec.get('id'):
        return spec['id']
    if spec.get('name', 'Default') == 'Default':
        return st.DOMAIN_ID
    return spec['name']


def _authenticate(cloud, identity):
    methods = identity.get('methods') or []
    if 'password' in methods:
        user_spec = (identity.get('password') or {}).get('user') or {}
        if user_spec.get('id'):
            user = cloud.data['users'].get(user_spec['id'])
        else:
            user = cloud.user_by_name(user_spec.get('name'),
                                      _domain_id(user_spec.get('domain')))
        if user is None or not cloud.check_password(
                user, user_spec.get('password')):
            raise _unauthorized()
        return user, ['password'], None
    if 'token' in methods:
        rec = cloud.token((identity.get('token') or {}).get('id'))
        if rec is None:
            raise _unauthorized()
        return cloud.data['users'][rec['user_id']], ['token'], \
            rec['expires_at']
    raise ApiError(400, 'Unsupported authentication method', 'ValidationError')


def _project(cloud, scope, user):
    if scope is None:
        return None
    if 'OS-TRUST:trust' in scope:
        raise ApiError(400, 'A trust scope is handled by issue()',
                       'ValidationError')
    spec = scope.get('project')
    if spec is None:
        raise ApiError(400, 'Only project scope is supported',
                       'ValidationError')
    if spec.get('id'):
        project = cloud.data['projects'].get(spec['id'])
    else:
        project = cloud.project_by_name(spec.get('name'),
                                        _domain_id(spec.get('domain')))
    if project is None or not project.get('enabled', True) or \
            not identity.effective_roles(cloud, user['id'], project['id']):
        # Keystone's answer when the user has no role on the project.
        raise _unauthorized()
    return project


def issue(app, req):
    body = web.json_body(req)
    auth = body.get('auth') or {}
    cloud = app.cloud
    with cloud.lock:
        user, methods, expires = _authenticate(cloud,
                                               auth.get('identity') or {})
        scope = auth.get('scope') or {}
        trust_id = None
        if 'OS-TRUST:trust' in scope:
            user, project, trust_id = trusts.trust_scope(
                cloud, scope['OS-TRUST:trust'], user)
        else:
            project = _project(cloud, auth.get('scope'), user)
        token = cloud.issue_token(user, project, methods, expires)
        if trust_id:
            cloud.data['tokens'][token]['trust_id'] = trust_id
            cloud.touch('tokens', token)
            cloud.save()
        view = token_view(app, req, cloud.data['tokens'][token])
    return web.json_response(view, status=201,
                             headers={'X-Subject-Token': token})


def validate(app, req):
    cloud = app.cloud
    subject = req.headers.get('X-Subject-Token')
    with cloud.lock:
        rec = cloud.token(subject)
        if rec is None:
            raise ApiError(404, 'Could not find token: %s' % subject,
                           'NotFound')
        if req.method == 'DELETE':
            del cloud.data['tokens'][subject]
            cloud.save()
            return web.json_response(None, status=204)
        view = token_view(app, req, rec,
                          catalog='nocatalog' not in req.GET)
    return web.json_response(view, headers={'X-Subject-Token': subject})


def catalog(app, req, project):
    base = req.host_url
    services = [('identity', 'keystone', base + '/identity'),
                ('compute', 'nova', base + '/compute/v2.1'),
                ('image', 'glance', base + '/image'),
                ('orchestration', 'heat',
                 '%s/heat/v1/%s' % (base, project['id']))]
    if app.container_infra_url:
        services.append(('container-infra', 'magnum',
                         app.container_infra_url.rstrip('/')))
    entries = []
    for stype, name, url in services:
        entries.append({
            'id': stype.replace('-', '') + '0' * 8, 'type': stype,
            'name': name,
            'endpoints': [{'id': '%s-%s' % (name, iface),
                           'interface': iface, 'region': REGION,
                           'region_id': REGION, 'url': url}
                          for iface in ('public', 'internal', 'admin')]})
    return entries


def token_view(app, req, rec, catalog=True):
    cloud = app.cloud
    user = cloud.data['users'][rec['user_id']]
    domain = {'id': st.DOMAIN_ID, 'name': 'Default'}
    token = {'methods': rec['methods'],
             'user': {'id': user['id'], 'name': user['name'],
                      'domain': domain, 'password_expires_at': None},
             'audit_ids': [rec['audit_id']],
             'expires_at': st.isotime(rec['expires_at'], micro=True),
             'issued_at': st.isotime(rec['issued_at'], micro=True)}
    if rec['project_id']:
        project = cloud.data['projects'][rec['project_id']]
        token['project'] = {'id': project['id'], 'name': project['name'],
                            'domain': domain}
        token['is_domain'] = False
        token['roles'] = [{'id': role['id'], 'name': role['name']}
                          for role in identity.effective_roles(
                              cloud, user['id'], project['id'])]
        if catalog:
            token['catalog'] = _catalog(app, req, project)
    trusts.decorate_token(cloud, rec, token)
    return {'token': token}


_catalog = catalog

ROUTES = [
    ('GET', '', versions),
    ('GET', '/v3', version),
    ('POST', '/v3/auth/tokens', issue),
    ('GET|DELETE', '/v3/auth/tokens', validate),
] + keystone_admin.ROUTES
