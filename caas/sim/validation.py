"""Static validation of a stack's resources, as Heat does before it
creates anything (a failure is a 400 to the caller).

Every resource's properties are checked against its type's schema with the
values known at that point (parameters; what reads a resource is checked
when that resource exists, see ``caas.sim.stacks.apply``); provider
templates and group members against the parameters of their template;
every ``get_attr`` against the attributes its target's type has. Nested
templates are checked with their parameters unknown.
"""

from caas.sim import hot
from caas.sim import props as p
from caas.sim import resources


def _provider_properties(name, template, given):
    """Heat maps a provider's properties onto its template's parameters."""
    declared = template.get('parameters') or {}
    if given is p.DEFERRED:
        return
    for key in given:
        if key not in declared:
            raise hot.HOTError('Property error: resources.%s.properties: '
                               'Unknown Property %s' % (name, key))
    for key, spec in declared.items():
        if 'default' not in (spec or {}) and given.get(key) is None:
            raise hot.HOTError('Property error: resources.%s.properties: '
                               'Property %s not assigned' % (name, key))


def _check_definition(name, rtype, values, files, seen):
    if rtype in (files or {}):
        if rtype in seen:
            return
        nested = hot.parse_shared(files[rtype])
        _provider_properties(name, nested, values)
        _validate_nested(nested, files, seen + (rtype,))
        return
    resources.type_of(rtype).validate(name, values)


# Nested templates (checked with their parameters unknown) that passed,
# by their text: a cluster's are the same for every cluster.
_VALID_NESTED = set()


def _validate_nested(template, files, seen):
    hot.checked_once(_VALID_NESTED, hot.content_key(template, files, seen),
                     lambda: validate(template, files, {}, seen))


def _attribute_refs(template):
    for section in ('resources', 'outputs'):
        for key, item in (template.get(section) or {}).items():
            for _func, args in hot._walk_calls(item, ('get_attr',)):
                if isinstance(args, list) and len(args) > 1 and \
                        isinstance(args[0], str) and \
                        isinstance(args[1], str):
                    yield key, args[0], args[1]


def validate(template, files, params, seen=()):
    """Raise HOTError for what Heat refuses in the template's resources."""
    ctx = p.partial_context(params, files)
    try:
        hot.evaluate_conditions(template, ctx)
    except Exception:  # conditions on unknown values: check everything
        ctx.conditions = {}
    defs = template['resources']
    for name, definition in defs.items():
        if 'condition' in definition:
            try:
                if not hot.condition(ctx, definition['condition']):
                    continue
            except Exception:
                pass
        raw = definition.get('properties') or {}
        if not isinstance(raw, dict):
            raise hot.HOTError('Property error: resources.%s.properties: '
                               '"%s" is not a map' % (name, raw))
        values = p.partial_resolve(raw, ctx)
        _check_definition(name, definition['type'], values, files, seen)
        rdef = values.get('resource_def') if isinstance(values, dict) \
            else None
        if definition['type'] == hot.RESOURCE_GROUP and \
                isinstance(rdef, dict) and isinstance(rdef.get('type'), str):
            _check_definition(name, rdef['type'],
                              rdef.get('properties') or {}, files, seen)
    for where, target, attr in _attribute_refs(template):
        if target not in defs:
            continue  # hot.validate names the bad reference
        known = resources.type_of(defs[target]['type']).has_attribute(
            attr, defs[target], files)
        if known is False:
            raise hot.HOTError('The Referenced Attribute (%s %s) is '
                               'incorrect.' % (target, attr),
                               'InvalidTemplateReference')
