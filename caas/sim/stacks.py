"""Stack engine of the simulated Heat: create, update, delete, status.

Applying a template creates or updates every resource at once in
dependency order (values of attributes are known immediately), except what
depends on a wait condition: as in Heat, that waits until the condition is
complete, because its value (the condition's data: a node's join token, say)
exists only then. Statuses, events and outputs are computed on read from
the resources' states, and a read also creates what waited once it may
(:func:`advance`, with the clock set back to when it could have started),
so nothing runs in the background and a reloaded state carries on.
Callers hold ``cloud.lock`` and call ``cloud.save()`` after mutations; a
top-level stack is one record of the store, nested stacks included, so the
entry points below touch it.
"""

import uuid

from caas.sim import hot
from caas.sim import props as props_mod
from caas.sim import resources
from caas.sim import state as st
from caas.sim import validation


def _record(cloud, name, project_id, user_id, files, parent=None, **extra):
    t = st.now()
    sid = st.new_uuid()
    # A nested stack shares its parent's files (stored once with the root:
    # caas.sim.state.stack_row); nobody changes a stack's files in place.
    stack = {'id': sid, 'name': name, 'project_id': project_id,
             'user_id': user_id,
             'files': files if parent is not None else dict(files or {}),
             'parent': parent['id'] if parent else None,
             'root_id': parent['root_id'] if parent else sid,
             'template': {}, 'params': {}, 'param_values': {},
             'resources': {}, 'events': [], 'action': 'CREATE',
             'started_at': t, 'creation_time': t, 'updated_time': None,
             'delete_ready_at': None, 'removed_by': None,
             'timeout_mins': None,
             'disable_rollback': True, 'environment': {}}
    stack.update(extra)
    return stack


def create_stack(cloud, name, project_id, user_id, template, params=None,
                 files=None, **extra):
    """Validate and create a top-level stack; HOTError means 400."""
    template = hot.parse(template)
    files = files or {}
    hot.validate(template, files, resources.TYPES)
    validation.validate(template, files,
                        hot.resolve_params(template, params, strict=True))
    stack = _record(cloud, name, project_id, user_id, files, **extra)
    cloud.data['stacks'][stack['id']] = stack
    apply(cloud, stack, template, params, 'CREATE', strict=True)
    return stack


def update_stack(cloud, stack, template=None, params=None, files=None,
                 existing=False, clear_parameters=(), **extra):
    """PUT (replace) or PATCH (``existing``: merge) a stack."""
    if template is None:
        if not existing:
            raise hot.HOTError('No template specified')
        template = stack['template']
    template = hot.parse(template)
    merged_files = dict(stack['files']) if existing else {}
    merged_files.update(files or {})
    hot.validate(template, merged_files, resources.TYPES)
    new_params = dict(stack['params']) if existing else {}
    for key in clear_parameters or ():
        new_params.pop(key, None)
    new_params.update(params or {})
    new_params = {k: v for k, v in new_params.items()
                  if k in template['parameters'] or k in (params or {})}
    validation.validate(template, merged_files,
                        hot.resolve_params(template, new_params, strict=True))
    cloud.touch('stacks', stack['id'])
    stack['files'] = merged_files
    stack.update({k: v for k, v in extra.items() if v is not None})
    apply(cloud, stack, template, new_params, 'UPDATE', strict=True)


def nested_stack(cloud, parent, res, template, params):
    suffix = uuid.uuid4().hex[:12]
    stack = _record(cloud, '%s-%s-%s' % (parent['name'], res['name'], suffix),
                    parent['project_id'], parent.get('user_id'),
                    parent['files'], parent=parent)
    apply(cloud, stack, template, params, 'CREATE', strict=True)
    return stack


def context(cloud, stack):
    return hot.Context(
        stack['param_values'],
        ref=lambda name: resource_ref(cloud, stack, name),
        attr=lambda name, attr, path: resource_attr(cloud, stack, name,
                                                    attr, path),
        files=stack['files'], stack_name=stack['name'],
        stack_id=stack['id'], project_id=stack['project_id'])


def _event(stack, res_name, physical_id, status, reason, when=None):
    stack['events'].append({
        'id': st.new_uuid(), 'time': when or st.now(),
        'resource_name': res_name, 'physical_resource_id': physical_id,
        'status': status, 'reason': reason})


