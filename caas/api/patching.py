"""JSON-Patch bodies (RFC 6902) applied with ``jsonpatch``.

Only ``add``, ``replace`` and ``remove`` are accepted, and only on the
paths a resource allows; anything else is a 400 naming the path. The
shape of a PATCH body is checked by :func:`read` before the resource is
looked up, so a body that is not a JSON-Patch list is a 400 whether or
not the resource exists.
"""

import jsonpatch

from caas.api import request
from caas.common import exceptions

OPS = ('add', 'replace', 'remove')
#: Most operations one PATCH may carry (each changes one field).
MAX_OPERATIONS = 100


def schema(allowed):
    """JSON Schema of a PATCH body that may change ``allowed`` fields (the
    OpenAPI description's; :func:`apply` enforces the same rules)."""
    fields = '|'.join(sorted(allowed))
    return {
        'type': 'array',
        'minItems': 1,
        'maxItems': MAX_OPERATIONS,
        'items': {
            'type': 'object',
            'properties': {
                'op': {'type': 'string', 'enum': list(OPS)},
                'path': {'type': 'string',
                         'pattern': '^/(%s)(/.*)?$' % fields},
                'value': {},
            },
            'required': ['op', 'path'],
        },
    }


def _invalid(err):
    return exceptions.InvalidParameterValue(err=err)


def check(patch):
    """InvalidParameterValue (400) unless ``patch`` is a JSON-Patch list of
    at most MAX_OPERATIONS add/replace/remove operations."""
    if not isinstance(patch, list) or not patch:
        raise _invalid('Invalid input: a PATCH body must be a non-empty '
                       'JSON-Patch list of operations, such as [{"op": '
                       '"replace", "path": "/node_count", "value": 2}].')
    if len(patch) > MAX_OPERATIONS:
        raise _invalid('Invalid input: a PATCH body may hold at most %d '
                       'operations (got %d).' % (MAX_OPERATIONS, len(patch)))
    for op in patch:
        if not isinstance(op, dict) or not isinstance(op.get('path'), str):
            raise _invalid('Invalid input: each patch operation must be an '
                           'object with "op" and "path".')
        if op.get('op') not in OPS:
            raise _invalid('Invalid patch operation %r on path %s; use one '
                           'of %s.' % (op.get('op'), op['path'],
                                       ', '.join(OPS)))
        if op['op'] in ('add', 'replace') and 'value' not in op:
            raise _invalid("Invalid patch operation on path %s: '%s' needs "
                           "a value." % (op['path'], op['op']))
    return patch


def read():
    """The request's JSON-Patch body, checked before any look-up."""
    return check(request.json_body())


def fields(patch):
    """The top-level fields a (checked) patch touches."""
    return {op['path'].lstrip('/').split('/', 1)[0] for op in patch}


def apply(document, patch, allowed, read_only=()):
    """Return a patched copy of ``document``.

    :param allowed: top-level fields that may be changed.
    :param read_only: fields to name as read-only (clearer than unknown).
    :raises: InvalidParameterValue (400).
    """
    check(patch)
    for op in patch:
        field = op['path'].lstrip('/').split('/', 1)[0]
        if field in read_only:
            raise _invalid("Invalid patch path %s: '%s' is read-only." % (
                op['path'], field))
        if field not in allowed:
            raise _invalid("Invalid patch path %s: '%s' cannot be "
                           "updated." % (op['path'], field))
    try:
        return jsonpatch.apply_patch(document, patch)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException,
            TypeError, ValueError) as exc:
        raise _invalid('Invalid patch: %s' % exc)
