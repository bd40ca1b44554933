"""Rolling updates of a simulated ``OS::Heat::ResourceGroup``.

A group whose ``update_policy`` has ``rolling_update: {max_batch_size: N}``
updates its changed members N at a time, as Heat does: the members of one
batch get their new definition, and the next batch starts only once every
member of the group is COMPLETE again. New and removed members (a resize in
the same update) are handled with the first batch.

The simulated cloud runs nothing in the background, so the next batch is
started by whoever next reads the group's state, with the clock set back to
the moment the previous batch completed (``state.clock_at``): how often a
client polls changes nothing.

Every rolling update is recorded in the group's data (``rolling_log``:
one entry per update with its batches, the members of each and when each
batch started and completed), so that a test can check that no more than N
members of a group were ever being replaced at once, that no member was
replaced twice and that no batch was skipped.
"""

from caas.sim import state as st


def max_batch_size(res):
    """N of the group's rolling_update policy, or None without one."""
    policy = (res.get('update_policy') or {}).get('rolling_update')
    if not isinstance(policy, dict):
        return None
    try:
        size = int(policy.get('max_batch_size', 1))
    except (TypeError, ValueError):
        return None
    return max(size, 1)


def _members(template):
    return template['resources']


def _step_template(target, old, done):
    """``target`` with the changed members not yet ``done`` kept as they
    were (``old``)."""
    resources = {name: (old[name] if name in old and name not in done
                        else member)
                 for name, member in _members(target).items()}
    return dict(target, resources=resources)


def start(cloud, stack, res, target, params, size):
    """Begin a rolling update of the group ``res`` towards ``target``."""
    from caas.sim import stacks
    nested = res['nested']
    current = _members(nested['template'])
    changed = sorted((name for name, member in _members(target).items()
                      if name in current and current[name] != member),
                     key=int)
    batches = [changed[i:i + size] for i in range(0, len(changed), size)]
    log = res['data'].setdefault('rolling_log', [])
    entry = {'max_batch_size': size, 'started_at': st.now(),
             'batches': [], 'status': 'IN_PROGRESS'}
    log.append(entry)
    old = {name: current[name] for name in changed}
    res['data']['rolling'] = {'target': target, 'params': params,
                              'old': old, 'batches': batches, 'next': 0}
    _next_batch(cloud, stack, res, st.now())
    if not batches:
        # Only new or removed members: one step, like a plain update.
        stacks.apply(cloud, nested, target, params, 'UPDATE', strict=True)


def cancel(res):
    """A new update of the group replaces a rolling update still running."""
    plan = res['data'].pop('rolling', None)
    if plan is not None:
        entry = res['data']['rolling_log'][-1]
        entry['status'] = 'SUPERSEDED'


def _next_batch(cloud, stack, res, when):
    from caas.sim import stacks
    plan = res['data']['rolling']
    entry = res['data']['rolling_log'][-1]
    if plan['next'] >= len(plan['batches']):
        entry.update(status='COMPLETE', completed_at=when)
        del res['data']['rolling']
        return
    batch = plan['batches'][plan['next']]
    done = {name for b in plan['batches'][:plan['next'] + 1] for name in b}
    with st.clock_at(when):
        stacks.apply(cloud, res['nested'],
                     _step_template(plan['target'], plan['old'], done),
                     plan['params'], 'UPDATE', strict=True)
    plan['next'] += 1
    entry['batches'].append({'members': list(batch), 'started_at': when,
                             'completed_at': None})


def advance(cloud, stack, res):
    """Start every batch whose predecessor has completed by now."""
    from caas.sim import stacks
    while res['data'].get('rolling') and res.get('nested'):
        status, reason, when = stacks.aggregate(cloud, res['nested'])
        if status == 'IN_PROGRESS':
            return
        entry = res['data']['rolling_log'][-1]
        cloud.touch('stacks', stack['root_id'])
        if status == 'FAILED':
            # Heat stops a rolling update at the first failed batch.
            entry.update(status='FAILED', reason=reason)
            del res['data']['rolling']
            return
        if entry['batches']:
            entry['batches'][-1]['completed_at'] = when
        _next_batch(cloud, stack, res, max(when, entry['started_at']))