def apply(cloud, stack, template, params, action, strict=True):
    """Make the stack's resources match ``template`` and ``params``."""
    values = hot.resolve_params(template, params, strict)
    if stack['events']:
        # What the previous action reached stays in the stack's history, as
        # Heat's events do: completion events are otherwise derived from
        # the resources' current state only.
        stack['events'] = events(cloud, stack)
    t = st.now()
    old = stack['resources']
    stack.update(template=template, params=dict(params or {}),
                 param_values=values, action=action, started_at=t)
    if action == 'UPDATE':
        stack['updated_time'] = t
    _event(stack, stack['name'], stack['id'], action + '_IN_PROGRESS',
           'Stack %s started' % action, t)
    ctx = context(cloud, stack)
    hot.evaluate_conditions(template, ctx)
    stack['resources'] = new = {}
    deps = hot.dependency_map(template)
    for name in hot.creation_order(template, deps):
        definition = template['resources'][name]
        if 'condition' in definition and \
                not hot.condition(ctx, definition['condition']):
            continue
        prev = old.pop(name, None)
        if prev is not None and prev.get('action') == 'INIT':
            prev = None       # waited and was never made
        if _started_after(cloud, stack, deps[name], new) is None:
            new[name] = _waiting(name, definition, prev, t)
            continue
        _apply_one(cloud, stack, ctx, name, definition, prev, t)
    # What the update removes goes in the reverse of its creation order;
    # like Heat's, the update ends only once that is gone (a removed
    # server is deleted in Nova before the stack is UPDATE_COMPLETE).
    removed = any(res.get('action') != 'INIT' for res in old.values())
    for res in reversed(list(old.values())):
        _delete_resource(cloud, stack, res)
    stack['removed_by'] = (st.now() + cloud.knobs['delete_delay']
                           if removed else None)


# Types whose value comes from outside (a node's signal) when they complete:
# what depends on them is created only then, as Heat does. Other resources
# are complete at once here, their attributes known at create.
AWAITED = ('OS::Heat::WaitCondition',)


def _started_after(cloud, stack, deps, resources):
    """When a resource may start: the latest completion of the wait
    conditions (and start of the formerly waiting resources) it depends
    on (``deps``, the names); None while one of them is not complete or
    still waits itself."""
    when = stack['started_at']
    for dep in deps:
        res = resources.get(dep)
        if res is None:
            continue
        if res.get('waiting'):
            return None
        if res['type'] in AWAITED:
            status, _reason, reached = resource_state(cloud, stack, res)
            if status != 'COMPLETE':
                return None
            when = max(when, reached or when)
        when = max(when, res['started_at'])
    return when


def _waiting(name, definition, prev, t):
    """The record of a resource that waits: the one it replaces keeps its
    values meanwhile; a new one is INIT, as Heat lists it."""
    if prev is not None:
        prev['waiting'] = True
        return prev
    return {'name': name, 'type': definition['type'], 'props': {},
            'physical_id': None, 'action': 'INIT', 'started_at': t,
            'ready_at': t, 'data': {}, 'nested': None, 'failed': None,
            'update_policy': {}, 'waiting': True}


def _apply_one(cloud, stack, ctx, name, definition, prev, t):
    """Create, update or replace one resource of the stack being applied."""
    new = stack['resources']
    rtype = resources.type_of(definition['type'])
    problem = None
    try:
        props = hot.resolve(definition.get('properties') or {}, ctx)
        # What depends on other resources is checked now that it is
        # known (an attribute not known yet passes).
        rtype.validate(name, props_mod.known(props))
    except (hot.HOTError, KeyError, IndexError, TypeError,
            ValueError) as exc:
        props = {}
        problem = 'StackValidationFailed: resources.%s: %s' % (
            name, getattr(exc, 'message', exc))
    policy = _update_policy(definition, ctx)
    if prev is not None and prev['type'] == definition['type'] and \
            problem is None and not _broken(cloud, stack, prev):
        new[name] = prev
        prev['update_policy'] = policy
        # Like Heat, an update reaches into a failed nested stack and
        # replaces what failed there, even if its properties are equal.
        if prev['props'] != props or _nested_failed(cloud, stack, prev):
            prev.update(action='UPDATE', started_at=t)
            _event(stack, name, prev.get('physical_id'),
                   'UPDATE_IN_PROGRESS', 'state changed', t)
            rtype.update(cloud, stack, prev, props)
        return
    if prev is not None:
        _delete_resource(cloud, stack, prev)
    res = {'name': name, 'type': definition['type'], 'props': props,
           'physical_id': None, 'action': 'CREATE', 'started_at': t,
           'ready_at': t, 'data': {}, 'nested': None,
           'failed': problem, 'update_policy': policy}
    new[name] = res
    _event(stack, name, None, 'CREATE_IN_PROGRESS', 'state changed', t)
    if problem is None:
        rtype.create(cloud, stack, res)


