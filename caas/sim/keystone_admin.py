"""Identity admin API of the simulated Keystone (v3 subset): users,
projects, domains, roles and role assignments on projects.

It is the subset that test tools (tempest's dynamic credentials, the
integration tests) use to make a fresh project with admin, member and
reader users. Every call needs a token holding the ``admin`` role, as
Keystone's default policy says, except that users may read themselves and
list their own projects.
"""

from caas.sim import identity
from caas.sim import state as st
from caas.sim import web
from caas.sim.web import ApiError

DOMAIN = {'id': st.DOMAIN_ID, 'name': 'Default', 'enabled': True,
          'description': 'The default domain', 'tags': [], 'options': {}}
USER_FIELDS = ('name', 'enabled', 'default_project_id', 'description',
               'email', 'options')
PROJECT_FIELDS = ('name', 'enabled', 'description', 'tags', 'options')


def _base(req):
    return req.host_url + '/identity/v3'


def _token_roles(cloud, req):
    token = web.token(req)
    if not token['project_id']:
        return set()
    user = cloud.data['users'].get(token['user_id'])
    return set(cloud.roles_of(user, token['project_id'])) if user else set()


SERVICE_USER = 'caas'


def _token_user_name(cloud, req):
    user = cloud.data['users'].get(web.token(req)['user_id']) or {}
    return user.get('name')


def _require_admin(cloud, req, owner_id=None, users=False):
    if owner_id is not None and web.token(req)['user_id'] == owner_id:
        return
    if 'admin' not in _token_roles(cloud, req) and not (
            users and _token_user_name(cloud, req) == SERVICE_USER):
        # caas's own service user manages its trustee users (in a real
        # cloud it is the admin of the trustee domain), and nothing else.
        raise ApiError(403, 'You are not authorized to perform the '
                            'requested action.', 'Forbidden')


def _not_found(kind, ident):
    return ApiError(404, 'Could not find %s: %s.' % (kind, ident),
                    'NotFound')


def _conflict(kind, name):
    return ApiError(409, 'Conflict occurred attempting to store %s - '
                         'Duplicate entry found with name %s at domain ID '
                         '%s.' % (kind, name, st.DOMAIN_ID), 'Conflict')


def _body(req, key):
    spec = web.json_body(req).get(key)
    if not isinstance(spec, dict):
        raise ApiError(400, "Invalid input for field '%s': a JSON object "
                            "is required." % key, 'ValidationError')
    return spec


def _name(spec):
    name = spec.get('name')
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise ApiError(400, "Invalid input for field 'name': a non-empty "
                            "string of at most 255 characters is required.",
                       'ValidationError')
    return name


def _domain(spec):
    domain_id = spec.get('domain_id') or st.DOMAIN_ID
    if domain_id != st.DOMAIN_ID:
        raise ApiError(400, 'Only the Default domain is simulated; '
                            'domain_id %s is unknown.' % domain_id,
                       'ValidationError')
    return domain_id


def _list(req, key, records, filters=('name', 'domain_id', 'enabled')):
    for field in filters:
        want = req.GET.get(field)
        if want is None:
            continue
        if field == 'enabled':
            want = want.lower() not in ('0', 'false', 'no')
        records = [r for r in records if r.get(field) == want]
    url = '%s/%s' % (_base(req), key)
    return web.json_response({key: records, 'links': {
        'self': url, 'previous': None, 'next': None}})


def _with_link(req, kind, rec, hidden=('password_hash',)):
    view = {k: v for k, v in rec.items() if k not in hidden}
    view['links'] = {'self': '%s/%s/%s' % (_base(req), kind, rec['id'])}
    return view


# domains ---------------------------------------------------------------------
def domain_list(app, req):
    _require_admin(app.cloud, req)
    return _list(req, 'domains', [_with_link(req, 'domains', DOMAIN)],
                 ('name', 'enabled'))


