"""Keystone's OS-TRUST API and the user calls caas's trustees need.

Routes (all under ``/identity``, all needing a token):

* (trustee users are made, changed and deleted through the identity admin
  API of ``caas.sim.keystone_admin``, as caas's service user);
* ``POST|GET /v3/OS-TRUST/trusts`` (``?trustee_user_id=``,
  ``?trustor_user_id=``), ``GET|DELETE /v3/OS-TRUST/trusts/{id}``;
* a trust-scoped token: ``POST /v3/auth/tokens`` whose scope is
  ``{"OS-TRUST:trust": {"id": ...}}`` (``keystone.issue`` hands such a
  scope to :func:`trust_scope`).

The Keystone rules clients rely on are kept: only the trustor's own token
creates a trust (403 otherwise), only the trustee gets a token from it,
the token is the trustor's (impersonation) on the trust's project with the
trust's roles, and deleting a trust invalidates the tokens issued from it.
Managing users and deleting or listing other users' trusts needs the admin
role or the service user caas runs as (in a real cloud: the admin of the
trustee domain).
"""

from caas.sim import identity
from caas.sim import state as st
from caas.sim import web
from caas.sim.web import ApiError

PREFIX = '/identity'
PUBLIC = ()

# The simulated cloud's service user: caas's [cloud] credentials.
SERVICE_USER = 'caas'


def error_body(code, message, error_type=None):
    return {'error': {'code': code, 'message': message,
                      'title': web.title(code)}}


role_id = identity.role_id


def _token_roles(app, req):
    token = web.token(req)
    if not token.get('project_id'):
        return []
    return app.cloud.roles_of(_caller(app, req), token['project_id'])


def _caller(app, req):
    return app.cloud.data['users'][web.token(req)['user_id']]


def _require_admin(app, req):
    user = _caller(app, req)
    if user['name'] != SERVICE_USER and \
            'admin' not in _token_roles(app, req):
        raise ApiError(403, 'You are not authorized to perform the '
                            'requested action.', 'Forbidden')
    return user


def _user(cloud, user_id):
    user = cloud.data['users'].get(user_id)
    if user is None:
        raise ApiError(404, 'Could not find user: %s.' % user_id, 'NotFound')
    return user


# -- trusts -----------------------------------------------------------------

def _trust_view(req, trust):
    return {'id': trust['id'], 'trustor_user_id': trust['trustor_user_id'],
            'trustee_user_id': trust['trustee_user_id'],
            'project_id': trust['project_id'],
            'impersonation': trust['impersonation'],
            'expires_at': None, 'remaining_uses': None,
            'redelegation_count': 0,
            'roles': [{'id': role_id(name), 'name': name}
                      for name in trust['roles']],
            'roles_links': {},
            'links': {'self': '%s/identity/v3/OS-TRUST/trusts/%s' % (
                req.host_url, trust['id'])}}


def _forbidden(message):
    return ApiError(403, message, 'Forbidden')


def create_trust(app, req):
    spec = web.json_body(req).get('trust') or {}
    token = web.token(req)
    cloud = app.cloud
    with cloud.lock:
        if token.get('trust_id'):
            raise _forbidden('Trust-scoped tokens cannot create trusts.')
        trustor_id = spec.get('trustor_user_id')
        trustee_id = spec.get('trustee_user_id')
        if not trustor_id or not trustee_id:
            raise ApiError(400, 'trustor_user_id and trustee_user_id are '
                                'required.', 'ValidationError')
        if trustor_id != token['user_id']:
            raise _forbidden('The authenticated user should match the '
                             'trustor.')
        trustor = _user(cloud, trustor_id)
        _user(cloud, trustee_id)
        project_id = spec.get('project_id')
        names = [r.get('name') or _role_name(r.get('id'))
                 for r in spec.get('roles') or []]
        if project_id:
            if project_id not in cloud.data['projects']:
                raise ApiError(404, 'Could not find project: %s.' %
                               project_id, 'NotFound')
            if not names:
                raise _forbidden('At least one role should be specified.')
            held = cloud.roles_of(trustor, project_id)
            missing = [n for n in names if n not in held]
            if missing:
                raise _forbidden('The trustor does not hold role(s) %s on '
                                 'project %s.' % (', '.join(missing),
                                                  project_id))
        trust = {'id': st.new_uuid().replace('-', ''),
                 'trustor_user_id': trustor_id,
                 'trustee_user_id': trustee_id, 'project_id': project_id,
                 'impersonation': bool(spec.get('impersonation', False)),
                 'roles': names, 'created_at': st.now()}
        cloud.data['trusts'][trust['id']] = trust
        cloud.save()
        view = _trust_view(req, trust)
    return web.json_response({'trust': view}, status=201)