def advance(cloud, stack):
    """Create (or update) each waiting resource whose wait conditions have
    completed, at the moment they did (the caller saves)."""
    if not any(r.get('waiting') for r in stack['resources'].values()):
        return
    template = stack['template']
    deps = hot.dependency_map(template)
    for name in hot.creation_order(template, deps):
        res = stack['resources'].get(name)
        if res is None or not res.get('waiting'):
            continue
        definition = template['resources'][name]
        when = _started_after(cloud, stack, deps[name], stack['resources'])
        if when is None:
            continue
        res.pop('waiting')
        prev = None if res['action'] == 'INIT' else res
        with st.clock_at(when):
            _apply_one(cloud, stack, context(cloud, stack), name,
                       definition, prev, when)
        cloud.touch('stacks', stack['root_id'])


def _update_policy(definition, ctx):
    """The resource's resolved ``update_policy`` ({} if it has none or it
    cannot be resolved: Heat then updates the resource all at once)."""
    try:
        return hot.resolve(definition.get('update_policy') or {}, ctx) or {}
    except (hot.HOTError, KeyError, IndexError, TypeError, ValueError):
        return {}


def _broken(cloud, stack, res):
    """A failed resource, or one marked unhealthy, is replaced on update
    (a group repairs inside)."""
    if res.get('failed') or res.get('unhealthy') is not None:
        return True
    rtype = resources.type_of(res['type'])
    return not isinstance(rtype, resources.NestedStack) and \
        rtype.state(cloud, stack, res)[0] == 'FAILED'


def _nested_failed(cloud, stack, res):
    """A nested stack with something to replace: a failed resource, or
    one marked unhealthy (Heat always hands an update down to nested
    stacks, and a resource marked unhealthy is replaced there)."""
    rtype = resources.type_of(res['type'])
    if not isinstance(rtype, resources.NestedStack):
        return False
    return rtype.state(cloud, stack, res)[0] == 'FAILED' or \
        _marked_inside(res.get('nested'))


def _marked_inside(nested):
    if not nested:
        return False
    return any(r.get('unhealthy') is not None or
               _marked_inside(r.get('nested'))
               for r in nested['resources'].values())


def _delete_resource(cloud, stack, res):
    if res.get('action') == 'INIT':
        return        # it waited and was never made
    _event(stack, res['name'], res.get('physical_id'), 'DELETE_IN_PROGRESS',
           'state changed')
    resources.type_of(res['type']).delete(cloud, stack, res)


def delete_resources(cloud, stack):
    """Delete every resource, dependents before what they depend on (the
    reverse of the creation order, as Heat does)."""
    for res in reversed(list(stack['resources'].values())):
        if res.get('action') != 'INIT':
            resources.type_of(res['type']).delete(cloud, stack, res)


def delete_stack(cloud, stack):
    if stack.get('delete_ready_at') is not None:
        return
    delete_resources(cloud, stack)
    t = st.now()
    stack.update(action='DELETE', started_at=t,
                 delete_ready_at=t + cloud.knobs['delete_delay'])
    cloud.touch('stacks', stack['id'])
    cloud.expire_at('stacks', stack['id'], stack['delete_ready_at'])
    _event(stack, stack['name'], stack['id'], 'DELETE_IN_PROGRESS',
           'Stack DELETE started', t)


def resource_ref(cloud, stack, name):
    res = stack['resources'].get(name)
    if res is None or res.get('action') == 'INIT':
        return None
    return resources.type_of(res['type']).ref(cloud, res)


def resource_attr(cloud, stack, name, attr, path):
    res = stack['resources'].get(name)
    if res is None or res.get('action') == 'INIT':
        return None
    return resources.type_of(res['type']).attr(cloud, stack, res, attr,
                                               list(path))


def resource_state(cloud, stack, res):
    if res.get('waiting'):
        return 'IN_PROGRESS', '', None
    return resources.type_of(res['type']).state(cloud, stack, res)


