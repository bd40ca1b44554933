"""caas extensions: progress events and the live views (not Magnum's).

Reading a cluster's events takes what showing the cluster takes; the
conductors' view, like ``magnum-service:get_all``, is an operator's.
"""

from caas.common.policies import base

rules = [
    base.operation('cluster:events', base.ADMIN_OR_PROJECT_READER,
                   "List a cluster's progress events (a caas extension).",
                   [('GET', '/v1/clusters/{cluster_ident}/events')]),
    base.operation('event:get_all', base.ADMIN_OR_PROJECT_READER,
                   "List or stream the progress events of the caller's "
                   'project (a caas extension).',
                   [('GET', '/v1/events'), ('GET', '/v1/events/stream')]),
    base.operation('event:get_all_all_projects', base.ADMIN,
                   'List or stream the progress events of every project '
                   '(all_projects=true).',
                   [('GET', '/v1/events'), ('GET', '/v1/events/stream')]),
    base.operation('conductor:get_all', base.ADMIN,
                   'List the conductors with their heartbeat age and the '
                   'operations each owns (a caas extension).',
                   [('GET', '/v1/conductors')],
                   scope_types=['system', 'project']),
]


def list_rules():
    return rules
