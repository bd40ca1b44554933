"""Heat (orchestration v1) HTTP subset: stacks, outputs, resources (and
marking one unhealthy), events.

The stack engine is ``caas.sim.stacks``; this module only maps HTTP to it
and renders Heat's bodies and error shapes.
"""

import re

import yaml

from caas.sim import hot
from caas.sim import signals
from caas.sim import stacks
from caas.sim import state as st
from caas.sim import web
from caas.sim.web import ApiError

PREFIX = '/heat'
# A wait-condition handle's signal URL authenticates with the handle's own
# token (caas.sim.signals.resource_signal checks it), as Heat's does.
SIGNAL = (r'/v1/(?P<project_id>[^/]+)/stacks/(?P<stack_name>[^/]+)/'
          r'(?P<stack_id>[^/]+)/resources/(?P<resource>[^/]+)/signal')
PUBLIC = ('/v1', re.sub(r'\?P<\w+>', '?:', SIGNAL))
STACK_NAME = re.compile(r'^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$')
MAX_STACKS_PER_PAGE = 1000
SUFFIXES = ('outputs', 'resources', 'events', 'template', 'environment',
            'files')
EXPLANATIONS = {
    400: 'The server could not comply with the request since it is either '
         'malformed or otherwise incorrect.',
    401: 'This server could not verify that you are authorized to access '
         'the document you requested.',
    404: 'The resource could not be found.',
    409: 'There was a conflict when trying to complete your request.',
    500: 'The server has either erred or is incapable of performing the '
         'requested operation.',
    503: 'The server is currently unavailable.',
}


def error_body(code, message, error_type=None):
    return {'explanation': EXPLANATIONS.get(code, message), 'code': code,
            'error': {'message': message, 'traceback': None,
                      'type': error_type or web.title(code).replace(' ', '')},
            'title': web.title(code)}


def versions(app, req):
    return web.json_response({'versions': [{
        'id': 'v1.0', 'status': 'CURRENT',
        'links': [{'rel': 'self', 'href': req.host_url + '/heat/v1/'}]}]},
        status=300)


def _base(req, project_id):
    return '%s/heat/v1/%s' % (req.host_url, project_id)


def _links(req, stack):
    return [{'rel': 'self', 'href': '%s/stacks/%s/%s' % (
        _base(req, stack['project_id']), stack['name'], stack['id'])}]


def _time(ts):
    return st.isotime(ts) if ts else None


def _summary(app, req, stack):
    status, reason = stacks.stack_status(app.cloud, stack)
    return {'id': stack['id'], 'stack_name': stack['name'],
            'description': stack['template'].get('description', ''),
            'stack_status': status, 'stack_status_reason': reason,
            'creation_time': _time(stack['creation_time']),
            'updated_time': _time(stack['updated_time']),
            'deletion_time': None, 'stack_owner': None, 'parent': None,
            'project': stack['project_id'], 'stack_user_project_id': None,
            'tags': None, 'links': _links(req, stack)}


def _stack_view(app, req, stack, resolve_outputs=True):
    view = _summary(app, req, stack)
    declared = stack['template'].get('parameters') or {}
    # Like Heat: a parameter declared hidden is shown masked.
    params = {k: '******' if (declared.get(k) or {}).get('hidden')
              else hot._text(v) for k, v in stack['param_values'].items()}
    params.update({'OS::stack_name': stack['name'],
                   'OS::stack_id': stack['id'],
                   'OS::project_id': stack['project_id']})
    view.update({'parameters': params, 'timeout_mins':
                 stack.get('timeout_mins'),
                 'disable_rollback': stack.get('disable_rollback', True),
                 'capabilities': [], 'notification_topics': [],
                 'template_description': view['description']})
    if resolve_outputs:
        view['outputs'] = stacks.outputs(app.cloud, stack)
    return view


def _project(req, project_id):
    token = web.token(req)
    if token['project_id'] != project_id:
        raise ApiError(403, 'The project in the URL is not the project of '
                            'the token.', 'Forbidden')
    return project_id


UUID = re.compile(r'^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$')


