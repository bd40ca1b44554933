"""Magnum's lenient values: strings that stand for booleans, integers and
dicts (python-magnumclient sends ``"True"``, ``"3"`` and labels as the
``repr`` of a dict; label values are always strings).

One conversion, used by the API's body schemas and the drivers' label
schemas, so that "yes" means the same everywhere.
"""

import ast
import json

TRUE = ('true', '1', 'yes', 'on', 't', 'y')
FALSE = ('false', '0', 'no', 'off', 'f', 'n')


def json_types(schema):
    """The JSON types a schema property admits, as a set."""
    kind = schema.get('type')
    return set(kind) if isinstance(kind, list) else {kind}


def from_string(value, schema):
    """``value`` turned into the type ``schema`` declares, if it is a string
    that stands for one; anything else is returned unchanged so that the
    schema reports it."""
    if not isinstance(value, str):
        return value
    kinds = json_types(schema)
    text = value.strip()
    if 'boolean' in kinds:
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
    if 'integer' in kinds and 'string' not in kinds:
        try:
            return int(text)
        except ValueError:
            return value
    if 'object' in kinds and 'string' not in kinds:
        for loader in (json.loads, ast.literal_eval):
            try:
                parsed = loader(value)
            except (ValueError, SyntaxError):
                continue
            if isinstance(parsed, dict):
                return parsed
    if 'null' in kinds and value == '' and 'string' not in kinds:
        return None
    return value
