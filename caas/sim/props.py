"""Property schemas of the simulated Heat's resource types, checked as
Heat checks them.

A resource type declares ``properties`` (name -> ``P``) and ``attributes``
(names). Heat refuses, with a 400 at stack create or update, a property a
type does not have, a required property left out, a value of the wrong type
and a value outside its constraints; ``get_attr`` of an attribute the type
does not have is a template error. Values that depend on other resources
(``get_resource``, ``get_attr``) are known only at create time: they are
checked then, and a bad one fails the resource, as Heat's resource-level
validation does. The messages follow Heat's ("Property error:
resources.<name>.properties.<path>: ...").
"""

from caas.sim import hot

STRING, INTEGER, NUMBER, BOOLEAN = 'string', 'integer', 'number', 'boolean'
LIST, MAP, ANY = 'list', 'map', 'any'


class P(object):
    """One property: type, required, allowed values, range, and for a
    list the schema of its items, for a map the schemas of its keys."""

    def __init__(self, ptype=STRING, required=False, allowed=None,
                 min=None, max=None, items=None, keys=None):
        self.type = ptype
        self.required = required
        self.allowed = allowed
        self.min = min
        self.max = max
        self.items = items
        self.keys = keys


class Deferred(object):
    """A value that depends on a resource not created yet."""

    def __repr__(self):
        return '<deferred>'


DEFERRED = Deferred()


class _Unresolved(Exception):
    pass


def _raise_unresolved(*_args):
    raise _Unresolved()


def partial_context(params, files, stack_name='', conditions=None):
    """A context whose resource references are not known yet."""
    ctx = hot.Context(params, ref=_raise_unresolved, attr=_raise_unresolved,
                      files=files, stack_name=stack_name)
    ctx.conditions = conditions or {}
    return ctx


def partial_resolve(value, ctx):
    """``value`` resolved where it can be; DEFERRED where it cannot (it
    reads a resource, or a parameter whose value is not known)."""
    try:
        return hot.resolve(value, ctx)
    except (_Unresolved, hot.HOTError, KeyError, IndexError, TypeError,
            ValueError, AttributeError):
        pass
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in hot.FUNCTIONS:
            return DEFERRED
        return {k: partial_resolve(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [partial_resolve(v, ctx) for v in value]
    return DEFERRED


def known(value):
    """``value`` with None (an attribute not known yet) as DEFERRED."""
    if value is None:
        return DEFERRED
    if isinstance(value, dict):
        return {k: known(v) for k, v in value.items()}
    if isinstance(value, list):
        return [known(v) for v in value]
    return value


def _fail(res_name, path, message):
    where = 'resources.%s.properties' % res_name
    if path:
        where += '.' + path
    raise hot.HOTError('Property error: %s: %s' % (where, message))


def _join(path, key):
    if isinstance(key, int):
        return '%s[%d]' % (path, key)
    return '%s.%s' % (path, key) if path else key


def _typed(res_name, path, schema, value):
    """``value`` converted to the schema's type, as Heat converts it."""
    ptype = schema.type
    if ptype == STRING:
        if isinstance(value, bool):
            return 'true' if value else 'false'
        if isinstance(value, (int, float)):
            return str(value)
        if not isinstance(value, str):
            _fail(res_name, path, 'Value must be a string; got %r' % (value,))
        return value
    if ptype in (INTEGER, NUMBER):
        if isinstance(value, bool):
            _fail(res_name, path, "Value '%s' is not an integer" % value)
        try:
            num = value if isinstance(value, (int, float)) else \
                (int(value) if str(value).strip().lstrip('-').isdigit()
                 else float(value))
        except (TypeError, ValueError):
            _fail(res_name, path, "Value '%s' is not an integer" % value
                  if ptype == INTEGER else
                  'Value "%s" is invalid for data type "Number".' % value)
        if ptype == INTEGER and isinstance(num, float):
            if not num.is_integer():
                _fail(res_name, path, "Value '%s' is not an integer" % value)
            num = int(num)
        return num
    if ptype == BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ('true', '1', 't', 'on', 'y', 'yes'):
            return True
        if text in ('false', '0', 'f', 'off', 'n', 'no'):
            return False
        _fail(res_name, path, 'Unrecognized value "%s", acceptable values '
                              'are: 0, 1, f, false, n, no, off, on, t, '
                              'true, y, yes' % value)
    if ptype == LIST:
        if isinstance(value, str) or not isinstance(value, list):
            _fail(res_name, path, '"%s" is not a list' % (value,))
        return value
    if ptype == MAP:
        if not isinstance(value, dict):
            _fail(res_name, path, '"%s" is not a map' % (value,))
        return value
    return value


def _check_value(res_name, path, schema, value):
    if value is DEFERRED or value is None:
        return
    value = _typed(res_name, path, schema, value)
    if schema.allowed is not None and value not in schema.allowed:
        _fail(res_name, path, '"%s" is not an allowed value [%s]' % (
            value, ', '.join(str(a) for a in schema.allowed)))
    if schema.min is not None or schema.max is not None:
        size = len(value) if isinstance(value, (str, list)) else value
        if (schema.min is not None and size < schema.min) or \
                (schema.max is not None and size > schema.max):
            _fail(res_name, path, '%s is out of range (min: %s, max: %s)'
                  % (value, schema.min, schema.max))
    if schema.type == LIST and schema.items is not None:
        for i, item in enumerate(value):
            _check_value(res_name, _join(path, i), schema.items, item)
    if schema.type == MAP and schema.keys is not None:
        check(res_name, schema.keys, value, path)


def check(res_name, schemas, props, path=''):
    """Refuse what Heat refuses in ``props`` (raises HOTError).

    DEFERRED values pass; a required property must be present (None
    counts as absent unless it is DEFERRED).
    """
    if props is DEFERRED:
        return
    for key in props:
        if key not in schemas:
            _fail(res_name, path, 'Unknown Property %s' % key)
    for key, schema in schemas.items():
        value = props.get(key)
        if value is None:
            if schema.required:
                _fail(res_name, path, 'Property %s not assigned' % key)
            continue
        _check_value(res_name, _join(path, key), schema, value)
