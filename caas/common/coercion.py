"""Magnum's lenient values: strings that stand for booleans, integers and
dicts (python-magnumclient sends ``"True"``, ``"3"`` and labels as the
``repr`` of a dict; label values are always strings).

One conversion, used by the API's body schemas and the drivers' label
schemas, so that "yes" means the same everywhere.

A dict given as a string (labels) is read by :func:`parse_mapping`, a
linear, non-recursive reader of exactly the flat shapes clients send
(``{'k': 'v'}``, ``{"k": "v"}``, ``k=v,k2=v2``), bounded in length: never
by ``ast.literal_eval`` or ``json.loads`` on the whole text, which recurse
on nested input (RecursionError, MemoryError).
"""

import ast
import json
import re

TRUE = ('true', '1', 'yes', 'on', 't', 'y')
FALSE = ('false', '0', 'no', 'off', 'f', 'n')

#: Longest dict-as-a-string accepted (characters).
MAX_MAPPING_TEXT = 65536
# An integer as text: 18 digits stay inside every integer column.
_INTEGER = re.compile(r'[+-]?[0-9]{1,18}')
# One quoted string; possessive repeats so a failed match never backtracks.
_QUOTED = re.compile(r"'(?:[^'\\\n]++|\\.)*+'" '|' r'"(?:[^"\\\n]++|\\.)*+"')
_SPACE = re.compile(r'\s*')


class MappingSyntaxError(ValueError):
    """A string that should stand for a dict does not; says why."""


def _unquote(token):
    if token.startswith('"'):
        try:
            return json.loads(token)
        except ValueError:
            pass
    # A single string literal (the regex allowed no other token): safe.
    try:
        value = ast.literal_eval(token)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise MappingSyntaxError('bad escape in the string %s' % token[:40])
    if not isinstance(value, str):
        raise MappingSyntaxError('%s is not a string' % token[:40])
    return value


def _parse_literal(text):
    """``{'k': 'v', "k2": "v2"}``: keys and values quoted strings."""
    result = {}
    pos = _SPACE.match(text, 1).end()
    if text.startswith('}', pos):
        pos += 1
    else:
        while True:
            items = []
            for expected in ('key', ':', 'value'):
                if expected == ':':
                    if not text.startswith(':', pos):
                        raise MappingSyntaxError(
                            "expected ':' at character %d" % pos)
                    pos += 1
                else:
                    match = _QUOTED.match(text, pos)
                    if not match:
                        raise MappingSyntaxError(
                            'expected a quoted string (label %s) at '
                            'character %d' % (expected, pos))
                    items.append(_unquote(match.group()))
                    pos = match.end()
                pos = _SPACE.match(text, pos).end()
            result[items[0]] = items[1]
            if text.startswith(',', pos):
                pos = _SPACE.match(text, pos + 1).end()
                if text.startswith('}', pos):
                    pos += 1
                    break
                continue
            if text.startswith('}', pos):
                pos += 1
                break
            raise MappingSyntaxError("expected ',' or '}' at character %d"
                                     % pos)
    if text[pos:].strip():
        raise MappingSyntaxError('unexpected text after the closing brace '
                                 'at character %d' % pos)
    return result


def _parse_pairs(text):
    """``k=v,k2=v2`` (or ``;``-separated), as python-magnumclient's CLI
    reads ``--labels``: a repeated key's values are joined with commas."""
    parts = text.replace(';', ',').split(',') if text.count('=') > 1 \
        else [text]
    result = {}
    for part in parts:
        key, sep, value = part.partition('=')
        if not sep or not key.strip():
            raise MappingSyntaxError('%r is not KEY=VALUE' % part[:40])
        key = key.strip()
        result[key] = (result[key] + ',' + value) if key in result \
            else value
    return result


def parse_mapping(text):
    """A flat dict of strings from ``text``; MappingSyntaxError if it is not
    one of the shapes clients send or is longer than MAX_MAPPING_TEXT."""
    if len(text) > MAX_MAPPING_TEXT:
        raise MappingSyntaxError('the string is %d characters long; at most '
                                 '%d are accepted' % (len(text),
                                                      MAX_MAPPING_TEXT))
    stripped = text.strip()
    if stripped.startswith('{'):
        return _parse_literal(stripped)
    return _parse_pairs(stripped)


def json_types(schema):
    """The JSON types a schema property admits, as a set."""
    kind = schema.get('type')
    return set(kind) if isinstance(kind, list) else {kind}


def from_string(value, schema):
    """``value`` turned into the type ``schema`` declares, if it is a string
    that stands for one; anything else is returned unchanged so that the
    schema reports it.

    :raises: MappingSyntaxError for a string where a dict is expected that
        does not read as one.
    """
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
        if _INTEGER.fullmatch(text):
            return int(text)
        return value
    if 'null' in kinds and value == '' and 'string' not in kinds:
        return None
    if 'object' in kinds and 'string' not in kinds:
        return parse_mapping(value)
    return value