def domain_show(app, req, domain_id):
    _require_admin(app.cloud, req)
    if domain_id != st.DOMAIN_ID:
        raise _not_found('domain', domain_id)
    return web.json_response({'domain': _with_link(req, 'domains', DOMAIN)})


# users -----------------------------------------------------------------------
def _user_view(req, user):
    view = _with_link(req, 'users', user)
    view.setdefault('password_expires_at', None)
    view.setdefault('options', {})
    return view


def user_list(app, req):
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req, users=True)
        users = [_user_view(req, u) for u in cloud.data['users'].values()]
    return _list(req, 'users', sorted(users, key=lambda u: u['name']))


def user_create(app, req):
    spec = _body(req, 'user')
    name, domain_id = _name(spec), _domain(spec)
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req, users=True)
        if cloud.user_by_name(name, domain_id) is not None:
            raise _conflict('user', name)
        project_id = spec.get('default_project_id') or spec.get('project_id')
        if project_id and project_id not in cloud.data['projects']:
            raise ApiError(400, 'Project %s for default_project_id does '
                                'not exist.' % project_id, 'ValidationError')
        user = {'id': st.new_uuid().replace('-', ''), 'name': name,
                'domain_id': domain_id,
                'enabled': bool(spec.get('enabled', True))}
        if project_id:
            user['default_project_id'] = project_id
        for field in ('description', 'email'):
            if spec.get(field) is not None:
                user[field] = spec[field]
        if spec.get('password') is not None:
            user['password_hash'] = identity.hash_password(spec['password'])
        cloud.data['users'][user['id']] = user
        cloud.save()
        view = _user_view(req, user)
    return web.json_response({'user': view}, status=201)


def _user(cloud, user_id):
    user = cloud.data['users'].get(user_id)
    if user is None:
        raise _not_found('user', user_id)
    return user


def user_show(app, req, user_id):
    cloud = app.cloud
    with cloud.lock:
        user = _user(cloud, user_id)
        if req.method == 'GET':
            _require_admin(cloud, req, owner_id=user_id)
            return web.json_response({'user': _user_view(req, user)})
        _require_admin(cloud, req, users=True)
        if req.method == 'DELETE':
            identity.forget_user(cloud, user_id)
            del cloud.data['users'][user_id]
            cloud.save()
            return web.json_response(None, status=204)
        spec = _body(req, 'user')
        if 'name' in spec and spec['name'] != user['name']:
            if cloud.user_by_name(_name(spec), user['domain_id']):
                raise _conflict('user', spec['name'])
        for field in USER_FIELDS:
            if field in spec:
                user[field] = spec[field]
        if spec.get('password') is not None:
            user['password_hash'] = identity.hash_password(spec['password'])
        cloud.touch('users', user_id)
        cloud.save()
        view = _user_view(req, user)
    return web.json_response({'user': view})


def user_password(app, req, user_id):
    """A user changes their own password, knowing the old one."""
    spec = _body(req, 'user')
    cloud = app.cloud
    with cloud.lock:
        user = _user(cloud, user_id)
        if web.token(req)['user_id'] != user_id:
            raise ApiError(403, 'You are not authorized to perform the '
                                'requested action.', 'Forbidden')
        if not cloud.check_password(user, spec.get('original_password')):
            raise ApiError(401, 'The request you have made requires '
                                'authentication.', 'Unauthorized')
        user['password_hash'] = identity.hash_password(
            spec.get('password') or '')
        cloud.touch('users', user_id)
        cloud.save()
    return web.json_response(None, status=204)


def user_projects(app, req, user_id):
    cloud = app.cloud
    with cloud.lock:
        _user(cloud, user_id)
        _require_admin(cloud, req, owner_id=user_id)
        ids = {a['project_id'] for a in identity.assignments(
            cloud, user_id=user_id)}
        projects = [_project_view(req, p) for pid, p in
                    cloud.data['projects'].items() if pid in ids]
    return _list(req, 'projects', sorted(projects, key=lambda p: p['name']))


