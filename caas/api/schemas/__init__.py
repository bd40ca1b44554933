"""JSON Schemas of the REST bodies, and their validation.

Every body is coerced first the way Magnum's WSME types were lenient
(python-magnumclient sends ``"True"`` and ``"3"`` for PATCH values, and
labels as the ``repr`` of a dict), then validated. A failure is a 400
whose message names the field and the value.
"""

import json

import jsonschema

from caas.common import coercion
from caas.common import exceptions


def coerce(schema, body):
    """Return a copy of body with lenient values turned into their types."""
    if not isinstance(body, dict):
        return body
    props = schema.get('properties', {})
    return {key: (coercion.from_string(val, props[key]) if key in props else val)
            for key, val in body.items()}


def _field(error):
    path = [str(p) for p in error.absolute_path]
    return '/'.join(path)


def _message(error):
    if error.validator == 'additionalProperties' and not error.absolute_path:
        extra = sorted(set(error.instance) -
                       set(error.schema.get('properties', {})))
        return ('Invalid input: unknown field(s) %s. Valid fields are: %s.' %
                (', '.join(extra),
                 ', '.join(sorted(error.schema.get('properties', {})))))
    if error.validator == 'required':
        missing = error.message.split("'")[1] if "'" in error.message \
            else error.message
        return ('Invalid input: mandatory field/attribute %s is missing.' %
                missing)
    if error.validator == 'type' and not error.absolute_path:
        return 'Invalid input: the request body must be a JSON object.'
    field = _field(error)
    return ('Invalid input for field/attribute %s. Value: %s. %s.' % (
        field, json.dumps(error.instance), error.message.rstrip('.')))


def validate(schema, body):
    """Raise InvalidParameterValue (400) naming the first bad field."""
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(body),
                    key=lambda e: (len(e.absolute_path),
                                   [str(p) for p in e.absolute_path],
                                   e.validator))
    if errors:
        # The shallowest error is the clearest (a missing field before the
        # type of a value nested in another).
        raise exceptions.InvalidParameterValue(err=_message(errors[0]))
    return body


def coerce_and_validate(schema, body):
    return validate(schema, coerce(schema, body))