def _nested(cloud, project_id, ident):
    """A live nested stack by id (or ``name/id``), as Heat addresses every
    stack; nested stacks live inside their root's record here, so they are
    looked for only when the identifier is a stack id."""
    sid = ident.rsplit('/', 1)[-1]
    if not UUID.match(sid):
        return None

    def walk(stack):
        for res in stack['resources'].values():
            nested = res.get('nested')
            if nested is None:
                continue
            if nested['id'] == sid:
                return nested
            found = walk(nested)
            if found is not None:
                return found
        return None

    for root in cloud.data['stacks'].values():
        if root['project_id'] == project_id and \
                root.get('delete_ready_at') is None:
            found = walk(root)
            if found is not None:
                return found
    return None


def _lookup(app, req, project_id, ident):
    project_id = _project(req, project_id)
    stack = stacks.find_stack(app.cloud, project_id, ident) or \
        _nested(app.cloud, project_id, ident)
    if stack is None:
        raise ApiError(404, 'The Stack (%s) could not be found.'
                       % ident.split('/')[0], 'EntityNotFound')
    return stack


def stack_list(app, req, project_id):
    """Newest first, filtered, one page of at most MAX_STACKS_PER_PAGE.

    Stacks before the marker or filtered out by name or id are skipped
    without computing their status, so a page costs its own stacks.
    """
    _project(req, project_id)
    names, ids = req.GET.getall('name'), req.GET.getall('id')
    wanted = req.GET.getall('status')
    limit = MAX_STACKS_PER_PAGE
    if req.GET.get('limit'):
        limit = min(limit, int(req.GET['limit']))
    marker = req.GET.get('marker')
    views = []
    with app.cloud.lock:
        rows = sorted((s for s in app.cloud.data['stacks'].values()
                       if s['project_id'] == project_id),
                      key=lambda s: (-s['creation_time'], s['id']))
        if marker:
            at = [i for i, s in enumerate(rows) if s['id'] == marker]
            rows = rows[at[0] + 1:] if at else []
        for stack in rows:
            if len(views) >= limit:
                break
            if (names and stack['name'] not in names) or \
                    (ids and stack['id'] not in ids):
                continue
            view = _summary(app, req, stack)
            status = view['stack_status']
            if not status or (wanted and status not in wanted and
                              status.split('_')[-1] not in wanted):
                continue
            views.append(view)
        # Reading a status may have created what waited for a wait
        # condition (caas.sim.stacks.advance): keep it.
        app.cloud.save()
    return web.json_response({'stacks': views})


def _environment(body):
    env = body.get('environment') or {}
    if isinstance(env, str):
        env = yaml.safe_load(env) or {}
    return env


def _inputs(body, template):
    """Parameters and files from a body, with the environment applied."""
    env = _environment(body)
    files = dict(body.get('files') or {})
    for alias, target in ((env.get('resource_registry') or {}).items()):
        if isinstance(target, str) and target in files:
            files[alias] = files[target]
    declared = (template or {}).get('parameters') or {}
    params = {k: v for k, v in (env.get('parameter_defaults') or {}).items()
              if k in declared}
    params.update(env.get('parameters') or {})
    params.update(body.get('parameters') or {})
    return params, files, env


def _template(body):
    if body.get('template_url') and not body.get('template'):
        raise ApiError(400, 'template_url is not supported by the simulated '
                            'cloud; send the template itself.')
    template = body.get('template')
    return None if template is None else hot.parse(template)


def stack_create(app, req, project_id):
    _project(req, project_id)
    body = web.json_body(req)
    name = body.get('stack_name') or ''
    if not STACK_NAME.match(name):
        raise ApiError(400, 'Invalid stack name %s, must contain only '
                            'alphanumeric or "_-." characters, must start '
                            'with alpha and must be 255 characters or less.'
                       % name, 'StackValidationFailed')
    token = web.token(req)
    if token.get('trust_id'):
        # Heat makes a trust of its own for every stack it creates, and
        # Keystone lets no trust-scoped token make a trust: the real Heat
        # answers this 500, with no message (tests/openstack/test_trust_real
        # met it; caas creates stacks with the user's own token).
        return web.json_response({
            'code': 500, 'title': web.title(500),
            'explanation': EXPLANATIONS[500],
            'error': {'type': 'RemoteError', 'traceback': None}}, status=500)
    cloud = app.cloud
    try:
        template = _template(body)
        if template is None:
            raise hot.HOTError('Need more arguments')
        params, files, env = _inputs(body, template)
        with cloud.lock:
            if stacks.find_stack(cloud, project_id, name) is not None:
                raise ApiError(409, 'The Stack (%s) already exists.' % name,
                               'StackExists')
            stack = stacks.create_stack(
                cloud, name, project_id, token['user_id'], template, params,
                files, environment=env,
                timeout_mins=body.get('timeout_mins'),
                disable_rollback=body.get('disable_rollback', True))
            cloud.save()
    except hot.HOTError as exc:
        raise ApiError(400, exc.message, exc.error_type)
    return web.json_response({'stack': {'id': stack['id'],
                                        'links': _links(req, stack)}},
                             status=201)