# projects --------------------------------------------------------------------
def _project_view(req, project):
    view = _with_link(req, 'projects', project)
    view.update(parent_id=project['domain_id'], is_domain=False)
    view.setdefault('tags', [])
    view.setdefault('options', {})
    return view


def project_list(app, req):
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req)
        projects = [_project_view(req, p)
                    for p in cloud.data['projects'].values()]
    return _list(req, 'projects', sorted(projects, key=lambda p: p['name']))


def project_create(app, req):
    spec = _body(req, 'project')
    name, domain_id = _name(spec), _domain(spec)
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req)
        if cloud.project_by_name(name, domain_id) is not None:
            raise _conflict('project', name)
        project = {'id': st.new_uuid().replace('-', ''), 'name': name,
                   'domain_id': domain_id,
                   'enabled': bool(spec.get('enabled', True)),
                   'description': spec.get('description') or '',
                   'tags': list(spec.get('tags') or [])}
        cloud.data['projects'][project['id']] = project
        cloud.save()
        view = _project_view(req, project)
    return web.json_response({'project': view}, status=201)


def project_show(app, req, project_id):
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req)
        project = cloud.data['projects'].get(project_id)
        if project is None:
            raise _not_found('project', project_id)
        if req.method == 'DELETE':
            identity.forget_project(cloud, project_id)
            del cloud.data['projects'][project_id]
            cloud.save()
            return web.json_response(None, status=204)
        if req.method == 'PATCH':
            spec = _body(req, 'project')
            if 'name' in spec and spec['name'] != project['name'] and \
                    cloud.project_by_name(_name(spec), project['domain_id']):
                raise _conflict('project', spec['name'])
            for field in PROJECT_FIELDS:
                if field in spec:
                    project[field] = spec[field]
            cloud.touch('projects', project_id)
            cloud.save()
        view = _project_view(req, project)
    return web.json_response({'project': view})


# roles -----------------------------------------------------------------------
def role_list(app, req):
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req)
        roles = [_with_link(req, 'roles', r)
                 for r in cloud.data['roles'].values()]
    return _list(req, 'roles', sorted(roles, key=lambda r: r['name']),
                 ('name', 'domain_id'))


def role_create(app, req):
    spec = _body(req, 'role')
    name = _name(spec)
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req)
        if any(r['name'] == name for r in cloud.data['roles'].values()):
            raise ApiError(409, 'Conflict occurred attempting to store role '
                                '- Duplicate entry found with name %s.'
                           % name, 'Conflict')
        role = {'id': st.new_uuid().replace('-', ''), 'name': name,
                'domain_id': None, 'description': spec.get('description'),
                'options': {}}
        cloud.data['roles'][role['id']] = role
        cloud.save()
        view = _with_link(req, 'roles', role)
    return web.json_response({'role': view}, status=201)


def role_show(app, req, role_id):
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req)
        role = cloud.data['roles'].get(role_id)
        if role is None:
            raise _not_found('role', role_id)
        if req.method == 'DELETE':
            identity.forget_role(cloud, role_id)
            del cloud.data['roles'][role_id]
            cloud.save()
            return web.json_response(None, status=204)
        view = _with_link(req, 'roles', role)
    return web.json_response({'role': view})


# role assignments ------------------------------------------------------------
def project_user_roles(app, req, project_id, user_id):
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req)
        if project_id not in cloud.data['projects']:
            raise _not_found('project', project_id)
        _user(cloud, user_id)
        roles = [_with_link(req, 'roles', cloud.data['roles'][a['role_id']])
                 for a in identity.assignments(cloud, user_id, project_id)
                 if a['role_id'] in cloud.data['roles']]
    return web.json_response({'roles': roles, 'links': {
        'self': req.url, 'previous': None, 'next': None}})