def _role_name(role_id):
    for name in ('admin', 'member', 'reader'):
        if role_id(name) == role_id:
            return name
    raise ApiError(404, 'Could not find role: %s.' % role_id, 'NotFound')


def _may_see(app, req, trust):
    user = _caller(app, req)
    return user['id'] in (trust['trustor_user_id'],
                          trust['trustee_user_id']) or \
        user['name'] == SERVICE_USER or 'admin' in _token_roles(app, req)


def list_trusts(app, req):
    trustee = req.GET.get('trustee_user_id')
    trustor = req.GET.get('trustor_user_id')
    caller = _caller(app, req)
    if caller['id'] not in (trustee, trustor):
        _require_admin(app, req)
    with app.cloud.lock:
        trusts = [_trust_view(req, t)
                  for t in app.cloud.data['trusts'].values()
                  if (trustee is None or t['trustee_user_id'] == trustee) and
                  (trustor is None or t['trustor_user_id'] == trustor)]
    return web.json_response({'trusts': trusts})


def _trust(app, req, trust_id):
    trust = app.cloud.data['trusts'].get(trust_id)
    if trust is None or not _may_see(app, req, trust):
        raise ApiError(404, 'Could not find trust: %s.' % trust_id,
                       'NotFound')
    return trust


def show_trust(app, req, trust_id):
    with app.cloud.lock:
        view = _trust_view(req, _trust(app, req, trust_id))
    return web.json_response({'trust': view})


def delete_trust(app, req, trust_id):
    cloud = app.cloud
    with cloud.lock:
        trust = _trust(app, req, trust_id)
        caller = _caller(app, req)
        if caller['id'] == trust['trustee_user_id'] and \
                caller['name'] != SERVICE_USER:
            raise _forbidden('Only the trustor or an administrator may '
                             'delete a trust.')
        del cloud.data['trusts'][trust_id]
        cloud.save()
    return web.json_response(None, status=204)


def trust_scope(cloud, spec, user):
    """(token user, project, trust id) of a trust-scoped token request by
    ``user``; 401 unless ``user`` is the trust's trustee."""
    trust = cloud.data['trusts'].get((spec or {}).get('id') or '')
    if trust is None or trust['trustee_user_id'] != user['id']:
        raise ApiError(401, 'The request you have made requires '
                            'authentication.', 'Unauthorized')
    trustor = cloud.data['users'].get(trust['trustor_user_id'])
    if trustor is None or not trustor['enabled']:
        raise ApiError(401, 'The trustor is disabled.', 'Unauthorized')
    project = cloud.data['projects'].get(trust['project_id']) \
        if trust['project_id'] else None
    return (trustor if trust['impersonation'] else user), project, \
        trust['id']


def decorate_token(cloud, rec, token):
    """A trust-scoped token's OS-TRUST:trust section and the trust's roles."""
    trust = cloud.data['trusts'].get(rec.get('trust_id') or '')
    if trust is None:
        return
    token['OS-TRUST:trust'] = {
        'id': trust['id'], 'impersonation': trust['impersonation'],
        'trustor_user': {'id': trust['trustor_user_id']},
        'trustee_user': {'id': trust['trustee_user_id']}}
    if 'roles' in token:
        token['roles'] = [{'id': role_id(n), 'name': n}
                          for n in trust['roles']]


ROUTES = [
    ('POST', '/v3/OS-TRUST/trusts', create_trust),
    ('GET', '/v3/OS-TRUST/trusts', list_trusts),
    ('GET', r'/v3/OS-TRUST/trusts/(?P<trust_id>[^/]+)', show_trust),
    ('DELETE', r'/v3/OS-TRUST/trusts/(?P<trust_id>[^/]+)', delete_trust),
]