def stack_one(app, req, project_id, ident):
    """/stacks/<name> or /stacks/<name>/<id> (and its sub-resources)."""
    parts = ident.split('/')
    if len(parts) >= 2 and parts[1] in SUFFIXES:
        ident, rest = parts[0], parts[1:]
    else:
        ident, rest = '/'.join(parts[:2]), parts[2:]
    cloud = app.cloud
    # One instant for the whole request: the lookup found the stack live,
    # so its view must not find it deleted a moment later (a delete ending
    # between the two gave a stack whose status was None).
    with cloud.lock, st.clock_at(st.now()):
        stack = _lookup(app, req, project_id, ident)
        try:
            if not rest:
                return _stack_action(app, req, stack,
                                     redirect='/' not in ident)
            return _sub_resource(app, req, stack, rest)
        finally:
            # Reading a state may have started a rolling update's next
            # batch (caas.sim.rolling) or created what waited for a wait
            # condition (caas.sim.stacks.advance): keep it.
            cloud.save()


def _stack_action(app, req, stack, redirect):
    cloud = app.cloud
    if req.method in ('GET', 'HEAD'):
        if redirect:
            location = _links(req, stack)[0]['href']
            return web.json_response(None, status=302,
                                     headers={'Location': location})
        resolve = req.GET.get('resolve_outputs', 'true').lower() != 'false'
        return web.json_response({'stack': _stack_view(app, req, stack,
                                                       resolve)})
    if req.method == 'DELETE':
        stacks.delete_stack(cloud, stack)
        cloud.save()
        return web.json_response(None, status=204)
    body = web.json_body(req)
    try:
        template = _template(body)
        params, files, env = _inputs(body, template or stack['template'])
        stacks.update_stack(
            cloud, stack, template, params, files,
            existing=req.method == 'PATCH',
            clear_parameters=body.get('clear_parameters') or (),
            timeout_mins=body.get('timeout_mins'))
    except hot.HOTError as exc:
        raise ApiError(400, exc.message, exc.error_type)
    cloud.save()
    return web.json_response(None, status=202)


def _resource_view(req, stack, res, status, reason):
    if res.get('unhealthy') is not None:
        # Marked unhealthy (PATCH of the resource): Heat shows CHECK_FAILED
        # until an update of the stack replaces it.
        status, reason = 'CHECK_FAILED', res['unhealthy']
    stack_href = '%s/stacks/%s/%s' % (_base(req, stack['project_id']),
                                      stack['name'], stack['id'])
    view = {'resource_name': res['name'],
            'logical_resource_id': res['name'],
            'physical_resource_id': res.get('physical_id') or '',
            'resource_type': res['type'], 'resource_status': status,
            'resource_status_reason': reason, 'required_by': [],
            'creation_time': _time(res['started_at']),
            'updated_time': _time(res['started_at']),
            'links': [{'rel': 'self', 'href': '%s/resources/%s'
                       % (stack_href, res['name'])},
                      {'rel': 'stack', 'href': stack_href}]}
    if stack.get('parent'):
        view['parent_resource'] = stack['name']
    return view


def _event_views(req, stack, evs):
    # Heat lists events newest first unless asked otherwise.
    if req.GET.get('sort_dir', 'desc') != 'asc':
        evs = list(reversed(evs))
    return [{'id': e['id'], 'event_time': _time(e['time']),
             'resource_name': e['resource_name'],
             'logical_resource_id': e['resource_name'],
             'physical_resource_id': e['physical_resource_id'] or '',
             'resource_status': e['status'],
             'resource_status_reason': e['reason'],
             'links': _links(req, stack)} for e in evs]


