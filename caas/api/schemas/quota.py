"""Bodies of ``POST /v1/quotas`` and ``PATCH /v1/quotas/{project}/{res}``.

Magnum's Quota type: ``project_id``, ``resource`` (only ``Cluster``) and
``hard_limit`` (0 or more; 0 forbids new clusters). A PATCH body is the
same object, not a JSON Patch (python-magnumclient sends
``{"project_id", "resource", "hard_limit"}``); the URL names the quota.
"""

from caas.db import quotas

MAX_HARD_LIMIT = 1000000

_PROPERTIES = {
    'project_id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    'resource': {'type': 'string', 'enum': list(quotas.RESOURCES)},
    'hard_limit': {'type': 'integer', 'minimum': 0,
                   'maximum': MAX_HARD_LIMIT},
}

CREATE = {
    'type': 'object',
    'properties': _PROPERTIES,
    'required': ['project_id'],
    'additionalProperties': False,
}

UPDATE = {
    'type': 'object',
    'properties': _PROPERTIES,
    'required': ['hard_limit'],
    'additionalProperties': False,
}

# Magnum's defaults for what a create leaves out.
DEFAULTS = {'resource': quotas.CLUSTER, 'hard_limit': 1}
