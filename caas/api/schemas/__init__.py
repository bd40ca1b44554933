"""JSON Schemas of the REST bodies, and their validation.

Every body is coerced first the way Magnum's WSME types were lenient
(python-magnumclient sends ``"True"`` and ``"3"`` for PATCH values, and
labels as the ``repr`` of a dict), then validated. A failure is a 400
whose message names the field and the value.
"""

import json

from caas.api import inputs
from caas.common import coercion
from caas.common import exceptions
from caas.common import validator as caas_validator


def coerce(schema, body):
    """Return a copy of body with lenient values turned into their types.

    :raises: InvalidParameterValue (400) naming the field whose string does
        not read as the dict it stands for, or whose parsed text (escapes
        such as ``\\x00`` in a dict literal) is not storable.
    """
    if not isinstance(body, dict):
        return body
    props = schema.get('properties', {})
    result = {}
    for key, val in body.items():
        if key not in props:
            result[key] = val
            continue
        try:
            result[key] = coercion.from_string(val, props[key])
        except coercion.MappingSyntaxError as exc:
            raise exceptions.InvalidParameterValue(
                err='Invalid input for field/attribute %s: the string does '
                    'not read as a dict of labels (%s). Send a JSON object, '
                    "or a string such as \"{'key': 'value'}\" or "
                    '"key=value,key2=value2".' % (key, exc))
        if result[key] is not val:
            inputs.check_json_strings({key: result[key]})
    return result


def _field(error):
    path = [str(p) for p in error.absolute_path]
    return '/'.join(path)


def _message(error):
    if error.validator == 'additionalProperties' and not error.absolute_path:
        extra = sorted(set(error.instance) -
                       set(error.schema.get('properties', {})))
        return ('Invalid input: unknown field(s) %s. Valid fields are: %s.' %
                (', '.join(inputs.shorten(e, 40) for e in extra[:5]),
                 ', '.join(sorted(error.schema.get('properties', {})))))
    if error.validator == 'required':
        missing = error.message.split("'")[1] if "'" in error.message \
            else error.message
        return ('Invalid input: mandatory field/attribute %s is missing.' %
                missing)
    if error.validator == 'type' and not error.absolute_path:
        return 'Invalid input: the request body must be a JSON object.'
    field = _field(error)
    # A 50,000-character value is named, not echoed whole.
    return ('Invalid input for field/attribute %s. Value: %s. %s.' % (
        field, inputs.shorten(json.dumps(error.instance)),
        inputs.shorten(error.message.rstrip('.'), 200)))


def validate(schema, body):
    """Raise InvalidParameterValue (400) naming the first bad field."""
    validator = caas_validator.Validator(schema)
    errors = sorted(validator.iter_errors(body),
                    key=lambda e: (len(e.absolute_path),
                                   [str(p) for p in e.absolute_path],
                                   e.validator))
    if errors:
        # The shallowest error is the clearest (a missing field before the
        # type of a value nested in another).
        raise exceptions.InvalidParameterValue(err=_message(errors[0]))
    return body


def drop_nulls(schema, body):
    """``body`` without the optional fields sent as JSON ``null``: an
    explicit null means "not given" (openstacksdk sends
    ``nodes_to_remove: null``). A required field keeps its null, which
    validation then names."""
    if not isinstance(body, dict):
        return body
    required = set(schema.get('required', ()))
    return {k: v for k, v in body.items() if v is not None or k in required}


def coerce_and_validate(schema, body, nulls_as_absent=True):
    """Coerce then validate a body.

    :param nulls_as_absent: drop optional fields whose value is null (what
        a client's request means); False for documents built by caas
        itself, where None means "cleared".
    """
    if nulls_as_absent:
        body = drop_nulls(schema, body)
    return validate(schema, coerce(schema, body))