def aggregate(cloud, stack):
    """(IN_PROGRESS|COMPLETE|FAILED, reason, time) over all resources."""
    advance(cloud, stack)
    when = stack['started_at']
    pending = False
    removed_by = stack.get('removed_by')
    if removed_by is not None:
        pending = st.now() < removed_by
        when = max(when, removed_by)
    for res in stack['resources'].values():
        status, reason, reached = resource_state(cloud, stack, res)
        if status == 'FAILED':
            return 'FAILED', reason, reached
        if status == 'IN_PROGRESS':
            pending = True
        elif reached is not None:
            when = max(when, reached)
    if pending:
        return 'IN_PROGRESS', '', None
    return 'COMPLETE', '', when


def stack_status(cloud, stack):
    """(status, reason) of a stack, (None, None) once it is deleted."""
    return _status(cloud, stack)[:2]


def _status(cloud, stack):
    t = st.now()
    action = stack['action']
    if stack.get('delete_ready_at') is not None:
        if t >= stack['delete_ready_at']:
            return None, None, None
        return 'DELETE_IN_PROGRESS', 'Stack DELETE started', None
    status, reason, when = aggregate(cloud, stack)
    timeout = stack.get('timeout_mins')
    if status == 'IN_PROGRESS' and timeout and \
            t > stack['started_at'] + float(timeout) * 60:
        when = stack['started_at'] + float(timeout) * 60
        return action + '_FAILED', '%s timed out' % action.title(), when
    if status == 'FAILED':
        return action + '_FAILED', 'Resource %s failed: %s' % (
            action, reason), max(when or 0, stack['started_at'])
    if status == 'COMPLETE':
        return (action + '_COMPLETE',
                'Stack %s completed successfully' % action, when)
    return action + '_IN_PROGRESS', 'Stack %s started' % action, None


def output_value(cloud, stack, key):
    definition = stack['template'].get('outputs', {}).get(key)
    if definition is None:
        return None
    return hot.resolve((definition or {}).get('value'),
                       context(cloud, stack))


def outputs(cloud, stack):
    out = []
    for key, definition in stack['template'].get('outputs', {}).items():
        item = {'output_key': key,
                'description': (definition or {}).get(
                    'description', 'No description given')}
        try:
            item['output_value'] = output_value(cloud, stack, key)
        except Exception as exc:  # an output must never break a show
            item['output_value'] = None
            item['output_error'] = str(exc)
        out.append(item)
    return out


def events(cloud, stack):
    """Stored events plus the completion events reached so far, oldest
    first."""
    evs = list(stack['events'])
    stored = {e['id'] for e in evs}
    status, reason, when = _status(cloud, stack)
    if when is not None and status and not status.endswith('IN_PROGRESS'):
        evs.append({'id': str(uuid.uuid5(uuid.NAMESPACE_OID, '%s/%s/%s' % (
            stack['id'], status, stack['started_at']))), 'time': when,
            'resource_name': stack['name'],
            'physical_resource_id': stack['id'], 'status': status,
            'reason': reason})
    for res in stack['resources'].values():
        state, reason, when = resource_state(cloud, stack, res)
        if state == 'IN_PROGRESS' or when is None:
            continue
        full = '%s_%s' % (res['action'], state)
        evs.append({'id': str(uuid.uuid5(uuid.NAMESPACE_OID, '%s/%s/%s/%s' % (
            stack['id'], res['name'], full, res['started_at']))),
            'time': when, 'resource_name': res['name'],
            'physical_resource_id': res.get('physical_id'), 'status': full,
            'reason': reason or 'state changed'})
    evs = [e for i, e in enumerate(evs) if i < len(stored) or
           e['id'] not in stored]
    evs.sort(key=lambda e: e['time'])
    return evs


def resource_rows(cloud, stack, depth=0):
    """(stack, resource, status, reason) for the resources of a stack."""
    rows = []
    for res in stack['resources'].values():
        state, reason, _when = resource_state(cloud, stack, res)
        if res['action'] == 'INIT':
            state = 'COMPLETE'     # what Heat lists before it starts one
        rows.append((stack, res, '%s_%s' % (res['action'], state),
                     reason or 'state changed'))
        if depth > 0 and res.get('nested'):
            rows.extend(resource_rows(cloud, res['nested'], depth - 1))
    return rows


def find_stack(cloud, project_id, ident):
    """A live stack of the project by id, name or ``name/id``."""
    if '/' in ident:
        name, ident = ident.split('/', 1)
    stack = cloud.data['stacks'].get(ident)
    candidates = [stack] if stack else [
        s for s in cloud.data['stacks'].values() if s['name'] == ident]
    for stack in candidates:
        if stack['project_id'] != project_id:
            continue
        if stack_status(cloud, stack)[0] is None:
            continue
        return stack
    return None