def project_user_role(app, req, project_id, user_id, role_id):
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req)
        if project_id not in cloud.data['projects']:
            raise _not_found('project', project_id)
        _user(cloud, user_id)
        if role_id not in cloud.data['roles']:
            raise _not_found('role', role_id)
        aid = identity.assignment_id(project_id, user_id, role_id)
        held = aid in cloud.data['assignments']
        if req.method == 'PUT':
            if not held:
                cloud.data['assignments'][aid] = {
                    'id': aid, 'project_id': project_id, 'user_id': user_id,
                    'role_id': role_id}
                cloud.save()
        elif not held:
            raise ApiError(404, 'Could not find role assignment with role: '
                                '%s, user or group: %s, project, domain, or '
                                'system: %s.' % (role_id, user_id,
                                                 project_id), 'NotFound')
        elif req.method == 'DELETE':
            del cloud.data['assignments'][aid]
            cloud.save()
    return web.json_response(None, status=204)


def _assignment_view(req, cloud, user_id, project_id, role, names):
    view = {'role': {'id': role['id']}, 'user': {'id': user_id},
            'scope': {'project': {'id': project_id}},
            'links': {'assignment': '%s/projects/%s/users/%s/roles/%s' % (
                _base(req), project_id, user_id, role['id'])}}
    if names:
        user = cloud.data['users'].get(user_id) or {}
        project = cloud.data['projects'].get(project_id) or {}
        domain = {'id': st.DOMAIN_ID, 'name': 'Default'}
        view['role']['name'] = role['name']
        view['user'].update(name=user.get('name'), domain=domain)
        view['scope']['project'].update(name=project.get('name'),
                                        domain=domain)
    return view


def role_assignments(app, req):
    """GET /v3/role_assignments with the filters user.id, scope.project.id,
    role.id, effective (implied roles expanded) and include_names."""
    q = req.GET
    names = 'include_names' in q and q['include_names'].lower() not in (
        '0', 'false')
    cloud = app.cloud
    with cloud.lock:
        _require_admin(cloud, req)
        views = []
        for a in identity.assignments(cloud, q.get('user.id'),
                                      q.get('scope.project.id')):
            if 'effective' in q:
                roles = identity.effective_roles(cloud, a['user_id'],
                                                 a['project_id'])
            else:
                roles = [cloud.data['roles'][a['role_id']]] \
                    if a['role_id'] in cloud.data['roles'] else []
            views.extend(_assignment_view(req, cloud, a['user_id'],
                                          a['project_id'], r, names)
                         for r in roles)
        # effective: one entry per (user, project, role), once.
        unique = {}
        for v in views:
            unique.setdefault((v['user']['id'], v['scope']['project']['id'],
                               v['role']['id']), v)
        views = [v for v in unique.values()
                 if q.get('role.id') in (None, v['role']['id'])]
    return web.json_response({'role_assignments': views, 'links': {
        'self': req.url, 'previous': None, 'next': None}})


ID = '(?P<%s>[^/]+)'
ROUTES = [
    ('GET', '/v3/domains', domain_list),
    ('GET', '/v3/domains/' + ID % 'domain_id', domain_show),
    ('GET', '/v3/users', user_list),
    ('POST', '/v3/users', user_create),
    ('GET|PATCH|DELETE', '/v3/users/' + ID % 'user_id', user_show),
    ('POST', '/v3/users/%s/password' % (ID % 'user_id'), user_password),
    ('GET', '/v3/users/%s/projects' % (ID % 'user_id'), user_projects),
    ('GET', '/v3/projects', project_list),
    ('POST', '/v3/projects', project_create),
    ('GET|PATCH|DELETE', '/v3/projects/' + ID % 'project_id', project_show),
    ('GET', '/v3/projects/%s/users/%s/roles' % (ID % 'project_id',
                                                 ID % 'user_id'),
     project_user_roles),
    ('GET|PUT|DELETE', '/v3/projects/%s/users/%s/roles/%s' % (
        ID % 'project_id', ID % 'user_id', ID % 'role_id'),
     project_user_role),
    ('GET', '/v3/roles', role_list),
    ('POST', '/v3/roles', role_create),
    ('GET|DELETE', '/v3/roles/' + ID % 'role_id', role_show),
    ('GET', '/v3/role_assignments', role_assignments),
]