def _mark_unhealthy(app, req, stack, name):
    """PATCH /stacks/{name}/{id}/resources/{resource}: mark a resource
    unhealthy (or healthy again), as Heat does. The stack's status does not
    change; the next update of the stack (or of a stack above it) replaces
    the resource."""
    body = web.json_body(req)
    unknown = set(body) - {'mark_unhealthy', 'resource_status_reason'}
    if unknown or 'mark_unhealthy' not in body:
        raise ApiError(400, 'Invalid keys in resource mark unhealthy %s'
                       % ', '.join(sorted(unknown)) if unknown else
                       'mark_unhealthy is required', 'InvalidParameterValue')
    mark = body['mark_unhealthy']
    if not isinstance(mark, bool):
        raise ApiError(400, 'Unrecognized value "%s", acceptable values '
                            'are: true, false' % mark, 'InvalidParameterValue')
    reason = body.get('resource_status_reason') or ''
    if not isinstance(reason, str):
        raise ApiError(400, 'resource_status_reason must be a string',
                       'InvalidParameterValue')
    res = stack['resources'].get(name)
    if res is None:
        raise ApiError(404, 'The Resource (%s) could not be found.' % name,
                       'EntityNotFound')
    state, _reason, _when = stacks.resource_state(app.cloud, stack, res)
    if state == 'IN_PROGRESS':
        raise ApiError(409, 'Resource %s is %s_IN_PROGRESS; it cannot be '
                            'marked now.' % (name, res['action']),
                       'ActionInProgress')
    if mark:
        res['unhealthy'] = reason or 'Marked unhealthy'
    else:
        res.pop('unhealthy', None)
    app.cloud.touch('stacks', stack['root_id'])
    return web.json_response(None, status=200)


def _sub_resource(app, req, stack, rest):
    cloud = app.cloud
    if req.method == 'PATCH' and len(rest) == 2 and rest[0] == 'resources':
        return _mark_unhealthy(app, req, stack, rest[1])
    if req.method != 'GET':
        raise ApiError(405, 'Method %s not allowed' % req.method)
    kind = rest[0]
    if kind == 'outputs':
        outs = stacks.outputs(cloud, stack)
        if len(rest) == 1:
            return web.json_response({'outputs': [
                {'output_key': o['output_key'],
                 'description': o['description']} for o in outs]})
        found = [o for o in outs if o['output_key'] == rest[1]]
        if not found:
            raise ApiError(404, 'Specified output key %s not found.'
                           % rest[1], 'NotFound')
        return web.json_response({'output': found[0]})
    if kind == 'resources':
        depth = int(req.GET.get('nested_depth') or 0)
        rows = stacks.resource_rows(cloud, stack, depth)
        views = [_resource_view(req, s, r, status, reason)
                 for s, r, status, reason in rows]
        if len(rest) == 1:
            return web.json_response({'resources': views})
        found = [v for v in views if v['resource_name'] == rest[1] and
                 not v.get('parent_resource')]
        if not found:
            raise ApiError(404, 'The Resource (%s) could not be found.'
                           % rest[1], 'EntityNotFound')
        if len(rest) > 2 and rest[2] == 'events':
            evs = [e for e in stacks.events(cloud, stack)
                   if e['resource_name'] == rest[1]]
            return web.json_response({'events': _event_views(req, stack,
                                                             evs)})
        res = stack['resources'][rest[1]]
        view = found[0]
        view['attributes'] = {}
        view['properties'] = res['props']
        if 'rolling_log' in res.get('data', {}):
            # A simulated cloud's extension: what each rolling update of a
            # group replaced, batch by batch (caas.sim.rolling).
            view['rolling_updates'] = res['data']['rolling_log']
        return web.json_response({'resource': view})
    if kind == 'events':
        evs = stacks.events(cloud, stack)
        return web.json_response({'events': _event_views(req, stack, evs)})
    if kind == 'template':
        return web.json_response(stack['template'])
    if kind == 'environment':
        return web.json_response(stack.get('environment') or {})
    return web.json_response(stack['files'])


ROUTES = [
    ('GET', '', versions),
    ('GET', '/v1', versions),
    ('GET', r'/v1/(?P<project_id>[^/]+)/stacks', stack_list),
    ('POST', r'/v1/(?P<project_id>[^/]+)/stacks', stack_create),
    ('POST', SIGNAL, lambda app, req, **kw: signals.resource_signal(
        app, req, **kw)),
    ('GET|PUT|PATCH|DELETE', r'/v1/(?P<project_id>[^/]+)/stacks/'
     r'(?P<ident>.+)', stack_one),
]
